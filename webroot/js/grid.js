// The photo grid used by every photo list: optional day sections, a justified layout done in
// CSS (flex-grow proportional to aspect ratio), cursor-following infinite scroll, and a
// selection mode with an action bar. Grouped grids (the timeline) are dense: small days share a
// row, each under its own date, and a row's days grow together so their photos keep one height
// (style.css "Dense timeline"; the only number measured is the grid's width, per resize). On phones (≤ 600 px, style.css) the same
// markup becomes a square grid of 3–5 columns (the density button, or a pinch), and the gestures
// below apply: long-press starts selecting, dragging after it extends the selection.
import { h, icon, fmtDay, dayOf, plural, showError, fmtDuration } from "./ui.js";
import { thumbUrl } from "./api.js";
import { t } from "./i18n.js";
import { PhoneScrubber } from "./scrubber.js";
import { attachSelection } from "./selection.js";

const LONG_PRESS_MS = 450;
const SLOP_PX = 10; // a finger that moves further before the long-press fires is scrolling
const COLS_KEY = "octopus.grid.columns";
const ACTION_ICONS = { "selection-add-album": "album", "selection-favourite": "heart", "selection-trash": "trash",
  "selection-restore": "left", "selection-delete": "trash", "selection-remove-from-album": "close" };

/** Phone grid density: 3, 4 or 5 a row, or null (by width, style.css). Shared by every grid. */
export function storedColumns() {
  const n = Number(localStorage.getItem(COLS_KEY));
  return n >= 3 && n <= 5 ? n : null;
}
function applyColumns(n) {
  if (n) { localStorage.setItem(COLS_KEY, String(n)); document.documentElement.style.setProperty("--cols", String(n)); }
}
applyColumns(storedColumns());
const currentColumns = () => Number(getComputedStyle(document.documentElement).getPropertyValue("--cols")) || 4;

const ratio = (p) => {
  const r = p.width && p.height ? p.width / p.height : 1;
  return Math.min(2.5, Math.max(0.5, r)).toFixed(3);
};
export const isVideo = (p) => p.kind === "video";
export const altText = (p) => p.description || p.filename || t(isVideo(p) ? "grid.videoFrom" : "grid.photoFrom", { day: dayOf(p) });
/** What a screen reader hears for a tile: the kind first ("Video, 0:12, …"), then the name. */
export const tileLabel = (p) => isVideo(p) ? t("grid.videoLabel", { length: fmtDuration(p.duration) || t("grid.unknownLength"), name: altText(p) })
  : p.motion ? t("grid.motionLabel", { name: altText(p) }) : altText(p);

// Drawn over the poster: a play icon and the length for a video, a small badge for a motion photo.
function kindBadge(p) {
  if (isVideo(p)) return h("span.badge.video", { testid: "video-badge", "aria-hidden": "true" }, icon("play", true), fmtDuration(p.duration));
  if (p.motion) return h("span.badge.motion", { testid: "motion-badge", "aria-hidden": "true", title: t("grid.motion") }, icon("motion"));
  return null;
}

export class PhotoGrid {
  /**
   * opts: grouped (day sections), actions ([{label, testid, run(ids), danger}] for selection),
   * thumb(photo) → url or Promise<url> (vault), onOpen(photo) (instead of #/photo/<id>),
   * empty (text when nothing to show), extra(photo) → node shown under the tile.
   */
  constructor(opts = {}) {
    this.opts = opts;
    this.byId = new Map();
    this.selected = new Set();
    this.selecting = false;
    this.cursor = undefined;
    this.done = false;
    this.loading = null;
    this.el = h(opts.grouped ? "div.grid.grouped" : "div.grid", { testid: "photo-grid" });
    this.body = h("div.sections");
    this.emptyEl = h("p.empty", { hidden: true }, opts.empty || t("grid.empty"));
    this.sentinel = h("div.sentinel", { "aria-hidden": "true" });
    this.el.append(this.body, this.emptyEl, this.sentinel);
    this.bar = h("div.selection-bar", { testid: "selection-bar", hidden: true, role: "toolbar", "aria-label": t("grid.selection") });
    this.el.append(this.bar);
    if (opts.actions) this.el.prepend(this.densityButton());
    this.el.addEventListener("click", (e) => this.onClick(e));
    this.el.addEventListener("keydown", (e) => this.onKey(e));
    this.gestures();
    if (opts.actions) attachSelection(this); // ranges, day headers, rubber band, Ctrl/⌘-A, Esc (selection.js)
    if (opts.grouped) {
      this.scrubber = new PhoneScrubber(this);
      // A day wider than the grid wraps onto rows of its own, and only then is its last row kept
      // from stretching (style.css .day.multi): that needs the grid's width, read per resize.
      this.width = 0;
      this.resizer = new ResizeObserver((entries) => {
        const w = Math.floor(entries[entries.length - 1].contentRect.width);
        if (!w || w === this.width) return;
        const css = getComputedStyle(this.body);
        this.rowH = parseFloat(css.getPropertyValue("--row-h")) || 190;
        this.gap = parseFloat(css.getPropertyValue("--gap")) || 4;
        this.width = w;
        for (const t of this.body.querySelectorAll(".day > .tiles")) this.fitDay(t);
      });
      this.resizer.observe(this.body);
    }
  }

