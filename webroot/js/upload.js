// Uploads: the header button, drag-and-drop anywhere, a panel with per-file progress and an
// overall bar (files, bytes, time left). Files go through tus (upload-tus.js: resumable after a
// dropped connection or a reload) when the server offers it, else through POST /api/photos.
// At most two uploads run at once so a weak server (and a weak uplink) are not flooded.
import { uploadFile } from "./api.js";
import { tusAvailable, uploadTus } from "./upload-tus.js";
import { h, plural, icon, fmtBytes } from "./ui.js";
import { notify } from "./actions.js";
import { t } from "./i18n.js";

const MAX_PARALLEL = 2;
const queue = [];
let running = 0;
let panel, list, summary, overall, overallText;
const counts = { new: 0, duplicate: 0, error: 0, total: 0 };
// The batch shown in the panel: every job's size and bytes done; `sent` counts only bytes that
// travelled (a file the server already had is done without sending), which gives the rate.
let jobs = [];
const rate = { sent: 0, since: 0 };

export function uploadInput() {
  const input = h("input.sr-only", { type: "file", multiple: true, accept: "image/*,video/*", id: "upload-input", testid: "upload-input" });
  input.addEventListener("change", () => { enqueue([...input.files]); input.value = ""; });
  return h("span",
    input,
    h("label.button.primary", { for: "upload-input", testid: "upload-button", tabindex: "0", role: "button",
      onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); } } }, icon("upload"), h("span", t("upload.button"))));
}

/** Drag-and-drop anywhere on the page (only while signed in: app.js calls this once). */
export function enableDrop() {
  const overlay = h("div.drop-overlay", { hidden: true, "aria-hidden": "true" }, h("p", t("upload.drop")));
  document.body.append(overlay);
  let depth = 0;
  const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes("Files");
  addEventListener("dragenter", (e) => { if (hasFiles(e)) { depth++; overlay.hidden = false; } });
  addEventListener("dragleave", () => { if (--depth <= 0) { depth = 0; overlay.hidden = true; } });
  addEventListener("dragover", (e) => { if (hasFiles(e)) e.preventDefault(); });
  addEventListener("drop", (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    overlay.hidden = true;
    if (!document.body.classList.contains("signed-in")) return;
    enqueue([...e.dataTransfer.files]);
  });
}

function ensurePanel() {
  if (panel) return;
  summary = h("strong");
  overall = h("progress", { max: 1, value: 0, testid: "upload-overall", "aria-label": t("upload.overall") });
  overallText = h("p.overall-text", { testid: "upload-overall-text" });
  list = h("ul");
  panel = h("section.upload-panel", { testid: "upload-panel", "aria-label": t("upload.panel") },
    h("header", summary,
      h("button.icon", { type: "button", "aria-label": t("upload.close"), title: t("upload.closeTitle"), testid: "upload-close", onclick: () => {
        if (running || queue.length) return;
        panel.remove(); panel = null;
        Object.assign(counts, { new: 0, duplicate: 0, error: 0, total: 0 });
        jobs = []; Object.assign(rate, { sent: 0, since: 0 });
      } }, icon("close"))),
    h("div.overall", overall, overallText),
    list);
  document.body.append(panel);
}

function renderSummary() {
  const busy = running + queue.length;
  const parts = [counts.new && t("upload.countNew", { count: counts.new }), counts.duplicate && t("upload.countDuplicate", { count: counts.duplicate }),
    counts.error && t("upload.countFailed", { count: counts.error })].filter(Boolean);
  summary.textContent = busy ? t("upload.uploading", { count: busy }) : t("upload.done", { what: parts.join(", ") || t("upload.nothing") });
  renderOverall();
}

function fmtLeft(seconds) {
  if (seconds < 60) return t("upload.leftUnderMinute");
  if (seconds < 3600) return t("upload.leftMinutes", { count: Math.round(seconds / 60) });
  return t("upload.leftHours", { count: Math.round(seconds / 3600) });
}

/**
 * The overall bar and its line (files, bytes, time left) for a batch of jobs {size, done,
 * finished} and a rate {sent, since}: shared by this panel and the Backup screen.
 */
export function showOverall(bar, text, batch, speed) {
  const total = batch.reduce((n, j) => n + j.size, 0);
  const done = batch.reduce((n, j) => n + j.done, 0);
  const finished = batch.filter((j) => j.finished).length;
  bar.value = total ? done / total : (finished === batch.length ? 1 : 0);
  const parts = [t("upload.filesOf", { done: finished, count: batch.length }), t("upload.bytesOf", { done: fmtBytes(done), total: fmtBytes(total) })];
  const secs = (performance.now() - speed.since) / 1000;
  if (finished < batch.length && speed.sent && secs > 1) parts.push(fmtLeft(Math.max(0, total - done) / (speed.sent / secs)));
  text.textContent = parts.join(" · ");
}

function renderOverall() {
  if (overall) showOverall(overall, overallText, jobs, rate);
}

/**
 * Send one file: through tus when the server offers it (resumable), else POST /api/photos.
 * hooks as uploadTus's; resolves {status, photo, resumedFrom}, rejects ApiError.
 */
export async function sendFile(file, hooks) {
  if (await tusAvailable()) return uploadTus(file, hooks);
  return uploadFile(file, (f) => hooks.onProgress(f * file.size, file.size));
}

export function enqueue(files) {
  if (!files.length) return;
  ensurePanel();
  for (const file of files) {
    const bar = h("progress", { max: 1, value: 0, "aria-label": t("upload.progressOf", { name: file.name }) });
    const status = h("span.status", t("upload.waiting"));
    const item = h("li", { testid: "upload-item", "data-status": "waiting" }, h("span.name", file.name), bar, status);
    list.append(item);
    counts.total++;
    const job = { file, item, bar, status, size: file.size, done: 0, finished: false };
    jobs.push(job);
    queue.push(job);
  }
  renderSummary();
  pump();
}

function pump() {
  while (running < MAX_PARALLEL && queue.length) run(queue.shift());
}

async function run(job) {
  running++;
  const { file, item, bar, status } = job;
  const set = (s, text) => { item.dataset.status = s; status.textContent = text; };
  const progress = (sent) => {
    if (!rate.since) rate.since = performance.now();
    if (sent > job.done) rate.sent += sent - job.done;
    job.done = sent;
    bar.value = file.size ? sent / file.size : 0;
    status.textContent = t("upload.percent", { percent: Math.floor(bar.value * 100) });
    renderOverall();
  };
  set("uploading", t("upload.statusUploading"));
  try {
    const { status: code, photo, resumedFrom } = await sendFile(file, {
      onProgress: progress,
      onState: (text) => { status.textContent = text; },
      onResume: (offset) => { job.done = offset; }, // counted as done, not as sent now (the rate)
    });
    bar.value = 1;
    if (resumedFrom) item.dataset.resumedFrom = String(resumedFrom);
    if (code === 200 && photo && photo.duplicate) { counts.duplicate++; set("duplicate", t("upload.statusDuplicate")); }
    else { counts.new++; set("new", t("upload.statusAdded")); if (photo && photo.id) notify("added", photo); }
  } catch (err) {
    counts.error++;
    bar.hidden = true;
    set("error", err.detail);
  }
  job.done = job.size;
  job.finished = true;
  running--;
  renderSummary();
  if (!running && !queue.length) {
    notify("uploaded", counts);
    // A clean batch tidies itself away; one with errors stays until closed so it can be read.
    if (!counts.error) setTimeout(() => { if (panel && !running && !queue.length && !counts.error) panel.querySelector("[data-testid=upload-close]").click(); }, 8000);
  }
  pump();
}
