// The offline mirror: the signed-in user's library in IndexedDB, kept from the sync feed
// (docs/sync.md is the protocol; this file is its reference client). A snapshot fills it once,
// then a loop pulls /api/sync/events after the stored cursor with a long-poll while the page is
// visible; 410 throws the mirror away and takes a new snapshot. library.js answers the views
// from here when the server is out of reach; outbox.js queues the edits made meanwhile.
//
// Database `octopus-mirror-<user id>`: `photos` (by id; indexes taken_local, tag_keys multiEntry,
// state, and `timeline` on [state, taken_local] so the first screen reads one page, not all),
// `albums` (by id, with photo_ids), `meta` (cursor, last_synced, and `months`: {month: count} of
// library photos, kept current by every write so the month list needs no scan), `outbox`.

const DB_VERSION = 2;
const WAIT = 25;                  // seconds the server may hold a poll
const POLL_TIMEOUT = (WAIT + 10) * 1000;
const USER_KEY = "octopus.mirror.user"; // who the mirror on this browser belongs to (boot offline)

let db = null;
let dbUser = null;
let running = false;
let poll = null;                  // AbortController of the request in flight
let wake = null;                  // resolves the back-off sleep early (online, visible)
let cache = null;                 // every photo, newest first, until the next write
let replayer = null;              // outbox.replay, set by outbox.js (avoids an import cycle)

export const status = { online: true, lastSynced: null, syncing: false, ready: false };
const listeners = new Set();
export function onStatus(fn) { listeners.add(fn); fn(status); return () => listeners.delete(fn); }
const emit = () => listeners.forEach((fn) => fn(status));
export function setReplayer(fn) { replayer = fn; }

export const dbName = (id) => `octopus-mirror-${id}`;
export const req = (r) => new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
export const done = (tx) => new Promise((resolve, reject) => {
  tx.oncomplete = () => resolve();
  tx.onerror = tx.onabort = () => reject(tx.error || new Error("IndexedDB transaction aborted"));
});

/** The user whose mirror this browser holds (stored at sign-in; gone at sign-out). */
export function storedUser() {
  try { return JSON.parse(localStorage.getItem(USER_KEY) || "null"); } catch { return null; }
}

export async function open(userId) {
  if (db && dbUser === userId) return db;
  closeDb();
  const r = indexedDB.open(dbName(userId), DB_VERSION);
  r.onupgradeneeded = (e) => {
    const d = r.result;
    if (e.oldVersion < 1) {
      const photos = d.createObjectStore("photos", { keyPath: "id" });
      photos.createIndex("taken_local", "taken_local");
      photos.createIndex("tags", "tag_keys", { multiEntry: true });
      photos.createIndex("state", "state");
      d.createObjectStore("albums", { keyPath: "id" });
      d.createObjectStore("meta");
      d.createObjectStore("outbox", { keyPath: "seq", autoIncrement: true });
    }
    // Version 2: the timeline index; `months` is counted once on the first read (monthCounts).
    if (e.oldVersion < 2) r.transaction.objectStore("photos").createIndex("timeline", ["state", "taken_local"]);
  };
  db = await req(r);
  dbUser = userId;
  db.onversionchange = () => closeDb(); // another tab deletes it (sign-out): let it
  return db;
}

function closeDb() {
  if (db) db.close();
  db = null;
  dbUser = null;
  cache = null;
}

export const database = () => db;

// What the views need of a photo, as the API shows it, plus two derived keys for the indexes:
// taken_local (the wall-clock time, how the server orders the timeline) and tag_keys (folded).
export function prepare(p) {
  const taken = p.taken_at || p.uploaded_at || "";
  p.taken_local = taken.slice(0, 19);
  p.tag_keys = (p.tags || []).map(foldTag);
  if (p.kind === undefined) p.kind = "photo"; // a server older than videos
  delete p.album_ids;
  delete p.duplicate;
  return p;
}
export const foldTag = (t) => t.split(/\s+/).filter(Boolean).join(" ").toLowerCase();

