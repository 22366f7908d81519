// Edits made while the server is out of reach: applied to the mirror at once (so the views show
// them) and queued in the mirror's `outbox` store with the photo's version as the user saw it;
// replayed in order when the server answers again. A description or date whose photo changed
// elsewhere meanwhile (409 stale_version; tags: the version moved) becomes a conflict: it stays
// queued and a notice shows the user's text with Retry (send it over the new version) or
// Discard. Nothing queued is dropped without the user seeing it.
import * as mirror from "./mirror.js";

const conflictListeners = new Set();
export function onConflict(fn) { conflictListeners.add(fn); return () => conflictListeners.delete(fn); }
const problemListeners = new Set();
export function onProblem(fn) { problemListeners.add(fn); return () => problemListeners.delete(fn); }

const PHOTO = /^\/api\/photos\/([^/?]+)(\/favourite|\/tags|\/trash|\/restore)?$/;
const ALBUM_ADD = /^\/api\/albums\/([^/?]+)\/photos$/;

function classify(method, path, body) {
  const m = path.match(PHOTO);
  if (m) {
    const id = decodeURIComponent(m[1]), sub = m[2] || "";
    if (sub === "/favourite" && (method === "PUT" || method === "DELETE")) return { kind: "favourite", id, value: method === "PUT" };
    if (sub === "/tags" && method === "PUT") return { kind: "tags", id, value: body.tags || [] };
    if (sub === "/trash" && method === "POST") return { kind: "trash", id };
    if (sub === "/restore" && method === "POST") return { kind: "restore", id };
    if (sub === "" && method === "PATCH") return { kind: "patch", id, value: body };
  }
  const a = path.match(ALBUM_ADD);
  if (a && method === "POST") return { kind: "album_add", id: decodeURIComponent(a[1]), value: body.photo_ids || [] };
  return null;
}

// How each edit shows in the mirror before the server has it.
function optimistic(entry, p) {
  if (entry.kind === "favourite") p.favourite = entry.value;
  if (entry.kind === "tags") p.tags = entry.value;
  if (entry.kind === "trash") p.state = "trash";
  if (entry.kind === "restore") { p.state = "library"; p.purge_at = null; }
  if (entry.kind === "patch") {
    if ("description" in entry.value) p.description = entry.value.description;
    if ("taken_at" in entry.value) { p.taken_at = entry.value.taken_at; p.taken_source = "user"; }
  }
}

/**
 * Queue an edit that could not reach the server; resolves what the API would have answered
 * (the photo as now shown), or undefined when this request cannot be queued.
 */
export async function queue(method, path, body = {}) {
  const db = mirror.database();
  if (!db || !mirror.status.ready) return undefined;
  const c = classify(method, path, body);
  if (!c) return undefined;
  const entry = { ...c, method, path, body, at: new Date().toISOString(), state: "queued" };
  if (c.kind === "album_add") {
    await mirror.editAlbum(c.id, (a) => { for (const id of c.value) if (!a.photo_ids.includes(id)) a.photo_ids.push(id); });
  } else {
    const p = await mirror.getPhoto(c.id);
    if (!p) return undefined;
    entry.version = c.kind === "patch" && body.version !== undefined ? body.version : p.version;
    entry.before = { description: p.description, taken_at: p.taken_at, tags: p.tags };
    await mirror.editPhotos([c.id], (x) => optimistic(entry, x));
  }
  const tx = db.transaction("outbox", "readwrite");
  tx.objectStore("outbox").add(entry);
  await mirror.done(tx);
  document.dispatchEvent(new CustomEvent("outbox:queued", { detail: entry }));
  if (c.kind === "album_add") return null;
  const shown = await mirror.getPhoto(c.id);
  return c.kind === "tags" ? { ...shown } : shown;
}

export async function entries() {
  const db = mirror.database();
  return db ? mirror.req(db.transaction("outbox").objectStore("outbox").getAll()) : [];
}
async function put(entry) {
  const tx = mirror.database().transaction("outbox", "readwrite");
  tx.objectStore("outbox").put(entry);
  await mirror.done(tx);
}
async function drop(seq) {
  const tx = mirror.database().transaction("outbox", "readwrite");
  tx.objectStore("outbox").delete(seq);
  await mirror.done(tx);
}

class Unreachable extends Error {}

