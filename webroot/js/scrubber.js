// The timeline's scrubbers. One source of months (/api/timeline/months) and one way to jump
// (jumpTo), two faces:
// - MonthScrubber (wider than a phone): a track beside the timeline as tall as the window, every
//   year labelled at its place. Space is shared by photo count, but each year gets at least a
//   label's height, so a decade with a handful of photos is compressed, never dropped, and gaps
//   between years take no room. A marker follows the scroll position; hovering or dragging shows
//   the month under the pointer in a tooltip, and a click or a release jumps there with the day's
//   header below the top bar (style.css scroll-margin-top). Its month buttons are the month list
//   the phone scrubber reads.
// - PhoneScrubber (≤ 600 px, style.css shows it): a thin track at the right edge that appears
//   while the page scrolls and fades 1.5 s after it stops. Dragging its handle shows the month
//   under the finger and, on release, jumps there (through the month list's buttons).
import { h, plural } from "./ui.js";
import { api, listOf } from "./api.js";
import { t, locale } from "./i18n.js";

// The scrubber's words in one place (i18n.js takes them over).
const TEXT = { get label() { return t("timeline.jumpToMonth"); } };
const YEAR_MIN_PX = 16; // a year label's height: the least room any year gets

const FADE_MS = 1500;
let monthLong = null;
const label = (ym) => (monthLong ||= new Intl.DateTimeFormat(locale(), { month: "long", year: "numeric", timeZone: "UTC" })).format(new Date(`${ym}-01T00:00:00Z`));

export class PhoneScrubber {
  constructor(grid) {
    this.grid = grid;
    this.tip = h("div.tip", { testid: "scrubber-tip", "aria-hidden": "true" });
    this.handle = h("div.handle", { role: "slider", tabindex: "0", "aria-label": TEXT.label, "aria-orientation": "vertical",
      testid: "scrubber-handle" });
    this.el = h("div.phone-scrubber", { testid: "phone-scrubber" }, this.tip, this.handle);
    grid.el.append(this.el);
    this.index = 0;
    this.onScroll = () => {
      this.show();
      if (!this.dragging && !this.raf) this.raf = requestAnimationFrame(() => { this.raf = 0; this.follow(); });
    };
    addEventListener("scroll", this.onScroll, { passive: true });
    this.handle.addEventListener("pointerdown", (e) => this.start(e));
    this.handle.addEventListener("pointermove", (e) => this.move(e));
    this.handle.addEventListener("pointerup", (e) => this.end(e, true));
    this.handle.addEventListener("pointercancel", (e) => this.end(e, false));
    this.handle.addEventListener("keydown", (e) => this.key(e));
    this.handle.addEventListener("focus", () => this.show(true));
    this.handle.addEventListener("blur", () => this.show());
  }

  destroy() {
    removeEventListener("scroll", this.onScroll);
    clearTimeout(this.fade);
    this.el.remove();
  }

  /** The month buttons of the view's month list: [{month, button}], newest first. */
  months() {
    const view = this.grid.el.closest("main") || document;
    return [...view.querySelectorAll("[data-testid=month-scrubber] button[data-month]")].map((b) => ({ month: b.dataset.month, button: b }));
  }

  show(stay = false) {
    if (this.months().length < 2) return;
    this.el.classList.add("visible");
    clearTimeout(this.fade);
    if (!stay) this.fade = setTimeout(() => { if (!this.dragging && document.activeElement !== this.handle) this.el.classList.remove("visible"); }, FADE_MS);
  }

  place(i, n) {
    this.index = i;
    const f = n > 1 ? i / (n - 1) : 0;
    this.el.style.setProperty("--at", f.toFixed(4));
    const m = this.months()[i];
    if (m) {
      this.tip.textContent = label(m.month);
      this.handle.setAttribute("aria-valuetext", label(m.month));
      this.handle.setAttribute("aria-valuenow", String(i));
      this.handle.setAttribute("aria-valuemax", String(n - 1));
      this.handle.setAttribute("aria-valuemin", "0");
    }
  }

