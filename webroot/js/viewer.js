// Full-screen photo viewer: preview image (a video player for videos, the still with its clip
// for motion photos), prev/next (buttons, arrow keys, swipe), info panel with description,
// tags, camera, exposure and location, and the per-photo commands.
// Library photos are addressed by #/photo/<id>; vault photos are shown in-place (their bytes
// need the X-Vault-Token header, so they come as blob URLs and are revoked when replaced).
import { api, thumbUrl, originalUrl, photoPath, vaultBlobUrl, ApiError } from "./api.js";
import { h, $, icon, fmtTaken, fmtInstant, fmtBytes, fmtDuration, toast, showError, confirmDialog } from "./ui.js";
import { setFavourite, trashPhotos, restorePhotos, addToAlbum, moveToVault, notify } from "./actions.js";
import { archivePhotos, unarchivePhotos } from "./actions.js";
import { altText, isVideo } from "./grid.js";
import { otherOwner } from "./views/sharing.js";
import { videoPlayer, codecName } from "./video.js";
import { motionStill } from "./motion.js";
import { conflictNotice } from "./offline.js";
import { viewSize, zoomable } from "./zoom.js";
import { showShortcuts } from "./shortcuts.js";
import { t, formatNumber } from "./i18n.js";

let root = null;        // the viewer element while open
let state = null;       // {list, photo, vault, onClose, onNavigate, onRestore, seq, blobUrls, player, returnFocus}
let infoOpen = matchMedia("(min-width: 900px)").matches;
let show = null;        // the slideshow while it runs: {playing, seconds, videos, timer, bar}
// Edits to the open photo go one after another: each is sent with the version the previous
// one's answer gave (a favourite moves it on), so pressing f and then saving a description is
// not a conflict with oneself.
let edits = Promise.resolve();
function serial(fn) {
  const run = edits.then(fn);
  edits = run.catch(() => {});
  return run;
}
/** Take a fresher copy of the photo; an answer older than what the viewer holds is ignored. */
function merge(p, fresh) {
  if (!fresh || (fresh.version ?? 0) < (p.version ?? 0)) return false;
  Object.assign(p, fresh);
  return true;
}

const isTyping = (t) => t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));

export const viewerOpen = () => !!root;

/**
 * Show a photo. opts: list (photos for prev/next), vault (bool), onClose(), onNavigate(photo)
 * (library: change the hash), onRestore(photo) (vault: after "restore to library").
 */
export function showPhoto(photo, opts) {
  if (!root) build(opts);
  Object.assign(state, opts);
  state.list = opts.list && opts.list.some((p) => p.id === photo.id) ? opts.list : [photo];
  state.photo = photo;
  render();
}

export function closeViewer() {
  if (!root) return;
  stopSlideshow(false);
  document.removeEventListener("keydown", onKey);
  revoke();
  root.remove();
  root = null;
  $("#app").inert = false;
  const tile = document.querySelector(`.tile[data-photo-id="${CSS.escape(state.photo.id)}"] a`);
  (tile || state.returnFocus)?.focus?.({ preventScroll: false });
  state = null;
}

// Leaving a photo: stop its video or clip and free the vault's object URLs.
function revoke() {
  if (!state) return;
  if (state.player) state.player.destroy();
  state.player = null;
  state.zoom?.destroy();
  state.zoom = null;
  (state.blobUrls || []).forEach((u) => URL.revokeObjectURL(u));
  state.blobUrls = [];
}

/** A vault file as an object URL (its routes need X-Vault-Token); null if the viewer moved on. */
async function vaultUrl(p, rest, seq) {
  const u = await vaultBlobUrl(`/api/vault/photos/${encodeURIComponent(p.id)}${rest}`);
  if (seq !== state?.seq) { URL.revokeObjectURL(u); return null; }
  state.blobUrls.push(u);
  return u;
}

/**
 * A vault video's source: a short-lived stream URL the player reads with Range requests
 * (POST /stream; docs/vault.md), so seeking a long clip fetches only what it shows. If that
 * POST fails, the whole clip is decrypted into a blob as before. Null if the viewer moved on.
 */
async function vaultVideoUrl(p, seq) {
  try {
    const { url } = await api(`/api/vault/photos/${encodeURIComponent(p.id)}/stream`, { method: "POST", vault: true });
    return seq === state?.seq ? url : null;
  } catch (e) {
    if (seq !== state?.seq) return null;
    return vaultUrl(p, "/original", seq);
  }
}

