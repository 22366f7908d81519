// Albums: list, create, open, rename, delete, remove photos (adding happens from any grid's
// selection bar or the viewer, through actions.addToAlbum).
import { api, listOf, thumbUrl, qs } from "../api.js";
import { h, icon, plural, showError, toast, confirmDialog, promptDialog } from "../ui.js";
import { PhotoGrid } from "../grid.js";
import { libraryActions } from "../actions.js";
import { header, pageOf } from "./library.js";
import { shareDialog } from "./shares.js";
import { t } from "../i18n.js";
import { membersDialog, ownerBadge, roleName } from "./sharing.js";

const albumPath = (id, rest = "") => `/api/albums/${encodeURIComponent(id)}${rest}`;
const coverId = (a) => (a.cover && typeof a.cover === "object" ? a.cover.id : a.cover);

export function albums() {
  const list = h("ul.albums", { testid: "album-list" });
  const name = h("input", { name: "name", required: true, placeholder: t("albums.newName"), testid: "album-create-name", "aria-label": t("albums.newName"), autocomplete: "off" });
  const form = h("form.row", { testid: "album-create-form", onsubmit: async (e) => {
    e.preventDefault();
    try {
      const a = await api("/api/albums", { method: "POST", body: { name: name.value.trim() } });
      location.hash = `#/albums/${encodeURIComponent(a.id)}`;
    } catch (err) { showError(err); }
  } }, name, h("button.primary", { type: "submit", testid: "album-create-submit" }, t("albums.create")));
  api("/api/albums").then((res) => {
    const all = listOf(res, "albums");
    if (!all.length) list.replaceWith(h("p.empty", t("albums.none")));
    list.append(...all.map((a) => h("li", h("a.album-card", { href: `#/albums/${encodeURIComponent(a.id)}`, testid: "album-card", "data-album-id": a.id },
      coverId(a) ? h("img", { src: thumbUrl(coverId(a)), alt: "", loading: "lazy", decoding: "async", width: 256, height: 256 }) : h("span.no-cover", h("img", { src: "favicon.svg", alt: "", width: 64, height: 64 })),
      h("strong", a.name), h("small", t("common.photos", { count: a.count ?? 0 })),
      // Shared albums (docs/sharing.md): whose it is, or that mine has members.
      a.shared ? h("small.shared", { testid: "album-shared" }, a.owner ? t("sharing.albumBy", { name: a.owner, role: roleName(a.role) }) : t("sharing.sharedAlbum")) : null))));
  }).catch(showError);
  return { el: h("div", header(t("nav.albums"), h("a.button", { href: "#/shares", testid: "shares-link" }, t("shares.title"))), form, list) };
}

export function album({ id }) {
  let role = "owner";
  const title = h("h2", { tabindex: "-1" }, t("albums.album"));
  // The album's own words (albums moved in from Octopus Photos 0.6 bring theirs); none: no line.
  const about = h("p.album-description", { testid: "album-description", hidden: true });
  const grid = new PhotoGrid({
    empty: t("albums.empty"),
    extra: ownerBadge,
    actions: [
      { label: t("albums.remove"), testid: "selection-remove-from-album", run: async (ids, g) => {
        await api(albumPath(id, "/photos"), { method: "DELETE", body: { photo_ids: ids } });
        g.remove(ids);
        g.setSelecting(false);
        toast(t("albums.removed", { count: ids.length }));
      } },
      ...libraryActions().filter((a) => a.testid !== "selection-add-album"),
    ],
  });
  grid.follow(async (cursor) => {
    const res = await api(albumPath(id) + qs({ cursor }));
    if (!cursor) {
      title.textContent = res.name || t("albums.album");
      about.textContent = res.description || "";
      about.hidden = !res.description;
      role = res.role || "owner";
      // A member sees the album; only its owner renames, deletes or shares it by link.
      for (const b of ownerOnly) b.hidden = role !== "owner";
      // A viewer changes nothing here: no selection, no actions (the server would answer 403/404).
      if (role === "viewer") {
        grid.opts.actions = [];
        if (select) select.hidden = true;
      }
      members.hidden = !(res.shared || role === "owner");
    }
    return pageOf(res);
  });
  const rename = async () => {
    const name = await promptDialog(t("albums.renameTitle"), t("albums.name"), { value: title.textContent, okLabel: t("albums.rename") });
    if (!name || !name.trim()) return;
    try {
      await api(albumPath(id), { method: "PATCH", body: { name: name.trim() } });
      title.textContent = name.trim();
    } catch (err) { showError(err); }
  };
  const remove = async () => {
    if (!(await confirmDialog(t("albums.deleteTitle"), t("albums.deleteText", { name: title.textContent }), t("albums.delete"), true))) return;
    try {
      await api(albumPath(id), { method: "DELETE" });
      toast(t("albums.deleted"));
      location.hash = "#/albums";
    } catch (err) { showError(err); }
  };
  const ownerOnly = [
    h("button", { type: "button", testid: "album-share", onclick: () => shareDialog({ album_id: id }) }, t("shares.share")),
    h("button", { type: "button", testid: "album-rename", onclick: rename }, t("albums.rename")),
    h("button.danger", { type: "button", testid: "album-delete", onclick: remove }, t("common.delete")),
  ];
  const select = grid.selectButton();
  const members = h("button", { type: "button", testid: "album-members", hidden: true, onclick: () => membersDialog(id, role) }, t("sharing.members"));
  const head = h("header.view-head", h("a.back", { href: "#/albums", "aria-label": t("albums.all") }, icon("left")), title,
    h("div.tools", select, members, ...ownerOnly));
  return { el: h("div", head, about, grid.el), grid };
}
