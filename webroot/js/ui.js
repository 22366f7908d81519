// Small DOM and formatting helpers shared by every view.
import { t, locale, errorText, formatBytes } from "./i18n.js";

/** h("div.cls", {attrs}, ...children): build an element. Strings become text nodes (never HTML). */
export function h(tag, attrs, ...children) {
  const [name, ...classes] = tag.split(".");
  const el = document.createElement(name || "div");
  if (classes.length) el.className = classes.join(" ");
  if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "testid") el.dataset.testid = v;
    else if (k === "text") el.textContent = v;
    else if (k === "style" && typeof v === "object") Object.assign(el.style, v);
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

export const $ = (sel, root = document) => root.querySelector(sel);

// Toasts: one live region; the newest message replaces nothing, each fades on its own.
export function toast(message, { error = false, action, ms = 5000 } = {}) {
  const box = $("#toasts");
  const el = h("div.toast" + (error ? ".error" : ""), { testid: "toast", role: error ? "alert" : "status" }, h("span", message));
  if (action) {
    el.append(h("button.link", { type: "button", onclick: () => { action.run(); el.remove(); } }, action.label));
  }
  el.append(h("button.icon", { type: "button", "aria-label": t("common.dismiss"), onclick: () => el.remove() }, "×"));
  box.append(el);
  setTimeout(() => el.remove(), error ? ms * 2 : ms);
}

/** Show an error's problem detail; never a stack. */
export function showError(err) {
  console.error(err);
  toast(errorText(err), { error: true });
}

/** Modal <dialog>; content(close) returns the body. Resolves with the value passed to close(). */
export function modal(title, content) {
  return new Promise((resolve) => {
    const dlg = h("dialog.modal", { "aria-label": title });
    let result;
    const close = (value) => { result = value; dlg.close(); };
    dlg.append(h("h2", title), content(close));
    dlg.addEventListener("close", () => { dlg.remove(); resolve(result); });
    document.body.append(dlg);
    dlg.showModal();
  });
}

export function confirmDialog(title, message, okLabel = t("common.ok"), danger = false) {
  return modal(title, (close) => h("form", { method: "dialog", onsubmit: (e) => { e.preventDefault(); close(true); } },
    h("p", message),
    h("div.row.end",
      h("button", { type: "button", onclick: () => close(false) }, t("common.cancel")),
      h("button" + (danger ? ".danger" : ".primary"), { type: "submit", testid: "confirm-ok", autofocus: true }, okLabel))));
}

/** Ask for one text value (name, passphrase…). Resolves the string or undefined. */
export function promptDialog(title, label, { value = "", type = "text", okLabel = t("common.ok") } = {}) {
  return modal(title, (close) => {
    const input = h("input", { type, value, required: true, autocomplete: type === "password" ? "current-password" : "off", testid: "prompt-input" });
    return h("form", { onsubmit: (e) => { e.preventDefault(); close(input.value); } },
      h("label", label, input),
      h("div.row.end",
        h("button", { type: "button", onclick: () => close() }, t("common.cancel")),
        h("button.primary", { type: "submit", testid: "prompt-ok" }, okLabel)));
  });
}

// Formatting (js/i18n.js picks the locale). Dates from the API carry their own offset; show the
// wall-clock time they were taken. Formatters are built on first use, after the language is known.
let fmts = null;
let fmtsFor = "";
function fmt(name) {
  if (!fmts || fmtsFor !== locale()) {
    const l = fmtsFor = locale();
    fmts = {
      day: new Intl.DateTimeFormat(l, { weekday: "short", day: "numeric", month: "long", year: "numeric" }),
      month: new Intl.DateTimeFormat(l, { month: "short", timeZone: "UTC" }),
      dateTime: new Intl.DateTimeFormat(l, { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" }),
      instant: new Intl.DateTimeFormat(l, { dateStyle: "medium", timeStyle: "short" }),
    };
  }
  return fmts[name];
}

export function fmtDay(ymd) {
  const [y, m, d] = ymd.split("-").map(Number);
  return fmt("day").format(new Date(y, m - 1, d || 1));
}
export const fmtMonth = (ym) => fmt("month").format(new Date(`${ym}-01T00:00:00Z`));

/** "2021-07-04T18:30:00+02:00" → local wall-clock of the photo, not of the viewer. */
export function fmtTaken(iso) {
  if (!iso) return "";
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d)?)/.exec(iso);
  return m ? fmt("dateTime").format(new Date(m[1] + "Z")) : iso;
}