function build(opts) {
  state = { seq: 0, blobUrls: [], player: null, returnFocus: document.activeElement };
  root = h("div.viewer", { testid: "viewer", role: "dialog", "aria-modal": "true", "aria-label": t("viewer.label") });
  document.body.append(root);
  $("#app").inert = true;
  document.addEventListener("keydown", onKey);
  let x0 = null;
  root.addEventListener("touchstart", (e) => { x0 = e.touches.length === 1 ? e.touches[0].clientX : null; }, { passive: true });
  root.addEventListener("touchend", (e) => {
    if (x0 === null || isTyping(e.target) || state?.zoom?.zoomed) return; // a zoomed photo pans
    const dx = e.changedTouches[0].clientX - x0;
    if (Math.abs(dx) > 60) step(dx < 0 ? 1 : -1);
    x0 = null;
  });
}

function close() { (state.onClose || closeViewer)(); }

function step(delta) {
  const i = state.list.findIndex((p) => p.id === state.photo.id);
  const next = state.list[i + delta];
  if (!next) return;
  if (state.onNavigate) state.onNavigate(next);
  else showPhoto(next, state);
}

function onKey(e) {
  if (document.querySelector("dialog[open]") || e.altKey || e.ctrlKey || e.metaKey) return;
  if (e.key === "Escape") {
    e.preventDefault();
    if (state.zoom?.zoomed && !isTyping(e.target)) { state.zoom.reset(); return; } // zoom out first
    if (show && (!isTyping(e.target) || show.bar.contains(e.target))) stopSlideshow();
    else if (isTyping(e.target)) e.target.blur();
    else close();
    return;
  }
  if (isTyping(e.target)) return;
  // Space plays and pauses a video or a motion clip wherever focus is (even on a button, which
  // Space would otherwise press: Enter still does); the arrows keep moving between items even
  // when the video's own controls have focus.
  const keys = {
    ArrowLeft: () => step(-1), ArrowRight: () => step(1),
    " ": state.player ? () => state.player.toggle() : undefined,
    i: () => toggleInfo(), f: () => !state.vault && !state.mode && toggleFav(),
    Delete: () => !state.vault && !state.mode && doTrash(),
    s: () => (show ? toggleSlideshow() : startSlideshow()),
    d: () => !state.vault && !state.mode && editDate(),
    "?": () => showShortcuts(),
  };
  if (keys[e.key]) { e.preventDefault(); keys[e.key](); }
}

function toggleInfo() {
  infoOpen = !infoOpen;
  root.classList.toggle("info-open", infoOpen);
  root.querySelector("[data-testid=info-button]")?.setAttribute("aria-pressed", String(infoOpen));
}

async function toggleFav() {
  const p = state.photo;
  const on = !p.favourite;
  try {
    await serial(() => setFavourite(p, on));
    renderFav();
  } catch (err) { showError(err); }
}

function renderFav() {
  const b = root && root.querySelector("[data-testid=favourite-button]");
  if (!b) return;
  b.setAttribute("aria-pressed", String(!!state.photo.favourite));
  b.setAttribute("aria-label", state.photo.favourite ? t("viewer.unfavourite") : t("viewer.favourite"));
  b.replaceChildren(icon("heart", !!state.photo.favourite));
}

/** After the current photo leaves this list (trash, vault, restore): show a neighbour or close. */
function leave() {
  const i = state.list.findIndex((p) => p.id === state.photo.id);
  const gone = state.photo;
  state.list = state.list.filter((p) => p.id !== gone.id);
  const next = state.list[i] || state.list[i - 1];
  if (!next) return close();
  if (state.onNavigate) state.onNavigate(next);
  else showPhoto(next, state);
}

// Archive / unarchive: the photo stays open (the grid under it drops it if it hides archived ones).
async function toggleArchive() {
  const p = state.photo;
  try {
    const [now] = await (p.state === "archived" ? unarchivePhotos([p.id]) : archivePhotos([p.id]));
    if (!now || state.photo !== p) return;
    p.state = now.state;
    p.version = now.version;
    const b = root && root.querySelector("[data-testid=archive-button]");
    if (b) archiveLabel(b, p);
  } catch (err) { showError(err); }
}

