// The UI's one message catalogue: English and Spanish, picked from the browser, switchable in
// Settings. No build step and no fetch: both catalogues are ES modules imported here, so they load
// in the same module graph as app.js (no extra round trip before the first screen).
//
// API (see docs/ui.md "Languages"):
//   t("area.key", {name: "Ana", count: 3})  the text in the current language.
//       {name} is replaced by params.name (numbers go through formatNumber). A value that is an
//       object is a plural entry: {"=0": "No photos", one: "{count} photo", other: "{count} photos"}
//       chosen by params.count through Intl.PluralRules (an exact "=N" form wins; a missing form
//       falls back to "other"). A key missing in Spanish falls back to English, a key missing in
//       both comes back as the key itself (tests/test_i18n.py keeps both catalogues complete).
//   language()          "en" | "es": the current language.
//   locale()            the BCP 47 tag given to Intl ("es-ES", "en-GB", "en"...): the browser's own
//                       variant of the chosen language when it has one, so en-GB keeps day/month.
//   LANGUAGES           [[code, name in its own language], ...] for a language picker.
//   setLanguage(code)   remember the choice (localStorage "octopus.lang"), set <html lang>; the
//                       caller reloads or re-renders. "" forgets it (back to the browser's).
//   translateDom(root)  fill static markup: data-i18n="key" sets the text, data-i18n-title,
//                       data-i18n-placeholder, data-i18n-aria-label, data-i18n-alt set attributes.
//   formatNumber(n, opts), formatDate(value, opts), formatBytes(n), formatRelative(value),
//   formatList(items)   Intl formatting in the current locale.
//   problemText(code, params, detail)  the words for a problem+json: our "error.<code>" text,
//                       else the server's detail (js/api.js puts it in ApiError.detail).
//   errorText(err)      what to show for any caught error (an ApiError's detail, else generic).
//
// Keys are "area.name" (area = the file or screen: nav, timeline, viewer, settings...). Add every
// key to BOTH messages/en.js and messages/es.js; the catalogues are strict JSON inside
// `export default ...;` because the test reads them with a JSON parser.
// This module imports nothing from the app, so other pages (the public share page) can use it.
import en from "./messages/en.js";
import es from "./messages/es.js";

const CATALOGUES = { en, es };
export const LANGUAGES = [["en", "English"], ["es", "Español"]];
const STORAGE_KEY = "octopus.lang";

function browserLanguages() {
  const list = typeof navigator === "undefined" ? [] : (navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language]);
  return list.filter(Boolean);
}

function stored() {
  try { return localStorage.getItem(STORAGE_KEY) || ""; } catch { return ""; } // storage may be off
}

/** The language to use: the remembered choice, else the first browser language we have. */
function pick() {
  const saved = stored();
  if (CATALOGUES[saved]) return saved;
  for (const tag of browserLanguages()) {
    const base = tag.toLowerCase().split("-")[0];
    if (CATALOGUES[base]) return base;
  }
  return "en";
}

let lang = "en";
let tag = "en";
const cache = new Map(); // Intl objects are costly to build; one per kind and options

function apply(code) {
  lang = CATALOGUES[code] ? code : "en";
  // The browser's own regional variant of that language, when it lists one (en-GB, es-MX).
  tag = browserLanguages().find((l) => l.toLowerCase().split("-")[0] === lang) || lang;
  try { Intl.getCanonicalLocales(tag); } catch { tag = lang; }
  cache.clear();
  if (typeof document !== "undefined") document.documentElement.lang = lang;
}
apply(pick());

export const language = () => lang;
export const locale = () => tag;

export function setLanguage(code) {
  try {
    if (code) localStorage.setItem(STORAGE_KEY, code); else localStorage.removeItem(STORAGE_KEY);
  } catch { /* private mode: the choice lasts this page only */ }
  apply(code || pick());
  if (typeof document !== "undefined") document.dispatchEvent(new CustomEvent("i18n:change", { detail: lang }));
}

function intl(kind, opts) {
  const k = kind + JSON.stringify(opts || {});
  let f = cache.get(k);
  if (!f) {
    f = new Intl[kind](tag, opts);
    cache.set(k, f);
  }
  return f;
}

function lookup(key) {
  const own = CATALOGUES[lang][key];
  return own !== undefined ? own : en[key];
}

