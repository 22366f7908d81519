// Albums: list, create, open, rename, delete, remove photos (adding happens from any grid's
// selection bar or the viewer, through actions.addToAlbum).
import { api, listOf, thumbUrl, qs } from "../api.js";
import { h, icon, plural, showError, toast, confirmDialog, promptDialog } from "../ui.js";
import { PhotoGrid } from "../grid.js";
import { libraryActions } from "../actions.js";
import { header, pageOf } from "./library.js";

const albumPath = (id, rest = "") => `/api/albums/${encodeURIComponent(id)}${rest}`;
const coverId = (a) => (a.cover && typeof a.cover === "object" ? a.cover.id : a.cover);

export function albums() {
  const list = h("ul.albums", { testid: "album-list" });
  const name = h("input", { name: "name", required: true, placeholder: "New album name", testid: "album-create-name", "aria-label": "New album name", autocomplete: "off" });
  const form = h("form.row", { testid: "album-create-form", onsubmit: async (e) => {
    e.preventDefault();
    try {
      const a = await api("/api/albums", { method: "POST", body: { name: name.value.trim() } });
      location.hash = `#/albums/${encodeURIComponent(a.id)}`;
    } catch (err) { showError(err); }
  } }, name, h("button.primary", { type: "submit", testid: "album-create-submit" }, "Create album"));
  api("/api/albums").then((res) => {
    const all = listOf(res, "albums");
    if (!all.length) list.replaceWith(h("p.empty", "No albums yet. Create one, then add photos from any grid with Select → Add to album."));
    list.append(...all.map((a) => h("li", h("a.album-card", { href: `#/albums/${encodeURIComponent(a.id)}`, testid: "album-card", "data-album-id": a.id },
      coverId(a) ? h("img", { src: thumbUrl(coverId(a)), alt: "", loading: "lazy", decoding: "async", width: 256, height: 256 }) : h("span.no-cover", h("img", { src: "favicon.svg", alt: "", width: 64, height: 64 })),
      h("strong", a.name), h("small", plural(a.count ?? 0, "photo"))))));
  }).catch(showError);
  return { el: h("div", header("Albums"), form, list) };
}

export function album({ id }) {
  const title = h("h2", { tabindex: "-1" }, "Album");
  const grid = new PhotoGrid({
    empty: "This album is empty. Add photos from Photos with Select → Add to album.",
    actions: [
      { label: "Remove from album", testid: "selection-remove-from-album", run: async (ids, g) => {
        await api(albumPath(id, "/photos"), { method: "DELETE", body: { photo_ids: ids } });
        g.remove(ids);
        g.setSelecting(false);
        toast(`${plural(ids.length, "photo")} removed from the album`);
      } },
      ...libraryActions().filter((a) => a.testid !== "selection-add-album"),
    ],
  });
  grid.follow(async (cursor) => {
    const res = await api(albumPath(id) + qs({ cursor }));
    if (!cursor) title.textContent = res.name || "Album";
    return pageOf(res);
  });
  const rename = async () => {
    const name = await promptDialog("Rename album", "Name", { value: title.textContent, okLabel: "Rename" });
    if (!name || !name.trim()) return;
    try {
      await api(albumPath(id), { method: "PATCH", body: { name: name.trim() } });
      title.textContent = name.trim();
    } catch (err) { showError(err); }
  };
  const remove = async () => {
    if (!(await confirmDialog("Delete album?", `“${title.textContent}” will be deleted. Its photos stay in your library.`, "Delete album", true))) return;
    try {
      await api(albumPath(id), { method: "DELETE" });
      toast("Album deleted");
      location.hash = "#/albums";
    } catch (err) { showError(err); }
  };
  const head = h("header.view-head", h("a.back", { href: "#/albums", "aria-label": "All albums" }, icon("left")), title,
    h("div.tools", grid.selectButton(),
      h("button", { type: "button", testid: "album-rename", onclick: rename }, "Rename"),
      h("button.danger", { type: "button", testid: "album-delete", onclick: remove }, "Delete")));
  return { el: h("div", head, grid.el), grid };
}