function archiveLabel(b, p) {
  const label = t(p.state === "archived" ? "viewer.unarchive" : "viewer.archive");
  b.setAttribute("aria-label", label);
  b.title = label;
  b.setAttribute("aria-pressed", String(p.state === "archived"));
  return b;
}

async function doTrash() {
  const ok = await trashPhotos([state.photo.id]);
  if (ok.length) leave();
}

function button(label, testid, onclick, text, extra = {}) {
  return h("button.icon", { type: "button", "aria-label": label, title: label, testid, onclick, ...extra }, text);
}

function render() {
  const p = state.photo;
  const seq = ++state.seq;
  const i = state.list.findIndex((x) => x.id === p.id);
  revoke();
  root.classList.toggle("info-open", infoOpen && !show);
  root.classList.toggle("slideshow", !!show);
  const media = stageMedia(p, seq);
  const img = media.querySelector("[data-testid=viewer-image]");
  if (!state.vault) {
    const n = state.list[i + 1];
    if (n) new Image().src = thumbUrl(n.id, viewSize());
  }
  const actions = state.mode === "trash"
    ? [
        h("button", { type: "button", testid: "restore-button", onclick: () => restorePhotos([p.id]).then((ok) => { if (ok.length) { notify("removed", ok); leave(); } }) }, t("trash.restore")),
        h("button.danger", { type: "button", testid: "delete-forever-button", onclick: deleteForever }, t("trash.deleteForever")),
      ]
    : state.vault
    ? [
        button(t("viewer.download"), "download-button", downloadVault, icon("download")),
        h("button", { type: "button", testid: "vault-restore-button", onclick: restoreVault }, t("viewer.restoreToLibrary")),
      ]
    : [
        button(t("viewer.favouriteShort"), "favourite-button", toggleFav, icon("heart")),
        button(t("actions.addToAlbum"), "add-to-album-button", () => addToAlbum([p.id]).catch(showError), icon("plus")),
        h("a.icon", { href: originalUrl(p.id), download: p.filename || "", "aria-label": t("viewer.download"), title: t("viewer.download"), testid: "download-button" }, icon("download")),
        button(t("viewer.toVault"), "vault-button", async () => { if ((await moveToVault([p.id])).length) leave(); }, icon("lock")),
        archiveLabel(button(t("viewer.archive"), "archive-button", toggleArchive, icon("archive")), p),
        button(t("viewer.toTrash"), "trash-button", doTrash, icon("trash")),
      ];
  root.replaceChildren(
    h("div.v-top",
      button(t("viewer.close"), "viewer-close", close, icon("close")),
      h("span.v-title", p.filename || ""),
      h("span.v-count", state.list.length > 1 ? `${i + 1} / ${state.list.length}` : ""),
      h("div.v-actions", state.player && state.player.button, actions,
        button(t("viewer.slideshow"), "slideshow-button", startSlideshow, icon("play")),
        button(t("viewer.shortcuts"), "help-button", showShortcuts, "?"),
        button(t("viewer.info"), "info-button", toggleInfo, icon("info"), { "aria-pressed": String(infoOpen) }))),
    h("div.v-stage",
      button(t("viewer.previous"), "viewer-prev", () => step(-1), icon("left"), { disabled: i <= 0, class: "icon nav prev" }),
      media,
      button(t("viewer.next"), "viewer-next", () => step(1), icon("right"), { disabled: i >= state.list.length - 1, class: "icon nav next" })),
    h("aside.v-info", { testid: "info-panel", "aria-label": t("viewer.details") }, info(p)),
    // replaceChildren is the DOM's own: a null here would be shown as the text "null".
    ...(show ? [show.bar] : []));
  renderFav();
  if (!root.contains(document.activeElement)) root.querySelector("[data-testid=viewer-close]").focus();
  if (show) scheduleSlide();
  if (!state.vault) {
    api(photoPath(p.id)).then((full) => {
      if (seq !== state?.seq || !merge(p, full)) return;
      if (img) img.alt = altText(p);
      redrawInfo();
      renderFav();
    }).catch(showError);
  }
}

/**
 * Draw the info panel again for the current photo, keeping what the user is in the middle of:
 * a description typed but not saved, an open date field.
 */
