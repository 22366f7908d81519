// The offline mirror's face: the "Offline · last synced …" banner, the notice for an edit that
// met a change made elsewhere, the Settings card that keeps thumbnails offline, and the hook
// api.js calls when the server is out of reach (reads → library.js, edits → outbox.js).
import * as mirror from "./mirror.js";
import * as outbox from "./outbox.js";
import { answer } from "./library.js";
import { h, toast, fmtBytes, plural, showError } from "./ui.js";
import { thumbUrl, setHoldHandler } from "./api.js";
import { t, formatRelative } from "./i18n.js";

export const THUMBS_CACHE = "octopus-thumbs"; // webroot/sw.js serves thumbnails from it, cache-first

/** api.js's offline hook: the mirror's answer to a read, or a queued edit. */
export async function offlineAnswer(method, path, body) {
  mirror.reachable(false);
  await mirror.opened();
  if (method === "GET") return answer(path);
  const shown = await outbox.queue(method, path, body);
  if (shown !== undefined) toast(t("offline.savedHere"));
  return shown;
}

// Online edits wait behind the ones still queued (outbox.holdBehind).
setHoldHandler(outbox.holdBehind);

export function ago(iso) {
  if (!iso) return t("offline.never");
  const s = Math.round((Date.parse(iso) - Date.now()) / 1000);
  if (Math.abs(s) < 45) return t("offline.justNow");
  return formatRelative(Date.parse(iso));
}

let banner = null, timer = null, unStatus = null, unConflict = null, unProblem = null;

function drawBanner(st) {
  if (!banner) return;
  banner.hidden = st.online;
  banner.textContent = t("offline.banner", { ago: ago(st.lastSynced) });
}

const WHAT = { patch: "offline.keptEdit", tags: "offline.keptTags", favourite: "offline.keptChange" };
function keptText(e) {
  if (e.kind === "patch" && "description" in e.body) return [t("offline.keptDescription"), e.body.description];
  if (e.kind === "patch" && "taken_at" in e.body) return [t("offline.keptDate"), e.body.taken_at];
  if (e.kind === "tags") return [t("offline.keptTags"), (e.value || []).join(", ")];
  return [t(WHAT[e.kind] || "offline.keptEdit"), ""];
}

/**
 * The notice for an edit that met a change made elsewhere, kept rather than dropped: shared by
 * the outbox's replay and the viewer's own save. opts: key (one notice per key), what ("your
 * text was kept"), text (the user's), theirs (the server's now, or null), photoId, retry() →
 * true when saved, discard().
 */
export function conflictNotice({ key, what, text, theirs = null, photoId, retry, discard }) {
  const old = document.querySelector(`.conflict-notice[data-key="${CSS.escape(key)}"]`);
  if (old) old.remove();
  const note = h("section.conflict-notice", { role: "alert", testid: "conflict-notice", "data-key": key },
    h("p", t("offline.changedElsewhere", { what })),
    text ? h("blockquote", { testid: "conflict-text" }, text) : null,
    theirs !== null ? h("p.muted", t("offline.onServer", { text: theirs })) : null,
    h("div.row.end",
      photoId ? h("a", { href: `#/photo/${encodeURIComponent(photoId)}` }, t("offline.openPhoto")) : null,
      h("button.primary", { type: "button", testid: "conflict-retry", onclick: async () => {
        try {
          if (await retry()) { note.remove(); toast(t("offline.saved")); }
          else showError({ detail: t("offline.changedAgain") });
        } catch (err) {
          showError(err && err.status ? err : { detail: t("offline.outOfReach") });
        }
      } }, t("common.retry")),
      h("button", { type: "button", testid: "conflict-discard", onclick: async () => { await discard(); note.remove(); } }, t("offline.discard"))));
  document.body.append(note);
  return note;
}

function showConflict(e) {
  if (document.querySelector(`.conflict-notice[data-key="outbox-${e.seq}"]`)) return;
  const [what, text] = keptText(e);
  conflictNotice({ key: `outbox-${e.seq}`, what, text, photoId: e.id,
    theirs: e.server && e.kind === "patch" && "description" in e.body ? e.server.description : null,
    retry: () => outbox.retry(e), discard: () => outbox.discard(e) });
}

