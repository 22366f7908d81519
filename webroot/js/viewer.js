// Full-screen photo viewer: preview image (a video player for videos, the still with its clip
// for motion photos), prev/next (buttons, arrow keys, swipe), info panel with description,
// tags, camera, exposure and location, and the per-photo commands.
// Library photos are addressed by #/photo/<id>; vault photos are shown in-place (their bytes
// need the X-Vault-Token header, so they come as blob URLs and are revoked when replaced).
import { api, thumbUrl, originalUrl, photoPath, vaultBlobUrl, ApiError } from "./api.js";
import { h, $, icon, fmtTaken, fmtInstant, fmtBytes, fmtDuration, toast, showError, confirmDialog } from "./ui.js";
import { setFavourite, trashPhotos, restorePhotos, addToAlbum, moveToVault, notify } from "./actions.js";
import { altText, isVideo } from "./grid.js";
import { videoPlayer, codecName } from "./video.js";
import { motionStill } from "./motion.js";
import { conflictNotice } from "./offline.js";

let root = null;        // the viewer element while open
let state = null;       // {list, photo, vault, onClose, onNavigate, onRestore, seq, blobUrls, player, returnFocus}
let infoOpen = matchMedia("(min-width: 900px)").matches;

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
  root = h("div.viewer", { testid: "viewer", role: "dialog", "aria-modal": "true", "aria-label": "Photo viewer" });
  document.body.append(root);
  $("#app").inert = true;
  document.addEventListener("keydown", onKey);
  let x0 = null;
  root.addEventListener("touchstart", (e) => { x0 = e.touches.length === 1 ? e.touches[0].clientX : null; }, { passive: true });
  root.addEventListener("touchend", (e) => {
    if (x0 === null || isTyping(e.target)) return;
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
  if (e.key === "Escape") { e.preventDefault(); isTyping(e.target) ? e.target.blur() : close(); return; }
  if (isTyping(e.target)) return;
  // Space plays and pauses a video or a motion clip wherever focus is (even on a button, which
  // Space would otherwise press: Enter still does); the arrows keep moving between items even
  // when the video's own controls have focus.
  const keys = {
    ArrowLeft: () => step(-1), ArrowRight: () => step(1),
    " ": state.player ? () => state.player.toggle() : undefined,
    i: () => toggleInfo(), f: () => !state.vault && !state.mode && toggleFav(),
    Delete: () => !state.vault && !state.mode && doTrash(),
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
  try {
    await setFavourite(p, !p.favourite);
    renderFav();
  } catch (err) { showError(err); }
}

function renderFav() {
  const b = root && root.querySelector("[data-testid=favourite-button]");
  if (!b) return;
  b.setAttribute("aria-pressed", String(!!state.photo.favourite));
  b.setAttribute("aria-label", state.photo.favourite ? "Remove from favourites" : "Add to favourites");
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
  root.classList.toggle("info-open", infoOpen);
  const media = stageMedia(p, seq);
  const img = media.querySelector("[data-testid=viewer-image]");
  if (!state.vault) {
    const n = state.list[i + 1];
    if (n) new Image().src = thumbUrl(n.id, "preview");
  }
  const actions = state.mode === "trash"
    ? [
        h("button", { type: "button", testid: "restore-button", onclick: () => restorePhotos([p.id]).then((ok) => { if (ok.length) { notify("removed", ok); leave(); } }) }, "Restore"),
        h("button.danger", { type: "button", testid: "delete-forever-button", onclick: deleteForever }, "Delete forever"),
      ]
    : state.vault
    ? [
        button("Download original", "download-button", downloadVault, icon("download")),
        h("button", { type: "button", testid: "vault-restore-button", onclick: restoreVault }, "Restore to library"),
      ]
    : [
        button("Favourite", "favourite-button", toggleFav, icon("heart")),
        button("Add to album", "add-to-album-button", () => addToAlbum([p.id]).catch(showError), icon("plus")),
        h("a.icon", { href: originalUrl(p.id), download: p.filename || "", "aria-label": "Download original", title: "Download original", testid: "download-button" }, icon("download")),
        button("Move to vault", "vault-button", async () => { if ((await moveToVault([p.id])).length) leave(); }, icon("lock")),
        button("Move to trash", "trash-button", doTrash, icon("trash")),
      ];
  root.replaceChildren(
    h("div.v-top",
      button("Close (Esc)", "viewer-close", close, icon("close")),
      h("span.v-title", p.filename || ""),
      h("span.v-count", state.list.length > 1 ? `${i + 1} / ${state.list.length}` : ""),
      h("div.v-actions", state.player && state.player.button, actions,
        button("Info (i)", "info-button", toggleInfo, icon("info"), { "aria-pressed": String(infoOpen) }))),
    h("div.v-stage",
      button("Previous (←)", "viewer-prev", () => step(-1), icon("left"), { disabled: i <= 0, class: "icon nav prev" }),
      media,
      button("Next (→)", "viewer-next", () => step(1), icon("right"), { disabled: i >= state.list.length - 1, class: "icon nav next" })),
    h("aside.v-info", { testid: "info-panel", "aria-label": "Photo details" }, info(p)));
  renderFav();
  if (!root.contains(document.activeElement)) root.querySelector("[data-testid=viewer-close]").focus();
  if (!state.vault) {
    api(photoPath(p.id)).then((full) => {
      if (seq !== state?.seq) return;
      Object.assign(p, full);
      if (img) img.alt = altText(p);
      root.querySelector(".v-info").replaceChildren(info(p));
      renderFav();
    }).catch(showError);
  }
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
  img.src = thumbUrl(p.id, "preview");
  if (!p.motion) return img;
  state.player = motionStill(img, photoPath(p.id, "/motion"));
  return state.player.el;
}

function row(label, value) {
  return value ? [h("dt", label), h("dd", value)] : [];
}

function exposureText(e) {
  if (!e) return "";
  const t = e.exposure_time;
  const time = typeof t === "number" ? (t > 0 && t < 1 ? `1/${Math.round(1 / t)} s` : `${t} s`) : t ? `${t} s` : "";
  return [e.f_number && `ƒ/${e.f_number}`, time, e.focal_length && `${e.focal_length} mm`, e.iso && `ISO ${e.iso}`].filter(Boolean).join(" · ");
}

function info(p) {
  const cam = p.camera || {};
  const gps = p.gps;
  const osm = gps && gps.lat != null
    ? h("a", { href: `https://www.openstreetmap.org/?mlat=${gps.lat}&mlon=${gps.lon}#map=15/${gps.lat}/${gps.lon}`, target: "_blank", rel: "noopener noreferrer", testid: "gps-link" },
        `${Number(gps.lat).toFixed(5)}, ${Number(gps.lon).toFixed(5)}`)
    : null;
  return h("div",
    state.vault || state.mode ? (p.description ? h("p", p.description) : null) : descriptionEditor(p),
    h("dl",
      row("Taken", fmtTaken(p.taken_at)),
      row("File", p.filename),
      row("Size", [p.width && p.height ? `${p.width} × ${p.height}` : "", fmtBytes(p.bytes), p.mime].filter(Boolean).join(" · ")),
      row("Length", isVideo(p) ? fmtDuration(p.duration) : ""),
      row("Video", p.video ? [codecName(p.video.codec), p.video.fps ? `${Math.round(p.video.fps * 100) / 100} fps` : ""].filter(Boolean).join(" · ") : ""),
      row("Motion", p.motion ? "Motion photo: hover or press and hold to play" : ""),
      row("Camera", [cam.make, cam.model].filter(Boolean).join(" ")),
      row("Lens", cam.lens),
      row("Exposure", exposureText(p.exposure)),
      row("Location", osm),
      row("Uploaded", fmtInstant(p.uploaded_at))),
    state.vault || state.mode ? null : tagsEditor(p));
}

function descriptionEditor(p) {
  const ta = h("textarea", { id: "v-desc", rows: 3, testid: "description-input", placeholder: "Add a description" });
  ta.value = p.description || "";
  const save = h("button.primary", { type: "submit", testid: "description-save", disabled: true }, "Save");
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
        saved(await api(photoPath(p.id), { method: "PATCH", body: { description: text, version: p.version } }), text);
        toast("Description saved");
      } catch (err) {
        if (err.status !== 409) { save.disabled = false; return showError(err); }
        // Changed elsewhere meanwhile: never drop what was typed. The field keeps it; the notice
        // (the mirror's, offline.js) shows it with the server's text, Retry or Discard.
        const fresh = await api(photoPath(p.id)).catch(() => null);
        const keep = { ...(fresh || {}) };
        delete keep.description; // p.description stays what this field started from until decided
        Object.assign(p, keep);
        save.disabled = false;
        conflictNotice({ key: `viewer-${p.id}`, what: "your text was kept", text, photoId: null,
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
            if (ta.isConnected) { ta.value = p.description || ""; save.disabled = true; }
            return true;
          },
          discard: async () => {
            const now = await api(photoPath(p.id)).catch(() => null);
            if (now) Object.assign(p, now);
            notify("changed", p);
            if (ta.isConnected) { ta.value = p.description || ""; save.disabled = true; }
          } });
      }
    },
  }, h("label", { for: "v-desc", class: "sr-only" }, "Description"), ta, h("div.row.end", save));
  return form;
}