  /** While scrolling: put the handle on the month at the top of the screen. */
  follow() {
    const months = this.months();
    const secs = this.grid.body.children;
    if (months.length < 2 || !secs.length) return;
    const top = (parseFloat(getComputedStyle(document.documentElement).getPropertyValue("--top")) || 52) + 4;
    let lo = 0, hi = secs.length - 1; // first section whose bottom is below the header (binary search)
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (secs[mid].getBoundingClientRect().bottom <= top) lo = mid + 1; else hi = mid;
    }
    const ym = (secs[lo].dataset.date || "").slice(0, 7);
    const i = months.findIndex((m) => m.month <= ym);
    this.place(i < 0 ? months.length - 1 : i, months.length);
  }

  at(clientY) {
    const r = this.el.getBoundingClientRect();
    const n = this.months().length;
    const f = Math.min(1, Math.max(0, (clientY - r.top) / Math.max(1, r.height)));
    return Math.round(f * (n - 1));
  }

  start(e) {
    if (this.months().length < 2) return;
    e.preventDefault();
    this.dragging = true;
    this.handle.setPointerCapture?.(e.pointerId);
    this.el.classList.add("dragging", "visible");
    clearTimeout(this.fade);
    this.place(this.at(e.clientY), this.months().length);
  }

  move(e) {
    if (this.dragging) this.place(this.at(e.clientY), this.months().length);
  }

  end(e, jump) {
    if (!this.dragging) return;
    this.dragging = false;
    this.el.classList.remove("dragging");
    if (jump) this.jump();
    this.show();
  }

  jump() {
    // The month list's own button does the loading and scrolling (views/library.js jumpTo).
    this.months()[this.index]?.button.click();
  }

  key(e) {
    const n = this.months().length;
    const step = { ArrowDown: 1, ArrowRight: 1, PageDown: 3, ArrowUp: -1, ArrowLeft: -1, PageUp: -3 }[e.key]
      ?? (e.key === "Home" ? -n : e.key === "End" ? n : 0);
    if (!step || n < 2) return;
    e.preventDefault();
    this.place(Math.min(n - 1, Math.max(0, this.index + step)), n);
    this.jump();
    this.handle.focus({ preventScroll: true });
  }
}

/** Scroll the timeline to `month` ("YYYY-MM", or the first older one), loading pages until it is there. */
export async function jumpTo(grid, month) {
  const target = () => (grid.window ? grid.window.section(month)
    : [...grid.body.children].find((s) => (s.dataset.date || "").slice(0, 7) <= month));
  await grid.loadUntil(target);
  // A screen of photos below it first, or the browser cannot scroll the day to the top. (The
  // day may leave the DOM while pages land, windowing: target() brings it back.)
  await grid.loadUntil(() => { const s = target(); return s && grid.body.getBoundingClientRect().bottom - s.getBoundingClientRect().top > innerHeight * 1.5; });
  const sec = target();
  if (!sec) return;
  sec.scrollIntoView({ block: "start" }); // .day's scroll-margin-top keeps its date below the top bar
  sec.querySelector("a")?.focus({ preventScroll: true });
  // Windowing brings back the days around the landing over the next frames, and their heights
  // may differ a little from the spacers' estimate: land again until the day holds still.
  const frame = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  for (let i = 0, top = sec.getBoundingClientRect().top; i < 4 && sec.isConnected; i++) {
    await frame();
    if (Math.abs(sec.getBoundingClientRect().top - top) < 1) break;
    sec.scrollIntoView({ block: "start" });
    top = sec.getBoundingClientRect().top;
  }
}

/** The month at the top of the screen and how far into it (0 = its newest day), or null. */
function monthAtTop(grid) {
  const secs = grid.body.children;
  if (!secs.length) return null;
  const top = (parseFloat(getComputedStyle(document.documentElement).getPropertyValue("--top")) || 56) + 4;
  let lo = 0, hi = secs.length - 1; // first section whose bottom is below the header (binary search)
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (secs[mid].getBoundingClientRect().bottom <= top) lo = mid + 1; else hi = mid;
  }
  const date = secs[lo].dataset.date || "";
  if (!date) return null;
  const day = Number(date.slice(8, 10)) || 1;
  return { month: date.slice(0, 7), into: Math.min(1, Math.max(0, (31 - day) / 31)) };
}