function redrawInfo() {
  const panel = root && root.querySelector(".v-info");
  if (!panel) return;
  const ta = panel.querySelector("[data-testid=description-input]");
  const typed = ta && ta.value !== (ta.dataset.from ?? "") ? ta.value : null;
  const dateInput = panel.querySelector("[data-testid=date-input]");
  const dateTyped = dateInput ? dateInput.value : null;
  const focused = document.activeElement && panel.contains(document.activeElement) ? document.activeElement.dataset.testid : null;
  panel.replaceChildren(info(state.photo));
  if (typed !== null) {
    const fresh = panel.querySelector("[data-testid=description-input]");
    if (fresh) { fresh.value = typed; fresh.dispatchEvent(new Event("input")); }
  }
  if (dateTyped !== null) editDate(dateTyped);
  if (focused) panel.querySelector(`[data-testid=${focused}]`)?.focus({ preventScroll: true });
}

/** The stage's picture: the preview image, a video player, or a motion photo's still and clip. */
function stageMedia(p, seq) {
  const alt = altText(p);
  if (isVideo(p)) {
    // The vault's routes need X-Vault-Token, which a <video src> cannot send: a vault video
    // plays from a stream URL bound to this session and token (a blob only as the fallback).
    state.player = videoPlayer(p, {
      alt,
      poster: state.vault ? vaultUrl(p, "/thumbnail?size=preview", seq) : thumbUrl(p.id, "preview"),
      src: state.vault ? vaultVideoUrl(p, seq) : originalUrl(p.id),
      download: state.vault ? { run: downloadVault } : { href: originalUrl(p.id), filename: p.filename },
      // A vault video never has a copy (it would be plaintext); a library one may (media.transcode).
      playable: state.vault ? null : () => api(photoPath(p.id)).then((full) => (full.playable ? photoPath(p.id, "/playable") : null)),
    });
    return state.player.el;
  }
  const img = h("img", { testid: "viewer-image", alt, decoding: "async" });
  if (state.vault) {
    vaultUrl(p, "/thumbnail?size=preview", seq).then((u) => { if (u) img.src = u; }).catch(showError);
    return img;
  }
  img.style.backgroundImage = `url("${thumbUrl(p.id)}")`; // cached small thumb while the preview loads
  img.src = thumbUrl(p.id, viewSize()); // the screen's device pixels: preview or large (zoom.js)
  if (!p.motion) {
    state.zoom = zoomable(img, { width: p.width, height: p.height, mime: p.mime, original: originalUrl(p.id), large: thumbUrl(p.id, "large") });
    return img;
  }
  state.player = motionStill(img, photoPath(p.id, "/motion"));
  return state.player.el;
}

function row(label, value) {
  return value ? [h("dt", label), h("dd", value)] : [];
}

function exposureText(e) {
  if (!e) return "";
  const s = e.exposure_time;
  const time = typeof s === "number" ? (s > 0 && s < 1 ? `1/${Math.round(1 / s)} s` : `${formatNumber(s)} s`) : s ? `${s} s` : "";
  return [e.f_number && `ƒ/${e.f_number}`, time, e.focal_length && `${e.focal_length} mm`, e.iso && `ISO ${e.iso}`].filter(Boolean).join(" · ");
}

function info(p) {
  const cam = p.camera || {};
  const gps = p.gps;
  // Where it was taken by name (offline geocoding on the server), linking to our own map there;
  // the raw numbers only when no place is near enough to name (at sea).
  const osm = gps && gps.lat != null
    ? h("a", { href: `#/places?lat=${gps.lat}&lon=${gps.lon}&z=13`, testid: "place-link", title: t("viewer.placeOnMap") },
        p.place ? [...new Set([p.place.city, p.place.region, p.place.country].filter(Boolean))].join(", ")
          : `${Number(gps.lat).toFixed(5)}, ${Number(gps.lon).toFixed(5)}`)
    : null;
  return h("div",
    state.vault || state.mode ? (p.description ? h("p", p.description) : null) : descriptionEditor(p),
    h("dl",
      row(t("viewer.taken"), state.vault || state.mode ? fmtTaken(p.taken_at) : takenValue(p)),
      row(t("viewer.owner"), otherOwner(p)), // someone else's item: a shared album's or a partner's (docs/sharing.md)
      row(t("viewer.file"), p.filename),
      row(t("viewer.size"), [p.width && p.height ? `${p.width} × ${p.height}` : "", fmtBytes(p.bytes), p.mime].filter(Boolean).join(" · ")),
      row(t("viewer.length"), isVideo(p) ? fmtDuration(p.duration) : ""),
      row(t("viewer.video"), p.video ? [codecName(p.video.codec), p.video.fps ? `${formatNumber(Math.round(p.video.fps * 100) / 100)} fps` : ""].filter(Boolean).join(" · ") : ""),
      row(t("viewer.motion"), p.motion ? t("viewer.motionHint") : ""),
      row(t("viewer.camera"), cameraName(cam)),
      row(t("viewer.lens"), cam.lens),
      row(t("viewer.exposure"), exposureText(p.exposure)),
      row(t("viewer.place"), osm),
      row(t("viewer.uploaded"), fmtInstant(p.uploaded_at))),
    state.vault || state.mode ? null : tagsEditor(p));
}

