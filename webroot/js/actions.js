// Commands on photos shared by the viewer and the selection bar. After a change they announce
// it on `document` ("photos:removed" / "photos:changed" / "photos:added"), and app.js passes it
// to whatever grid is on screen, so lists update without reloading.
//
// One photo at a time (the viewer, and trash/restore/favourite, which the offline outbox can
// queue): a request each. Many at once (the selection bar's other actions): POST
// /api/photos/bulk, 1,000 ids a request, each request all or nothing on the server.
import { api, listOf, photoPath, setVault, vaultToken } from "./api.js";
import { h, modal, promptDialog, toast, showError } from "./ui.js";
import { shareDialog } from "./views/shares.js";
import { t, t as tr } from "./i18n.js";

export const notify = (type, detail) => document.dispatchEvent(new CustomEvent(`photos:${type}`, { detail }));

const BULK_MAX = 1000; // the server's cap per request (bulk.py MAX_BULK)

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

/** One bulk action on `ids` (in requests of BULK_MAX); resolves the photos as they are now. */
export async function bulk(action, ids, extra = {}) {
  const photos = [];
  for (let i = 0; i < ids.length; i += BULK_MAX) {
    const r = await api("/api/photos/bulk", { method: "POST", body: { action, photo_ids: ids.slice(i, i + BULK_MAX), ...extra } });
    photos.push(...(r.photos || []));
  }
  return photos;
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
    toast(t("selection.trashed", { count: ok.length }), { action: { label: t("selection.undo"), run: () => restorePhotos(ok) } });
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
  if (ok.length) toast(t("selection.favourited", { count: ok.length }));
  return ok;
}

export async function unfavouritePhotos(ids) {
  const photos = await bulk("unfavourite", ids);
  for (const p of photos) notify("changed", p);
  toast(t("selection.unfavourited", { count: photos.length }));
  return photos;
}

/** Ask for tags (comma-separated) and add them to, or remove them from, every photo. */
export async function tagPhotos(ids, remove = false) {
  const text = await promptDialog(t(remove ? "selection.tagsRemoveTitle" : "selection.tagsAddTitle", { count: ids.length }),
    t("selection.tagsLabel"), { okLabel: t(remove ? "selection.tagsRemove" : "selection.tagsAdd") });
  const tags = (text || "").split(",").map((x) => x.trim()).filter(Boolean);
  if (!tags.length) return null;
  const photos = await bulk(remove ? "remove_tags" : "add_tags", ids, { tags });
  for (const p of photos) notify("changed", p);
  toast(t(remove ? "selection.tagsRemoved" : "selection.tagsAdded", { count: photos.length }));
  return photos;
}

// "+1 y -3 h", "-2d", "+1 mo 4 min": a signed number and a unit, any number of times. Spanish
// units too (a/año, me/mes, sem, d/día), so the same field reads in both languages.
const UNITS = [
  [/^(y|yr|yrs|years?|a|años?|anos?)$/, "years", 1], [/^(mo|mon|months?|me|mes|meses)$/, "months", 1],
  [/^(w|wk|weeks?|sem|semanas?)$/, "days", 7], [/^(d|days?|días?|dias?)$/, "days", 1],
  [/^(h|hr|hrs|hours?|horas?)$/, "hours", 1], [/^(m|min|mins|minutes?|minutos?)$/, "minutes", 1],
  [/^(s|sec|secs|seconds?|segundos?)$/, "seconds", 1],
];

/** The offset in `text` as {years, months, days, hours, minutes, seconds}, or null if unreadable. */
export function parseShift(text) {
  const shift = {};
  const rest = String(text || "").toLowerCase().replace(/([+-]?\s*\d+)\s*([a-zñíá]+)/g, (_, num, unit) => {
    const hit = UNITS.find(([re]) => re.test(unit));
    if (!hit) return "!";
    shift[hit[1]] = (shift[hit[1]] || 0) + Number(num.replace(/\s+/g, "")) * hit[2];
    return "";
  });
  if (rest.trim() || !Object.keys(shift).length || Object.values(shift).every((n) => n === 0)) return null;
  return shift;
}

/** A local "YYYY-MM-DDTHH:MM" from <input type=datetime-local> with this browser's UTC offset. */
function withOffset(local) {
  const d = new Date(local);
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? "+" : "-";
  const hh = String(Math.floor(Math.abs(off) / 60)).padStart(2, "0");
  const mm = String(Math.abs(off) % 60).padStart(2, "0");
  return `${local.length === 16 ? local + ":00" : local}${sign}${hh}:${mm}`;
}