  /** A day's natural width at the row height (style.css --w, --n), and whether it needs rows of its own. */
  fitDay(tiles) {
    const sec = tiles.parentNode;
    if (!sec) return;
    let w = 0;
    for (const t of tiles.children) w += Number(t.style.getPropertyValue("--r")) || 1;
    sec.style.setProperty("--n", String(tiles.children.length));
    sec.style.setProperty("--w", w.toFixed(3));
    if (this.width) sec.classList.toggle("multi", w * this.rowH + (tiles.children.length - 1) * this.gap > this.width);
  }

  count(tiles) {
    if (this.opts.grouped) this.fitDay(tiles); else countTiles(tiles);
  }

  // Phones: the density button (shown by style.css at ≤ 600 px) cycles 3 → 4 → 5 a row.
  densityButton() {
    const b = h("button.density", { type: "button", testid: "grid-density" });
    const label = () => {
      const n = currentColumns();
      b.replaceChildren(icon("photos"), h("span", String(n)));
      b.setAttribute("aria-label", t("grid.densityLabel", { count: n }));
      b.title = t("grid.densityTitle");
    };
    b.addEventListener("click", () => { applyColumns({ 3: 4, 4: 5, 5: 3 }[currentColumns()] || 4); label(); });
    this.updateDensity = label;
    requestAnimationFrame(() => {
      // Once the view is on screen: sit in its header beside Select rather than take a row.
      // (A walk up, not :has(), which older Safari cannot parse.)
      for (let n = this.el.parentElement; n; n = n.parentElement) {
        const head = [...n.children].find((c) => c.matches(".view-head"));
        if (head) { head.querySelector(".tools")?.prepend(b); break; }
      }
      label(); // the media query applies now
    });
    return b;
  }

  /**
   * Touch gestures (pointer events, so Chrome for Android and Safari for iOS alike):
   * - long-press (LONG_PRESS_MS, no movement) on a tile selects it and starts selection mode;
   * - dragging after that extends the selection from the pressed tile to the one under the finger
   *   (elementFromPoint), in display order; the page does not scroll while dragging;
   * - two fingers pinching change the density (spread: fewer, bigger tiles).
   * Mouse keeps click / Shift / Ctrl as before.
   */
  gestures() {
    const touches = new Map(); // pointerId → {x, y}
    let press = null; // {id, x, y, timer, fired, anchor}
    let pinch = null; // {d, cols}
    const cancelPress = () => { if (press) clearTimeout(press.timer); press = null; };
    const dist = () => { const [a, b] = [...touches.values()]; return Math.hypot(a.x - b.x, a.y - b.y); };
    this.el.addEventListener("pointerdown", (e) => {
      if (e.pointerType === "mouse") return;
      touches.set(e.pointerId, { x: e.clientX, y: e.clientY });
      if (touches.size === 2) { cancelPress(); pinch = { d: dist(), cols: currentColumns() }; return; }
      const tile = e.target.closest(".tile");
      if (!tile || !this.opts.actions || e.target.closest(".extra")) return;
      this.suppressClick = false;
      press = { id: e.pointerId, x: e.clientX, y: e.clientY, fired: false, anchor: tile.dataset.photoId, last: tile.dataset.photoId };
      press.timer = setTimeout(() => {
        press.fired = true;
        this.suppressClick = true; // the click that ends this press must not open or re-toggle
        if (!this.selected.has(press.anchor)) this.toggle(press.anchor);
        press.base = new Set(this.selected);
        // A guarded nudge where the device has one (Android); iOS has no vibrate and needs none.
        if (typeof navigator.vibrate === "function") navigator.vibrate(15);
      }, LONG_PRESS_MS);
    });
    this.el.addEventListener("pointermove", (e) => {
      if (touches.has(e.pointerId)) touches.set(e.pointerId, { x: e.clientX, y: e.clientY });
      if (pinch && touches.size === 2) {
        const r = dist() / pinch.d;
        const cols = r > 1.3 ? pinch.cols - 1 : r < 0.77 ? pinch.cols + 1 : pinch.cols;
        if (cols >= 3 && cols <= 5 && cols !== currentColumns()) { applyColumns(cols); this.updateDensity?.(); }
        return;
      }
      if (!press || press.id !== e.pointerId) return;
      if (!press.fired) {
        if (Math.hypot(e.clientX - press.x, e.clientY - press.y) > SLOP_PX) cancelPress();
        return;
      }
      const tile = document.elementFromPoint(e.clientX, e.clientY)?.closest(".tile");
      if (tile && this.el.contains(tile) && tile.dataset.photoId !== press.last) {
        press.last = tile.dataset.photoId;
        this.selectRange(press.base, press.anchor, press.last);
      }
    });
    const end = (e) => {
      touches.delete(e.pointerId);
      if (touches.size < 2) pinch = null;
      if (press && press.id === e.pointerId) cancelPress();
    };
    this.el.addEventListener("pointerup", end);
    this.el.addEventListener("pointercancel", end);
    // Once the long-press fired the finger drags a selection, not the page. touchmove is the one
    // event both engines let a page cancel scrolling from (touch-action is fixed at touchstart).
    this.el.addEventListener("touchmove", (e) => { if ((press && press.fired) || pinch) e.preventDefault(); }, { passive: false });
    // No link menu / image callout for the press that selected.
    this.el.addEventListener("contextmenu", (e) => { if (press || this.suppressClick) e.preventDefault(); });
  }

