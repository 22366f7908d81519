// Selection on the desktop, added to every PhotoGrid that has actions (grid.js calls
// attachSelection once): shift-click selects the range from the last tile toggled, a day's
// header selects that day (or clears it when all of it is selected), dragging with the mouse
// draws a rubber band that adds what it touches, Ctrl/⌘-A selects every loaded photo (not the
// page's text) and Esc clears. The grid keeps the selection itself (grid.selected, markTile,
// renderBar); this file only decides what to select, from outside, so the layout (rows, day
// labels, windowing) can change without it. Touch keeps grid.js's long-press and drag.
//
// Hooks it relies on: tiles are `.tile[data-photo-id]` inside grid.el; a day header is an
// element with `data-day-header` and `data-date`, or a `section.day > h3` whose section has
// `data-date`; grid.photos() is the display order (windowing teaches it detached tiles).
import { t } from "./i18n.js";
import { dayOf } from "./ui.js";

const DRAG_PX = 6;        // a mouse that moves further than this with the button down draws a band
const EDGE_PX = 48;       // near the window's top or bottom edge a band scrolls the page
const HEADER = "[data-day-header], section.day > h3";
const grids = new Set();

/** Grids on screen that take a selection (normally one: the current view's). */
const active = () => [...grids].filter((g) => g.el.isConnected);
const typing = (el) => el && (el.isContentEditable || /^(TEXTAREA|SELECT)$/.test(el.tagName)
  || (el.tagName === "INPUT" && !/^(checkbox|radio|button|submit|reset|range|color|file)$/.test(el.type)));
const blocked = () => !!document.querySelector("dialog[open], [data-testid=viewer]");

/** Make `want` the grid's selection (entering selection mode), marking only the tiles that change. */
export function setSelection(grid, want) {
  if (!grid.selecting) grid.setSelecting(true);
  for (const id of [...grid.selected]) if (!want.has(id)) { grid.selected.delete(id); grid.markTile(id, false); }
  for (const id of want) if (!grid.selected.has(id) && grid.byId.has(id)) { grid.selected.add(id); grid.markTile(id, true); }
  grid.renderBar();
}

const order = (grid) => grid.photos().filter(Boolean).map((p) => p.id);

function dayOfHeader(head) {
  return head.dataset.date || head.closest("[data-date]")?.dataset.date || "";
}

/** The ids of one day in display order: the tiles of its section, or every photo of that date. */
function dayIds(grid, head) {
  const date = dayOfHeader(head);
  const sec = head.closest("section");
  const inSection = sec && sec.dataset.date === date ? [...sec.querySelectorAll(".tile")].map((x) => x.dataset.photoId) : [];
  if (inSection.length) return inSection;
  return grid.photos().filter((p) => p && dayOf(p) === date).map((p) => p.id);
}

function toggleDay(grid, head) {
  const ids = dayIds(grid, head);
  if (!ids.length) return;
  const want = new Set(grid.selected);
  const all = ids.every((id) => want.has(id));
  for (const id of ids) if (all) want.delete(id); else want.add(id);
  setSelection(grid, want);
  grid.anchor = ids[ids.length - 1];
  markHeaders(grid);
}

/** Day headers under `root` are buttons and say whether their whole day is selected
 * (aria-pressed). Attributes are written only when they change: windowing moves sections in
 * and out on every scroll step, and a write restyles the header. */
function markHeaders(grid, root = grid.el) {
  const heads = root.matches?.(HEADER) ? [root] : root.querySelectorAll(HEADER);
  for (const head of heads) {
    if (!head.hasAttribute("role")) {
      head.setAttribute("role", "button");
      head.tabIndex = 0;
      head.title = t("selection.selectDay");
      head.classList.add("day-select");
    }
    const ids = grid.selected.size ? dayIds(grid, head) : [];
    const on = ids.length > 0 && ids.every((id) => grid.selected.has(id));
    if (head.getAttribute("aria-pressed") !== String(on)) head.setAttribute("aria-pressed", String(on));
  }
}

