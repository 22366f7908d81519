// Share links (docs/sharing.md): the share dialog (from an album and from a selection) and the
// "Shared links" page (#/shares) with views, last view, copy and revoke.
import { api, listOf } from "../api.js";
import { h, modal, toast, showError, confirmDialog, fmtInstant } from "../ui.js";
import { t } from "../i18n.js";
import { qrCanvas } from "./devices.js";
import { header } from "./library.js";

const DAY = 86_400_000;
// Expiry presets: [catalogue key, milliseconds from now or null for never].
export const EXPIRY = [["shares.expiry1d", DAY], ["shares.expiry1w", 7 * DAY], ["shares.expiry1m", 30 * DAY], ["shares.expiryNever", null]];

async function copy(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    toast(t("shares.copied"));
  } catch {
    input.select(); // the browser refused the clipboard: the text is selected for Ctrl+C
    toast(t("shares.copyByHand"));
  }
}

/** The link, a Copy button and a QR code of it. */
export function linkPanel(link) {
  const input = h("input", { value: link.url || "", readOnly: true, testid: "share-url", "aria-label": t("shares.link"), spellcheck: false });
  return h("div.share-link", { testid: "share-created" },
    h("label", t("shares.link"), h("div.row", input,
      h("button", { type: "button", testid: "share-copy", onclick: () => copy(link.url, input) }, t("shares.copy")))),
    qrCanvas(link.url, { testid: "share-qr", label: t("shares.qr") }));
}

/** The share dialog for `{album_id}` or `{photo_ids}`; resolves the link made, or undefined. */
export function shareDialog(target) {
  return modal(t("shares.dialogTitle"), (close) => {
    let made;
    const expiry = h("select", { name: "expiry", testid: "share-expiry" },
      EXPIRY.map(([key], i) => h("option", { value: String(i), selected: i === 2 }, t(key))));
    const password = h("input", { type: "password", name: "password", autocomplete: "new-password", testid: "share-password",
      placeholder: t("shares.passwordNone") });
    const download = h("input", { type: "checkbox", name: "allow_download", checked: true, testid: "share-download" });
    const location_ = h("input", { type: "checkbox", name: "show_location", testid: "share-location" });
    const body = h("div.share-dialog");
    const form = h("form", { testid: "share-form", onsubmit: async (e) => {
      e.preventDefault();
      const ms = EXPIRY[Number(expiry.value)][1];
      try {
        made = await api("/api/shares", { method: "POST", body: {
          ...target,
          expires_at: ms === null ? null : new Date(Date.now() + ms).toISOString(),
          password: password.value || null,
          allow_download: download.checked,
          show_location: location_.checked,
        } });
      } catch (err) { showError(err); return; }
      body.replaceChildren(linkPanel(made),
        h("p.muted", made.has_password ? t("shares.sendPassword") : t("shares.anyone")),
        h("div.row.end", h("a.button", { href: "#/shares", onclick: () => close(made) }, t("shares.all")),
          h("button.primary", { type: "button", testid: "share-done", onclick: () => close(made) }, t("common.close"))));
    } },
      h("label", t("shares.expiry"), expiry),
      h("label", t("shares.password"), password),
      h("label.check", download, " ", t("shares.allowDownload")),
      h("label.check", location_, " ", t("shares.showLocation")),
      h("p.muted", t("shares.locationNote")),
      h("div.row.end",
        h("button", { type: "button", onclick: () => close() }, t("common.cancel")),
        h("button.primary", { type: "submit", testid: "share-create" }, t("shares.create"))));
    body.append(form);
    return body;
  });
}

