// The public page of a share link (share.html, docs/sharing.md): a grid and a viewer of exactly
// the link's items, in the visitor's language, without an account. Everything it loads goes
// through /api/s/<token>/...; a password-protected link asks for the password once, and the
// server's grant (a cookie scoped to /api/s/<token>) opens the rest.
import { t, translateDom, formatDate, formatNumber } from "./i18n.js";

const token = decodeURIComponent(location.pathname.split("/")[2] || "");
const base = `/api/s/${encodeURIComponent(token)}`;
const $ = (id) => document.getElementById(id);
const state = { items: [], index: -1, album: null };

function status(text) {
  const el = $("share-status");
  el.textContent = text;
  el.hidden = !text;
}

async function load() {
  const main = $("share-main");
  main.setAttribute("aria-busy", "true");
  let res;
  try {
    res = await fetch(base, { credentials: "same-origin", headers: { Accept: "application/json" } });
  } catch {
    status(t("share.unreachable"));
    return;
  }
  main.setAttribute("aria-busy", "false");
  if (res.status === 401) {
    status("");
    $("share-unlock").hidden = false;
    $("share-password").focus();
    return;
  }
  if (res.status === 404) return status(t("share.unknown"));
  if (res.status === 410) return status(t("share.gone"));
  if (res.status === 429) return status(t("share.tooMany"));
  if (!res.ok) return status(t("share.failed"));
  state.album = await res.json();
  $("share-unlock").hidden = true;
  render();
}

function render() {
  const album = state.album;
  state.items = album.items;
  const title = album.title || t("share.title");
  $("share-title").textContent = title;
  document.title = `${title} · Octopus Photos`;
  const parts = [t("common.items", { count: album.count })];
  if (album.expires_at) parts.push(t("share.expires", { date: formatDate(album.expires_at) }));
  $("share-meta").textContent = parts.join(" · ");
  const grid = $("share-grid");
  grid.replaceChildren();
  if (!album.items.length) {
    status(t("share.empty"));
    grid.hidden = true;
    return;
  }
  status("");
  const frag = document.createDocumentFragment();
  album.items.forEach((item, i) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.index = String(i);
    button.setAttribute("aria-label", label(item, i));
    const img = document.createElement("img");
    img.loading = "lazy";
    img.decoding = "async";
    img.alt = "";
    img.src = `${base}/photos/${encodeURIComponent(item.id)}/thumbnail?size=thumb`;
    button.append(img);
    li.append(button);
    if (item.kind === "video") {
      const badge = document.createElement("span");
      badge.className = "share-badge";
      badge.textContent = item.duration ? duration(item.duration) : t("share.video");
      li.append(badge);
    }
    frag.append(li);
  });
  grid.append(frag);
  grid.hidden = false;
}

function label(item, i) {
  const what = item.kind === "video" ? t("share.video") : t("share.photo");
  const when = item.taken_at ? formatDate(item.taken_at.slice(0, 19), { dateStyle: "medium" }) : "";
  return [what, formatNumber(i + 1), when].filter(Boolean).join(" · ");
}

function duration(seconds) {
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function show(index) {
  const items = state.items;
  if (!items.length) return;
  state.index = (index + items.length) % items.length;
  const item = items[state.index];
  const stage = $("share-stage");
  const url = `${base}/photos/${encodeURIComponent(item.id)}`;
  let media;
  if (item.kind === "video") {
    media = document.createElement("video");
    media.controls = true;
    media.playsInline = true;
    media.preload = "metadata";
    media.poster = `${url}/thumbnail?size=preview`;
    media.src = `${url}/video`;
  } else {
    media = document.createElement("img");
    media.alt = label(item, state.index);
    media.src = `${url}/thumbnail?size=preview`;
  }
  stage.replaceChildren(media);
  if (item.motion && item.kind !== "video") {
    // A motion or Live Photo: its clip plays in place of the still, on request.
    const play = document.createElement("button");
    play.type = "button";
    play.className = "share-motion";
    play.textContent = t("share.playMotion");
    play.addEventListener("click", () => {
      const clip = document.createElement("video");
      clip.muted = true;
      clip.playsInline = true;
      clip.autoplay = true;
      clip.loop = true;
      clip.poster = media.src;
      clip.src = `${url}/motion`;
      stage.replaceChildren(clip);
    });
    stage.append(play);
  }
  $("share-position").textContent = t("share.position", { n: state.index + 1, count: items.length });
  const caption = [item.description || ""];
  if (item.gps) caption.push(`${item.gps.lat.toFixed(5)}, ${item.gps.lon.toFixed(5)}`);
  $("share-caption").textContent = caption.filter(Boolean).join(" · ");
  const download = $("share-download");
  download.hidden = !state.album.allow_download;
  download.href = state.album.allow_download ? `${url}/original` : "";
  const viewer = $("share-viewer");
  if (!viewer.open) viewer.showModal();
}

function close() {
  const viewer = $("share-viewer");
  $("share-stage").replaceChildren(); // stops a playing video
  if (viewer.open) viewer.close();
  const button = document.querySelector(`#share-grid button[data-index="${state.index}"]`);
  if (button) button.focus();
}

$("share-grid").addEventListener("click", (event) => {
  const button = event.target.closest("button[data-index]");
  if (button) show(Number(button.dataset.index));
});
$("share-prev").addEventListener("click", () => show(state.index - 1));
$("share-next").addEventListener("click", () => show(state.index + 1));
$("share-close").addEventListener("click", close);
$("share-viewer").addEventListener("cancel", (event) => { event.preventDefault(); close(); });
$("share-viewer").addEventListener("keydown", (event) => {
  if (event.key === "ArrowLeft") show(state.index - 1);
  else if (event.key === "ArrowRight") show(state.index + 1);
});
// Swipe left or right on a phone.
let touchX = null;
$("share-stage").addEventListener("touchstart", (e) => { touchX = e.touches[0].clientX; }, { passive: true });
$("share-stage").addEventListener("touchend", (e) => {
  if (touchX === null) return;
  const dx = e.changedTouches[0].clientX - touchX;
  touchX = null;
  if (Math.abs(dx) > 50) show(state.index + (dx < 0 ? 1 : -1));
}, { passive: true });

$("share-unlock").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = $("share-unlock-error");
  error.textContent = "";
  let res;
  try {
    res = await fetch(`${base}/unlock`, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ password: $("share-password").value }),
    });
  } catch {
    error.textContent = t("share.unreachable");
    return;
  }
  if (res.status === 401) error.textContent = t("share.wrongPassword");
  else if (res.status === 429) error.textContent = t("share.tooMany");
  else if (res.status === 410) { $("share-unlock").hidden = true; status(t("share.gone")); }
  else if (!res.ok) error.textContent = t("share.failed");
  else {
    $("share-password").value = "";
    load();
  }
});

translateDom();
load();