export class MonthScrubber {
  /** nav: the view's (empty) month list element; grid: the timeline's PhotoGrid. */
  constructor(nav, grid) {
    this.nav = nav;
    this.grid = grid;
    this.months = []; // [{month, count, top, height}] newest first; top/height in track fractions
    this.tip = h("div.scrub-tip", { testid: "month-scrubber-tip", "aria-hidden": "true", hidden: true });
    this.marker = h("div.scrub-marker", { testid: "month-scrubber-marker", "aria-hidden": "true", hidden: true });
    this.list = h("ul");
    this.track = h("div.track", { role: "slider", tabindex: "0", "aria-label": TEXT.label, "aria-orientation": "vertical",
      testid: "month-scrubber-track" }, this.list, this.marker, this.tip);
    nav.replaceChildren(this.track);
    this.onScroll = () => { if (!this.raf) this.raf = requestAnimationFrame(() => { this.raf = 0; this.follow(); }); };
    this.onResize = () => { this.layout(); this.follow(); };
    addEventListener("scroll", this.onScroll, { passive: true });
    addEventListener("resize", this.onResize);
    this.track.addEventListener("pointerdown", (e) => this.start(e));
    this.track.addEventListener("pointermove", (e) => this.move(e));
    this.track.addEventListener("pointerup", (e) => this.end(e, true));
    this.track.addEventListener("pointercancel", (e) => this.end(e, false));
    this.track.addEventListener("pointerleave", () => { if (!this.dragging) this.tip.hidden = true; });
    this.track.addEventListener("keydown", (e) => this.key(e));
    const { destroy, add } = grid;
    grid.destroy = () => { this.destroy(); return destroy.call(grid); };
    // The first page may land after the months: the marker appears with it.
    grid.add = (...args) => { const r = add.apply(grid, args); this.onScroll(); return r; };
  }

  destroy() {
    removeEventListener("scroll", this.onScroll);
    removeEventListener("resize", this.onResize);
    cancelAnimationFrame(this.raf);
  }

  async load() {
    let months;
    try { months = listOf(await api("/api/timeline/months"), "months"); } catch { return; }
    this.months = months.map(({ month, count }) => ({ month, count }));
    this.render();
  }

  /**
   * Where each month sits on the track (fractions of its height). Each year gets YEAR_MIN_PX and
   * the rest is shared by photo count; inside a year its months share by count too.
   */
  place() {
    const years = [];
    for (const m of this.months) {
      const y = m.month.slice(0, 4);
      if (!years.length || years[years.length - 1].year !== y) years.push({ year: y, count: 0, months: [] });
      years[years.length - 1].count += m.count;
      years[years.length - 1].months.push(m);
    }
    const total = Math.max(1, this.months.reduce((a, m) => a + m.count, 0));
    const px = Math.max(1, this.track.clientHeight || 600);
    const floor = Math.min(YEAR_MIN_PX / px, 1 / Math.max(1, years.length)); // fraction each year gets at least
    const share = 1 - floor * years.length;
    let at = 0;
    for (const y of years) {
      y.top = at;
      y.height = floor + share * (y.count / total);
      let inner = at;
      for (const m of y.months) {
        m.top = inner;
        m.height = y.height * (m.count / Math.max(1, y.count));
        inner += m.height;
      }
      at += y.height;
    }
    this.years = years;
  }