// The month list as {month: count} of library photos. Every write to `photos` goes through
// Months.track inside its transaction, so the record never needs a scan after the first.
const monthOf = (p) => (p && p.state === "library" ? (p.taken_local || "").slice(0, 7) : null);
class Months {
  constructor(counts) { this.counts = counts || {}; this.missing = false; }
  static async load(meta) {
    const counts = await req(meta.get("months"));
    const m = new Months(counts);
    m.missing = !counts; // not counted yet (an older mirror): monthCounts counts it whole
    return m;
  }
  track(before, after) {
    const a = monthOf(before), b = monthOf(after);
    if (a === b) return;
    if (a !== null && (this.counts[a] = (this.counts[a] || 0) - 1) <= 0) delete this.counts[a];
    if (b !== null) this.counts[b] = (this.counts[b] || 0) + 1;
  }
  save(meta) { if (!this.missing) meta.put(this.counts, "months"); }
}

/** The library's months, newest first: [{month, count}] (the /api/timeline/months shape). */
export async function monthCounts() {
  if (!db) return [];
  let counts = await meta("months");
  if (!counts) { // a mirror from before version 2: count once, then it is kept current
    const m = new Months();
    for (const p of await allPhotos()) m.track(null, p);
    const tx = db.transaction("meta", "readwrite");
    m.save(tx.objectStore("meta"));
    await done(tx);
    counts = m.counts;
  }
  return Object.keys(counts).sort().reverse().map((month) => ({ month, count: counts[month] }));
}

/**
 * One page of library photos, newest taken first (the server's order: taken_local, then id,
 * descending), read through the `timeline` index: `after` is the last photo of the previous page
 * ({taken_local, id}) or null; from/to bound taken_local (memories). Returns {photos, more}.
 */
export async function timelinePage(after, limit, from = "", to = "\uffff") {
  if (!db) return { photos: [], more: false };
  const index = db.transaction("photos").objectStore("photos").index("timeline");
  const upper = after ? ["library", after.taken_local] : ["library", to];
  const range = IDBKeyRange.bound(["library", from], upper);
  const photos = [];
  return new Promise((resolve, reject) => {
    const r = index.openCursor(range, "prev"); // key descending, then primary key (id) descending
    r.onerror = () => reject(r.error);
    r.onsuccess = () => {
      const c = r.result;
      if (!c) return resolve({ photos, more: false });
      const p = c.value;
      // Same taken_local as the last one shown: only the ids below it are still to come.
      if (after && p.taken_local === after.taken_local && p.id >= after.id) return c.continue();
      if (photos.length === limit) return resolve({ photos, more: true });
      photos.push(p);
      c.continue();
    };
  });
}

/** Every photo (library and trash), newest taken first; cached until the next write. */
export async function allPhotos() {
  if (cache) return cache;
  if (!db) return [];
  const list = await req(db.transaction("photos").objectStore("photos").getAll());
  list.sort((a, b) => (a.taken_local < b.taken_local ? 1 : a.taken_local > b.taken_local ? -1 : a.id < b.id ? 1 : -1));
  cache = list;
  return list;
}
export async function allAlbums() {
  return db ? req(db.transaction("albums").objectStore("albums").getAll()) : [];
}
export async function getPhoto(id) {
  return db ? req(db.transaction("photos").objectStore("photos").get(id)) : undefined;
}
export async function meta(key) {
  return db ? req(db.transaction("meta").objectStore("meta").get(key)) : undefined;
}

/** Change photos in one transaction: fn(photo) edits it in place (return false: leave it). */
export async function editPhotos(ids, fn) {
  const tx = db.transaction(["photos", "meta"], "readwrite");
  const store = tx.objectStore("photos"), m = tx.objectStore("meta");
  const months = await Months.load(m);
  for (const id of ids) {
    const p = await req(store.get(id));
    if (!p) continue;
    const before = { state: p.state, taken_local: p.taken_local };
    if (fn(p) !== false) { store.put(prepare(p)); months.track(before, p); }
  }
  months.save(m);
  await done(tx);
  cache = null;
}
export async function putPhoto(p) {
  const tx = db.transaction(["photos", "meta"], "readwrite");
  const store = tx.objectStore("photos"), m = tx.objectStore("meta");
  const months = await Months.load(m);
  const next = prepare({ ...p });
  months.track(await req(store.get(p.id)), next);
  store.put(next);
  months.save(m);
  await done(tx);
  cache = null;
}
export async function editAlbum(id, fn) {
  const tx = db.transaction("albums", "readwrite");
  const store = tx.objectStore("albums");
  const a = await req(store.get(id));
  if (a && fn(a) !== false) store.put(a);
  await done(tx);
}