/** The text for `key` in the current language, with {name} placeholders filled from params. */
export function t(key, params) {
  let msg = lookup(key);
  if (msg === undefined) return key;
  if (typeof msg === "object") {
    const n = Number(params && params.count);
    msg = msg[`=${n}`] ?? msg[intl("PluralRules").select(n)] ?? msg.other;
  }
  if (!params) return msg;
  return msg.replace(/\{(\w+)\}/g, (whole, name) => {
    const v = params[name];
    if (v === undefined || v === null) return whole;
    return typeof v === "number" ? formatNumber(v) : String(v);
  });
}

/** True when the catalogue has `key` (for optional texts such as error codes). */
export const has = (key) => lookup(key) !== undefined;

const ATTRS = ["title", "placeholder", "aria-label", "alt", "content"];

/** Translate static markup under root: data-i18n (text) and data-i18n-<attr> (attributes). */
export function translateDom(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const attr of ATTRS) {
    for (const el of root.querySelectorAll(`[data-i18n-${attr}]`)) el.setAttribute(attr, t(el.getAttribute(`data-i18n-${attr}`)));
  }
}

export const formatNumber = (n, opts) => intl("NumberFormat", opts).format(n);

/** Dates: a Date, epoch ms, or an ISO string. opts are Intl.DateTimeFormat options. */
export function formatDate(value, opts = { dateStyle: "medium" }) {
  const d = value instanceof Date ? value : new Date(value);
  return Number.isNaN(d.getTime()) ? String(value ?? "") : intl("DateTimeFormat", opts).format(d);
}

// Symbols stay KB/MB/GB in both languages (what people read on disks and phones); the number is
// the locale's ("1.5 MB", "1,5 MB"). Binary steps, as the server and `du -h` count.
const BYTE_UNITS = ["B", "KB", "MB", "GB", "TB"];

/** 1536 → "1.5 KB" / "1,5 KB"; 3 × 1024³ → "3.0 GB" / "3,0 GB". */
export function formatBytes(n) {
  if (n === null || n === undefined || Number.isNaN(Number(n))) return "";
  let v = Number(n), i = 0;
  while (Math.abs(v) >= 1024 && i < BYTE_UNITS.length - 1) { v /= 1024; i++; }
  const digits = i && Math.abs(v) < 10 ? 1 : 0;
  return `${formatNumber(v, { maximumFractionDigits: digits, minimumFractionDigits: digits })} ${BYTE_UNITS[i]}`;
}

const STEPS = [["second", 60], ["minute", 60], ["hour", 24], ["day", 7], ["week", 4.35], ["month", 12], ["year", Infinity]];

/** "3 minutes ago", "hace 3 minutos", "tomorrow": a moment relative to now. */
export function formatRelative(value, now = Date.now()) {
  const ms = value instanceof Date ? value.getTime() : typeof value === "number" ? value : Date.parse(value);
  if (Number.isNaN(ms)) return String(value ?? "");
  let delta = (ms - now) / 1000;
  for (const [unit, size] of STEPS) {
    if (Math.abs(delta) < size) return intl("RelativeTimeFormat", { numeric: "auto" }).format(Math.round(delta), unit);
    delta /= size;
  }
  return "";
}

/** ["a", "b", "c"] → "a, b and c" / "a, b y c". */
export const formatList = (items, opts = { type: "conjunction" }) => intl("ListFormat", opts).format(items.map(String));

// The per-status codes the server falls back to when it has no more specific one (docs/errors.md).
// For these the server's own detail says more ("no such album") than our generic text, so English
// keeps the detail and other languages show the generic text in their words.
const GENERIC = new Set(["bad_request", "not_signed_in", "forbidden", "not_found", "method_not_allowed",
  "request_timeout", "conflict", "gone", "precondition_failed", "too_large", "unsupported_media", "invalid",
  "rate_limited", "headers_too_large", "internal", "unavailable", "insufficient_storage", "error"]);

/** The words for a problem: our "error.<code>" text (params fill it), else the server's detail. */
export function problemText(code, params, detail) {
  if (code && has(`error.${code}`) && !(GENERIC.has(code) && lang === "en" && detail)) return t(`error.${code}`, params || undefined);
  return detail || t("error.generic");
}

/** The words for an error thrown by js/api.js (already in the UI's language) or anything else. */
export function errorText(err) {
  if (!err) return t("error.generic");
  return err.detail || err.message || t("error.generic");
}