/** Banner and conflict notices for the signed-in page. */
export function mountOffline() {
  unmountOffline();
  banner = h("div.offline-banner", { role: "status", testid: "offline-banner", hidden: true });
  document.body.prepend(banner);
  unStatus = mirror.onStatus(drawBanner);
  timer = setInterval(() => drawBanner(mirror.status), 30_000);
  unConflict = outbox.onConflict(showConflict);
  unProblem = outbox.onProblem((e, r) => toast(t("offline.refused", { why: (r.json && r.json.detail) || r.status }), { error: true }));
  outbox.conflicts().then((list) => list.forEach(showConflict)).catch(() => {});
}

export function unmountOffline() {
  if (banner) banner.remove();
  banner = null;
  clearInterval(timer);
  [unStatus, unConflict, unProblem].forEach((fn) => fn && fn());
  unStatus = unConflict = unProblem = null;
  document.querySelectorAll(".conflict-notice").forEach((n) => n.remove());
}

const LIMIT_KEY = "octopus.thumbs.limit";
const LIMITS = [50, 200, 500, 0]; // MB; 0: all

/** Settings → "Keep thumbnails offline": fetch the mirror's thumbnails into the cache, up to a limit. */
export function thumbsCard() {
  const chosen = Number(localStorage.getItem(LIMIT_KEY) ?? 200);
  const select = h("select", { testid: "thumbs-limit", "aria-label": t("offline.upTo") },
    LIMITS.map((mb) => h("option", { value: String(mb), selected: mb === chosen }, mb ? fmtBytes(mb * 2 ** 20) : t("offline.all"))));
  const line = h("p.muted", { testid: "thumbs-status", role: "status" }, "");
  const usage = async () => {
    const est = navigator.storage && navigator.storage.estimate ? await navigator.storage.estimate() : null;
    const cached = self.caches ? (await (await caches.open(THUMBS_CACHE)).keys()).length : 0;
    const kept = t("offline.thumbsKept", { count: cached });
    return est ? `${kept} · ${t("offline.siteUses", { used: fmtBytes(est.usage || 0), quota: fmtBytes(est.quota || 0) })}` : kept;
  };
  usage().then((text) => { line.textContent = text; }).catch(() => {});
  let busy = false;
  const button = h("button", { type: "button", testid: "thumbs-keep", onclick: async () => {
    if (busy) return;
    busy = true;
    button.disabled = true;
    localStorage.setItem(LIMIT_KEY, select.value);
    try {
      const n = await keepThumbnails(Number(select.value) * 2 ** 20, (k, total, bytes) => {
        line.textContent = t("offline.progress", { done: k, total, bytes: fmtBytes(bytes) });
      });
      line.textContent = `${t("offline.keptOffline", { count: n })} ${await usage()}`;
    } catch (err) { showError(err); } finally { busy = false; button.disabled = false; }
  } }, t("offline.keepThumbs"));
  return h("section.card", { testid: "thumbs-card" }, h("h3", t("offline.title")),
    h("p", t("offline.thumbsIntro")),
    h("div.row", h("label", t("offline.upTo"), " ", select), button), line);
}

/** Thumbnails of the mirror's library photos into the cache, newest first, until `limit` bytes (0: all). */
export async function keepThumbnails(limit, progress = () => {}) {
  if (!self.caches) throw Object.assign(new Error("no Cache Storage"), { detail: t("offline.noCaches") });
  const cache = await caches.open(THUMBS_CACHE);
  const list = (await mirror.allPhotos()).filter((p) => p.state === "library");
  let bytes = 0, k = 0;
  const queue = list.map((p) => thumbUrl(p.id));
  const size = async (res) => Number(res.headers.get("Content-Length")) || (await res.clone().blob()).size;
  const worker = async () => {
    for (let url; (url = queue.shift()) !== undefined;) {
      if (limit && bytes >= limit) { queue.length = 0; return; }
      let res = await cache.match(url);
      if (!res) {
        const got = await fetch(url, { credentials: "same-origin" });
        if (!got.ok) { k++; continue; } // no thumbnail (yet): skip it
        await cache.put(url, got.clone());
        res = got;
      }
      bytes += await size(res);
      k++;
      if (k % 20 === 0) progress(k, list.length, bytes);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  progress(k, list.length, bytes);
  return k;
}
