// Uploads: the header button, drag-and-drop anywhere, a panel with per-file progress.
// At most two uploads run at once so a weak server (and a weak uplink) are not flooded.
import { uploadFile } from "./api.js";
import { h, plural, icon } from "./ui.js";
import { notify } from "./actions.js";

const MAX_PARALLEL = 2;
const queue = [];
let running = 0;
let panel, list, summary;
const counts = { new: 0, duplicate: 0, error: 0, total: 0 };

export function uploadInput() {
  const input = h("input.sr-only", { type: "file", multiple: true, accept: "image/*,video/*", id: "upload-input", testid: "upload-input" });
  input.addEventListener("change", () => { enqueue([...input.files]); input.value = ""; });
  return h("span",
    input,
    h("label.button.primary", { for: "upload-input", testid: "upload-button", tabindex: "0", role: "button",
      onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); } } }, icon("upload"), h("span", "Upload")));
}

/** Drag-and-drop anywhere on the page (only while signed in: app.js calls this once). */
export function enableDrop() {
  const overlay = h("div.drop-overlay", { hidden: true, "aria-hidden": "true" }, h("p", "Drop photos to upload"));
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
  list = h("ul");
  panel = h("section.upload-panel", { testid: "upload-panel", "aria-label": "Uploads" },
    h("header", summary,
      h("button.icon", { type: "button", "aria-label": "Close uploads", title: "Close (when finished)", testid: "upload-close", onclick: () => {
        if (running || queue.length) return;
        panel.remove(); panel = null;
        Object.assign(counts, { new: 0, duplicate: 0, error: 0, total: 0 });
      } }, icon("close"))),
    list);
  document.body.append(panel);
}

function renderSummary() {
  const busy = running + queue.length;
  const parts = [counts.new && `${counts.new} new`, counts.duplicate && `${counts.duplicate} already in library`, counts.error && `${counts.error} failed`].filter(Boolean);
  summary.textContent = busy ? `Uploading ${plural(busy, "file")}…` : `Done: ${parts.join(", ") || "nothing uploaded"}`;
}

export function enqueue(files) {
  if (!files.length) return;
  ensurePanel();
  for (const file of files) {
    const bar = h("progress", { max: 1, value: 0, "aria-label": `Progress of ${file.name}` });
    const status = h("span.status", "waiting");
    const item = h("li", { testid: "upload-item", "data-status": "waiting" }, h("span.name", file.name), bar, status);
    list.append(item);
    counts.total++;
    queue.push({ file, item, bar, status });
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
  set("uploading", "uploading");
  try {
    const { status: code, photo } = await uploadFile(file, (f) => { bar.value = f; });
    bar.value = 1;
    if (code === 200 && photo && photo.duplicate) { counts.duplicate++; set("duplicate", "already in library"); }
    else { counts.new++; set("new", "added"); if (photo && photo.id) notify("added", photo); }
  } catch (err) {
    counts.error++;
    bar.hidden = true;
    set("error", err.detail);
  }
  running--;
  renderSummary();
  if (!running && !queue.length) {
    notify("uploaded", counts);
    // A clean batch tidies itself away; one with errors stays until closed so it can be read.
    if (!counts.error) setTimeout(() => { if (panel && !running && !queue.length && !counts.error) panel.querySelector("[data-testid=upload-close]").click(); }, 8000);
  }
  pump();
}
