// Commands on photos shared by the viewer and the selection bar. After a change they announce
// it on `document` ("photos:removed" / "photos:changed" / "photos:added"), and app.js passes it
// to whatever grid is on screen, so lists update without reloading.
import { api, listOf, photoPath, setVault, vaultToken } from "./api.js";
import { h, modal, promptDialog, toast, plural, showError } from "./ui.js";
import { shareDialog } from "./views/shares.js";
import { t as tr } from "./i18n.js";

export const notify = (type, detail) => document.dispatchEvent(new CustomEvent(`photos:${type}`, { detail }));

/** Run fn on each id, two at a time; returns ids that succeeded and shows the first error. */
async function each(ids, fn) {
  const ok = [];
  let firstErr = null;
  const queue = [...ids];
  const worker = async () => {
    for (let id; (id = queue.shift()) !== undefined;) {
      try { await fn(id); ok.push(id); } catch (err) { firstErr = firstErr || err; }
    }
  };
  await Promise.all([worker(), worker()]);
  if (firstErr) showError(firstErr);
  return ok;
}

export async function restorePhotos(ids) {
  const ok = await each(ids, (id) => api(photoPath(id, "/restore"), { method: "POST" }));
  for (const id of ok) api(photoPath(id)).then((p) => notify("added", p)).catch(() => {});
  return ok;
}

export async function trashPhotos(ids) {
  const ok = await each(ids, (id) => api(photoPath(id, "/trash"), { method: "POST" }));
  if (ok.length) {
    notify("removed", ok);
    toast(`${plural(ok.length, "photo")} moved to trash`, { action: { label: "Undo", run: () => restorePhotos(ok) } });
  }
  return ok;
}

export async function setFavourite(photo, on) {
  const res = await api(photoPath(photo.id, "/favourite"), { method: on ? "PUT" : "DELETE" });
  photo.favourite = on;
  // A favourite is an event on the photo's stream: it moves the version on. Keep the new one, or
  // the next edit sent with the old version (a description typed after pressing f) meets a 409.
  if (res && res.version !== undefined) photo.version = res.version;
  notify("changed", photo);
}

export async function favouritePhotos(ids, grid) {
  const ok = await each(ids, (id) => api(photoPath(id, "/favourite"), { method: "PUT" }));
  for (const id of ok) notify("changed", { ...(grid && grid.byId.get(id)), id, favourite: true });
  if (ok.length) toast(`${plural(ok.length, "photo")} added to favourites`);
  return ok;
}

/** Let the user pick an album or name a new one; resolves an album id or undefined. */
export async function chooseAlbum() {
  let albums = [];
  try { albums = listOf(await api("/api/albums"), "albums"); } catch (err) { showError(err); }
  return modal("Add to album", (close) => {
    const name = h("input", { name: "name", placeholder: "New album name", testid: "album-new-name", autocomplete: "off" });
    const create = async (e) => {
      e.preventDefault();
      if (!name.value.trim()) return;
      try {
        const a = await api("/api/albums", { method: "POST", body: { name: name.value.trim() } });
        close(a.id);
      } catch (err) { showError(err); }
    };
    return h("div",
      albums.length ? h("ul.pick", albums.map((a) => h("li", h("button", { type: "button", testid: "album-choice", "data-album-id": a.id, onclick: () => close(a.id) },
        a.name, h("small", ` · ${a.count ?? 0}`))))) : h("p.muted", "No albums yet."),
      h("form.row", { onsubmit: create }, name, h("button.primary", { type: "submit", testid: "album-new-submit" }, "Create & add")),
      h("div.row.end", h("button", { type: "button", onclick: () => close() }, "Cancel")));
  });
}

export async function addToAlbum(ids) {
  const albumId = await chooseAlbum();
  if (!albumId) return false;
  await api(`/api/albums/${encodeURIComponent(albumId)}/photos`, { method: "POST", body: { photo_ids: ids } });
  toast(`${plural(ids.length, "photo")} added to the album`);
  return true;
}

/** Make sure we hold a vault token, asking for the passphrase if needed. */
export async function ensureVault() {
  if (vaultToken()) return true;
  const pass = await promptDialog("Unlock vault", "Vault passphrase", { type: "password", okLabel: "Unlock" });
  if (!pass) return false;
  try {
    const r = await api("/api/vault/unlock", { method: "POST", body: { passphrase: pass }, authCall: true });
    setVault(r.vault_token, r.expires_at);
    return true;
  } catch (err) {
    showError(err.status === 404 ? { detail: "No vault yet: create one on the Vault page first." } : err);
    return false;
  }
}

export async function moveToVault(ids) {
  if (!(await ensureVault())) return [];
  const ok = await each(ids, (id) => api(photoPath(id, "/vault"), { method: "POST", vault: true }));
  if (ok.length) {
    notify("removed", ok);
    toast(`${plural(ok.length, "photo")} moved to the vault`);
  }
  return ok;
}

/** The selection-bar actions every library grid offers. */
export const libraryActions = () => [
  { label: "Add to album", testid: "selection-add-album", run: async (ids, g) => { if (await addToAlbum(ids)) g.setSelecting(false); } },
  { label: tr("shares.share"), testid: "selection-share", icon: "share", run: async (ids, g) => { if (await shareDialog({ photo_ids: ids })) g.setSelecting(false); } },
  { label: "Favourite", testid: "selection-favourite", run: async (ids, g) => { await favouritePhotos(ids, g); g.setSelecting(false); } },
  { label: "Trash", testid: "selection-trash", danger: true, run: async (ids, g) => { await trashPhotos(ids); g.setSelecting(false); } },
];