function descriptionEditor(p) {
  const ta = h("textarea", { id: "v-desc", rows: 3, testid: "description-input", placeholder: t("viewer.descriptionPlaceholder") });
  ta.value = p.description || "";
  ta.dataset.from = ta.value; // what the field started from: anything else is the user's typing
  const save = h("button.primary", { type: "submit", testid: "description-save", disabled: true }, t("common.save"));
  ta.addEventListener("input", () => { save.disabled = ta.value === (p.description || ""); });
  ta.addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) form.requestSubmit(); });
  const saved = (res, text) => {
    if (res && res.id) Object.assign(p, res); else { p.description = text; p.version = (p.version || 0) + 1; }
    notify("changed", p);
  };
  const form = h("form.desc", {
    onsubmit: async (e) => {
      e.preventDefault();
      save.disabled = true;
      const text = ta.value;
      try {
        saved(await serial(() => api(photoPath(p.id), { method: "PATCH", body: { description: text, version: p.version } })), text);
        ta.dataset.from = p.description || "";
        toast(t("viewer.descriptionSaved"));
      } catch (err) {
        if (err.status !== 409) { save.disabled = false; return showError(err); }
        const fresh = await api(photoPath(p.id)).catch(() => null);
        // Only the version moved (a favourite or tags, here or on another device) and the text
        // this field started from is still the server's: no conflict over this text. Save over it.
        if (fresh && (fresh.description || "") === (ta.dataset.from ?? "")) {
          try {
            saved(await serial(() => api(photoPath(p.id), { method: "PATCH", body: { description: text, version: fresh.version } })), text);
            ta.dataset.from = p.description || "";
            return toast(t("viewer.descriptionSaved"));
          } catch (again) {
            if (again.status !== 409) { save.disabled = false; return showError(again); }
          }
        }
        // Changed elsewhere meanwhile: never drop what was typed. The field keeps it; the notice
        // (the mirror's, offline.js) shows it with the server's text, Retry or Discard.
        const keep = { ...(fresh || {}) };
        delete keep.description; // p.description stays what this field started from until decided
        Object.assign(p, keep);
        save.disabled = false;
        conflictNotice({ key: `viewer-${p.id}`, what: t("viewer.textKept"), text, photoId: null,
          theirs: fresh ? fresh.description || "" : null,
          retry: async () => {
            const now = await api(photoPath(p.id)); // the version to save over, read again
            const mine = ta.isConnected ? ta.value : text;
            try {
              saved(await api(photoPath(p.id), { method: "PATCH", body: { description: mine, version: now.version } }), mine);
            } catch (again) {
              if (again.status === 409) return false;
              throw again;
            }
            if (ta.isConnected) { ta.value = ta.dataset.from = p.description || ""; save.disabled = true; }
            return true;
          },
          discard: async () => {
            const now = await api(photoPath(p.id)).catch(() => null);
            if (now) Object.assign(p, now);
            notify("changed", p);
            if (ta.isConnected) { ta.value = ta.dataset.from = p.description || ""; save.disabled = true; }
          } });
      }
    },
  }, h("label", { for: "v-desc", class: "sr-only" }, t("viewer.description")), ta, h("div.row.end", save));
  return form;
}

