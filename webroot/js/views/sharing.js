// Sharing between accounts (docs/sharing.md): "Shared with me" (albums others share with me and
// partners' libraries), a partner's library, an album's members (invite, role, remove, leave), the
// partner card in Settings, and the owner's name on items that are someone else's.
import { api, listOf, qs } from "../api.js";
import { h, icon, showError, toast, confirmDialog, modal, fmtDay } from "../ui.js";
import { PhotoGrid } from "../grid.js";
import { header } from "./library.js";
import { t } from "../i18n.js";

const enc = encodeURIComponent;
let me = "";

/** A role in words (the keys spelled out, so the catalogue test sees each one used). */
export function roleName(role) {
  return { owner: t("sharing.role.owner"), viewer: t("sharing.role.viewer"), contributor: t("sharing.role.contributor") }[role] || role;
}

/** app.js tells us who is signed in, so items that are someone else's can say whose they are. */
export function setMe(username) { me = username || ""; }

/** Whose an item is when it is not mine (null for mine, and for items without an owner field). */
export const otherOwner = (p) => (p && p.owner && p.owner !== me ? p.owner : null);

/** For PhotoGrid's `extra`: the owner of an item that is not mine (merged timeline, shared albums). */
export function ownerBadge(p) {
  if (!otherOwner(p)) return null;
  return h("span.extra.owner", { testid: "owner-badge", title: t("sharing.ownerTitle", { name: p.owner }) }, p.owner);
}

// -- Shared with me ---------------------------------------------------------------------------------

export function sharedWithMe() {
  const albumsList = h("ul.albums", { testid: "shared-albums" });
  const partnersList = h("ul.partners", { testid: "shared-partners" });
  api("/api/albums").then((res) => {
    const shared = listOf(res, "albums").filter((a) => a.role && a.role !== "owner");
    if (!shared.length) albumsList.replaceWith(h("p.empty", { testid: "shared-albums-none" }, t("sharing.noAlbums")));
    albumsList.append(...shared.map((a) => h("li", h("a.album-card", { href: `#/albums/${enc(a.id)}`, testid: "shared-album-card", "data-album-id": a.id },
      a.cover ? h("img", { src: `/api/photos/${enc(a.cover)}/thumbnail`, alt: "", loading: "lazy", decoding: "async", width: 256, height: 256 })
        : h("span.no-cover", h("img", { src: "favicon.svg", alt: "", width: 64, height: 64 })),
      h("strong", a.name), h("small", t("sharing.albumBy", { name: a.owner || "", role: roleName(a.role) }))))));
  }).catch(showError);
  api("/api/partners").then((res) => {
    const theirs = res.shared_with_me || [];
    if (!theirs.length) partnersList.replaceWith(h("p.empty", { testid: "shared-partners-none" }, t("sharing.noPartners")));
    partnersList.append(...theirs.map((p) => h("li", h("a.button", { href: `#/partner/${enc(p.username)}`, testid: "shared-partner-link" },
      icon("photos"), h("span", t("sharing.libraryOf", { name: p.display_name || p.username }))),
      p.since ? h("small.muted", t("sharing.since", { day: fmtDay(p.since) })) : null)));
  }).catch(showError);
  return { el: h("div", { testid: "shared-with-me" }, header(t("nav.shared")),
    h("h3", t("sharing.albumsTitle")), albumsList, h("h3", t("sharing.partnersTitle")), partnersList) };
}

/** A partner's library, read-only: no selection actions, every tile says whose it is. */
export function partnerView({ id }) {
  const grid = new PhotoGrid({ grouped: true, empty: t("sharing.partnerEmpty"), extra: ownerBadge });
  grid.follow((cursor) => api(`/api/partners/${enc(id)}/timeline` + qs({ cursor, limit: 150 })));
  const head = h("header.view-head", h("a.back", { href: "#/shared", "aria-label": t("nav.shared") }, icon("left")),
    h("h2", { tabindex: "-1" }, t("sharing.libraryOf", { name: id })));
  return { el: h("div", { testid: "partner-view" }, head, grid.el), grid };
}

// -- album members ------------------------------------------------------------------------------------

