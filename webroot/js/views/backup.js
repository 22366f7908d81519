// Backup (#/backup): back up a camera roll by hand. Chosen files are hashed in a worker
// (hash-worker.js), asked about in batches of up to 5,000 (POST /api/photos/check) so what the
// library already has is never sent, and the rest go through upload.js's sendFile (tus: resumable
// after a dropped connection, and after a reload when the same files are chosen again), two at a
// time. The state lives in this module, not the view, so leaving the screen does not stop a
// backup; it belongs to one signed-in user and is dropped when another signs in.
import { api } from "../api.js";
import { h, icon, plural } from "../ui.js";
import { sendFile, showOverall } from "../upload.js";
import { notify } from "../actions.js";
import { header } from "./library.js";
import { t } from "../i18n.js";

const CHECK_BATCH = 5000; // the server's limit a call (CONTRACT.md "Sync")
const MAX_PARALLEL = 2;
// Above this size a file is hashed as a stream (Web Crypto would read it all into memory). Tests
// lower it through localStorage, as upload-tus.js's chunk size.
const STREAM_THRESHOLD = 64 * 1024 * 1024;
const threshold = () => Number(localStorage.getItem("octopus.backup.streamThreshold")) || STREAM_THRESHOLD;

let state = null;

function fresh(owner) {
  return {
    owner, jobs: [], hashQueue: [], hashing: null, pending: [], uploadQueue: [], running: 0, checking: false,
    counts: { done: 0, there: 0, failed: 0 }, rate: { sent: 0, since: 0 }, worker: null, nextId: 1, byId: new Map(),
    wakeLock: null, el: null, settled: true,
  };
}

export function backup({ user }) {
  const owner = user && (user.id || user.username);
  if (!state || state.owner !== owner) {
    if (state && state.worker) state.worker.terminate();
    state = fresh(owner);
    state.el = render();
  }
  return { el: state.el };
}

function render() {
  const input = h("input.sr-only", { type: "file", multiple: true, accept: "image/*,video/*", id: "backup-input", testid: "backup-input" });
  input.addEventListener("change", () => { choose([...input.files]); input.value = ""; });
  const devices = h("a", { href: "#/settings", testid: "backup-devices-link", onclick: () => {
    // Settings → Devices is a card on the Settings page: bring it into view once it is mounted.
    requestAnimationFrame(() => document.querySelector("[data-testid=devices]")?.scrollIntoView({ block: "start" }));
  } }, t("backup.devicesLink"));
  state.summary = h("p.backup-summary", { testid: "backup-summary", role: "status" });
  state.failures = h("ul.backup-failures", { testid: "backup-failures" });
  state.bar = h("progress", { max: 1, value: 0, testid: "backup-overall", "aria-label": t("backup.overall") });
  state.barText = h("p.overall-text", { testid: "backup-overall-text" });
  state.overall = h("div.overall", { hidden: true }, state.bar, state.barText);
  state.list = h("ul.backup-list", { testid: "backup-list", "aria-label": t("backup.files") });
  return h("div.backup", { testid: "backup" }, header(t("nav.backup")),
    h("section.card.backup-choose",
      h("p", t("backup.intro")),
      input,
      h("label.button.primary.big", { for: "backup-input", testid: "backup-choose", tabindex: "0", role: "button",
        onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); } } },
      icon("upload"), h("span", t("backup.choose"))),
      h("p.muted", { testid: "backup-resume-note" }, t("backup.resumeNote"))),
    h("section.card.backup-honest", { testid: "backup-honest" },
      h("p", h("strong", t("backup.honestStrong")), " ", t("backup.honestText"), " ", devices),
    ),
    state.overall, state.summary, state.failures, state.list);
}

function busy() {
  return state.hashQueue.length || state.hashing || state.pending.length || state.checking || state.uploadQueue.length || state.running;
}

function choose(files) {
  if (!files.length) return;
  if (!busy()) { // a finished batch makes way for the new one
    state.jobs = [];
    Object.assign(state.counts, { done: 0, there: 0, failed: 0 });
    Object.assign(state.rate, { sent: 0, since: 0 });
    state.list.replaceChildren();
    state.failures.replaceChildren();
  }
  state.settled = false;
  for (const file of files) {
    const bar = h("progress", { max: 1, value: 0, hidden: true, "aria-label": t("upload.progressOf", { name: file.name }) });
    const status = h("span.status", t("upload.waiting"));
    const item = h("li", { testid: "backup-item", "data-status": "waiting" }, h("span.name", file.name), status, bar);
    const job = { id: state.nextId++, file, item, bar, status, size: file.size, done: 0, finished: false, sha256: null };
    state.list.append(item);
    state.jobs.push(job);
    state.hashQueue.push(job);
  }
  state.overall.hidden = false;
  keepAwake(true);
  refresh();
  pumpHash();
}

const set = (job, s, text) => { job.item.dataset.status = s; job.status.textContent = text; };

function finish(job, kind, text) {
  job.done = job.size;
  job.finished = true;
  job.bar.hidden = true;
  state.counts[kind]++;
  set(job, kind, text);
  if (kind === "failed") state.failures.append(h("li", { testid: "backup-failure" }, h("strong", job.file.name), `: ${text.replace(/^failed: /, "")}`));
}

// -- hashing: one worker, one file at a time (the disk, not the CPU, is the limit on a phone) ----

function worker() {
  if (!state.worker) {
    state.worker = new Worker(new URL("../hash-worker.js", import.meta.url), { type: "module" });
    state.worker.onmessage = ({ data }) => hashed(data);
    state.worker.onerror = (e) => {
      // The worker itself failed to start or crashed: every waiting file says so, none is lost silently.
      e.preventDefault();
      for (const job of [state.hashing, ...state.hashQueue].filter(Boolean)) finish(job, "failed", t("backup.failed", { why: t("backup.noHash") }));
      state.hashing = null;
      state.hashQueue = [];
      refresh();
    };
  }
  return state.worker;
}