/** Set one date and time for every photo, or shift each by an offset (a camera's wrong clock). */
export async function changeDate(ids, grid) {
  const choice = await modal(t("selection.dateTitle", { count: ids.length }), (close) => {
    const modeSet = h("input", { type: "radio", name: "date-mode", value: "set", checked: true, testid: "date-mode-set" });
    const modeShift = h("input", { type: "radio", name: "date-mode", value: "shift", testid: "date-mode-shift" });
    const when = h("input", { type: "datetime-local", step: "1", testid: "bulk-date-input", "aria-label": t("selection.dateSet") });
    const by = h("input", { type: "text", placeholder: t("selection.dateShiftExample"), autocomplete: "off", testid: "bulk-shift-input", "aria-label": t("selection.dateShift") });
    const note = h("p.muted", { testid: "bulk-date-note", "aria-live": "polite" }, t("selection.dateShiftHelp"));
    const pick = (m) => { (m === "set" ? modeSet : modeShift).checked = true; };
    when.addEventListener("focus", () => pick("set"));
    by.addEventListener("focus", () => pick("shift"));
    by.addEventListener("input", () => { note.textContent = by.value && !parseShift(by.value) ? t("selection.dateShiftBad") : t("selection.dateShiftHelp"); });
    const submit = (e) => {
      e.preventDefault();
      if (modeSet.checked) {
        if (!when.value) { when.focus(); return; }
        close({ action: "set_date", extra: { taken_at: withOffset(when.value) } });
      } else {
        const shift = parseShift(by.value);
        if (!shift) { note.textContent = t("selection.dateShiftBad"); by.focus(); return; }
        close({ action: "shift_date", extra: { shift } });
      }
    };
    return h("form", { onsubmit: submit },
      h("label.row", modeSet, h("span", t("selection.dateSet")), when),
      h("label.row", modeShift, h("span", t("selection.dateShift")), by),
      note,
      h("div.row.end",
        h("button", { type: "button", onclick: () => close() }, t("common.cancel")),
        h("button.primary", { type: "submit", testid: "bulk-date-ok" }, t("selection.dateApply"))));
  });
  if (!choice) return null;
  const photos = await bulk(choice.action, ids, choice.extra);
  // A new date moves a photo in the day-grouped timeline: out of its day, and back in where it
  // belongs (or later, with the page that brings it). Other lists keep it and show the new date.
  if (grid && grid.opts.grouped && grid.opts.acceptsNew !== false) {
    notify("removed", photos.map((p) => p.id));
    for (const p of photos) notify("added", p);
  } else {
    for (const p of photos) notify("changed", p);
  }
  toast(t("selection.dated", { count: photos.length }));
  return photos;
}

/** Download the originals as one ZIP: the server streams it from a link only this user may follow. */
export async function downloadZip(ids) {
  const link = await api("/api/downloads", { method: "POST", body: { photo_ids: ids } });
  const a = h("a", { href: link.url, download: "", hidden: true, testid: "zip-link" });
  document.body.append(a);
  a.click();
  a.remove();
  toast(t("selection.downloading", { count: link.count }));
  return link;
}

// Each grid decides from the new state whether the photo stays (grid.update: the timeline and
// memories drop archived photos, the Archive drops unarchived ones).
async function setArchived(ids, on) {
  const photos = await bulk(on ? "archive" : "unarchive", ids);
  for (const p of photos) notify("changed", p);
  // Back from the Archive: the timeline (which dropped it) takes it in again where it belongs.
  if (!on) for (const p of photos) notify("added", p);
  return photos;
}

export async function archivePhotos(ids) {
  const photos = await setArchived(ids, true);
  toast(t("selection.archived", { count: photos.length }), {
    action: { label: t("selection.undo"), run: () => unarchivePhotos(photos.map((p) => p.id)) } });
  return photos;
}

export async function unarchivePhotos(ids) {
  const photos = await setArchived(ids, false);
  toast(t("selection.unarchived", { count: photos.length }));
  return photos;
}

/** Let the user pick an album or name a new one; resolves an album id or undefined. */
export async function chooseAlbum() {
  let albums = [];
  try { albums = listOf(await api("/api/albums"), "albums"); } catch (err) { showError(err); }
  return modal(t("selection.addToAlbum"), (close) => {
    const name = h("input", { name: "name", placeholder: t("selection.albumNewName"), testid: "album-new-name", autocomplete: "off" });
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
        a.name, h("small", ` · ${a.count ?? 0}`))))) : h("p.muted", t("selection.albumNone")),
      h("form.row", { onsubmit: create }, name, h("button.primary", { type: "submit", testid: "album-new-submit" }, t("selection.albumCreate"))),
      h("div.row.end", h("button", { type: "button", onclick: () => close() }, t("common.cancel"))));
  });
}

export async function addToAlbum(ids) {
  const albumId = await chooseAlbum();
  if (!albumId) return false;
  await api(`/api/albums/${encodeURIComponent(albumId)}/photos`, { method: "POST", body: { photo_ids: ids } });
  toast(t("selection.albumAdded", { count: ids.length }));
  return true;
}