class HttpError extends Error {
  constructor(status) { super(`HTTP ${status}`); this.status = status; }
}

async function getJson(url, timeout) {
  poll = new AbortController();
  const timer = timeout ? setTimeout(() => poll && poll.abort(), timeout) : null;
  try {
    const res = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" }, signal: poll.signal });
    if (!res.ok) throw new HttpError(res.status);
    return await res.json();
  } finally {
    clearTimeout(timer);
    poll = null;
  }
}

/** Throw away what the mirror holds and take it again from a snapshot (first sync, and 410). */
export async function snapshot() {
  const snap = await getJson("/api/sync/snapshot");
  const tx = db.transaction(["photos", "albums", "meta"], "readwrite");
  const photos = tx.objectStore("photos"), albums = tx.objectStore("albums"), m = tx.objectStore("meta");
  photos.clear();
  albums.clear();
  const months = new Months();
  for (const p of snap.photos) { photos.put(prepare(p)); months.track(null, p); }
  for (const a of snap.albums) albums.put(a);
  months.save(m);
  m.put(snap.cursor, "cursor");
  m.put(new Date().toISOString(), "last_synced");
  await done(tx);
  cache = null;
  return snap.photos.length;
}

// The table in docs/sync.md section 3, inside the page's transaction. Version-checked updates
// make a page safe to apply twice (a crash between applying it and storing its cursor).
async function apply(photos, albums, months, ev) {
  const d = ev.data || {};
  const newer = (x) => x && (d.version === undefined || d.version > (x.version || 0));
  switch (ev.type) {
    case "photo.added": {
      const p = prepare({ ...d });
      months.track(await req(photos.get(d.id)), p); // applied twice (a crash): counted once
      photos.put(p);
      for (const aid of d.album_ids || []) {
        const a = await req(albums.get(aid));
        if (a && !a.photo_ids.includes(d.id)) { a.photo_ids.push(d.id); albums.put(a); }
      }
      return;
    }
    case "photo.updated": case "photo.trashed": case "photo.restored": {
      const p = await req(photos.get(ev.photo_id));
      if (!newer(p)) return;
      const before = { state: p.state, taken_local: p.taken_local };
      Object.assign(p, d);
      if (ev.type === "photo.trashed") p.state = "trash";
      if (ev.type === "photo.restored") { p.state = "library"; p.purge_at = null; }
      photos.put(prepare(p));
      months.track(before, p);
      return;
    }
    case "photo.removed": case "photo.left_library": {
      months.track(await req(photos.get(ev.photo_id)), null);
      photos.delete(ev.photo_id);
      for (const a of await req(albums.getAll())) {
        if (a.photo_ids.includes(ev.photo_id)) { a.photo_ids = a.photo_ids.filter((x) => x !== ev.photo_id); albums.put(a); }
      }
      return;
    }
    case "album.created":
      albums.put({ id: ev.album_id, name: d.name, version: d.version, created_at: d.created_at, photo_ids: [] });
      return;
    case "album.deleted":
      albums.delete(ev.album_id);
      return;
    case "album.renamed": case "album.photos_added": case "album.photos_removed": {
      const a = await req(albums.get(ev.album_id));
      if (!newer(a)) return;
      a.version = d.version;
      if (ev.type === "album.renamed") a.name = d.name;
      if (ev.type === "album.photos_added") for (const id of d.photo_ids || []) { if (!a.photo_ids.includes(id)) a.photo_ids.push(id); }
      if (ev.type === "album.photos_removed") { const gone = new Set(d.photo_ids || []); a.photo_ids = a.photo_ids.filter((x) => !gone.has(x)); }
      albums.put(a);
      return;
    }
    default: // a type this client does not know: ignore it (docs/sync.md, Versioning)
  }
}

async function applyPage(page) {
  const tx = db.transaction(["photos", "albums", "meta"], "readwrite");
  const photos = tx.objectStore("photos"), albums = tx.objectStore("albums");
  const months = await Months.load(tx.objectStore("meta"));
  for (const ev of page.events) await apply(photos, albums, months, ev);
  months.save(tx.objectStore("meta"));
  tx.objectStore("meta").put(page.cursor, "cursor");
  tx.objectStore("meta").put(new Date().toISOString(), "last_synced");
  await done(tx);
  if (page.events.length) {
    cache = null;
    document.dispatchEvent(new CustomEvent("mirror:changed", { detail: page.events }));
  }
}

