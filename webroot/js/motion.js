// Motion and Live Photos in the viewer: the still shows; its clip (GET /api/photos/{id}/motion,
// served with Range) plays muted and looping while a mouse is over the picture, or while a
// finger holds it on a touch screen, and the still comes back on leave or release. The Motion
// button (and Space) does the same for a keyboard.
import { h, icon } from "./ui.js";
import { t } from "./i18n.js";

const HOLD_MS = 180;   // a tap or the start of a swipe is not a press-and-hold
const SLOP_PX = 12;    // a finger that moves this far is swiping, not holding

/** Wrap the still `img` with its clip at `clipUrl`. Returns {el, button, toggle(), destroy()}. */
export function motionStill(img, clipUrl) {
  const clip = h("video.motion-clip", { testid: "motion-clip", muted: true, loop: true, playsinline: true, preload: "none", "aria-hidden": "true" });
  clip.muted = true; // the property, not only the attribute: autoplay rules look at this one
  const el = h("div.v-motion", { testid: "motion-photo" }, img, clip);
  const button = h("button.icon.motion-toggle", { type: "button", testid: "motion-button", "aria-label": t("motion.play"), title: t("motion.playKey"), "aria-pressed": "false" }, icon("motion"));
  let playing = false;
  let hold = null;

  const start = () => {
    if (playing) return;
    playing = true;
    button.setAttribute("aria-pressed", "true");
    if (!clip.getAttribute("src")) clip.src = clipUrl;
    clip.play().catch(() => { /* no clip, or interrupted by stop(): the still stays */ });
  };
  const stop = () => {
    clearTimeout(hold);
    hold = null;
    if (!playing) return;
    playing = false;
    button.setAttribute("aria-pressed", "false");
    clip.pause();
    clip.currentTime = 0;
    el.classList.remove("playing");
  };
  // Shown only once frames arrive, so the still never gives way to an empty box.
  clip.addEventListener("playing", () => { if (playing) el.classList.add("playing"); });
  clip.addEventListener("error", () => { stop(); button.hidden = true; });

  el.addEventListener("pointerenter", (e) => { if (e.pointerType === "mouse") start(); });
  el.addEventListener("pointerleave", (e) => { if (e.pointerType === "mouse") stop(); });
  let x0 = 0, y0 = 0;
  el.addEventListener("pointerdown", (e) => {
    if (e.pointerType === "mouse") return;
    x0 = e.clientX; y0 = e.clientY;
    hold = setTimeout(start, HOLD_MS);
  });
  el.addEventListener("pointermove", (e) => {
    if (hold && !playing && Math.hypot(e.clientX - x0, e.clientY - y0) > SLOP_PX) { clearTimeout(hold); hold = null; }
  });
  for (const type of ["pointerup", "pointercancel"]) el.addEventListener(type, (e) => { if (e.pointerType !== "mouse") stop(); });
  // A long press would otherwise open the image's context menu (save, share) over the clip.
  el.addEventListener("contextmenu", (e) => { if (playing || hold) e.preventDefault(); });
  button.addEventListener("click", () => (playing ? stop() : start()));

  return {
    el, button,
    toggle: () => (playing ? stop() : start()),
    destroy() {
      stop();
      clip.removeAttribute("src");
      clip.load();
    },
  };
}