async function send(method, path, body) {
  let res;
  try {
    res = await fetch(path, { method, credentials: "same-origin", headers: { Accept: "application/json", "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body) });
  } catch { throw new Unreachable("unreachable"); }
  let json = null;
  try { json = await res.json(); } catch { /* 204 or not JSON */ }
  return { status: res.status, ok: res.ok, json };
}

async function fresh(id) {
  const r = await send("GET", `/api/photos/${encodeURIComponent(id)}`);
  if (r.ok && r.json) await mirror.putPhoto(r.json);
  return r.ok ? r.json : null;
}

// One edit to the server. `base` maps a photo id to the versions our own earlier edits in this
// replay moved it through, so two queued edits of one photo do not conflict with each other.
async function sendOne(e, base) {
  const ours = base.get(e.id);
  const version = ours && ours.from.includes(e.version) ? ours.to : e.version;
  let r;
  if (e.kind === "patch") {
    r = await send("PATCH", e.path, { ...e.body, version });
  } else if (e.kind === "tags") {
    // PUT tags takes no version: check it ourselves so tags set elsewhere are not overwritten unseen.
    const now = await send("GET", `/api/photos/${encodeURIComponent(e.id)}`);
    if (now.ok && now.json.version !== version) return { status: 409, ok: false, json: now.json };
    r = await send("PUT", e.path, e.body);
  } else {
    r = await send(e.method, e.path, e.kind === "album_add" ? e.body : undefined);
  }
  if (r.ok && e.kind !== "album_add") {
    const v = r.json && r.json.version !== undefined ? r.json.version : null;
    if (v !== null) base.set(e.id, { from: [...(ours ? ours.from : []), e.version, version], to: v });
  }
  return r;
}

let replaying = null;
let again = false; // an edit queued while a replay runs: that run's list does not hold it

/** Send what is queued, in order. Network failure stops it (tried again later). */
export function replay() {
  if (replaying) { again = true; return replaying.then(() => replaying || undefined); }
  again = false;
  replaying = run().finally(() => {
    replaying = null;
    if (again) replay().catch(() => {}); // the mirror's loop retries a network failure
  });
  return replaying;
}

/**
 * An edit made online while earlier ones still wait in the outbox (just back from offline, the
 * replay not yet done): it queues behind them, so the server gets them in the user's order and
 * the older one never overwrites the newer or meets it as a conflict. Resolves what the API
 * would have answered, or undefined when nothing waits (send it now) or the outbox cannot take it.
 */
export async function holdBehind(method, path, body = {}) {
  if (!mirror.database() || !mirror.status.ready || !classify(method, path, body)) return undefined;
  if (!(await entries()).some((e) => e.state === "queued")) return undefined;
  const shown = await queue(method, path, body);
  if (shown !== undefined) replay().catch(() => {}); // offline again: the loop tries later
  return shown;
}

async function run() {
  const queued = (await entries()).filter((e) => e.state === "queued");
  if (!queued.length) return;
  const base = new Map();
  for (const e of queued) {
    let r;
    try { r = await sendOne(e, base); } catch (err) {
      if (err instanceof Unreachable) throw new TypeError("offline");
      throw err;
    }
    if (r.ok) { await drop(e.seq); continue; }
    if (r.status === 409) {
      e.state = "conflict";
      e.server = await fresh(e.id);
      await put(e);
      // The mirror shows the server's photo now; the notice holds the user's text.
      conflictListeners.forEach((fn) => fn(e));
      continue;
    }
    // Refused for good (the photo is gone, the value invalid): say so, do not retry forever.
    await drop(e.seq);
    if (e.kind !== "album_add") await fresh(e.id);
    problemListeners.forEach((fn) => fn(e, r));
  }
  document.dispatchEvent(new CustomEvent("outbox:replayed"));
}

/** Conflicts waiting for the user's answer (shown again after a reload). */
export async function conflicts() {
  return (await entries()).filter((e) => e.state === "conflict");
}

/** Retry a conflict: the user's value over the photo's current version. */
export async function retry(e) {
  const now = await fresh(e.id);
  if (!now) { await drop(e.seq); return false; }
  const r = await sendOne({ ...e, version: now.version }, new Map());
  if (r.status === 409) return false;
  await drop(e.seq);
  await fresh(e.id);
  return r.ok;
}

export async function discard(e) {
  await drop(e.seq);
  await fresh(e.id).catch(() => null);
}

mirror.setReplayer(replay);