function setStatus(changes) {
  const before = JSON.stringify(status);
  Object.assign(status, changes);
  if (JSON.stringify(status) !== before) emit();
}

const sleep = (ms) => new Promise((resolve) => {
  const t = setTimeout(resolve, ms);
  wake = () => { clearTimeout(t); wake = null; resolve(); };
});
const nudge = () => { if (wake) wake(); };
const onVisibility = () => { if (document.visibilityState === "visible") nudge(); else if (poll) poll.abort(); };
const onOffline = () => { if (poll) poll.abort(); setStatus({ online: false }); };

/** Note a request that could not reach the server (api.js) or that did. */
export function reachable(ok) {
  if (!running) return;
  if (!ok) setStatus({ online: false });
  else if (!status.online) nudge();
}

async function loop() {
  let backoff = 1000;
  let more = false;
  while (running) {
    if (document.visibilityState === "hidden") { await sleep(60_000); continue; } // no polling in the background
    try {
      if (!navigator.onLine) throw new TypeError("offline");
      let cursor = await meta("cursor");
      if (!cursor) {
        setStatus({ syncing: true });
        await snapshot();
        cursor = await meta("cursor");
        setStatus({ online: true, syncing: false, ready: true, lastSynced: await meta("last_synced") });
      }
      if (replayer) await replayer();
      const wait = more || !status.online ? 0 : WAIT;
      const page = await getJson(`/api/sync/events?cursor=${encodeURIComponent(cursor)}&limit=500&wait=${wait}`, POLL_TIMEOUT);
      if (!running) return;
      await applyPage(page);
      more = page.more;
      backoff = 1000;
      setStatus({ online: true, syncing: false, ready: true, lastSynced: await meta("last_synced") });
    } catch (err) {
      if (!running) return;
      if (err.status === 410) { // this server cannot continue from our cursor: start again
        await (await open(dbUser)).transaction("meta", "readwrite").objectStore("meta").delete("cursor");
        continue;
      }
      if (err.status === 401) { running = false; return; } // api.js signs the page out on its next call
      if (err.name === "AbortError" && document.visibilityState === "hidden") continue;
      // Unreachable (or a 5xx): browse from the mirror; try again later, sooner when told.
      setStatus({ online: false, syncing: false });
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 30_000);
    }
  }
}

/** Open the user's mirror and keep it current while the page is signed in. */
let opening = Promise.resolve();
/** Resolves once start() has opened the mirror (offline reads wait for it at boot). */
export const opened = () => opening.catch(() => {});

export async function start(user) {
  localStorage.setItem(USER_KEY, JSON.stringify(user));
  opening = open(user.id).then(async () => {
    setStatus({ lastSynced: (await meta("last_synced")) || null, ready: !!(await meta("cursor")) });
  });
  await opening;
  if (running) return;
  running = true;
  addEventListener("online", nudge);
  addEventListener("offline", onOffline);
  document.addEventListener("visibilitychange", onVisibility);
  loop();
}

/** Stop syncing (the mirror stays: a session that ended keeps its queued edits). */
export function stop() {
  running = false;
  if (poll) poll.abort();
  nudge();
  removeEventListener("online", nudge);
  removeEventListener("offline", onOffline);
  document.removeEventListener("visibilitychange", onVisibility);
}

/** Sign-out: the mirror, its outbox and the cached thumbnails leave this browser. Idempotent. */
export async function wipe() {
  stop();
  const user = storedUser();
  const ids = new Set([dbUser, user && user.id].filter(Boolean));
  closeDb();
  localStorage.removeItem(USER_KEY);
  status.lastSynced = null;
  status.ready = false;
  await Promise.all([...ids].map((id) => new Promise((resolve) => {
    const r = indexedDB.deleteDatabase(dbName(id));
    r.onsuccess = r.onerror = r.onblocked = () => resolve();
  })));
  if (self.caches) await caches.delete("octopus-thumbs").catch(() => false);
}

export const isRunning = () => running;
