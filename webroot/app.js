// Octopus Photos browser UI: boot, app shell, hash router. No build step: plain ES modules.
import { api, setSignedOutHandler, setVault, photoPath, setOfflineHandler } from "./js/api.js";
import * as mirror from "./js/mirror.js";
import { offlineAnswer, mountOffline, unmountOffline } from "./js/offline.js";
import { h, $, showError, icon, toast } from "./js/ui.js";
import { t, translateDom } from "./js/i18n.js";
import { showAuth } from "./js/auth.js";
import { showPhoto, closeViewer, viewerOpen } from "./js/viewer.js";
import { uploadInput, enableDrop, enqueue } from "./js/upload.js";
import { registerServiceWorker, takeSharedFiles, forgetUserData } from "./js/pwa.js";
import { bottomNav } from "./js/nav.js";
import { showShortcuts } from "./js/shortcuts.js";
import * as lib from "./js/views/library.js";
import { albums, album } from "./js/views/albums.js";
import { sharesView } from "./js/views/shares.js";
import { vault } from "./js/views/vault.js";
import { settings } from "./js/views/settings.js";
import { backup } from "./js/views/backup.js";
import { archive } from "./js/views/archive.js";
import { places } from "./js/views/places.js";
import { sharedWithMe, partnerView, setMe } from "./js/views/sharing.js";

const root = $("#app");
let user = null;
let current = null;      // {key, view}: the page under the viewer
let viewerFromPage = false; // the viewer was opened from a page in this session: Esc = history.back()

const NAV = [
  ["timeline", "nav.timeline", "photos"], ["memories", "nav.memories", "memories"], ["favourites", "nav.favourites", "heart"],
  ["albums", "nav.albums", "album"], ["shared", "nav.shared", "share"], ["tags", "nav.tags", "tag"], ["search", "nav.search", "search"],
  ["places", "nav.places", "place"],
  ["duplicates", "nav.duplicates", "duplicates"], ["archive", "nav.archive", "archive"], ["trash", "nav.trash", "trash"], ["vault", "nav.vault", "lock"], ["backup", "nav.backup", "upload"], ["settings", "nav.settings", "settings"],
];

const ROUTES = {
  timeline: lib.timeline, favourites: lib.favourites, memories: lib.memories, search: lib.search,
  duplicates: lib.duplicates, trash: lib.trash, vault, settings, backup, places,
  albums: (p) => (p.id ? album(p) : albums()),
  shares: sharesView,
  shared: sharedWithMe, partner: partnerView,
  tags: (p) => (p.id ? lib.tag(p) : lib.tags()),
  archive,
};

