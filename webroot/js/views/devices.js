// Settings → Devices: app passwords for phone backup apps (WebDAV, tus) and the browser/API
// sessions, listed and revocable. A new app password is shown once: as text with copy buttons
// and as a QR code of three plain text lines (docs/devices.md says why not a URL).
import { api } from "../api.js";
import { h, fmtInstant, showError, toast, confirmDialog } from "../ui.js";
import qrcode from "../../vendor/qrcode-generator-2.0.4.esm.js";
import { t } from "../i18n.js";

const when = (iso) => (iso ? fmtInstant(iso) : "—");

/** The text a phone's QR scanner shows: what a sync app's setup screen asks for. */
export function setupText(url, username, password) {
  // i18n: not translated: the field names sync apps (and tests/test_browser_devices.py) expect
  return `URL: ${url}\nUser: ${username}\nPassword: ${password}`;
}

/** A QR code drawn on a canvas (no inline style or markup, so the strict CSP is happy); the
 * share dialog (views/shares.js) draws its links with it too. */
export function qrCanvas(text, { testid = "device-qr", label = t("devices.qrLabel") } = {}) {
  const qr = qrcode(0, "M");
  qr.addData(text);
  qr.make();
  const n = qr.getModuleCount(), cell = 4, quiet = 4;
  const size = (n + 2 * quiet) * cell;
  const canvas = h("canvas.qr", { width: size, height: size, testid, role: "img", "aria-label": label });
  const g = canvas.getContext("2d");
  g.fillStyle = "#fff";
  g.fillRect(0, 0, size, size);
  g.fillStyle = "#000";
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) {
    if (qr.isDark(r, c)) g.fillRect((c + quiet) * cell, (r + quiet) * cell, cell, cell);
  }
  canvas.dataset.modules = String(n);
  return canvas;
}

function copyRow(label, value, testid) {
  const input = h("input", { value, readOnly: true, testid, "aria-label": label, spellcheck: false });
  return h("label", label, h("div.row", input, h("button", { type: "button", onclick: async () => {
    try { await navigator.clipboard.writeText(value); toast(t("devices.copied", { what: label })); }
    catch { input.select(); toast(t("devices.copyByHand")); }
  } }, t("devices.copy"))));
}

export function devicesCard(user) {
  const tbody = h("tbody");
  const shown = h("div", { testid: "new-device" });
  const load = () => api("/api/devices").then((list) => {
    tbody.replaceChildren(...(list || []).map((d) => h("tr", { testid: "device-row", "data-id": d.id, "data-kind": d.kind },
      h("td", d.name, d.current ? h("span.muted", " ", t("devices.thisBrowser")) : null),
      h("td", d.kind === "app_password" ? t("devices.appPassword") : t("devices.session")),
      h("td", when(d.created_at)), h("td", when(d.last_seen)),
      h("td", d.kind === "app_password" ? when(d.last_upload) : "—"),
      h("td", d.kind === "app_password" ? String(d.uploads ?? 0) : "—"),
      h("td", h("button.danger", { type: "button", testid: "device-revoke", onclick: async () => {
        const what = d.current ? t("devices.revokeCurrent") : d.kind === "session"
          ? t("devices.revokeSession") : t("devices.revokeApp");
        if (!(await confirmDialog(t("devices.revokeTitle", { name: d.name }), what, t("devices.revoke"), true))) return;
        try {
          await api(`/api/devices/${encodeURIComponent(d.id)}`, { method: "DELETE" });
          if (d.current) { location.reload(); return; }
          toast(t("devices.revoked", { name: d.name }));
          load();
        } catch (err) { showError(err); }
      } }, t("devices.revoke"))))));
  }).catch(showError);

  const form = h("form.row.wrap", { testid: "add-device-form", onsubmit: async (e) => {
    e.preventDefault();
    const name = form.elements.name.value.trim();
    try {
      const d = await api("/api/devices", { method: "POST", body: { name } });
      form.reset();
      const url = `${location.origin}/dav/`;
      shown.replaceChildren(h("section.card", h("h4", t("devices.setUp", { name: d.name })),
        h("p.muted", t("devices.setUpIntro")),
        copyRow(t("devices.serverUrl"), url, "device-url"),
        copyRow(t("devices.user"), user.username || "", "device-user"),
        copyRow(t("devices.appPassword"), d.app_password, "device-password"),
        qrCanvas(setupText(url, user.username || "", d.app_password)),
        h("button", { type: "button", testid: "device-done", onclick: () => shown.replaceChildren() }, t("devices.done"))));
      load();
    } catch (err) { showError(err); }
  } },
    h("label", t("devices.name"), h("input", { name: "name", required: true, maxLength: 100, placeholder: t("devices.namePlaceholder"),
      autocomplete: "off", testid: "device-name" })),
    h("button.primary", { type: "submit", testid: "add-device" }, t("devices.add")));
  load();
  return h("section.card.wide", { testid: "devices" }, h("h3", t("devices.title")),
    h("p.muted", t("devices.intro")),
    h("div.scroll", h("table", h("thead", h("tr", ...["devices.colName", "devices.colKind", "devices.colCreated", "devices.colSeen", "devices.colUpload", "devices.colUploads"].map((k) => h("th", t(k))), h("th"))), tbody)),
    form, shown);
}
