// The phone scrubber (≤ 600 px, style.css shows it): a thin track at the right edge that appears
// while the page scrolls and fades 1.5 s after it stops. Dragging its handle shows the month under
// the finger and, on release, jumps there. The months are the ones the timeline's month list shows
// (from /api/timeline/months, views/library.js); that list is hidden on phones and this reuses
// its buttons, so there is one way to jump and one source of months.
import { h } from "./ui.js";
import { t, locale } from "./i18n.js";

const FADE_MS = 1500;
let monthLong = null;
const label = (ym) => (monthLong ||= new Intl.DateTimeFormat(locale(), { month: "long", year: "numeric", timeZone: "UTC" })).format(new Date(`${ym}-01T00:00:00Z`));

export class PhoneScrubber {
  constructor(grid) {
    this.grid = grid;
    this.tip = h("div.tip", { testid: "scrubber-tip", "aria-hidden": "true" });
    this.handle = h("div.handle", { role: "slider", tabindex: "0", "aria-label": t("timeline.jumpToMonth"), "aria-orientation": "vertical",
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