function parse() {
  const raw = location.hash.replace(/^#\/?/, "") || "timeline";
  const [path, q = ""] = raw.split("?");
  const [name, ...rest] = path.split("/");
  return { key: raw, name, id: rest.length ? decodeURIComponent(rest.join("/")) : undefined, query: new URLSearchParams(q) };
}

function shell() {
  const search = h("form.head-search", { role: "search", onsubmit: (e) => {
    e.preventDefault();
    location.hash = `#/search?q=${encodeURIComponent(search.elements.q.value)}`;
  } }, h("input", { type: "search", name: "q", placeholder: t("app.searchPlaceholder"), "aria-label": t("app.searchPlaceholder"), testid: "header-search" }));
  root.replaceChildren(
    h("a.skip", { href: "#view" , onclick: (e) => { e.preventDefault(); $("#view h2")?.focus(); } }, t("app.skip")),
    h("header.top",
      h("a.brand", { href: "#/timeline", "aria-label": t("app.brand") }, h("img", { src: "favicon.svg", alt: "", width: 32, height: 32 }), h("span", t("app.name"))),
      search,
      uploadInput(),
      h("a.user", { href: "#/settings", testid: "user-link" }, user.display_name || user.username || t("app.me"))),
    h("nav.side", { "aria-label": t("nav.main") }, h("ul", NAV.map(([name, label, ico]) =>
      h("li", h("a", { href: `#/${name}`, testid: `nav-${name}`, "data-route": name }, icon(ico), h("span", t(label))))))),
    bottomNav({ user, signOut }), // phones (≤ 600 px): the side nav gives way to this bar (js/nav.js)
    h("main", { id: "view", tabindex: "-1" }));
}

function mount(r) {
  if (current) {
    current.view.destroy?.();
    current.view.grid?.destroy();
  }
  const make = ROUTES[r.name];
  const view = make
    ? make({ id: r.id, query: r.query, user, signOut })
    : { el: h("div", lib.header(t("app.notFound")), h("p.empty", t("app.notFoundText"), " ", h("a", { href: "#/timeline" }, t("app.backToPhotos")))) };
  $("#view").replaceChildren(view.el);
  current = { key: r.key, view };
  for (const a of document.querySelectorAll("nav.side a")) {
    if (a.dataset.route === r.name) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  const title = view.el.querySelector("h2");
  document.title = `${title ? title.textContent : t("app.titleFallback")} · ${t("app.name")}`;
  scrollTo(0, 0);
  (view.focus || (document.activeElement === document.body ? null : title))?.focus({ preventScroll: true });
}

async function route() {
  if (!user) return;
  const r = parse();
  if (r.name === "photo" && r.id) {
    if (!current) mount({ key: "timeline", name: "timeline", query: new URLSearchParams() });
    else if (!viewerOpen()) viewerFromPage = true;
    return openPhoto(r.id);
  }
  viewerFromPage = false;
  if (viewerOpen()) closeViewer();
  // The header's search box says what is being searched, and nothing once the search is left.
  const box = $("[data-testid=header-search]");
  if (box && document.activeElement !== box) box.value = r.name === "search" ? r.query.get("q") || "" : "";
  if (current && current.key === r.key) return;
  mount(r);
}

async function openPhoto(id) {
  const v = current.view;
  // Opened from the address (a reload, a shared link): wait for the first page of the grid
  // under the viewer, or the photo has no neighbours and ← / → do nothing.
  if (v.grid && v.grid.loading) await v.grid.loading;
  const list = v.photos ? v.photos() : v.grid ? v.grid.photos() : [];
  let photo = list.find((p) => p.id === id);
  // Near the end of what is loaded: fetch the next page so "next" keeps working.
  if (v.grid && list.length - list.indexOf(photo) < 4) v.grid.more();
  if (!photo) {
    try { photo = await api(photoPath(id)); } catch (err) {
      showError(err);
      return location.replace(`#/${current.key}`);
    }
  }
  showPhoto(photo, {
    list, vault: false, mode: v.mode === "trash" ? "trash" : undefined,
    onNavigate: (p) => location.replace(`#/photo/${encodeURIComponent(p.id)}`),
    onClose: () => (viewerFromPage ? history.back() : location.replace(`#/${current.key}`)),
  });
}

// Changes made in the viewer or the selection bar reach the grid(s) on screen.
const grids = () => (current ? current.view.grids || (current.view.grid ? [current.view.grid] : []) : []);
document.addEventListener("photos:removed", (e) => grids().forEach((g) => g.remove(e.detail)));
document.addEventListener("photos:changed", (e) => grids().forEach((g) => g.update(e.detail)));
document.addEventListener("photos:added", (e) => { if (current?.view.acceptsNew) current.view.grid.insert(e.detail); });
document.addEventListener("photos:uploaded", () => current?.view.onUploaded?.());
// A new date moves a photo within each date-ordered grid that holds it (out, and in where it belongs).
document.addEventListener("photos:redated", (e) => grids().forEach((g) => {
  if (!g.byId.has(e.detail.id)) return;
  g.remove([e.detail.id]);
  g.insert(e.detail);
}));
// A new display name (Settings) shows in the header at once, not after a reload.
document.addEventListener("user:changed", (e) => {
  const link = $("[data-testid=user-link]");
  if (link && e.detail) link.textContent = e.detail.display_name || e.detail.username;
});

// Global shortcuts: "/" search, "u" upload (not while typing or in the viewer).
document.addEventListener("keydown", (e) => {
  if (!user || viewerOpen() || e.ctrlKey || e.metaKey || e.altKey || document.querySelector("dialog[open]")) return;
  // Typing is text: the file input keeps focus after its chooser closes (the Upload button is
  // its label), and that must not switch the shortcuts off.
  const text = e.target.tagName === "INPUT" ? !/^(file|checkbox|radio|button|submit|reset|range|color)$/.test(e.target.type) : /^(TEXTAREA|SELECT)$/.test(e.target.tagName);
  if (text || e.target.isContentEditable) return;
  if (e.key === "?") { e.preventDefault(); showShortcuts(); return; }
  if (e.key === "/") { e.preventDefault(); $("[data-testid=header-search]")?.focus(); }
  if (e.key === "u") {
    e.preventDefault();
    const input = $("[data-testid=upload-input]");
    // The hidden input keeps the focus once its chooser closes: give it back to the visible button.
    if (input && document.activeElement === input) $("[data-testid=upload-button]")?.focus();
    input?.click();
  }
});

// Unfinished uploads keep their server URL and file name in localStorage (tus-js-client's "tus::"
// keys) so a reload resumes them; a signed-out browser must not keep what another user could read.
function forgetResumableUploads() {
  Object.keys(localStorage).filter((k) => k.startsWith("tus::")).forEach((k) => localStorage.removeItem(k));
}

function teardown() {
  forgetResumableUploads();
  forgetUserData().catch((err) => console.warn("could not clear cached user data:", err));
  mirror.stop();
  unmountOffline();
  if (viewerOpen()) closeViewer();
  if (current) { current.view.destroy?.(); current.view.grid?.destroy(); }
  current = null;
  user = null;
  setVault(null);
  document.body.classList.remove("signed-in");
  document.querySelectorAll(".upload-panel, .selection-bar, dialog").forEach((n) => n.remove());
}

async function signOut() {
  try { await api("/api/auth/logout", { method: "POST", authCall: true }); } catch { /* signed out either way */ }
  teardown();
  // The offline mirror, its queued edits and the kept thumbnails leave with the user.
  await mirror.wipe().catch((err) => console.warn("could not wipe the offline mirror:", err));
  showAuth(root, start);
}

function start(u) {
  user = u;
  setMe(u && u.username);
  document.body.classList.add("signed-in");
  mirror.start(u).catch((err) => console.warn("offline mirror unavailable:", err));
  shell();
  mountOffline();
  const shared = parse().name === "upload" ? parse().query.get("shared") : null;
  if (shared !== null) history.replaceState(null, "", "#/timeline");
  route();
  if (shared !== null) receiveShared(shared);
}

// The share target lands on #/upload?shared=N (js/pwa.js, sw.js): the files go to the upload queue.
async function receiveShared(shared) {
  try {
    if (await takeSharedFiles(enqueue)) return;
  } catch (err) {
    return showError(err);
  }
  toast({
    none: t("app.shareNone"),
    failed: t("app.shareFailed"),
  }[shared] || t("app.shareEmpty"), { error: shared === "failed" });
}

setSignedOutHandler(() => {
  if (!user) return;
  teardown();
  showAuth(root, start, t("app.sessionEnded"));
});

// Reads that cannot reach the server are answered from the offline mirror, edits queued (js/offline.js).
setOfflineHandler(offlineAnswer, mirror.reachable);
addEventListener("hashchange", route);
translateDom(); // index.html's own words (data-i18n) before the first screen replaces them
enableDrop();
registerServiceWorker();

lib.prefetchTimeline(); // the first page travels beside /api/users/me (views/library.js)
(async function boot() {
  try {
    start(await api("/api/users/me", { authCall: true }));
  } catch (err) {
    // 401 is the normal signed-out answer; anything else means the API is not reachable yet.
    showAuth(root, start, err.status === 401 ? "" : t("app.unreachable", { detail: err.detail }));
  }
})();
