// The data layer's offline half: when a GET under /api cannot reach the server, api.js asks
// answer() here, which serves the same JSON shapes from the mirror (mirror.js), so every view
// (timeline, months, albums, favourites, tags, memories, search, trash, one photo) renders
// unchanged while the server is out of reach. Online, the views keep asking the API.
import * as mirror from "./mirror.js";

const PAGE = 150;
// Archived photos are in the library everywhere but the timeline, its months and memories.
const lib = (list) => list.filter((p) => p.state === "library" || p.state === "archived");

// Offline cursors are "m<offset>": only ever sent back here (an online page restarts the list).
function paged(list, url, { limit = PAGE } = {}) {
  const c = url.searchParams.get("cursor") || "";
  const from = /^m\d+$/.test(c) ? Number(c.slice(1)) : 0;
  const n = Math.min(Number(url.searchParams.get("limit")) || limit, 500);
  const photos = list.slice(from, from + n);
  return { photos, cursor: from + n < list.length ? `m${from + n}` : null };
}

const day = (p) => p.taken_local.slice(0, 10);

// The first screen offline reads one page through the mirror's timeline index, never the whole
// library: its cursor "t<taken_local>~<id>" is the last photo shown.
async function timeline(url) {
  const c = url.searchParams.get("cursor") || "";
  const m = c.match(/^t([^~]*)~(.+)$/);
  const n = Math.min(Number(url.searchParams.get("limit")) || PAGE, 500);
  const got = await mirror.timelinePage(m ? { taken_local: m[1], id: m[2] } : null, n);
  const last = got.photos[got.photos.length - 1];
  const page = { photos: got.photos, cursor: got.more && last ? `t${last.taken_local}~${last.id}` : null };
  const days = [];
  for (const p of page.photos) {
    if (!days.length || days[days.length - 1].date !== day(p)) days.push({ date: day(p), photos: [] });
    days[days.length - 1].photos.push(p);
  }
  return { days, cursor: page.cursor };
}

function tags(all) {
  const by = new Map();
  for (const p of lib(all)) {
    (p.tags || []).forEach((t, i) => {
      const k = p.tag_keys[i];
      const e = by.get(k) || by.set(k, { tag: t, count: 0 }).get(k);
      e.count++;
    });
  }
  return [...by.values()].sort((a, b) => b.count - a.count || a.tag.localeCompare(b.tag));
}

// The timeline's strip asks this at boot too: one index range a year with photos, not a scan.
async function memories(url) {
  const date = url.searchParams.get("date") || new Date().toISOString().slice(0, 10);
  const md = date.slice(5, 10), year = Number(date.slice(0, 4));
  const years = [...new Set((await mirror.monthCounts()).map((m) => Number(m.month.slice(0, 4))))].filter((y) => y < year);
  const out = [];
  for (const y of years.sort((a, b) => b - a)) {
    const day = `${String(y).padStart(4, "0")}-${md}`;
    const { photos } = await mirror.timelinePage(null, 50, day, `${day}\uffff`);
    if (photos.length) out.push({ year: y, years_ago: year - y, photos });
  }
  return out;
}

