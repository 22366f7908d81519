// Settings: profile, password, storage, sign out, delete account, devices (views/devices.js); for admins: users and
// read-model (projection) status and the playable-copy queue.
import { api, listOf } from "../api.js";
import { h, fmtBytes, fmtInstant, plural, showError, toast, confirmDialog } from "../ui.js";
import { header } from "./library.js";
import { devicesCard } from "./devices.js";
import { partnersCard } from "./sharing.js";
import { thumbsCard } from "../offline.js";
import { t, LANGUAGES, language, setLanguage } from "../i18n.js";

export const isAdmin = (u) => !!(u && (u.admin || u.is_admin || u.role === "admin"));

const field = (label, attrs) => h("label", label, h("input", attrs));

// Language: the browser's by default; a choice here is remembered on this device (js/i18n.js) and
// the page reloads so every screen, the header and open panels speak it at once.
function languageCard() {
  const select = h("select", { testid: "language-select", name: "language", onchange: () => {
    setLanguage(select.value);
    location.reload();
  } }, h("option", { value: "" }, t("settings.languageAuto")),
  ...LANGUAGES.map(([code, name]) => h("option", { value: code, lang: code }, name)));
  let saved = "";
  try { saved = localStorage.getItem("octopus.lang") || ""; } catch { /* storage off: automatic */ }
  select.value = saved && LANGUAGES.some(([c]) => c === saved) ? saved : "";
  return h("section.card", { testid: "language" }, h("h3", t("settings.language")),
    h("label", t("settings.languageLabel"), select),
    h("p.muted", t("settings.languageNow", { name: LANGUAGES.find(([c]) => c === language())[1] })));
}

export function settings({ user, signOut }) {
  const profile = h("form.card", { testid: "profile-form", onsubmit: async (e) => {
    e.preventDefault();
    try {
      const u = await api("/api/users/me", { method: "PATCH", body: { display_name: profile.elements.display_name.value } });
      if (u) Object.assign(user, u);
      // The header and the phone's More sheet show the name: they follow (app.js, nav.js).
      document.dispatchEvent(new CustomEvent("user:changed", { detail: user }));
      toast(t("settings.profileSaved"));
    } catch (err) { showError(err); }
  } }, h("h3", t("settings.profile")), h("p.muted", t("settings.signedInAs", { name: user.username || "" })),
    // Profile data only (kept when the account moved in from Octopus Photos 0.6); nothing is sent to it.
    user.email ? h("p.muted", { testid: "profile-email" }, t("settings.email", { email: user.email })) : null,
    field(t("settings.displayName"), { name: "display_name", value: user.display_name || "", testid: "display-name", autocomplete: "nickname" }),
    h("button.primary", { type: "submit", testid: "profile-save" }, t("common.save")));

  const pw = h("form.card", { testid: "password-form", onsubmit: async (e) => {
    e.preventDefault();
    const { old, new: nw, again } = pw.elements;
    if (nw.value !== again.value) return showError({ detail: t("settings.passwordsDiffer") });
    try {
      await api("/api/users/me/password", { method: "POST", authCall: true, body: { old: old.value, new: nw.value } });
      pw.reset();
      toast(t("settings.passwordChanged"));
    } catch (err) { showError(err); }
  } }, h("h3", t("settings.password")),
    field(t("settings.currentPassword"), { type: "password", name: "old", required: true, autocomplete: "current-password", testid: "password-old" }),
    field(t("settings.newPassword"), { type: "password", name: "new", required: true, autocomplete: "new-password", testid: "password-new" }),
    field(t("settings.repeatPassword"), { type: "password", name: "again", required: true, autocomplete: "new-password", testid: "password-again" }),
    h("button", { type: "submit", testid: "password-submit" }, t("settings.changePassword")));

  const storage = h("section.card", { testid: "storage" }, h("h3", t("settings.storage")), h("p.muted", t("common.loading")));
  api("/api/users/me/storage").then((s) => {
    const quota = s.quota_bytes;
    storage.replaceChildren(h("h3", t("settings.storage")),
      h("p", quota ? t("settings.storageOfQuota", { photos: t("settings.storagePhotos", { count: s.photos ?? 0 }), used: fmtBytes(s.bytes ?? 0), quota: fmtBytes(quota) })
        : t("settings.storageNoQuota", { photos: t("settings.storagePhotos", { count: s.photos ?? 0 }), used: fmtBytes(s.bytes ?? 0) })),
      // replaceChildren is the DOM's own: a null here would be shown as the text "null".
      ...(quota ? [h("meter", { min: 0, max: quota, value: s.bytes || 0, high: quota * 0.9, "aria-label": t("settings.storageUsed") })] : []));
  }).catch(showError);

  const account = h("section.card", h("h3", t("settings.session")),
    h("button", { type: "button", testid: "logout-button", onclick: signOut }, t("settings.signOut")),
    h("details", h("summary", t("settings.deleteMine")),
      h("form", { testid: "delete-account-form", onsubmit: async (e) => {
        e.preventDefault();
        if (!(await confirmDialog(t("settings.deleteTitle"), t("settings.deleteText"), t("settings.deleteOk"), true))) return;
        try {
          await api("/api/users/me", { method: "DELETE", authCall: true, body: { password: e.target.elements.password.value } });
          location.reload();
        } catch (err) { showError(err); }
      } }, field(t("settings.password"), { type: "password", name: "password", required: true, autocomplete: "current-password" }),
        h("button.danger", { type: "submit" }, t("settings.deleteSubmit")))));

  const el = h("div.settings", header(t("nav.settings")), h("div.cards2", profile, languageCard(), storage, pw, account, thumbsCard()), devicesCard(user), partnersCard());
  if (isAdmin(user)) el.append(adminUsers(), adminProjections(), adminTranscode());
  // The user object may not say "admin"; a quiet probe decides (403 for everyone else).
  else api("/api/admin/users").then(() => el.append(adminUsers(), adminProjections(), adminTranscode())).catch(() => {});
  return { el };
}