/** The members dialog of an album: the owner invites, changes roles and removes; a member leaves. */
export function membersDialog(albumId, role) {
  const path = `/api/albums/${enc(albumId)}/members`;
  return modal(t("sharing.membersTitle"), (close) => {
    const list = h("ul.members", { testid: "member-list" });
    const draw = (members) => list.replaceChildren(...members.map((m) => h("li", { testid: "member-row", "data-username": m.username },
      h("span", m.display_name && m.display_name !== m.username ? `${m.display_name} (${m.username})` : m.username),
      h("small.muted", roleName(m.role)),
      role === "owner" && m.role !== "owner" ? h("button.link", { type: "button", testid: "member-remove", onclick: async () => {
        try {
          await api(`${path}/${enc(m.username)}`, { method: "DELETE" });
          toast(t("sharing.removed", { name: m.username }));
          load();
        } catch (err) { showError(err); }
      } }, t("sharing.remove")) : null)));
    const load = () => api(path).then(draw).catch(showError);
    load();
    const body = [list];
    if (role === "owner") {
      const username = h("input", { name: "username", required: true, autocomplete: "off", testid: "member-username", "aria-label": t("sharing.username"), placeholder: t("sharing.username") });
      const pick = h("select", { name: "role", testid: "member-role", "aria-label": t("sharing.roleLabel") },
        h("option", { value: "viewer" }, t("sharing.role.viewer")), h("option", { value: "contributor" }, t("sharing.role.contributor")));
      body.push(h("form.row.wrap", { testid: "member-invite", onsubmit: async (e) => {
        e.preventDefault();
        try {
          draw(await api(path, { method: "POST", body: { username: username.value.trim(), role: pick.value } }));
          toast(t("sharing.invited", { name: username.value.trim() }));
          username.value = "";
        } catch (err) { showError(err); }
      } }, username, pick, h("button.primary", { type: "submit", testid: "member-invite-submit" }, t("sharing.invite"))),
      h("p.muted", t("sharing.rolesHelp")));
    } else {
      body.push(h("button.danger", { type: "button", testid: "album-leave", onclick: async () => {
        if (!(await confirmDialog(t("sharing.leaveTitle"), t("sharing.leaveText"), t("sharing.leave"), true))) return;
        try {
          await api(`${path}/${enc(me)}`, { method: "DELETE" });
          close(true);
          toast(t("sharing.left"));
          location.hash = "#/shared";
        } catch (err) { showError(err); }
      } }, t("sharing.leave")));
    }
    body.push(h("div.row.end", h("button", { type: "button", testid: "members-close", onclick: () => close(false) }, t("common.close"))));
    return h("div", ...body);
  });
}

// -- partner sharing in Settings ----------------------------------------------------------------------------

export function partnersCard() {
  const mine = h("ul.partners", { testid: "partners-mine" });
  const theirs = h("ul.partners", { testid: "partners-theirs" });
  const merge = h("input", { type: "checkbox", name: "merge_partners", testid: "partners-merge", onchange: async () => {
    try {
      await api("/api/users/me/sharing", { method: "PATCH", body: { merge_partners: merge.checked } });
      toast(merge.checked ? t("sharing.mergeOn") : t("sharing.mergeOff"));
    } catch (err) { merge.checked = !merge.checked; showError(err); }
  } });
  const draw = (res) => {
    merge.checked = !!res.merge_partners;
    mine.replaceChildren(...(res.shared_by_me.length ? res.shared_by_me.map((p) => h("li", { testid: "partner-row", "data-username": p.username },
      h("span", p.display_name || p.username), p.since ? h("small.muted", t("sharing.since", { day: fmtDay(p.since) })) : h("small.muted", t("sharing.everything")),
      h("button.link", { type: "button", testid: "partner-stop", onclick: async () => {
        try {
          await api(`/api/partners/${enc(p.username)}`, { method: "DELETE" });
          toast(t("sharing.stopped", { name: p.username }));
          load();
        } catch (err) { showError(err); }
      } }, t("sharing.stop")))) : [h("li.muted", t("sharing.nobody"))]));
    theirs.replaceChildren(...(res.shared_with_me.length ? res.shared_with_me.map((p) => h("li", { testid: "partner-theirs-row" },
      h("a", { href: `#/partner/${enc(p.username)}` }, t("sharing.libraryOf", { name: p.display_name || p.username })))) : [h("li.muted", t("sharing.noPartners"))]));
  };
  const load = () => api("/api/partners").then(draw).catch(showError);
  load();
  const username = h("input", { name: "username", required: true, autocomplete: "off", testid: "partner-username", "aria-label": t("sharing.username"), placeholder: t("sharing.username") });
  const since = h("input", { type: "date", name: "since", testid: "partner-since", "aria-label": t("sharing.sinceLabel") });
  const form = h("form.row.wrap", { testid: "partner-share", onsubmit: async (e) => {
    e.preventDefault();
    try {
      draw(await api(`/api/partners/${enc(username.value.trim())}`, { method: "PUT", body: since.value ? { since: since.value } : {} }));
      toast(t("sharing.shared", { name: username.value.trim() }));
      form.reset();
    } catch (err) { showError(err); }
  } }, username, h("label", t("sharing.sinceLabel"), since), h("button.primary", { type: "submit", testid: "partner-share-submit" }, t("sharing.shareLibrary")));
  return h("section.card.wide", { testid: "partners" }, h("h3", t("sharing.partnersCard")),
    h("p.muted", t("sharing.partnersHelp")), form, h("h4", t("sharing.sharedByMe")), mine,
    h("h4", t("sharing.sharedWithMe")), theirs, h("label.check", merge, t("sharing.merge")));
}