// The server's simple cases (readmodels/search.py): every word of q must start a word of the
// filename, description, tags or camera; camera words likewise in make/model; tag exact (folded);
// from/to by the local day, to inclusive; favourite; kind.
const words = (s) => (s || "").toLowerCase().match(/[\p{L}\p{N}_]+/gu) || [];
// A year, month or day in the text ("2008", "2008-05", "2008-05-10") means taken then (taken_periods).
const PERIOD = /(?<![\p{L}\p{N}_-])(1[89]\d\d|2[0-2]\d\d)(?:-(0[1-9]|1[0-2])(?:-(0[1-9]|[12]\d|3[01]))?)?(?![\p{L}\p{N}_-])/gu;
function periods(text) {
  const found = [];
  const rest = (text || "").replace(PERIOD, (whole, y, m, d) => {
    const t = d ? Date.parse(`${whole}T00:00:00Z`) : 0;
    if (d && (Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== whole)) return whole; // 2008-02-30: a word
    found.push(whole);
    return " ";
  });
  return [rest, found];
}
function search(all, url) {
  const q = url.searchParams, [text, when] = periods(q.get("q"));
  const qw = words(text).slice(0, 20), cw = words(q.get("camera")).slice(0, 10);
  const tag = q.get("tag") && mirror.foldTag(q.get("tag"));
  const from = q.get("from"), to = q.get("to"), fav = q.get("favourite"), kind = q.get("kind");
  const hit = (have, want) => want.every((w) => have.some((x) => (w.length > 1 ? x.startsWith(w) : x === w)));
  const list = lib(all).filter((p) => {
    const cam = [p.camera && p.camera.make, p.camera && p.camera.model].filter(Boolean).join(" ");
    if (when.length && !when.some((w) => p.taken_local.startsWith(w))) return false;
    if (qw.length && !hit(words([p.filename, p.description, (p.tags || []).join(" "), cam].join(" ")), qw)) return false;
    if (cw.length && !hit(words(cam), cw)) return false;
    if (tag && !p.tag_keys.includes(tag)) return false;
    if (from && day(p) < from.slice(0, 10)) return false;
    if (to && day(p) > to.slice(0, 10)) return false;
    if (fav && String(!!p.favourite) !== fav) return false;
    if (kind && p.kind !== kind) return false;
    return true;
  });
  return paged(list, url);
}

async function albumView(id, all) {
  const a = (await mirror.allAlbums()).find((x) => x.id === id);
  if (!a) return undefined;
  const byId = new Map(all.map((p) => [p.id, p]));
  const members = a.photo_ids.map((x) => byId.get(x)).filter((p) => p && (p.state === "library" || p.state === "archived"));
  return { members, album: a };
}

async function albums(all) {
  const out = [];
  for (const a of await mirror.allAlbums()) {
    const { members } = await albumView(a.id, all);
    out.push({ id: a.id, name: a.name, version: a.version, created_at: a.created_at, cover: members[0] ? members[0].id : null, count: members.length });
  }
  return out.sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
}

/** The API's answer from the mirror, or undefined when the mirror cannot answer this. */
export async function answer(path) {
  if (!mirror.database()) {
    // Booting with the server out of reach: who we are comes from the last sign-in.
    const u = mirror.storedUser();
    return path === "/api/users/me" && u ? u : undefined;
  }
  const url = new URL(path, location.origin);
  const p = url.pathname;
  if (p === "/api/users/me") return mirror.storedUser() || undefined;
  if (!mirror.status.ready) return undefined; // never synced: nothing to show yet
  // The first screen: neither loads the whole library (a 10,000-item mirror opens in < 1 s).
  if (p === "/api/timeline") return timeline(url);
  if (p === "/api/timeline/months") return mirror.monthCounts();
  if (p === "/api/memories") return memories(url);
  const all = await mirror.allPhotos();
  if (p === "/api/favourites") return paged(lib(all).filter((x) => x.favourite), url);
  if (p === "/api/tags") return tags(all);
  if (p.startsWith("/api/tags/")) {
    const t = mirror.foldTag(decodeURIComponent(p.slice(10)));
    return paged(lib(all).filter((x) => x.tag_keys.includes(t)), url);
  }
  if (p === "/api/search") return search(all, url);
  if (p === "/api/trash") return all.filter((x) => x.state === "trash").sort((a, b) => ((a.purge_at || "") < (b.purge_at || "") ? -1 : 1));
  if (p === "/api/albums") return albums(all);
  const am = p.match(/^\/api\/albums\/([^/]+)$/);
  if (am) {
    const v = await albumView(decodeURIComponent(am[1]), all);
    if (!v) return undefined;
    const page = paged(v.members, url);
    return { id: v.album.id, name: v.album.name, version: v.album.version, ...page };
  }
  const pm = p.match(/^\/api\/photos\/([^/]+)$/);
  if (pm) return (await mirror.getPhoto(decodeURIComponent(pm[1]))) || undefined;
  return undefined;
}