function adminUsers() {
  const tbody = h("tbody");
  const load = () => api("/api/admin/users").then((res) => {
    tbody.replaceChildren(...listOf(res, "users").map((u) => h("tr", { testid: "admin-user-row" },
      h("td", u.username), h("td", u.display_name || ""), h("td", isAdmin(u) ? t("settings.roleAdmin") : t("settings.roleUser")),
      h("td", u.quota_bytes ? fmtBytes(u.quota_bytes) : "—"))));
  }).catch(showError);
  const form = h("form.row.wrap", { testid: "admin-create-user", onsubmit: async (e) => {
    e.preventDefault();
    const f = form.elements;
    const body = { username: f.username.value.trim(), password: f.password.value, admin: f.admin.checked };
    if (f.quota.value) body.quota_bytes = Math.round(Number(f.quota.value) * 1024 ** 3);
    try {
      await api("/api/admin/users", { method: "POST", body });
      form.reset();
      toast(t("settings.userCreated", { name: body.username }));
      load();
    } catch (err) { showError(err); }
  } },
    field(t("settings.username"), { name: "username", required: true, autocomplete: "off", testid: "admin-new-username" }),
    field(t("settings.password"), { name: "password", type: "password", required: true, autocomplete: "new-password", testid: "admin-new-password" }),
    field(t("settings.quotaField"), { name: "quota", type: "number", min: 0, step: "any" }),
    h("label.check", h("input", { type: "checkbox", name: "admin" }), t("settings.adminCheck")),
    h("button.primary", { type: "submit", testid: "admin-create-submit" }, t("settings.createUser")));
  load();
  return h("section.card.wide", { testid: "admin-users" }, h("h3", t("settings.users")),
    h("div.scroll", h("table", h("thead", h("tr", h("th", t("settings.username")), h("th", t("settings.name")), h("th", t("settings.role")), h("th", t("settings.quota")))), tbody)), form);
}

function adminProjections() {
  const tbody = h("tbody");
  const load = () => api("/api/admin/projections").then((res) => {
    tbody.replaceChildren(...listOf(res, "projections").map((p) => h("tr", { testid: "projection-row" },
      h("td", p.name), h("td", String(p.version ?? "")), h("td", String(p.position ?? "")), h("td", String(p.lag ?? "")),
      h("td", p.state || ""), h("td", p.rebuilt_at ? fmtInstant(p.rebuilt_at) : "—"),
      h("td", h("button", { type: "button", onclick: async () => {
        try {
          await api(`/api/admin/projections/${encodeURIComponent(p.name)}/rebuild`, { method: "POST" });
          toast(t("settings.rebuilding", { name: p.name }));
          setTimeout(load, 1000);
        } catch (err) { showError(err); }
      } }, t("settings.rebuild"))))));
  }).catch(showError);
  load();
  return h("section.card.wide", { testid: "admin-projections" },
    h("div.row", h("h3", t("settings.readModels")), h("button", { type: "button", onclick: load }, t("settings.refresh"))),
    h("div.scroll", h("table", h("thead", h("tr", ...["settings.name", "settings.version", "settings.position", "settings.lag", "settings.state", "settings.rebuilt"].map((k) => h("th", t(k))), h("th"))), tbody)));
}

// Playable copies of videos browsers cannot play (media.transcode; docs/admin.md).
function adminTranscode() {
  const body = h("p", { testid: "transcode-status", role: "status" }, "…");
  const load = () => api("/api/admin/transcode").then((q) => {
    if (!q.enabled) { body.textContent = t("settings.transcodeOff"); return; }
    if (!q.encoder) { body.textContent = t("settings.transcodeNoEncoder"); return; }
    const status = t("settings.transcodeStatus", { done: q.done, pending: q.pending, failed: q.failed });
    body.textContent = q.current ? `${status} · ${t("settings.transcodeNow", { percent: Math.round(q.current.progress * 100) })}` : status;
  }).catch(showError);
  load();
  return h("section.card.wide", { testid: "admin-transcode" },
    h("div.row", h("h3", t("settings.transcode")), h("button", { type: "button", onclick: load }, t("settings.refresh"))), body);
}