function tagsEditor(p) {
  const list = h("ul.tags", { "aria-label": t("nav.tags") });
  const input = h("input", { id: "v-tags", testid: "tags-input", placeholder: t("viewer.tagsPlaceholder"), autocomplete: "off", enterkeyhint: "done" });
  const put = async (tags) => {
    try {
      const res = await serial(() => api(photoPath(p.id, "/tags"), { method: "PUT", body: { tags } }));
      p.tags = res && Array.isArray(res.tags) ? res.tags : tags;
      if (res && res.version !== undefined) p.version = res.version;
      draw();
      notify("changed", p);
    } catch (err) { showError(err); }
  };
  const draw = () => list.replaceChildren(...(p.tags || []).map((tag) => h("li.chip", { testid: "tag-chip" },
    h("a", { href: `#/tags/${encodeURIComponent(tag)}` }, tag),
    h("button.icon", { type: "button", "aria-label": t("viewer.removeTag", { tag }), testid: "tag-remove", onclick: () => put((p.tags || []).filter((x) => x !== tag)) }, "×"))));
  const add = () => {
    const fresh = input.value.split(",").map((s) => s.trim()).filter(Boolean);
    input.value = "";
    const have = new Set((p.tags || []).map((t) => t.toLowerCase()));
    const tags = [...(p.tags || []), ...fresh.filter((t) => !have.has(t.toLowerCase()) && have.add(t.toLowerCase()))];
    if (tags.length !== (p.tags || []).length) put(tags);
  };
  input.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === ",") { e.preventDefault(); add(); } });
  input.addEventListener("blur", () => input.value.trim() && add());
  draw();
  return h("div.tag-editor", h("label", { for: "v-tags" }, t("nav.tags")), list, input);
}

async function deleteForever() {
  const p = state.photo;
  if (!(await confirmDialog(t("trash.deleteTitle"), t("trash.deleteText", { count: 1 }), t("trash.deleteForever"), true))) return;
  try {
    await api(photoPath(p.id), { method: "DELETE" });
    notify("removed", [p.id]);
    toast(t("viewer.deleted"));
    leave();
  } catch (err) { showError(err); }
}

async function downloadVault() {
  try {
    const u = await vaultBlobUrl(`/api/vault/photos/${encodeURIComponent(state.photo.id)}/original`);
    const a = h("a", { href: u, download: state.photo.filename || "photo" });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(u), 10000);
  } catch (err) { showError(err); }
}

async function restoreVault() {
  const p = state.photo;
  try {
    await api(`/api/vault/photos/${encodeURIComponent(p.id)}/restore`, { method: "POST", vault: true });
    toast(t("viewer.restored"));
    if (state.onRestore) state.onRestore(p);
    leave();
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    showError(err);
  }
}

/** "Canon" + "Canon EOS 5D" reads "Canon EOS 5D": many cameras repeat the make in the model. */
export function cameraName(cam) {
  const make = (cam && cam.make || "").trim(), model = (cam && cam.model || "").trim();
  if (!make || !model) return make || model;
  const first = make.split(/\s+/)[0].toLowerCase(); // "NIKON CORPORATION" + "NIKON D70"
  return model.toLowerCase().startsWith(first) ? model : `${make} ${model}`;
}

// -- date and time taken ---------------------------------------------------------------------

/** The offset written in an RFC 3339 time ("+02:00", "Z" → "+00:00"), or "" when it has none. */
function offsetOf(iso) {
  const m = /(Z|[+-]\d\d:?\d\d)$/i.exec(iso || "");
  if (!m) return "";
  if (m[1].toUpperCase() === "Z") return "+00:00";
  return m[1].includes(":") ? m[1] : `${m[1].slice(0, 3)}:${m[1].slice(3)}`;
}

/** This browser's offset at a wall-clock time "YYYY-MM-DDTHH:MM:SS" (for a date that has none). */
function browserOffset(local) {
  const d = new Date(local);
  const min = Number.isNaN(d.getTime()) ? 0 : -d.getTimezoneOffset();
  const a = Math.abs(min);
  return `${min < 0 ? "-" : "+"}${String(Math.floor(a / 60)).padStart(2, "0")}:${String(a % 60).padStart(2, "0")}`;
}

const wallClock = (iso) => ((/^(\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d)?)/.exec(iso || "") || [])[1] || "");

function takenValue(p) {
  // The pencil is a drawing, not a character: the row's text stays the date alone.
  return h("span.taken", { testid: "taken-value" }, fmtTaken(p.taken_at),
    h("button.icon.small", { type: "button", testid: "date-edit", "aria-label": t("viewer.dateChange"), title: t("viewer.dateChangeKey"), onclick: () => editDate() }, pencil()));
}

