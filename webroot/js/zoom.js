// The viewer's picture size and zoom (docs/ui.md "Viewer: size and zoom").
// - viewSize(): the derivative that covers this screen in device pixels: "preview" (1440 px) or
//   "large" (2560 px, made on first request); a 2x laptop screen gets "large".
// - zoomable(img, opts): wheel (about the pointer), pinch (two fingers, about their midpoint) and
//   double-click (fit ⇄ the original's pixels) zoom the picture; dragging pans it while zoomed;
//   Esc (the viewer asks reset()) or zooming back to 1 returns to the fitted view. The first zoom
//   past the fitted size swaps in the original (when the browser can show it and it is not
//   huge), otherwise the large size, so a zoomed photo is sharp.
// The picture stays the viewer's <img> (object-fit: contain); zoom is a CSS transform on it, so
// no layout runs while zooming and the CSP needs nothing inline (CSSOM only).

const PREVIEW_PX = 1440;
const MAX_ORIGINAL_PIXELS = 50e6; // above this a browser decode costs hundreds of MB: zoom the large size
const SHOWABLE = new Set(["image/jpeg", "image/png", "image/webp", "image/gif", "image/avif"]);
const WHEEL_STEP = 0.0025; // scale factor per wheel delta pixel (exponential, so in and out match)

/** "preview" or "large": the smallest derivative that covers the screen's device pixels. */
export function viewSize() {
  const px = Math.max(screen.width || 0, innerWidth, innerHeight) * (devicePixelRatio || 1);
  return px > PREVIEW_PX * 1.05 ? "large" : "preview";
}

/**
 * Make the viewer's img zoomable. opts: width, height (the photo's upright size), mime,
 * original (URL), large (URL of the large derivative, for originals a browser cannot show).
 * Returns {reset(), destroy(), zoomed} (zoomed is a getter).
 */
export function zoomable(img, opts) {
  let s = 1, tx = 0, ty = 0;
  let sharp = false;        // the original (or large) has been asked for
  let drag = null;          // {id, x, y, tx, ty} while panning
  const touches = new Map(); // pointerId → {x, y}
  let pinch = null;         // {d, s, cx, cy}
  const ratio = opts.width && opts.height ? opts.width / opts.height : (img.naturalWidth / img.naturalHeight) || 1;
  img.classList.add("zoomable");

  // The fitted picture inside the img box (object-fit: contain), in box pixels.
  function content() {
    const W = img.clientWidth, H = img.clientHeight;
    const cw = Math.min(W, H * ratio), ch = cw / ratio;
    return { W, H, cw, ch, ox: (W - cw) / 2, oy: (H - ch) / 2 };
  }
  // The largest useful scale: the original's pixels at one device pixel each, and at least 4x.
  function maxScale() {
    const { cw } = content();
    return Math.max(4, ((opts.width || cw) / Math.max(1, cw * (devicePixelRatio || 1))) * 2);
  }
  function clamp() {
    const { W, H, cw, ch, ox, oy } = content();
    const axis = (t, size, c, o) => (s * c <= size ? (size - s * c) / 2 - s * o : Math.min(-s * o, Math.max(size - s * (o + c), t)));
    tx = axis(tx, W, cw, ox);
    ty = axis(ty, H, ch, oy);
  }
  function apply() {
    if (s <= 1.001) { s = 1; tx = 0; ty = 0; } else clamp();
    img.style.transform = s === 1 ? "" : `translate(${tx}px, ${ty}px) scale(${s})`;
    img.dataset.zoom = s.toFixed(2);
    img.classList.toggle("zoomed", s > 1);
    if (s > 1 && !sharp) sharpen();
  }
  /** Zoom to scale `to` keeping the point (cx, cy) (client coordinates) where it is. */
  function zoomAt(to, cx, cy) {
    const r = img.getBoundingClientRect(); // transformed: r.left = box left + tx
    const box = { left: r.left - tx, top: r.top - ty };
    const px = cx - box.left, py = cy - box.top;
    const next = Math.min(maxScale(), Math.max(1, to));
    const bx = (px - tx) / s, by = (py - ty) / s;
    tx = px - next * bx;
    ty = py - next * by;
    s = next;
    apply();
  }
  // The first zoom: swap in the original once it has decoded (no flash of an empty image).
  function sharpen() {
    sharp = true;
    const useOriginal = SHOWABLE.has(opts.mime) && (opts.width || 0) * (opts.height || 0) <= MAX_ORIGINAL_PIXELS;
    const url = useOriginal ? opts.original : opts.large;
    if (!url || img.src.endsWith(url)) return;
    const hi = new Image();
    hi.src = url;
    hi.decode().then(() => { if (img.isConnected) { img.srcset = ""; img.src = url; } })
      .catch(() => { /* not decodable here (a codec the browser lacks): the preview stays */ });
  }

  const onWheel = (e) => {
    e.preventDefault();
    zoomAt(s * Math.exp(-e.deltaY * WHEEL_STEP), e.clientX, e.clientY);
  };
  const onDbl = (e) => {
    e.preventDefault();
    if (s > 1) { s = 1; apply(); return; }
    // One original pixel per device pixel (at least twice the fitted size).
    const { cw } = content();
    zoomAt(Math.max(2, (opts.width || cw * 2) / (cw * (devicePixelRatio || 1))), e.clientX, e.clientY);
  };
  const dist = () => { const [a, b] = [...touches.values()]; return Math.hypot(a.x - b.x, a.y - b.y); };
  const mid = () => { const [a, b] = [...touches.values()]; return { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 }; };
  const onDown = (e) => {
    if (e.pointerType === "mouse" && e.button !== 0) return;
    touches.set(e.pointerId, { x: e.clientX, y: e.clientY });
    if (touches.size === 2) { drag = null; pinch = { d: dist(), s }; return; }
    if (s > 1) {
      e.preventDefault();
      drag = { id: e.pointerId, x: e.clientX, y: e.clientY, tx, ty };
      img.setPointerCapture?.(e.pointerId);
    }
  };
  const onMove = (e) => {
    if (touches.has(e.pointerId)) touches.set(e.pointerId, { x: e.clientX, y: e.clientY });
    if (pinch && touches.size === 2) {
      const m = mid();
      zoomAt(pinch.s * (dist() / pinch.d), m.x, m.y);
      return;
    }
    if (drag && drag.id === e.pointerId) {
      tx = drag.tx + (e.clientX - drag.x);
      ty = drag.ty + (e.clientY - drag.y);
      apply();
    }
  };
  const onUp = (e) => {
    touches.delete(e.pointerId);
    if (touches.size < 2) pinch = null;
    if (drag && drag.id === e.pointerId) drag = null;
  };
  const onResize = () => apply();
  img.addEventListener("wheel", onWheel, { passive: false });
  img.addEventListener("dblclick", onDbl);
  img.addEventListener("pointerdown", onDown);
  img.addEventListener("pointermove", onMove);
  img.addEventListener("pointerup", onUp);
  img.addEventListener("pointercancel", onUp);
  img.addEventListener("dragstart", (e) => e.preventDefault());
  addEventListener("resize", onResize);

  return {
    get zoomed() { return s > 1; },
    /** Back to the fitted view (Esc). */
    reset() { s = 1; apply(); },
    destroy() { removeEventListener("resize", onResize); },
  };
}