  render() {
    const items = [];
    this.place();
    for (const y of this.years) {
      const yearEl = h("li.year", { "data-year": y.year }, y.year);
      yearEl.style.setProperty("--at", y.top.toFixed(5));
      items.push(yearEl);
      for (const m of y.months) {
        // Not Tab stops (a long library has hundreds): the track is one, moved with the arrow keys.
        const b = h("button", { type: "button", tabindex: "-1", title: `${label(m.month)}: ${t("common.photos", { count: m.count })}`,
          "data-month": m.month, onclick: () => this.go(m.month) }, label(m.month));
        m.el = b;
        const li = h("li.month", b);
        li.style.setProperty("--at", m.top.toFixed(5));
        li.style.setProperty("--h", m.height.toFixed(5));
        items.push(li);
      }
    }
    this.list.replaceChildren(...items);
    this.track.setAttribute("aria-valuemin", "0");
    this.track.setAttribute("aria-valuemax", String(Math.max(0, this.months.length - 1)));
    this.follow();
  }

  layout() {
    if (!this.months.length) return;
    this.place();
    for (const y of this.years) {
      this.list.querySelector(`[data-year="${y.year}"]`)?.style.setProperty("--at", y.top.toFixed(5));
      for (const m of y.months) {
        m.el?.parentNode.style.setProperty("--at", m.top.toFixed(5));
        m.el?.parentNode.style.setProperty("--h", m.height.toFixed(5));
      }
    }
  }

  /** The marker follows the month at the top of the screen (and the day within it). */
  follow() {
    const here = monthAtTop(this.grid);
    if (!here || !this.months.length) { this.marker.hidden = true; return; }
    const i = Math.max(0, this.months.findIndex((m) => m.month <= here.month));
    const m = this.months[i];
    this.index = i;
    this.marker.hidden = false;
    this.marker.style.setProperty("--at", (m.top + m.height * (m.month === here.month ? here.into : 0)).toFixed(5));
    this.track.setAttribute("aria-valuenow", String(i));
    this.track.setAttribute("aria-valuetext", label(m.month));
  }

  /** The month under a pointer at clientY. */
  at(clientY) {
    const r = this.track.getBoundingClientRect();
    const f = Math.min(0.99999, Math.max(0, (clientY - r.top) / Math.max(1, r.height)));
    let i = this.months.findIndex((m) => f < m.top + m.height);
    if (i < 0) i = this.months.length - 1;
    return i;
  }

  showTip(i, clientY) {
    const m = this.months[i];
    if (!m) return;
    const r = this.track.getBoundingClientRect();
    this.tip.hidden = false;
    this.tip.textContent = label(m.month);
    this.tip.style.setProperty("--y", `${Math.min(r.height, Math.max(0, clientY - r.top))}px`);
  }

  start(e) {
    if (!this.months.length || e.button > 0) return;
    e.preventDefault();
    this.dragging = true;
    this.track.setPointerCapture?.(e.pointerId);
    this.track.classList.add("dragging");
    this.pick = this.at(e.clientY);
    this.showTip(this.pick, e.clientY);
  }

  move(e) {
    if (!this.months.length) return;
    const i = this.at(e.clientY);
    if (this.dragging) this.pick = i;
    this.showTip(i, e.clientY);
  }

  end(e, jump) {
    if (!this.dragging) return;
    this.dragging = false;
    this.track.classList.remove("dragging");
    this.tip.hidden = true;
    if (jump && this.months[this.pick]) this.go(this.months[this.pick].month);
  }

  go(month) {
    const m = this.months.find((x) => x.month === month);
    if (m) { this.marker.hidden = false; this.marker.style.setProperty("--at", m.top.toFixed(5)); }
    return jumpTo(this.grid, month).then(() => this.follow());
  }

  key(e) {
    const n = this.months.length;
    const step = { ArrowDown: 1, PageDown: 12, ArrowUp: -1, PageUp: -12 }[e.key] ?? (e.key === "Home" ? -n : e.key === "End" ? n : 0);
    if (!step || !n) return;
    e.preventDefault();
    const i = Math.min(n - 1, Math.max(0, (this.index ?? 0) + step));
    this.index = i;
    this.track.setAttribute("aria-valuetext", label(this.months[i].month));
    this.go(this.months[i].month).then(() => this.track.focus({ preventScroll: true }));
  }
}