function pencil() {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", "i");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", "M4 20h4L19 9l-4-4L4 16zM13.5 6.5l4 4");
  svg.append(path);
  return svg;
}

/**
 * Open the date field in the info panel (`value`: what to show, else the photo's own wall-clock
 * time). The photo keeps its time zone: only the wall-clock time changes, and the offset it was
 * taken with goes back to the server with it (PATCH taken_at, with the version).
 */
function editDate(value) {
  if (!root || state.vault || state.mode) return;
  if (!infoOpen) toggleInfo();
  const p = state.photo;
  const dd = root.querySelector("[data-testid=taken-value]")?.parentElement;
  if (!dd) return;
  const offset = offsetOf(p.taken_at);
  const input = h("input", { type: "datetime-local", step: 1, required: true, testid: "date-input", "aria-label": t("viewer.dateLabel") });
  input.value = value ?? wallClock(p.taken_at);
  const zone = h("small.muted", { testid: "date-offset" }, t("viewer.dateOffset", { offset: offset || browserOffset(input.value) }));
  const cancel = () => dd.replaceChildren(takenValue(p));
  const form = h("form.date-edit", { testid: "date-form", onsubmit: (e) => { e.preventDefault(); saveDate(p, input); } },
    input, zone,
    h("div.row.end",
      h("button", { type: "button", testid: "date-cancel", onclick: cancel }, t("common.cancel")),
      h("button.primary", { type: "submit", testid: "date-save" }, t("common.save"))));
  input.addEventListener("keydown", (e) => { if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); cancel(); } });
  dd.replaceChildren(form);
  input.focus();
}

async function saveDate(p, input) {
  const local = input.value.length === 16 ? `${input.value}:00` : input.value;
  if (!local) return;
  const takenAt = local + (offsetOf(p.taken_at) || browserOffset(local));
  const send = (version) => api(photoPath(p.id), { method: "PATCH", body: { taken_at: takenAt, version } });
  const done = (res) => {
    if (res && res.id) Object.assign(p, res); else p.taken_at = takenAt;
    notify("redated", p); // app.js moves its tile to the new day in the grids that hold it
    if (state && state.photo === p) redrawInfo();
  };
  const before = p.taken_at;
  const saveOver = async (version) => {
    done(await serial(() => send(version)));
    if (state && state.photo === p) root.querySelector("[data-testid=date-cancel]")?.click();
    toast(t("viewer.dateSaved"));
  };
  try {
    await saveOver(p.version);
  } catch (err) {
    if (err.status !== 409) return showError(err);
    // Only the version moved and the date is still the one this field started from: save over it.
    const fresh = await api(photoPath(p.id)).catch(() => null);
    if (fresh && fresh.taken_at === before) {
      try { return await saveOver(fresh.version); } catch (again) { if (again.status !== 409) return showError(again); }
    }
    // Changed elsewhere meanwhile: the date typed stays in the field and in the notice.
    conflictNotice({ key: `viewer-date-${p.id}`, what: t("viewer.dateKept"), text: fmtTaken(takenAt), photoId: null,
      retry: async () => {
        const now = await api(photoPath(p.id));
        try { done(await serial(() => send(now.version))); } catch (again) {
          if (again.status === 409) return false;
          throw again;
        }
        root?.querySelector("[data-testid=date-cancel]")?.click();
        return true;
      },
      discard: async () => {
        const now = await api(photoPath(p.id)).catch(() => null);
        if (now) Object.assign(p, now);
        root?.querySelector("[data-testid=date-cancel]")?.click();
      } });
  }
}

// -- slideshow -------------------------------------------------------------------------------

const SECONDS_KEY = "octopus.slideshow.seconds";
const VIDEOS_KEY = "octopus.slideshow.videos";
const INTERVALS = [2, 3, 5, 10, 20];