export function attachSelection(grid) {
  grids.add(grid);
  const destroy = grid.destroy;
  const listeners = []; // on window: removed with the grid
  const on = (type, fn) => { addEventListener(type, fn); listeners.push([type, fn]); };
  grid.destroy = (...args) => {
    grids.delete(grid);
    for (const [type, fn] of listeners) removeEventListener(type, fn);
    return destroy.apply(grid, args);
  };
  grid.anchor = null;
  let drag = null;      // {x, y (page coords), base, band, moved, lastX, lastY}
  let swallow = false;  // the click that ends a drag must not open or toggle a tile

  // The bar re-renders after every change: the headers follow it (one place, whoever changed it).
  const renderBar = grid.renderBar;
  grid.renderBar = (...args) => { const r = renderBar.apply(grid, args); markHeaders(grid); return r; };
  // Sections that arrive (a page, a section windowing brings back): only their headers.
  new MutationObserver((records) => {
    for (const r of records) for (const n of r.addedNodes) if (n.nodeType === 1) markHeaders(grid, n);
  }).observe(grid.body, { childList: true });

  // Adds every tile from the anchor (the last one toggled) to `id`, in display order.
  const rangeTo = (id) => {
    if (!grid.anchor || grid.anchor === id || !grid.byId.has(grid.anchor)) return false;
    const ids = order(grid);
    let [i, j] = [ids.indexOf(grid.anchor), ids.indexOf(id)];
    if (i < 0 || j < 0) return false;
    if (i > j) [i, j] = [j, i];
    setSelection(grid, new Set([...grid.selected, ...ids.slice(i, j + 1)]));
    return true;
  };

  grid.el.addEventListener("click", (e) => {
    if (swallow) { swallow = false; e.preventDefault(); e.stopPropagation(); return; }
    const head = e.target.closest(HEADER);
    if (head && grid.el.contains(head)) { e.preventDefault(); e.stopPropagation(); toggleDay(grid, head); return; }
    const tile = e.target.closest(".tile");
    if (!tile || e.target.closest(".extra") || grid.suppressClick) return;
    const id = tile.dataset.photoId;
    if (e.shiftKey && rangeTo(id)) {
      e.preventDefault();
      e.stopPropagation();
      return;
    }
    // This click toggles the tile (grid.js): a later shift-click ranges from here.
    if (grid.selecting || e.target.closest(".check") || e.shiftKey || e.ctrlKey || e.metaKey) grid.anchor = id;
  }, true);

  grid.el.addEventListener("keydown", (e) => {
    const head = e.target.closest?.(HEADER);
    if (head && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); toggleDay(grid, head); return; }
    const tile = e.target.closest?.(".tile");
    if (!tile || !(e.key === "x" || e.key === "X" || e.key === " ") || e.ctrlKey || e.metaKey || e.altKey) return;
    // Shift+x / Shift+Space: the keyboard's shift-click.
    if (e.shiftKey && rangeTo(tile.dataset.photoId)) { e.preventDefault(); e.stopPropagation(); return; }
    grid.anchor = tile.dataset.photoId;
  }, true);

  // The rubber band (mouse only: a finger scrolls, or long-presses in grid.js).
  grid.el.addEventListener("pointerdown", (e) => {
    if (e.pointerType !== "mouse" || e.button !== 0 || e.altKey) return;
    if (e.target.closest("button, input, select, textarea, label, .extra, " + HEADER)) return;
    drag = { x: e.clientX + scrollX, y: e.clientY + scrollY, base: new Set(grid.selected), band: null, moved: false,
             lastX: e.clientX, lastY: e.clientY, id: e.pointerId };
  });
  const paint = () => {
    if (!drag || !drag.band) return;
    const [x0, y0, x1, y1] = [Math.min(drag.x, drag.lastX + scrollX), Math.min(drag.y, drag.lastY + scrollY),
      Math.max(drag.x, drag.lastX + scrollX), Math.max(drag.y, drag.lastY + scrollY)];
    const s = drag.band.style;
    s.setProperty("left", `${x0 - scrollX}px`);
    s.setProperty("top", `${y0 - scrollY}px`);
    s.setProperty("width", `${x1 - x0}px`);
    s.setProperty("height", `${y1 - y0}px`);
    const want = new Set(drag.base);
    for (const tile of grid.body.querySelectorAll(".tile")) {
      const r = tile.getBoundingClientRect();
      if (r.right + scrollX >= x0 && r.left + scrollX <= x1 && r.bottom + scrollY >= y0 && r.top + scrollY <= y1) {
        want.add(tile.dataset.photoId);
      }
    }
    if (want.size !== grid.selected.size || [...want].some((id) => !grid.selected.has(id))) setSelection(grid, want);
  };
  const tick = () => {
    if (!drag || !drag.band) return;
    const dy = drag.lastY > innerHeight - EDGE_PX ? 24 : drag.lastY < EDGE_PX ? -24 : 0;
    if (dy) scrollBy(0, dy);
    paint();
    requestAnimationFrame(tick);
  };
  on("pointermove", (e) => {
    if (!drag || e.pointerId !== drag.id) return;
    drag.lastX = e.clientX;
    drag.lastY = e.clientY;
    if (!drag.band) {
      if (Math.hypot(e.clientX + scrollX - drag.x, e.clientY + scrollY - drag.y) < DRAG_PX) return;
      drag.band = document.createElement("div");
      drag.band.className = "rubber-band";
      drag.band.setAttribute("data-testid", "rubber-band");
      drag.band.setAttribute("aria-hidden", "true");
      // Through CSSOM (the CSP refuses style attributes); style.css gives it its look.
      const s = drag.band.style;
      s.setProperty("position", "fixed");
      s.setProperty("z-index", "50");
      s.setProperty("pointer-events", "none");
      document.body.append(drag.band);
      document.body.style.setProperty("user-select", "none");
      requestAnimationFrame(tick);
    }
  });
  const end = (e) => {
    if (!drag || (e && e.pointerId !== drag.id)) return;
    if (drag.band) {
      paint();
      drag.band.remove();
      document.body.style.removeProperty("user-select");
      swallow = true; // the click that follows (on a tile or not) ends the drag, nothing else
      setTimeout(() => { swallow = false; }, 0);
    }
    drag = null;
  };
  on("pointerup", end);
  on("pointercancel", end);
  // No text selection while a band may start (the tiles' captions, the day labels).
  grid.el.addEventListener("selectstart", (e) => { if (drag) e.preventDefault(); });
}

// Ctrl/⌘-A: every loaded photo of the grid on screen, instead of the page's text. Esc: clear.
// Captured on the way down, so the viewer (Esc closes it) and dialogs are seen still open.
document.addEventListener("keydown", (e) => {
  if (blocked() || typing(e.target)) return;
  const grid = active()[0];
  if (!grid) return;
  if ((e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey && e.key.toLowerCase() === "a") {
    e.preventDefault();
    setSelection(grid, new Set(order(grid)));
  } else if (e.key === "Escape" && grid.selecting) {
    e.preventDefault();
    grid.setSelecting(false);
    grid.anchor = null;
  }
}, true);