function pumpHash() {
  if (state.hashing || !state.hashQueue.length) return;
  const job = state.hashing = state.hashQueue.shift();
  state.byId.set(job.id, job);
  set(job, "hashing", t("backup.hashing"));
  worker().postMessage({ id: job.id, file: job.file, threshold: threshold() });
}

function hashed(msg) {
  const job = state.byId.get(msg.id);
  if (!job) return;
  if (msg.progress !== undefined) { job.status.textContent = t("backup.hashingPercent", { percent: Math.floor(100 * msg.progress / (job.size || 1)) }); return; }
  state.byId.delete(msg.id);
  state.hashing = null;
  if (msg.error) finish(job, "failed", t("backup.failed", { why: msg.error }));
  else {
    job.sha256 = msg.sha256;
    Object.assign(job.item.dataset, { sha256: msg.sha256, hashEngine: msg.engine, hashMs: String(Math.round(msg.ms)) });
    set(job, "checking", t("upload.checking"));
    state.pending.push(job);
  }
  pumpHash();
  maybeCheck();
  refresh();
  settle();
}

// -- "already backed up?": a full batch, or whatever is hashed when nothing else is left to do ---

async function maybeCheck() {
  if (state.checking || !state.pending.length) return;
  const hashingDone = !state.hashing && !state.hashQueue.length;
  const idle = !state.running && !state.uploadQueue.length;
  if (state.pending.length < CHECK_BATCH && !hashingDone && !idle) return;
  const batch = state.pending.splice(0, CHECK_BATCH);
  state.checking = true;
  let existing = {};
  for (;;) {
    try {
      const res = await api("/api/photos/check", { method: "POST", body: { sha256: [...new Set(batch.map((j) => j.sha256))] } });
      existing = (res && res.existing) || {};
      break;
    } catch (err) {
      if (err.status === 0) { // offline: ask again when the network is back
        batch.forEach((j) => set(j, "checking", t("upload.waitingNetwork")));
        await new Promise((resolve) => addEventListener("online", resolve, { once: true }));
        continue;
      }
      // The server could not answer (an older one, a hiccup): send them all; tus's sha256
      // metadata still finds the ones it has before any byte is sent.
      break;
    }
  }
  state.checking = false;
  for (const job of batch) {
    if (existing[job.sha256]) finish(job, "there", t("backup.there"));
    else { set(job, "queued", t("backup.queued")); state.uploadQueue.push(job); }
  }
  refresh();
  pumpUpload();
  maybeCheck();
}

// -- uploads ---------------------------------------------------------------------------------------

function pumpUpload() {
  while (state.running < MAX_PARALLEL && state.uploadQueue.length) upload(state.uploadQueue.shift());
  settle();
}

async function upload(job) {
  const mine = state;
  mine.running++;
  set(job, "uploading", t("upload.percent", { percent: 0 }));
  job.bar.hidden = false;
  try {
    const { status, photo } = await sendFile(job.file, {
      sha256: job.sha256,
      onProgress: (sent) => {
        if (!mine.rate.since) mine.rate.since = performance.now();
        if (sent > job.done) mine.rate.sent += sent - job.done;
        job.done = sent;
        job.bar.value = job.size ? sent / job.size : 0;
        set(job, "uploading", t("upload.percent", { percent: Math.floor(job.bar.value * 100) }));
        refresh();
      },
      onState: (text) => { job.status.textContent = text; },
      onResume: (offset) => { job.done = offset; job.item.dataset.resumedFrom = String(offset); },
    });
    if (status === 200 && photo && photo.duplicate) finish(job, "there", t("backup.there"));
    else { finish(job, "done", t("backup.done")); if (photo && photo.id) notify("added", photo); }
  } catch (err) {
    finish(job, "failed", t("backup.failed", { why: err.detail }));
  }
  if (mine !== state) return; // another user signed in meanwhile: this batch is gone
  mine.running--;
  refresh();
  pumpUpload();
  maybeCheck();
}

/** Once, when the last chosen file has its outcome. */
function settle() {
  if (busy() || state.settled) return;
  state.settled = true;
  keepAwake(false);
  refresh();
  if (state.counts.done) notify("uploaded", { new: state.counts.done, duplicate: state.counts.there, error: state.counts.failed });
}

// -- the overall bar, the summary line ---------------------------------------------------------------

function refresh() {
  showOverall(state.bar, state.barText, state.jobs, state.rate);
  const { done: n, there: m, failed: k } = state.counts;
  const line = t("backup.line", { done: n, there: m, failed: k });
  const left = state.jobs.filter((j) => !j.finished).length;
  state.summary.textContent = left ? t("backup.busy", { count: left, line }) : state.jobs.length ? line : "";
  state.summary.dataset.finished = String(!left && state.jobs.length > 0);
}

// A phone that locks its screen suspends the page, and the backup with it: while files are going,
// ask it to stay awake where the Screen Wake Lock API exists (Chrome for Android, Safari 16.4+).
async function keepAwake(on) {
  try {
    if (on && !state.wakeLock && navigator.wakeLock) {
      state.wakeLock = await navigator.wakeLock.request("screen");
      state.wakeLock.addEventListener("release", () => { if (state) state.wakeLock = null; });
    } else if (!on && state.wakeLock) {
      await state.wakeLock.release();
    }
  } catch { /* refused (battery saver, hidden page): the backup goes on while the screen is on */ }
}
