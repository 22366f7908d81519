// Windowing for a grouped PhotoGrid (the timeline): day sections far from the viewport leave the
// DOM, a run of them replaced by one spacer of the same height, and come back when scrolling
// brings them near. Without it a 10,000-item timeline keeps ~45,000 elements and every style or
// layout pass pays for all of them; with it the page stays under 3,000 (issue 10) whatever the
// library's size. The sections themselves are kept (detached, tiles and all), so a tile keeps
// its state; selection lives in grid.selected (data), and the grid's DOM lookups are taught here
// to see detached tiles too (tileEl, photos, tilesFor), so grid.js needs no knowledge of this.

const FAR = 2;          // screens beyond the viewport: sections further away leave the DOM
const NEAR = 1.5;       // screens: a spacer closer than this gives its sections back (hysteresis)
const MIN_TILES = 200;  // fewer tiles in the DOM than this: nothing to gain, leave them all

export class SectionWindow {
  constructor(grid) {
    this.grid = grid;
    this.body = grid.body;
    this.detached = new Map(); // photo id → its tile, while its section is out of the DOM
    this.frame = 0;
    this.width = innerWidth;
    this.onScroll = () => this.schedule();
    this.onResize = () => {
      // A new width reflows every row: the stored heights are wrong, so start again from all.
      if (innerWidth !== this.width) { this.width = innerWidth; this.restoreAll(); }
      this.schedule();
    };
    addEventListener("scroll", this.onScroll, { passive: true, capture: true });
    addEventListener("resize", this.onResize);
    this.wrap();
  }

  // The grid's lookups, taught about spacers (instance methods, not grid.js: see the top).
  wrap() {
    const g = this.grid;
    const { tileEl, tilesFor, add, destroy } = g;
    g.tileEl = (id) => {
      const t = tileEl.call(g, id) || this.detached.get(id);
      return t && t.parentNode ? t : null; // a detached tile the grid removed meanwhile: gone
    };
    g.photos = () => this.tiles().map((t) => g.byId.get(t.dataset.photoId)).filter(Boolean);
    // A photo for a day inside a spacer (an upload, a move): bring that run back first, so the
    // grid finds the day's section instead of making a second one.
    g.tilesFor = (date, label) => {
      for (const s of this.spacers()) if (date && s.dataset.oldest <= date && date <= s.dataset.date) this.restore(s, 0, s.sections.length);
      return tilesFor.call(g, date, label);
    };
    // A page just landed: window it before the next frame (the DOM never holds a page too many),
    // once for the page, not once per day (each update lays the grid out).
    g.add = (...args) => {
      const r = add.apply(g, args);
      if (!this.pending) { this.pending = true; queueMicrotask(() => { this.pending = false; this.update(); }); }
      return r;
    };
    g.destroy = () => { this.destroy(); return destroy.call(g); };
    g.window = this;
  }

  spacers() { return [...this.body.children].filter((c) => c.sections); }