function tagsEditor(p) {
  const list = h("ul.tags", { "aria-label": "Tags" });
  const input = h("input", { id: "v-tags", testid: "tags-input", placeholder: "Add tags, press Enter", autocomplete: "off", enterkeyhint: "done" });
  const put = async (tags) => {
    try {
      const res = await api(photoPath(p.id, "/tags"), { method: "PUT", body: { tags } });
      p.tags = res && Array.isArray(res.tags) ? res.tags : tags;
      if (res && res.version !== undefined) p.version = res.version;
      draw();
      notify("changed", p);
    } catch (err) { showError(err); }
  };
  const draw = () => list.replaceChildren(...(p.tags || []).map((t) => h("li.chip", { testid: "tag-chip" },
    h("a", { href: `#/tags/${encodeURIComponent(t)}` }, t),
    h("button.icon", { type: "button", "aria-label": `Remove tag ${t}`, testid: "tag-remove", onclick: () => put((p.tags || []).filter((x) => x !== t)) }, "×"))));
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
  return h("div.tag-editor", h("label", { for: "v-tags" }, "Tags"), list, input);
}

async function deleteForever() {
  const p = state.photo;
  if (!(await confirmDialog("Delete forever?", "This photo will be erased for good. This cannot be undone.", "Delete forever", true))) return;
  try {
    await api(photoPath(p.id), { method: "DELETE" });
    notify("removed", [p.id]);
    toast("Deleted forever");
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
    toast("Restored to the library");
    if (state.onRestore) state.onRestore(p);
    leave();
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    showError(err);
  }
}
