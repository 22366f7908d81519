// The one place the UI talks HTTP. Everything follows CONTRACT.md: JSON under /api, the session
// is an HttpOnly cookie (never read or stored here), errors are problem+json.
import { t, problemText } from "./i18n.js";

// `code` is the problem's stable machine code (docs/errors.md); `detail` is what the user reads:
// our own text for a known code in the UI's language (messages/*.js "error.<code>"), else the
// server's English detail. `serverDetail` keeps the server's words for logs and tests.
export class ApiError extends Error {
  constructor(status, title, detail, code = "", params = null) {
    super(detail || title || `HTTP ${status}`);
    this.status = status;
    this.title = title || "";
    this.code = code || "";
    this.params = params;
    this.serverDetail = detail || title || "";
    this.detail = problemText(this.code, params, detail || title || t("error.requestFailed", { status }));
  }
}

// Offline handler, installed by app.js: (method, path, body) → the mirror's answer or undefined.
let offlineAnswer = async () => undefined;
let reachable = () => {};
export function setOfflineHandler(fn, onReachable) { offlineAnswer = fn; reachable = onReachable; }
// Edits waiting in the offline outbox go first: offline.js installs a hook that queues a new edit
// behind them (resolving what the API would answer) or resolves undefined to send it now.
let holdBehind = async () => undefined;
export function setHoldHandler(fn) { holdBehind = fn; }

// Signed-out handler, installed by app.js; called on any 401 outside the auth calls.
let onSignedOut = () => {};
export function setSignedOutHandler(fn) { onSignedOut = fn; }

// The vault token lives only in this variable: gone on reload, lock or expiry.
let vault = null; // {token, expiresAt, timer}
const vaultListeners = new Set();
export const vaultToken = () => vault && vault.token;
export function onVaultChange(fn) { vaultListeners.add(fn); return () => vaultListeners.delete(fn); }
export function setVault(token, expiresAt) {
  if (vault) clearTimeout(vault.timer);
  vault = null;
  if (token) {
    vault = { token, expiresAt };
    const ms = expiresAt ? Date.parse(expiresAt) - Date.now() : NaN;
    if (ms > 0) vault.timer = setTimeout(() => setVault(null), Math.min(ms, 2 ** 31 - 1));
  }
  vaultListeners.forEach((fn) => fn(!!vault));
}

async function problemFrom(res) {
  let title = res.statusText, detail = "", code = "", params = null;
  try {
    const body = await res.json();
    title = body.title || title;
    detail = body.detail || "";
    code = body.code || "";
    params = body.params || null;
  } catch { /* not JSON: keep the status text, never show a raw body */ }
  return new ApiError(res.status, title, detail, code, params);
}

/**
 * fetch JSON from the API. opts: {method, body (object → JSON or FormData), headers,
 * vault (send X-Vault-Token), authCall (a 401 is an answer, not a sign-out), raw (return Response)}.
 */
export async function api(path, opts = {}) {
  const headers = { Accept: "application/json", ...(opts.headers || {}) };
  let body = opts.body;
  if (body !== undefined && !(body instanceof FormData)) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(body);
  }
  if (opts.vault) {
    if (!vaultToken()) throw new ApiError(403, "", "", "vault_locked");
    headers["X-Vault-Token"] = vaultToken();
  }
  if (opts.method && opts.method !== "GET" && !opts.vault && !opts.raw && !(opts.body instanceof FormData)) {
    const held = await holdBehind(opts.method, path, opts.body);
    if (held !== undefined) return held;
  }
  let res;
  try {
    res = await fetch(path, { method: opts.method || "GET", headers, body, credentials: "same-origin" });
  } catch {
    // Out of reach: the offline mirror may answer a read or queue an edit (app.js installs it).
    const answer = opts.vault || opts.raw ? undefined : await offlineAnswer(opts.method || "GET", path, opts.body);
    if (answer !== undefined) return answer;
    throw new ApiError(0, "", "", "offline");
  }
  reachable(true);
  if (!res.ok) {
    const err = await problemFrom(res);
    if (res.status === 401 && !opts.authCall) onSignedOut();
    if (opts.vault && (res.status === 401 || res.status === 403)) setVault(null);
    throw err;
  }
  if (opts.raw) return res;
  if (res.status === 204) return null;
  const type = res.headers.get("Content-Type") || "";
  return type.includes("json") ? res.json() : null;
}

// Lists may come as a bare array or wrapped ({photos|items|…, cursor}); read both shapes.
export function listOf(res, ...keys) {
  if (Array.isArray(res)) return res;
  if (!res) return [];
  for (const k of [...keys, "photos", "items", "results", "groups", "users", "albums", "tags"]) {
    if (Array.isArray(res[k])) return res[k];
  }
  return [];
}

export const thumbUrl = (id, size = "thumb") => `/api/photos/${encodeURIComponent(id)}/thumbnail?size=${size}`;
export const originalUrl = (id) => `/api/photos/${encodeURIComponent(id)}/original`;
export const photoPath = (id, rest = "") => `/api/photos/${encodeURIComponent(id)}${rest}`;

export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : "";
}

/** A vault image as an object URL (img tags cannot send X-Vault-Token). Caller revokes it. */
export async function vaultBlobUrl(path) {
  const res = await api(path, { vault: true, raw: true });
  return URL.createObjectURL(await res.blob());
}

/**
 * Upload one file with progress (fetch has no upload progress; XHR does).
 * Resolves {status, photo}; rejects ApiError.
 */
export function uploadFile(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/photos");
    xhr.withCredentials = true;
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onerror = () => reject(new ApiError(0, "", "", "uploadOffline"));
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* keep null */ }
      if (xhr.status >= 200 && xhr.status < 300) return resolve({ status: xhr.status, photo: body });
      if (xhr.status === 401) onSignedOut();
      reject(new ApiError(xhr.status, body && body.title, (body && body.detail) || t("error.uploadFailed", { status: xhr.status }), body && body.code, body && body.params));
    };
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}