  /** The selection `base` plus every tile from `a` to `b` in display order (a long-press drag). */
  selectRange(base, a, b) {
    const order = [...this.body.querySelectorAll(".tile")].map((t) => t.dataset.photoId);
    let [i, j] = [order.indexOf(a), order.indexOf(b)];
    if (i < 0 || j < 0) return;
    if (i > j) [i, j] = [j, i];
    const want = new Set(base);
    for (const id of order.slice(i, j + 1)) want.add(id);
    for (const id of [...this.selected]) if (!want.has(id)) { this.selected.delete(id); this.markTile(id, false); }
    for (const id of want) if (!this.selected.has(id)) { this.selected.add(id); this.markTile(id, true); }
    this.renderBar();
  }

  // Keyboard: x or Space on a focused tile toggles it (the long-press of the keyboard); Esc leaves
  // selection mode. Enter still opens the photo.
  onKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const tile = e.target.closest?.(".tile");
    if (tile && this.opts.actions && (e.key === "x" || e.key === " ") && e.target.matches(".tile > a")) {
      e.preventDefault();
      this.toggle(tile.dataset.photoId);
    } else if (e.key === "Escape" && this.selecting) {
      e.preventDefault();
      this.setSelecting(false);
    }
  }

  /** Follow a cursor: fetchPage(cursor) → {photos?, days?, cursor}. */
  follow(fetchPage) {
    this.fetchPage = fetchPage;
    this.io = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) this.more();
    }, { rootMargin: "1200px 0px" });
    this.io.observe(this.sentinel);
    return this.more();
  }

  more() {
    if (this.done || this.loading || !this.fetchPage) return this.loading;
    this.sentinel.classList.add("loading");
    this.loading = this.fetchPage(this.cursor).then((page) => {
      if (page.days) for (const d of page.days) this.add(d.photos || [], d.date);
      else this.add(page.photos || []);
      this.cursor = page.cursor;
      if (!page.cursor) this.finish();
    }).catch((err) => { this.finish(); showError(err); })
      .finally(() => {
        this.loading = null;
        this.sentinel.classList.remove("loading");
        this.updateEmpty();
        // Keep filling while the sentinel is still on screen (tall windows, short pages).
        if (!this.done && this.sentinel.getBoundingClientRect().top < innerHeight + 1200) requestAnimationFrame(() => this.more());
      });
    return this.loading;
  }

  finish() {
    this.done = true;
    if (this.io) this.io.disconnect();
  }

  destroy() {
    this.finish();
    this.resizer?.disconnect();
    this.bar.remove();
    this.scrubber?.destroy();
    document.body.classList.remove("has-selection-bar");
  }

  /** Load pages until pred() holds or the list ends (month scrubber). */
  async loadUntil(pred) {
    while (!pred() && !this.done) await (this.more() || Promise.resolve());
  }

  /** Append photos (to the day section `date`, or by each photo's day when grouped). */
  add(photos, date, label) {
    const frag = new Map();
    for (const p of photos) {
      if (this.byId.has(p.id)) continue;
      this.byId.set(p.id, p);
      const tiles = this.tilesFor(this.opts.grouped ? date || dayOf(p) : "", label);
      if (!frag.has(tiles)) frag.set(tiles, document.createDocumentFragment());
      frag.get(tiles).append(this.tile(p));
    }
    for (const [tiles, f] of frag) { tiles.append(f); this.count(tiles); } // one insertion per section: fewer reflows
    this.updateEmpty();
  }

  /** Put a new photo where it belongs (newest first), e.g. right after an upload. */
  insert(p) {
    if (this.byId.has(p.id)) return;
    const day = dayOf(p);
    if (this.opts.grouped && !this.done) {
      const last = this.body.lastElementChild;
      if (last && day < last.dataset.date) return; // not loaded yet: paging will bring it
    }
    this.byId.set(p.id, p);
    const tiles = this.tilesFor(this.opts.grouped ? day : "");
    const tile = this.tile(p);
    const after = [...tiles.children].find((t) => (this.byId.get(t.dataset.photoId).taken_at || "") < (p.taken_at || ""));
    tiles.insertBefore(tile, after || null);
    this.count(tiles);
    this.updateEmpty();
  }

  tilesFor(date, label) {
    let sec = this.body.querySelector(`[data-date="${date}"]`);
    if (sec) return sec.lastElementChild;
    const tiles = h("div.tiles");
    sec = date
      ? h("section.day", { testid: "day-section", "data-date": date }, h("h3", label || fmtDay(date)), tiles)
      : h("section.flat", { "data-date": "" }, tiles);
    // Sections stay sorted newest first even when an upload creates one out of order.
    const next = [...this.body.children].find((s) => s.dataset.date < date);
    this.body.insertBefore(sec, next || null);
    return tiles;
  }

  tile(p) {
    const img = h("img", { alt: altText(p), loading: "lazy", decoding: "async", draggable: "false", width: p.width || 256, height: p.height || 256 });
    const src = this.opts.thumb ? this.opts.thumb(p) : thumbUrl(p.id);
    const set = this.opts.thumb ? "" : thumbSrcset(p);
    if (set) {
      // Before src, so the browser never fetches the 1x first only to switch.
      img.sizes = `auto, ${Math.round(Number(ratio(p)) * 190)}px`;
      img.srcset = set;
    }
    if (typeof src === "string") img.src = src;
    else src.then((u) => { img.src = u; }).catch(() => img.classList.add("broken"));
    const tile = h("div.tile", { testid: "photo-tile", "data-photo-id": p.id },
      h("a", { href: `#/photo/${encodeURIComponent(p.id)}`, "aria-label": tileLabel(p), draggable: "false" }, img),
      // Not a Tab stop: a tile is one stop (its link); x or Space there selects (onKey).
      h("button.check", { type: "button", "aria-label": t("grid.select"), "aria-pressed": "false", tabindex: "-1" }),
      kindBadge(p),
      p.favourite ? h("span.fav", { title: t("grid.favourite") }, icon("heart", true)) : null,
      this.opts.extra ? this.opts.extra(p) : null);
    // Through CSSOM, not a style="" attribute: the CSP refuses inline style attributes.
    tile.style.setProperty("--r", ratio(p));
    return tile;
  }

  onClick(e) {
    const tile = e.target.closest(".tile");
    if (this.suppressClick) { this.suppressClick = false; if (tile) { e.preventDefault(); return; } }
    if (!tile || e.target.closest(".extra")) return;
    const id = tile.dataset.photoId;
    const onCheck = e.target.closest(".check");
    if (this.selecting || onCheck || e.shiftKey || e.ctrlKey || e.metaKey) {
      if (!this.opts.actions) return;
      e.preventDefault();
      this.toggle(id);
    } else if (this.opts.onOpen) {
      e.preventDefault();
      this.opts.onOpen(this.byId.get(id));
    }
  }

  /** Photos in display order, for the viewer's prev/next. */
  photos() {
    return [...this.body.querySelectorAll(".tile")].map((t) => this.byId.get(t.dataset.photoId));
  }

  update(p) {
    const old = this.byId.get(p.id);
    if (!old) return;
    Object.assign(old, p);
    const tile = this.tileEl(p.id);
    if (!tile) return;
    const fav = tile.querySelector(".fav");
    if (old.favourite && !fav) tile.append(h("span.fav", { title: t("grid.favourite") }, icon("heart", true)));
    if (!old.favourite && fav) fav.remove();
    if (this.opts.onlyFavourites && !old.favourite) this.remove([p.id]);
    // Archived photos leave the timeline and memories (grouped grids), unarchived the Archive.
    if (old.state === "archived" && (this.opts.hidesArchived ?? this.opts.grouped)) this.remove([p.id]);
    if (this.opts.onlyArchived && old.state !== "archived") this.remove([p.id]);
  }

  remove(ids) {
    for (const id of ids) {
      const t = this.tileEl(id);
      if (t) {
        const sec = t.closest("section");
        t.remove();
        if (!sec.lastElementChild.children.length) sec.remove(); else this.count(sec.lastElementChild);
      }
      this.byId.delete(id);
      this.selected.delete(id);
    }
    this.renderBar();
    this.updateEmpty();
  }

  tileEl(id) { return this.body.querySelector(`.tile[data-photo-id="${CSS.escape(id)}"]`); }

  updateEmpty() { this.emptyEl.hidden = this.byId.size > 0 || !!this.loading; }

  // Selection mode
  selectButton() {
    if (!this.opts.actions) return null;
    this.selBtn = h("button", { type: "button", testid: "select-toggle", "aria-pressed": "false", onclick: () => this.setSelecting(!this.selecting) }, t("grid.select"));
    return this.selBtn;
  }

  setSelecting(on) {
    this.selecting = on;
    this.el.classList.toggle("selecting", on);
    if (this.selBtn) { this.selBtn.setAttribute("aria-pressed", String(on)); this.selBtn.textContent = on ? t("grid.done") : t("grid.select"); }
    if (!on) {
      for (const id of this.selected) this.markTile(id, false);
      this.selected.clear();
    }
    this.renderBar();
  }

  toggle(id) {
    if (!this.selecting) this.setSelecting(true);
    const on = !this.selected.has(id);
    if (on) this.selected.add(id); else this.selected.delete(id);
    this.markTile(id, on);
    this.renderBar();
  }

  markTile(id, on) {
    const tile = this.tileEl(id);
    if (!tile) return;
    tile.classList.toggle("selected", on);
    tile.querySelector(".check").setAttribute("aria-pressed", String(on));
    // The link is the tile's one Tab stop, so it says whether the tile is selected.
    const p = this.byId.get(id);
    if (p) tile.querySelector(":scope > a").setAttribute("aria-label", on ? t("grid.tileSelected", { name: tileLabel(p) }) : tileLabel(p));
  }

  renderBar() {
    const n = this.selected.size;
    this.bar.hidden = !this.selecting;
    // Phones: the page gets room under its last row so the bar never covers it (style.css).
    document.body.classList.toggle("has-selection-bar", this.selecting);
    if (this.bar.parentNode !== document.body && this.selecting) document.body.append(this.bar);
    // Icon and label: the label is visually hidden on phones (style.css) but stays the accessible name.
    const face = (ico, label) => [ico ? icon(ico) : null, h("span.label", label)];
    this.bar.replaceChildren(
      // "3 photos selected"; phones drop the noun (style.css) to leave room for the buttons.
      h("span.count", { "aria-live": "polite" }, n ? [String(n), h("span.noun", t("grid.selectedNoun", { count: n })), t("grid.selectedWord", { count: n })] : t("grid.tapToSelect")),
      ...(this.opts.actions || []).map((a) => h("button" + (a.danger ? ".danger" : ""), {
        type: "button", testid: a.testid, disabled: !n, title: a.label,
        onclick: async () => {
          const ids = [...this.selected];
          try { await a.run(ids, this); } catch (err) { showError(err); }
        },
      }, face(a.icon || ACTION_ICONS[a.testid], a.label))),
      h("button", { type: "button", testid: "selection-cancel", title: t("common.cancel"), onclick: () => this.setSelecting(false) }, face("close", t("common.cancel"))));
  }
}

/** How many tiles a day holds, for the phone layout that packs small days side by side (style.css). */
function countTiles(tiles) { tiles.parentNode?.style.setProperty("--n", String(tiles.children.length)); }

// Hi-DPI thumbnails: the 256 px thumb and the 512 px thumb2x (made on first request) as width
// candidates, so the browser picks by the tile's size times devicePixelRatio. sizes=auto (lazy
// images) gives it the laid-out width; the fallback is the width at the row height.
const THUMB_PX = 256, THUMB2X_PX = 512;
function candidateWidth(p, longSide) {
  const w = p.width || longSide, hgt = p.height || longSide;
  const scale = Math.min(1, longSide / Math.max(w, hgt)); // never larger than the original
  return Math.max(1, Math.round(w * scale));
}
export function thumbSrcset(p) {
  const a = candidateWidth(p, THUMB_PX), b = candidateWidth(p, THUMB2X_PX);
  return b > a ? `${thumbUrl(p.id)} ${a}w, ${thumbUrl(p.id, "thumb2x")} ${b}w` : "";
}
