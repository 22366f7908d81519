// Settings: profile, password, storage, sign out, delete account, devices (views/devices.js); for admins: users and
// read-model (projection) status and the playable-copy queue.
import { api, listOf } from "../api.js";
import { h, fmtBytes, fmtInstant, plural, showError, toast, confirmDialog } from "../ui.js";
import { header } from "./library.js";
import { devicesCard } from "./devices.js";
import { thumbsCard } from "../offline.js";

export const isAdmin = (u) => !!(u && (u.admin || u.is_admin || u.role === "admin"));

const field = (label, attrs) => h("label", label, h("input", attrs));

export function settings({ user, signOut }) {
  const profile = h("form.card", { testid: "profile-form", onsubmit: async (e) => {
    e.preventDefault();
    try {
      const u = await api("/api/users/me", { method: "PATCH", body: { display_name: profile.elements.display_name.value } });
      if (u) Object.assign(user, u);
      toast("Profile saved");
    } catch (err) { showError(err); }
  } }, h("h3", "Profile"), h("p.muted", `Signed in as ${user.username || ""}`),
    field("Display name", { name: "display_name", value: user.display_name || "", testid: "display-name", autocomplete: "nickname" }),
    h("button.primary", { type: "submit", testid: "profile-save" }, "Save"));

  const pw = h("form.card", { testid: "password-form", onsubmit: async (e) => {
    e.preventDefault();
    const { old, new: nw, again } = pw.elements;
    if (nw.value !== again.value) return showError({ detail: "The new passwords do not match." });
    try {
      await api("/api/users/me/password", { method: "POST", authCall: true, body: { old: old.value, new: nw.value } });
      pw.reset();
      toast("Password changed. Other devices were signed out.");
    } catch (err) { showError(err); }
  } }, h("h3", "Password"),
    field("Current password", { type: "password", name: "old", required: true, autocomplete: "current-password", testid: "password-old" }),
    field("New password", { type: "password", name: "new", required: true, autocomplete: "new-password", testid: "password-new" }),
    field("Repeat new password", { type: "password", name: "again", required: true, autocomplete: "new-password", testid: "password-again" }),
    h("button", { type: "submit", testid: "password-submit" }, "Change password"));

  const storage = h("section.card", { testid: "storage" }, h("h3", "Storage"), h("p.muted", "Loading…"));
  api("/api/users/me/storage").then((s) => {
    const quota = s.quota_bytes;
    storage.replaceChildren(h("h3", "Storage"),
      h("p", `${plural(s.photos ?? 0, "photo")} · ${fmtBytes(s.bytes ?? 0)}${quota ? ` of ${fmtBytes(quota)}` : " (no quota)"}`),
      // replaceChildren is the DOM's own: a null here would be shown as the text "null".
      ...(quota ? [h("meter", { min: 0, max: quota, value: s.bytes || 0, high: quota * 0.9, "aria-label": "Storage used" })] : []));
  }).catch(showError);

  const account = h("section.card", h("h3", "Session"),
    h("button", { type: "button", testid: "logout-button", onclick: signOut }, "Sign out"),
    h("details", h("summary", "Delete my account"),
      h("form", { testid: "delete-account-form", onsubmit: async (e) => {
        e.preventDefault();
        if (!(await confirmDialog("Delete account?", "Your account and every photo in it will be erased for good.", "Delete everything", true))) return;
        try {
          await api("/api/users/me", { method: "DELETE", authCall: true, body: { password: e.target.elements.password.value } });
          location.reload();
        } catch (err) { showError(err); }
      } }, field("Password", { type: "password", name: "password", required: true, autocomplete: "current-password" }),
        h("button.danger", { type: "submit" }, "Delete account and all photos"))));

  const el = h("div.settings", header("Settings"), h("div.cards2", profile, storage, pw, account, thumbsCard()), devicesCard(user));
  if (isAdmin(user)) el.append(adminUsers(), adminProjections(), adminTranscode());
  // The user object may not say "admin"; a quiet probe decides (403 for everyone else).
  else api("/api/admin/users").then(() => el.append(adminUsers(), adminProjections(), adminTranscode())).catch(() => {});
  return { el };
}

function adminUsers() {
  const tbody = h("tbody");
  const load = () => api("/api/admin/users").then((res) => {
    tbody.replaceChildren(...listOf(res, "users").map((u) => h("tr", { testid: "admin-user-row" },
      h("td", u.username), h("td", u.display_name || ""), h("td", isAdmin(u) ? "admin" : "user"),
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
      toast(`User ${body.username} created`);
      load();
    } catch (err) { showError(err); }
  } },
    field("Username", { name: "username", required: true, autocomplete: "off", testid: "admin-new-username" }),
    field("Password", { name: "password", type: "password", required: true, autocomplete: "new-password", testid: "admin-new-password" }),
    field("Quota (GB, optional)", { name: "quota", type: "number", min: 0, step: "any" }),
    h("label.check", h("input", { type: "checkbox", name: "admin" }), "Admin"),
    h("button.primary", { type: "submit", testid: "admin-create-submit" }, "Create user"));
  load();
  return h("section.card.wide", { testid: "admin-users" }, h("h3", "Users"),
    h("div.scroll", h("table", h("thead", h("tr", h("th", "Username"), h("th", "Name"), h("th", "Role"), h("th", "Quota"))), tbody)), form);
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
          toast(`Rebuilding ${p.name}`);
          setTimeout(load, 1000);
        } catch (err) { showError(err); }
      } }, "Rebuild")))));
  }).catch(showError);
  load();
  return h("section.card.wide", { testid: "admin-projections" },
    h("div.row", h("h3", "Read models"), h("button", { type: "button", onclick: load }, "Refresh")),
    h("div.scroll", h("table", h("thead", h("tr", ...["Name", "Version", "Position", "Lag", "State", "Rebuilt", ""].map((t) => h("th", t)))), tbody)));
}

// Playable copies of videos browsers cannot play (media.transcode; docs/admin.md).
function adminTranscode() {
  const body = h("p", { testid: "transcode-status", role: "status" }, "…");
  const load = () => api("/api/admin/transcode").then((t) => {
    if (!t.enabled) { body.textContent = "Off (set media.transcode = true to make playable copies of HEVC and other videos)."; return; }
    if (!t.encoder) { body.textContent = "On, but this server's FFmpeg has no H.264 encoder."; return; }
    const now = t.current ? ` · making one now: ${Math.round(t.current.progress * 100)} %` : "";
    body.textContent = `${t.done} made · ${t.pending} waiting · ${t.failed} failed${now}`;
  }).catch(showError);
  load();
  return h("section.card.wide", { testid: "admin-transcode" },
    h("div.row", h("h3", "Playable video copies"), h("button", { type: "button", onclick: load }, "Refresh")), body);
}
