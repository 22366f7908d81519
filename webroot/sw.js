// Octopus Photos service worker: the installable app's offline shell, thumbnails, share target.
// Served by the server at /sw.js (web/webroot.py) with the two placeholders below replaced: the
// shell's version (a hash of every shell file, so any change installs a new worker and the page
// offers "New version — Reload") and the list of shell files. See docs/ui.md "Install on a phone".
const VERSION = "__SHELL_VERSION__";
const SHELL_FILES = ["__SHELL_FILES__"];
const SHELL = `octopus-shell-${VERSION}`;
// Thumbnails never change for a photo id (the server calls them immutable), so they are served
// cache-first. This cache holds user data: sign-out deletes it (js/pwa.js forgetUserData).
const THUMBS = "octopus-thumbs";
const SHARE_DB = "octopus-share";
const SHARE_STORE = "incoming";

self.addEventListener("install", (event) => {
  // Everything or nothing: a half-filled shell would fail offline. No skipWaiting here: the
  // page asks for it when the user clicks "Reload", so an open tab never runs mixed code.
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(SHELL_FILES.map((u) => new Request(u, { cache: "reload" })))));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("octopus-shell-") && name !== SHELL) await caches.delete(name);
    }
    await self.clients.claim(); // the first visit is controlled too, without a reload
  })());
});

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "skipWaiting") self.skipWaiting();
});

const SHELL_PATHS = new Set(SHELL_FILES);

self.addEventListener("fetch", (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (req.method === "POST" && url.pathname === "/share") return event.respondWith(receiveShare(req));
  if (req.method !== "GET") return;
  if (url.pathname.startsWith("/api/")) {
    // The API is never cached here (the mirror keeps data), except thumbnails; vault ones carry
    // X-Vault-Token and are decrypted by the page: they never touch a cache.
    const thumb = /^\/api\/photos\/[^/]+\/thumbnail$/.test(url.pathname) && !req.headers.has("x-vault-token");
    if (thumb && url.searchParams.get("size") === "thumb") event.respondWith(thumbnail(req));
    // The grid's hi-DPI size (srcset) is not kept here (it would double the cache), but offline
    // it falls back to the kept 1x thumb: srcset has no fallback of its own, the tile would be empty.
    if (thumb && url.searchParams.get("size") === "thumb2x") event.respondWith(hidpiThumbnail(req, url));
    return;
  }
  if (req.mode === "navigate" && (url.pathname === "/" || url.pathname === "/index.html")) {
    return event.respondWith(shellFirst(req, "/index.html", event));
  }
  if (SHELL_PATHS.has(url.pathname)) event.respondWith(shellFirst(req, url.pathname, event));
});

// Cache-first (instant, and works offline), then the network refreshes the copy for next time.
async function shellFirst(req, key, event) {
  const cache = await caches.open(SHELL);
  const cached = await cache.match(key);
  const fresh = fetch(req.mode === "navigate" ? key : req).then((res) => {
    if (res.ok && res.type === "basic") return cache.put(key, res.clone()).then(() => res);
    return res;
  });
  if (cached) {
    event.waitUntil(fresh.catch(() => undefined)); // offline: the cached copy is all there is
    return cached;
  }
  return fresh;
}

async function thumbnail(req) {
  const cache = await caches.open(THUMBS);
  const cached = await cache.match(req);
  if (cached) return cached;
  const res = await fetch(req);
  if (res.status === 200 && res.type === "basic") await cache.put(req, res.clone());
  return res;
}

async function hidpiThumbnail(req, url) {
  try {
    return await fetch(req);
  } catch (err) {
    const small = new URL(url);
    small.searchParams.set("size", "thumb");
    const kept = await (await caches.open(THUMBS)).match(small.href);
    if (kept) return kept;
    throw err;
  }
}

// The share target (manifest "share_target"): keep the files in IndexedDB, then open the app,
// which hands them to the upload queue (js/pwa.js takeSharedFiles) and deletes them here.
async function receiveShare(req) {
  try {
    return await keepShared(req);
  } catch (err) {
    // Unreadable form or storage full: the page says so instead of the browser's error page.
    console.warn("shared files not kept:", err);
    return Response.redirect("/#/upload?shared=failed", 303);
  }
}

async function keepShared(req) {
  const form = await req.formData();
  const files = form.getAll("file").filter((f) => f instanceof File && f.size > 0);
  if (files.length) {
    const db = await openShareDb();
    await new Promise((resolve, reject) => {
      const tx = db.transaction(SHARE_STORE, "readwrite");
      const store = tx.objectStore(SHARE_STORE);
      for (const file of files) store.add({ file, name: file.name, type: file.type, received: Date.now() });
      tx.oncomplete = resolve;
      tx.onerror = () => reject(tx.error);
    });
    db.close();
  }
  return Response.redirect(`/#/upload?shared=${files.length}`, 303);
}

function openShareDb() {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(SHARE_DB, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(SHARE_STORE, { autoIncrement: true });
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
}