/** A moment the server recorded (upload time): shown in the viewer's own time zone. */
export function fmtInstant(iso) {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(t) ? iso || "" : fmt("instant").format(t);
}

export const fmtBytes = formatBytes;

export const dayOf = (p) => (p.taken_at || p.uploaded_at || "").slice(0, 10);
export const todayYmd = () => {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
};
// English only, kept for old imports: use t() with a plural entry (tests/test_i18n.py flags calls).
export const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** A video's length as a clock: 12.4 → "0:12", 3725 → "1:02:05"; "" when unknown. */
export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(Number(seconds))) return "";
  // A clip shorter than half a second still shows as "0:01", not as nothing at all.
  const total = Math.max(Number(seconds) > 0 ? 1 : 0, Math.round(Number(seconds)));
  const s = String(total % 60).padStart(2, "0");
  const m = Math.floor(total / 60) % 60;
  const hours = Math.floor(total / 3600);
  return hours ? `${hours}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

// Line icons as inline SVG (emoji fonts are often missing on the machines this runs on).
const ICONS = {
  photos: "M4 4h6v6H4zM14 4h6v6h-6zM4 14h6v6H4zM14 14h6v6h-6z",
  memories: "M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18zM12 7v5l3 2",
  heart: "M12 20s-7-4.4-8.8-8.6A4.8 4.8 0 0 1 12 6.6a4.8 4.8 0 0 1 8.8 4.8C19 15.6 12 20 12 20z",
  album: "M4 5h16v14H4zM4 16l5-5 4 4 2-2 5 5",
  tag: "M3 12V3h9l9 9-9 9zM7.5 7.5h.01",
  search: "M11 4a7 7 0 1 0 0 14a7 7 0 1 0 0-14zM16 16l5 5",
  place: "M12 21s-6-5.3-6-10a6 6 0 0 1 12 0c0 4.7-6 10-6 10zM12 8.5a2.5 2.5 0 1 0 0 5a2.5 2.5 0 1 0 0-5",
  duplicates: "M9 9h11v11H9zM5 15H4V4h11v1",
  trash: "M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13M10 11v6M14 11v6",
  lock: "M5 11h14v10H5zM8 11V7a4 4 0 0 1 8 0v4",
  archive: "M3 4h18v4H3zM5 8v12h14V8M10 12h4",
  more: "M5 12h.01M12 12h.01M19 12h.01",
  settings: "M4 6h9M17 6h3M4 12h3M11 12h9M4 18h11M19 18h1M15 4v4M9 10v4M17 16v4",
  upload: "M12 16V4M7 9l5-5 5 5M4 20h16",
  download: "M12 4v12M7 11l5 5 5-5M4 20h16",
  info: "M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18zM12 11v6M12 7.5v.01",
  plus: "M12 5v14M5 12h14",
  close: "M6 6l12 12M18 6L6 18",
  share: "M18 3a2.5 2.5 0 1 0 0 5a2.5 2.5 0 1 0 0-5zM6 9.5a2.5 2.5 0 1 0 0 5a2.5 2.5 0 1 0 0-5zM18 16a2.5 2.5 0 1 0 0 5a2.5 2.5 0 1 0 0-5zM8.2 10.8l7.6-4.4M8.2 13.2l7.6 4.4",
  left: "M15 5l-7 7 7 7",
  right: "M9 5l7 7-7 7",
  play: "M8 5v14l11-7z",
  motion: "M12 9a3 3 0 1 0 0 6a3 3 0 1 0 0-6zM12 5a7 7 0 0 1 7 7M12 19a7 7 0 0 1-7-7M5.6 5.6l.01.01M18.4 18.4l.01.01",
};
export function icon(name, fill = false) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", fill ? "i fill" : "i");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", ICONS[name]);
  svg.append(path);
  return svg;
}
