// Video playback in the viewer: a <video> over the item's original (the server answers Range
// requests, so the browser fetches only what it plays) with the poster frame as its poster.
// Where the browser cannot decode the codec (HEVC in Chromium on Linux, MPEG-2, ProRes…) the
// viewer shows the poster, one line saying so and Download instead: never a black box. When
// the server has made a playable H.264 copy (media.transcode, docs/admin.md) it plays that.
import { h, icon } from "./ui.js";
import { t } from "./i18n.js";

// FFmpeg's codec name (the API's `video.codec`) → what to call it, and a type for canPlayType.
// The codec strings are concrete profiles: Chromium answers "" for a bare "hvc1" and "maybe"
// for a bare "avc1", so only full strings give a clear yes or no. No type: we cannot ask, so
// we try to play it and listen for the error.
const CODECS = {
  h264: ["H.264", 'video/mp4; codecs="avc1.42E01E"'],
  hevc: ["HEVC", 'video/mp4; codecs="hvc1.1.6.L93.B0"'],
  vp9: ["VP9", 'video/webm; codecs="vp9"'],
  vp8: ["VP8", 'video/webm; codecs="vp8"'],
  av1: ["AV1", 'video/mp4; codecs="av01.0.05M.08"'],
  mpeg4: ["MPEG-4 Part 2", 'video/mp4; codecs="mp4v.20.8"'],
  mpeg2video: ["MPEG-2", null],
  prores: ["ProRes", null],
};

/** "HEVC" for "hevc"; an unknown codec keeps FFmpeg's name in capitals. */
export const codecName = (codec) => (CODECS[codec] ? CODECS[codec][0] : codec ? String(codec).toUpperCase() : "");

/** False only when the browser says outright that it cannot decode this codec. */
export function mayPlay(codec) {
  const type = CODECS[codec] && CODECS[codec][1];
  return !type || document.createElement("video").canPlayType(type) !== "";
}

const unplayableText = (p, why) => {
  if (why === "network") return t("video.stopped");
  const name = codecName(p.video && p.video.codec);
  return name ? t("video.unplayableCodec", { codec: name }) : t("video.unplayable");
};

/**
 * The player for video `p`. opts: src and poster (URL strings, or promises of blob URLs for the
 * vault), download ({href, filename} for a link, or {run} for a button), alt, and playable: a
 * function asked only when the browser cannot play the original, answering a promise of the
 * playable copy's URL or null. Returns {el, toggle(), destroy()}; el fills the viewer's stage.
 */
export function videoPlayer(p, { src, poster, download, alt, playable }) {
  const box = h("div.v-video");
  const video = h("video", { testid: "viewer-video", controls: true, preload: "metadata", playsinline: true, "aria-label": alt });
  let posterUrl = typeof poster === "string" ? poster : "";
  let still = null; // the poster <img> once the video has given way to it
  let failed = false;
  let alive = true;
  let copyTried = !playable;

  // The original will not play: the server's copy, when there is one, else the fallback.
  const tryCopy = () => {
    copyTried = true;
    stop();
    Promise.resolve(playable()).then((u) => {
      if (!alive || failed) return;
      if (u) video.src = u;
      else fallback("codec");
    }).catch(() => fallback("codec"));
  };

  const fallback = (why) => {
    if (failed || !alive) return;
    failed = true;
    stop();
    const dl = download.href
      ? h("a.button.primary", { href: download.href, download: download.filename || "", testid: "video-download" }, icon("download"), t("video.download"))
      : h("button.primary", { type: "button", testid: "video-download", onclick: download.run }, icon("download"), t("video.download"));
    still = h("img", { testid: "video-poster", alt, decoding: "async" });
    if (posterUrl) still.src = posterUrl;
    box.replaceChildren(still, h("div.v-unplayable", { testid: "video-unplayable", role: "status" }, h("p", unplayableText(p, why)), dl));
    box.classList.add("unplayable");
  };

  // Release the connection (and a vault blob's decoder) when the viewer moves on.
  const stop = () => {
    video.pause();
    video.removeAttribute("src");
    video.load();
  };

  video.addEventListener("error", () => {
    const e = video.error;
    // Aborted by us (stop() on navigation) is no failure of the file.
    if (!e || e.code === e.MEDIA_ERR_ABORTED || !video.getAttribute("src")) return;
    if (e.code !== e.MEDIA_ERR_NETWORK && !copyTried) tryCopy();
    else fallback(e.code === e.MEDIA_ERR_NETWORK ? "network" : "codec");
  });
  // A container the browser reads but whose video stream it cannot decode plays the sound
  // over a black box: with no picture size there is no picture.
  video.addEventListener("loadedmetadata", () => {
    if (video.videoWidth) return;
    if (!copyTried) tryCopy();
    else fallback("codec");
  });

  if (typeof poster === "string") video.poster = poster;
  // A vault poster arrives later, maybe after the video has already given way to the still.
  else poster.then((u) => {
    if (!u || !alive) return;
    posterUrl = u;
    video.poster = u;
    if (still) still.src = u;
  }).catch(() => { /* no poster: the first frame shows */ });

  box.append(video);
  if (!mayPlay(p.video && p.video.codec)) {
    if (copyTried) fallback("codec");
    else tryCopy();
  }
  else if (typeof src === "string") video.src = src;
  else src.then((u) => { if (u && alive && !failed) video.src = u; }).catch(() => fallback("network"));

  return {
    el: box,
    toggle() {
      if (failed || !video.getAttribute("src")) return;
      if (video.paused || video.ended) video.play().catch(() => { /* the error event says why */ });
      else video.pause();
    },
    destroy() {
      if (!failed) stop();
      alive = false;
    },
  };
}
