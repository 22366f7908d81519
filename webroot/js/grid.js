// The photo grid used by every photo list: optional day sections, a justified layout done in
// CSS (flex-grow proportional to aspect ratio, so no JS measuring), cursor-following infinite
// scroll, and a selection mode with an action bar.
import { h, icon, fmtDay, dayOf, plural, showError, fmtDuration } from "./ui.js";
import { thumbUrl } from "./api.js";

const ratio = (p) => {
  const r = p.width && p.height ? p.width / p.height : 1;
  return Math.min(2.5, Math.max(0.5, r)).toFixed(3);
};
export const isVideo = (p) => p.kind === "video";
export const altText = (p) => p.description || p.filename || `${isVideo(p) ? "Video" : "Photo"} from ${dayOf(p)}`;
/** What a screen reader hears for a tile: the kind first ("Video, 0:12, …"), then the name. */
export const tileLabel = (p) => isVideo(p) ? `Video, ${fmtDuration(p.duration) || "unknown length"}, ${altText(p)}`
  : p.motion ? `Motion photo, ${altText(p)}` : altText(p);

// Drawn over the poster: a play icon and the length for a video, a small badge for a motion photo.
function kindBadge(p) {
  if (isVideo(p)) return h("span.badge.video", { testid: "video-badge", "aria-hidden": "true" }, icon("play", true), fmtDuration(p.duration));
  if (p.motion) return h("span.badge.motion", { testid: "motion-badge", "aria-hidden": "true", title: "Motion photo" }, icon("motion"));
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
    this.el = h("div.grid", { testid: "photo-grid" });
    this.body = h("div");
    this.emptyEl = h("p.empty", { hidden: true }, opts.empty || "No photos here yet.");
    this.sentinel = h("div.sentinel", { "aria-hidden": "true" });
    this.el.append(this.body, this.emptyEl, this.sentinel);
    this.bar = h("div.selection-bar", { testid: "selection-bar", hidden: true });
    this.el.append(this.bar);
    this.el.addEventListener("click", (e) => this.onClick(e));
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
    this.bar.remove();
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
    for (const [tiles, f] of frag) tiles.append(f); // one insertion per section: fewer reflows
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
    const img = h("img", { alt: altText(p), loading: "lazy", decoding: "async", width: p.width || 256, height: p.height || 256 });
    const src = this.opts.thumb ? this.opts.thumb(p) : thumbUrl(p.id);
    if (typeof src === "string") img.src = src;
    else src.then((u) => { img.src = u; }).catch(() => img.classList.add("broken"));
    const t = h("div.tile", { testid: "photo-tile", "data-photo-id": p.id },
      h("a", { href: `#/photo/${encodeURIComponent(p.id)}`, "aria-label": tileLabel(p) }, img),
      h("button.check", { type: "button", "aria-label": "Select", "aria-pressed": "false" }),
      kindBadge(p),
      p.favourite ? h("span.fav", { title: "Favourite" }, icon("heart", true)) : null,
      this.opts.extra ? this.opts.extra(p) : null);
    // Through CSSOM, not a style="" attribute: the CSP refuses inline style attributes.
    t.style.setProperty("--r", ratio(p));
    return t;
  }

  onClick(e) {
    const tile = e.target.closest(".tile");
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
    if (old.favourite && !fav) tile.append(h("span.fav", { title: "Favourite" }, icon("heart", true)));
    if (!old.favourite && fav) fav.remove();
    if (this.opts.onlyFavourites && !old.favourite) this.remove([p.id]);
  }

  remove(ids) {
    for (const id of ids) {
      const t = this.tileEl(id);
      if (t) {
        const sec = t.closest("section");
        t.remove();
        if (!sec.lastElementChild.children.length) sec.remove();
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
    this.selBtn = h("button", { type: "button", testid: "select-toggle", "aria-pressed": "false", onclick: () => this.setSelecting(!this.selecting) }, "Select");
    return this.selBtn;
  }

  setSelecting(on) {
    this.selecting = on;
    this.el.classList.toggle("selecting", on);
    if (this.selBtn) { this.selBtn.setAttribute("aria-pressed", String(on)); this.selBtn.textContent = on ? "Done" : "Select"; }
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
    const t = this.tileEl(id);
    if (!t) return;
    t.classList.toggle("selected", on);
    t.querySelector(".check").setAttribute("aria-pressed", String(on));
  }

  renderBar() {
    const n = this.selected.size;
    this.bar.hidden = !this.selecting;
    if (this.bar.parentNode !== document.body && this.selecting) document.body.append(this.bar);
    this.bar.replaceChildren(
      h("span", { "aria-live": "polite" }, n ? `${plural(n, "photo")} selected` : "Tap photos to select"),
      ...(this.opts.actions || []).map((a) => h("button" + (a.danger ? ".danger" : ""), {
        type: "button", testid: a.testid, disabled: !n,
        onclick: async () => {
          const ids = [...this.selected];
          try { await a.run(ids, this); } catch (err) { showError(err); }
        },
      }, a.label)),
      h("button", { type: "button", testid: "selection-cancel", onclick: () => this.setSelecting(false) }, "Cancel"));
  }
}
