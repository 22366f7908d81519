// Settings → Devices: app passwords for phone backup apps (WebDAV, tus) and the browser/API
// sessions, listed and revocable. A new app password is shown once: as text with copy buttons
// and as a QR code of three plain text lines (docs/devices.md says why not a URL).
import { api } from "../api.js";
import { h, fmtInstant, showError, toast, confirmDialog } from "../ui.js";
import qrcode from "../../vendor/qrcode-generator-2.0.4.esm.js";

const when = (iso) => (iso ? fmtInstant(iso) : "—");

/** The text a phone's QR scanner shows: what a sync app's setup screen asks for. */
export function setupText(url, username, password) {
  return `URL: ${url}\nUser: ${username}\nPassword: ${password}`;
}

/** A QR code drawn on a canvas (no inline style or markup, so the strict CSP is happy). */
function qrCanvas(text) {
  const qr = qrcode(0, "M");
  qr.addData(text);
  qr.make();
  const n = qr.getModuleCount(), cell = 4, quiet = 4;
  const size = (n + 2 * quiet) * cell;
  const canvas = h("canvas.qr", { width: size, height: size, testid: "device-qr", role: "img",
    "aria-label": "QR code with the server URL, user and app password" });
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
    try { await navigator.clipboard.writeText(value); toast(`${label} copied`); }
    catch { input.select(); toast("Select and copy it by hand (the browser refused the clipboard)."); }
  } }, "Copy")));
}

export function devicesCard(user) {
  const tbody = h("tbody");
  const shown = h("div", { testid: "new-device" });
  const load = () => api("/api/devices").then((list) => {
    tbody.replaceChildren(...(list || []).map((d) => h("tr", { testid: "device-row", "data-id": d.id, "data-kind": d.kind },
      h("td", d.name, d.current ? h("span.muted", " (this browser)") : null),
      h("td", d.kind === "app_password" ? "App password" : "Session"),
      h("td", when(d.created_at)), h("td", when(d.last_seen)),
      h("td", d.kind === "app_password" ? when(d.last_upload) : "—"),
      h("td", d.kind === "app_password" ? String(d.uploads ?? 0) : "—"),
      h("td", h("button.danger", { type: "button", testid: "device-revoke", onclick: async () => {
        const what = d.current ? "This signs this browser out." : d.kind === "session"
          ? "That session is signed out at once." : "The app using it stops backing up at once.";
        if (!(await confirmDialog(`Revoke “${d.name}”?`, what, "Revoke", true))) return;
        try {
          await api(`/api/devices/${encodeURIComponent(d.id)}`, { method: "DELETE" });
          if (d.current) { location.reload(); return; }
          toast(`${d.name} revoked`);
          load();
        } catch (err) { showError(err); }
      } }, "Revoke")))));
  }).catch(showError);

  const form = h("form.row.wrap", { testid: "add-device-form", onsubmit: async (e) => {
    e.preventDefault();
    const name = form.elements.name.value.trim();
    try {
      const d = await api("/api/devices", { method: "POST", body: { name } });
      form.reset();
      const url = `${location.origin}/dav/`;
      shown.replaceChildren(h("section.card", h("h4", `Set up “${d.name}”`),
        h("p.muted", "Enter these in the phone's sync app (WebDAV), or scan the code. The app password is shown only now."),
        copyRow("Server URL", url, "device-url"),
        copyRow("User", user.username || "", "device-user"),
        copyRow("App password", d.app_password, "device-password"),
        qrCanvas(setupText(url, user.username || "", d.app_password)),
        h("button", { type: "button", testid: "device-done", onclick: () => shown.replaceChildren() }, "Done")));
      load();
    } catch (err) { showError(err); }
  } },
    h("label", "Device name", h("input", { name: "name", required: true, maxLength: 100, placeholder: "e.g. Pixel 8",
      autocomplete: "off", testid: "device-name" })),
    h("button.primary", { type: "submit", testid: "add-device" }, "Add device"));
  load();
  return h("section.card.wide", { testid: "devices" }, h("h3", "Devices"),
    h("p.muted", "App passwords let a phone back up by itself (WebDAV or resumable uploads): upload, read and trash only. Sessions are where you are signed in."),
    h("div.scroll", h("table", h("thead", h("tr", ...["Name", "Kind", "Created", "Last seen", "Last upload", "Uploads", ""].map((t) => h("th", t)))), tbody)),
    form, shown);
}