/** Make sure we hold a vault token, asking for the passphrase if needed. */
export async function ensureVault() {
  if (vaultToken()) return true;
  const pass = await promptDialog(t("selection.vaultUnlock"), t("selection.vaultPassphrase"), { type: "password", okLabel: t("selection.vaultUnlockButton") });
  if (!pass) return false;
  try {
    const r = await api("/api/vault/unlock", { method: "POST", body: { passphrase: pass }, authCall: true });
    setVault(r.vault_token, r.expires_at);
    return true;
  } catch (err) {
    showError(err.status === 404 ? { detail: t("selection.vaultNone") } : err);
    return false;
  }
}

export async function moveToVault(ids) {
  if (!(await ensureVault())) return [];
  const ok = await each(ids, (id) => api(photoPath(id, "/vault"), { method: "POST", vault: true }));
  if (ok.length) {
    notify("removed", ok);
    toast(t("selection.vaulted", { count: ok.length }));
  }
  return ok;
}

// Phones (the layout's 600 px, style.css): the bar keeps album, favourite and trash; Download and
// Archive join the less frequent actions behind "More", so every button stays thumb-sized at 360 px.
const narrow = () => matchMedia("(max-width: 600px)").matches;

// The less frequent bulk actions, behind "More".
const MORE = () => [
  ...(narrow() ? [
    { label: t("selection.download"), testid: "selection-download", run: (ids) => downloadZip(ids) },
    { label: t("selection.archive"), testid: "selection-archive", run: (ids) => archivePhotos(ids) },
  ] : []),
  { label: t("selection.unfavourite"), testid: "selection-unfavourite", run: (ids) => unfavouritePhotos(ids) },
  { label: t("selection.tagsAdd"), testid: "selection-tags-add", run: (ids) => tagPhotos(ids, false) },
  { label: t("selection.tagsRemove"), testid: "selection-tags-remove", run: (ids) => tagPhotos(ids, true) },
  { label: t("selection.date"), testid: "selection-date", run: (ids, g) => changeDate(ids, g) },
  { label: t("selection.vault"), testid: "selection-vault", run: (ids) => moveToVault(ids) },
];

async function more(ids, g) {
  const pick = await modal(t("selection.moreTitle", { count: ids.length }), (close) => h("div",
    h("ul.pick", MORE().map((a) => h("li", h("button", { type: "button", testid: a.testid, onclick: () => close(a) }, a.label)))),
    h("div.row.end", h("button", { type: "button", onclick: () => close() }, t("common.cancel")))));
  if (!pick) return;
  const done = await pick.run(ids, g);
  if (done && (!Array.isArray(done) || done.length)) g.setSelecting(false);
}

const archiveAction = () => ({ label: t("selection.archive"), testid: "selection-archive", icon: "archive",
  run: async (ids, g) => { await archivePhotos(ids, g); g.setSelecting(false); } });
const downloadAction = () => ({ label: t("selection.download"), testid: "selection-download", icon: "download",
  run: async (ids, g) => { await downloadZip(ids); g.setSelecting(false); } });
const moreAction = () => ({ label: t("selection.more"), testid: "selection-more", icon: "more", run: more });

/** The selection-bar actions every library grid offers. */
export const libraryActions = () => [
  { label: t("selection.addToAlbum"), testid: "selection-add-album", run: async (ids, g) => { if (await addToAlbum(ids)) g.setSelecting(false); } },
  { label: tr("shares.share"), testid: "selection-share", icon: "share", run: async (ids, g) => { if (await shareDialog({ photo_ids: ids })) g.setSelecting(false); } },
  { label: t("selection.favourite"), testid: "selection-favourite", run: async (ids, g) => { await favouritePhotos(ids, g); g.setSelecting(false); } },
  ...(narrow() ? [] : [downloadAction(), archiveAction()]),
  { label: t("selection.trash"), testid: "selection-trash", danger: true, run: async (ids, g) => { await trashPhotos(ids); g.setSelecting(false); } },
  moreAction(),
];

/** The Archive view's bar: bring back to the timeline first, then the usual. */
export const archiveActions = () => [
  { label: t("selection.unarchive"), testid: "selection-unarchive", icon: "photos",
    run: async (ids, g) => { await unarchivePhotos(ids, g); g.setSelecting(false); } },
  { label: t("selection.addToAlbum"), testid: "selection-add-album", run: async (ids, g) => { if (await addToAlbum(ids)) g.setSelecting(false); } },
  downloadAction(),
  { label: t("selection.trash"), testid: "selection-trash", danger: true, run: async (ids, g) => { await trashPhotos(ids); g.setSelecting(false); } },
  moreAction(),
];