/** Start the slideshow from the photo on screen: every few seconds the next item, Esc stops. */
function startSlideshow() {
  if (show) return toggleSlideshow();
  const stored = Number(localStorage.getItem(SECONDS_KEY));
  show = { playing: true, timer: 0, seconds: stored > 0 ? stored : 5, videos: localStorage.getItem(VIDEOS_KEY) === "play" ? "play" : "skip" };
  const toggle = h("button.icon", { type: "button", testid: "slideshow-toggle", onclick: () => toggleSlideshow() });
  const intervals = INTERVALS.includes(show.seconds) ? INTERVALS : [...INTERVALS, show.seconds].sort((a, b) => a - b);
  const every = h("select", { testid: "slideshow-interval", "aria-label": t("viewer.slideshowEvery"),
    onchange: () => { show.seconds = Number(every.value); localStorage.setItem(SECONDS_KEY, every.value); scheduleSlide(); } },
    intervals.map((n) => h("option", { value: String(n), selected: n === show.seconds }, t("viewer.slideshowSeconds", { n }))));
  const videos = h("select", { testid: "slideshow-videos", "aria-label": t("viewer.slideshowVideos"),
    onchange: () => { show.videos = videos.value; localStorage.setItem(VIDEOS_KEY, videos.value); scheduleSlide(); } },
    h("option", { value: "skip", selected: show.videos === "skip" }, t("viewer.slideshowSkipVideos")),
    h("option", { value: "play", selected: show.videos === "play" }, t("viewer.slideshowPlayVideos")));
  show.toggle = toggle;
  show.bar = h("div.slideshow-bar", { testid: "slideshow-bar", role: "toolbar", "aria-label": t("viewer.slideshow") },
    toggle, h("label", t("viewer.slideshowEvery"), " ", every), h("label", t("viewer.slideshowVideos"), " ", videos),
    h("button.icon", { type: "button", testid: "slideshow-stop", "aria-label": t("viewer.slideshowStop"), title: t("viewer.slideshowStop"), onclick: () => stopSlideshow() }, icon("close")));
  drawToggle();
  root.classList.add("slideshow");
  root.classList.remove("info-open");
  root.append(show.bar);
  scheduleSlide();
  toggle.focus();
}

function drawToggle() {
  if (!show) return;
  const label = show.playing ? t("viewer.slideshowPause") : t("viewer.slideshowPlay");
  show.toggle.setAttribute("aria-label", label);
  show.toggle.title = label;
  show.toggle.setAttribute("aria-pressed", String(show.playing));
  show.bar.dataset.state = show.playing ? "playing" : "paused";
  show.toggle.replaceChildren(show.playing ? "❚❚" : icon("play"));
}

function toggleSlideshow() {
  if (!show) return;
  show.playing = !show.playing;
  drawToggle();
  scheduleSlide();
}

/** Stop the slideshow (Esc, its close button, closing the viewer); the photo stays on screen. */
function stopSlideshow(redraw = true) {
  if (!show) return;
  clearTimeout(show.timer);
  show = null;
  if (redraw && root) {
    root.classList.remove("slideshow");
    root.classList.toggle("info-open", infoOpen);
    root.querySelector(".slideshow-bar")?.remove();
    root.querySelector("[data-testid=slideshow-button]")?.focus();
  }
}

/** Wait on the item on screen: the interval for a photo; a video plays to its end, or is skipped. */
function scheduleSlide() {
  if (!show) return;
  clearTimeout(show.timer);
  if (!show.playing) return;
  const p = state.photo;
  if (isVideo(p) && show.videos === "play" && state.player) {
    const box = state.player.el;
    const seq = state.seq;
    const next = () => { if (show && show.playing && state && seq === state.seq) advance(); };
    // "ended" does not bubble: listen in the capture phase on the player's box.
    box.addEventListener("ended", next, { capture: true, once: true });
    box.addEventListener("canplay", (e) => { if (show && show.playing) e.target.play?.().catch(() => {}); }, { capture: true, once: true });
    box.querySelector("video")?.play?.().catch(() => {});
    // A clip that cannot play here (the poster and Download show instead) still moves on.
    show.timer = setTimeout(next, ((Number(p.duration) || 0) + show.seconds + 2) * 1000);
    return;
  }
  show.timer = setTimeout(advance, show.seconds * 1000);
}

function advance() {
  if (!show || !state) return;
  const i = state.list.findIndex((x) => x.id === state.photo.id);
  const next = state.list.slice(i + 1).find((x) => show.videos === "play" || !isVideo(x));
  if (!next) { stopSlideshow(); toast(t("viewer.slideshowDone")); return; }
  if (state.onNavigate) state.onNavigate(next);
  else showPhoto(next, state);
}
