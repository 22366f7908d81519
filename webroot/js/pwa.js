// The installable app's page side (docs/ui.md "Install on a phone"): register the service worker
// (webroot/sw.js), offer "New version — Reload" when an upgrade waits, pick up files shared to
// the app (the share target) and, on sign-out, forget what the worker keeps of the user.
import { h } from "./ui.js";
import { t } from "./i18n.js";

const SHARE_DB = "octopus-share";
const SHARE_STORE = "incoming";
let reloading = false; // set when the user asked for the new version: reload once it controls

/** Register /sw.js (scope "/"); a no-op where service workers are unavailable (plain http to a
 * LAN address is not a secure context: the app then works online only). */
export async function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return null;
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    if (reloading) location.reload();
  });
  let reg;
  try {
    reg = await navigator.serviceWorker.register("/sw.js", { scope: "/" });
  } catch (err) {
    console.warn("service worker not registered:", err);
    return null;
  }
  watchForUpdates(reg);
  // A phone keeps the app open for days: look for a new version whenever it comes back.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") reg.update().catch(() => undefined);
  });
  return reg;
}

/** Show the bar whenever a new worker is installed and waiting behind the one in control. */
export function watchForUpdates(reg) {
  const waiting = () => reg.waiting && navigator.serviceWorker.controller && showUpdateBar(reg);
  waiting();
  reg.addEventListener("updatefound", () => {
    const worker = reg.installing;
    worker?.addEventListener("statechange", () => { if (worker.state === "installed") waiting(); });
  });
}

function showUpdateBar(reg) {
  if (document.querySelector("[data-testid=update-bar]")) return;
  // Styled as a toast that stays (the toasts' live region announces it).
  const bar = h("div.toast.update-bar", { testid: "update-bar", role: "status" },
    h("span", t("pwa.newVersion")),
    h("button.link", { type: "button", testid: "update-reload", onclick: () => {
      const worker = reg.waiting;
      if (!worker) return location.reload();
      reloading = true;
      worker.postMessage({ type: "skipWaiting" });
    } }, t("pwa.reload")));
  (document.getElementById("toasts") || document.body).append(bar);
}

function openShareDb() {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(SHARE_DB, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(SHARE_STORE, { autoIncrement: true });
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
}

function all(store) {
  return new Promise((resolve, reject) => {
    const keys = store.getAllKeys();
    const values = store.getAll();
    values.onsuccess = () => resolve(keys.result.map((key, i) => ({ key, value: values.result[i] })));
    values.onerror = () => reject(values.error);
  });
}

/**
 * Files the service worker received from the share sheet, handed to `enqueue` (the upload
 * queue) and then deleted, so a reload does not upload them twice. Returns how many.
 */
export async function takeSharedFiles(enqueue) {
  if (!("indexedDB" in self)) return 0;
  const db = await openShareDb();
  try {
    const rows = await all(db.transaction(SHARE_STORE).objectStore(SHARE_STORE));
    if (!rows.length) return 0;
    // A stored File comes back as a File; a Blob (older engines) gets its name back.
    const files = rows.map(({ value }) => (value.file instanceof File ? value.file
      : new File([value.file], value.name || "shared", { type: value.type || value.file.type })));
    enqueue(files);
    await new Promise((resolve, reject) => {
      const tx = db.transaction(SHARE_STORE, "readwrite");
      for (const { key } of rows) tx.objectStore(SHARE_STORE).delete(key);
      tx.oncomplete = resolve;
      tx.onerror = () => reject(tx.error);
    });
    return files.length;
  } finally {
    db.close();
  }
}

function deleteDatabase(name) {
  return new Promise((resolve) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = req.onerror = req.onblocked = () => resolve();
  });
}

/** Sign-out: drop the cached thumbnails and unsent shared files (both the user's); the shell
 * cache stays, it holds nothing personal. Idempotent. */
export async function forgetUserData() {
  if ("caches" in self) {
    for (const name of await caches.keys()) if (name.startsWith("octopus-thumbs")) await caches.delete(name);
  }
  if ("indexedDB" in self) await deleteDatabase(SHARE_DB);
}