  /** Every tile in display order, in the DOM or not. */
  tiles() {
    const out = [];
    for (const c of this.body.children) {
      for (const sec of c.sections || [c]) out.push(...sec.querySelectorAll(".tile"));
    }
    return out;
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => { this.frame = 0; this.update(); });
  }

  update() {
    if (!this.body.isConnected) return;
    const vh = innerHeight;
    const far = FAR * vh, near = NEAR * vh;
    // Bring back what is near: the part of each spacer that overlaps the near band.
    for (const s of this.spacers()) {
      const r = s.getBoundingClientRect();
      if (r.bottom < -near || r.top > vh + near) continue;
      let y = r.top, lo = -1, hi = -1;
      s.sections.forEach((sec, i) => {
        const top = y, bottom = (y += sec.windowHeight);
        if (bottom >= -near && top <= vh + near) { if (lo < 0) lo = i; hi = i + 1; }
      });
      if (lo < 0) continue;
      this.restore(s, lo, hi);
    }
    // Send away what is far: runs of consecutive far sections (and spacers) become one spacer.
    if (this.body.getElementsByClassName("tile").length <= MIN_TILES) return;
    const kids = [...this.body.children];
    const rects = kids.map((c) => c.getBoundingClientRect());
    const isFar = (i) => kids[i].sections || rects[i].bottom < -far || rects[i].top > vh + far;
    const runs = [];
    for (let i = 0; i < kids.length; i++) {
      if (!isFar(i)) continue;
      let j = i;
      while (j + 1 < kids.length && isFar(j + 1)) j++;
      if (kids.slice(i, j + 1).some((c) => !c.sections)) runs.push([i, j]);
      i = j;
    }
    // Bottom up, so each correction leaves the runs above where they were measured.
    for (const [i, j] of runs.reverse()) this.collapse(kids.slice(i, j + 1), rects.slice(i, j + 2), rects);
  }

  /** Replace nodes (sections and spacers, consecutive) by one spacer of the same height. */
  collapse(nodes, rects) {
    const before = this.body.getBoundingClientRect().height;
    const sections = [];
    nodes.forEach((n, k) => {
      if (n.sections) { sections.push(...n.sections); return; }
      // Its share of the height: to the next node's top (rows of small days share a top).
      const next = rects[k + 1];
      n.windowHeight = next ? next.top - rects[k].top : rects[k].height;
      sections.push(n);
      for (const t of n.querySelectorAll(".tile")) this.detached.set(t.dataset.photoId, t);
    });
    const spacer = this.spacerOf(sections);
    nodes[0].before(spacer);
    for (const n of nodes) n.remove();
    // Whatever the sums missed (margins, a shared row split): the page keeps its height, so
    // nothing below moves and the scroll position stays put.
    const total = sections.reduce((a, s) => a + s.windowHeight, 0);
    spacer.style.height = `${total}px`;
    const diff = before - this.body.getBoundingClientRect().height;
    if (Math.abs(diff) > 0.5) spacer.style.height = `${Math.max(0, total + diff)}px`;
  }

  // The spacer's day range: data-date is its newest day (so the grid's ordering and the month
  // jump read it like a section), data-oldest the last.
  mark(spacer) {
    const ss = spacer.sections;
    spacer.dataset.date = ss[0].dataset.date;
    spacer.dataset.oldest = ss[ss.length - 1].dataset.date;
    spacer.style.height = `${ss.reduce((a, s) => a + s.windowHeight, 0)}px`;
  }

  /** The section of `month` (or the first older one), brought back if it was away (month jump). */
  section(month) {
    for (const c of this.body.children) {
      if (!c.sections) { if (c.dataset.date.slice(0, 7) <= month) return c; continue; }
      const k = c.sections.findIndex((sec) => sec.dataset.date.slice(0, 7) <= month);
      if (k < 0) continue;
      const sec = c.sections[k];
      this.restore(c, k, Math.min(k + 30, c.sections.length));
      return sec;
    }
    return null;
  }

  /** Put sections lo..hi of a spacer back; what is left of it stays as one or two spacers. */
  restore(spacer, lo, hi) {
    // Days sharing a row come back together (a split row would re-flow): the row's height is
    // carried by its last day, the days before it in the row have none of their own.
    const ss = spacer.sections;
    while (lo > 0 && !ss[lo - 1].windowHeight) lo--;
    while (hi < ss.length && !ss[hi - 1].windowHeight) hi++;
    const anchor = this.anchor();
    const top = anchor && anchor.getBoundingClientRect().top;
    const back = ss.slice(lo, hi).filter((s) => s.querySelector(".tile")); // removed meanwhile: gone
    const head = ss.slice(0, lo), tail = ss.slice(hi);
    const frag = document.createDocumentFragment();
    if (head.length) frag.append(this.spacerOf(head));
    frag.append(...back);
    if (tail.length) frag.append(this.spacerOf(tail));
    spacer.replaceWith(frag);
    for (const sec of back) {
      for (const t of sec.querySelectorAll(".tile")) {
        this.detached.delete(t.dataset.photoId);
        // The selection may have changed while away (Done, select all): the data is the truth.
        const on = this.grid.selected.has(t.dataset.photoId);
        if (t.classList.contains("selected") !== on) this.grid.markTile(t.dataset.photoId, on);
      }
    }
    // Browsers without scroll anchoring (Safari): keep what is on screen where it was.
    if (anchor && anchor.isConnected) {
      const moved = anchor.getBoundingClientRect().top - top;
      if (Math.abs(moved) > 0.5) scrollBy(0, moved);
    }
  }

  spacerOf(sections) {
    const s = document.createElement("div");
    s.className = "window-spacer";
    s.setAttribute("aria-hidden", "true");
    s.style.flex = "0 0 100%";
    s.style.width = "100%";
    s.sections = sections;
    this.mark(s);
    return s;
  }

  /** A section on screen, to hold still while spacers above it change. */
  anchor() {
    for (const c of this.body.children) {
      if (c.sections) continue;
      const r = c.getBoundingClientRect();
      if (r.bottom > 0 && r.top < innerHeight) return c;
    }
    return null;
  }

  restoreAll() {
    for (const s of this.spacers()) this.restore(s, 0, s.sections.length);
  }

  destroy() {
    cancelAnimationFrame(this.frame);
    removeEventListener("scroll", this.onScroll, { capture: true });
    removeEventListener("resize", this.onResize);
  }
}