/** Change a link's expiry, password and switches (PATCH); resolves the changed link or undefined. */
export function editDialog(link) {
  return modal(t("shares.editTitle"), (close) => {
    const expiry = h("select", { name: "expiry", testid: "share-edit-expiry" },
      h("option", { value: "keep", selected: true }, t("shares.expiryKeep")),
      EXPIRY.map(([key], i) => h("option", { value: String(i) }, t(key))));
    const password = h("input", { type: "password", name: "password", autocomplete: "new-password", testid: "share-edit-password",
      placeholder: link.has_password ? t("shares.passwordKeep") : t("shares.passwordNone") });
    const removePassword = h("input", { type: "checkbox", name: "remove_password", testid: "share-edit-nopassword" });
    const download = h("input", { type: "checkbox", name: "allow_download", checked: link.allow_download, testid: "share-edit-download" });
    const location_ = h("input", { type: "checkbox", name: "show_location", checked: link.show_location, testid: "share-edit-location" });
    return h("form.share-dialog", { testid: "share-edit-form", onsubmit: async (e) => {
      e.preventDefault();
      const body = { allow_download: download.checked, show_location: location_.checked, version: link.version };
      if (expiry.value !== "keep") {
        const ms = EXPIRY[Number(expiry.value)][1];
        body.expires_at = ms === null ? null : new Date(Date.now() + ms).toISOString();
      }
      if (removePassword.checked) body.password = null;
      else if (password.value) body.password = password.value;
      try {
        close(await api(`/api/shares/${encodeURIComponent(link.id)}`, { method: "PATCH", body }));
        toast(t("shares.saved"));
      } catch (err) { showError(err); }
    } },
      h("label", t("shares.expiry"), expiry),
      h("label", t("shares.password"), password),
      link.has_password ? h("label.check", removePassword, " ", t("shares.passwordRemove")) : null,
      h("label.check", download, " ", t("shares.allowDownload")),
      h("label.check", location_, " ", t("shares.showLocation")),
      h("div.row.end",
        h("button", { type: "button", onclick: () => close() }, t("common.cancel")),
        h("button.primary", { type: "submit", testid: "share-edit-save" }, t("common.save"))));
  });
}

/** #/shares: every link of the user. */
export function sharesView() {
  const list = h("ul.share-list", { testid: "share-list" });
  const load = async () => {
    let links, albums;
    try {
      [links, albums] = await Promise.all([api("/api/shares"), api("/api/albums").catch(() => [])]);
    } catch (err) { showError(err); return; }
    const names = new Map(listOf(albums, "albums").map((a) => [a.id, a.name]));
    if (!links.length) {
      list.replaceChildren(h("li.empty", t("shares.none")));
      return;
    }
    list.replaceChildren(...links.map((link) => {
      const what = link.album_id ? t("shares.album", { name: names.get(link.album_id) || "—" }) : t("shares.selection");
      const facts = [
        t("common.items", { count: link.count }),
        t("shares.views", { count: link.views }),
        link.last_view ? t("shares.lastView", { when: fmtInstant(link.last_view) }) : t("shares.neverViewed"),
        link.expires_at ? t(link.expired ? "shares.expired" : "shares.expires", { when: fmtInstant(link.expires_at) }) : t("shares.noExpiry"),
      ];
      if (link.has_password) facts.push(t("shares.withPassword"));
      if (!link.allow_download) facts.push(t("shares.noDownload"));
      if (link.show_location) facts.push(t("shares.withLocation"));
      const input = h("input", { value: link.url || "", readOnly: true, "aria-label": t("shares.link"), spellcheck: false });
      return h("li.card", { testid: "share-row", "data-id": link.id },
        h("strong", what), h("p.muted", { testid: "share-facts" }, facts.join(" · ")),
        h("div.row.wrap", input,
          h("button", { type: "button", testid: "share-row-copy", onclick: () => copy(link.url, input) }, t("shares.copy")),
          h("a.button", { href: link.url || "#", target: "_blank", rel: "noopener noreferrer" }, t("shares.open")),
          h("button", { type: "button", testid: "share-edit", onclick: async () => { if (await editDialog(link)) load(); } }, t("shares.edit")),
          h("button.danger", { type: "button", testid: "share-revoke", onclick: async () => {
            if (!(await confirmDialog(t("shares.revokeTitle"), t("shares.revokeText"), t("shares.revoke"), true))) return;
            try {
              await api(`/api/shares/${encodeURIComponent(link.id)}`, { method: "DELETE" });
              toast(t("shares.revoked"));
              load();
            } catch (err) { showError(err); }
          } }, t("shares.revoke"))));
    }));
  };
  load();
  return { el: h("div", { testid: "shares" }, header(t("shares.title")), h("p.muted", t("shares.intro")), list) };
}
