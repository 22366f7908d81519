// Phone navigation (≤ 600 px wide, CSS decides): a bottom bar with the five places people go most
// (Photos, Albums, Search, Backup, More) and a "More" sheet with everything else, so every screen
// is two taps away. Wider windows keep the side navigation app.js builds; both stay in the DOM and
// the stylesheet shows one, so a window resized across 600 px needs no JavaScript.
import { h, icon } from "./ui.js";
import { t } from "./i18n.js";

const SVG = "http://www.w3.org/2000/svg";
// Icons ui.js has no use for elsewhere.
const EXTRA = {
  backup: "M7 18a4 4 0 0 1-.6-8A6 6 0 0 1 18 9a4.5 4.5 0 0 1 .5 9M12 20v-8M9 15l3-3 3 3",
  more: "M5 12h.01M12 12h.01M19 12h.01",
  signout: "M10 4H5v16h5M14 8l4 4-4 4M18 12H9",
};
function glyph(name) {
  if (!EXTRA[name]) return icon(name);
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", "i");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", EXTRA[name]);
  svg.append(path);
  return svg;
}

const BOTTOM = [["timeline", "nav.timeline", "photos"], ["albums", "nav.albums", "album"], ["search", "nav.search", "search"], ["backup", "nav.backup", "backup"]];
const MORE = [
  ["memories", "nav.memories", "memories"], ["shared", "nav.shared", "share"], ["favourites", "nav.favourites", "heart"], ["places", "nav.places", "place"], ["tags", "nav.tags", "tag"],
  ["duplicates", "nav.duplicates", "duplicates"], ["archive", "nav.archive", "archive"], ["trash", "nav.trash", "trash"], ["vault", "nav.vault", "lock"], ["settings", "nav.settings", "settings"],
];

const routeName = () => (location.hash.replace(/^#\/?/, "").split(/[/?]/)[0] || "timeline");

let live = null; // the bar of the current shell: signing out and in again builds a new one

/** The bottom bar and its More sheet; `signOut` is app.js's. Returns the <nav> (the sheet lives in body). */
export function bottomNav({ user, signOut }) {
  live?.destroy();
  const sheet = h("dialog.more-sheet", { testid: "more-sheet", "aria-label": t("nav.more") });
  const close = () => {
    if (!sheet.hasAttribute("open")) return;
    if (typeof sheet.close === "function") sheet.close();
    else { sheet.removeAttribute("open"); more.setAttribute("aria-expanded", "false"); }
  };
  sheet.append(
    h("div.sheet-head", h("span", { testid: "more-user" }, user.display_name || user.username || ""),
      h("button.icon", { type: "button", "aria-label": t("common.close"), testid: "more-close", onclick: close }, icon("close"))),
    h("ul", MORE.map(([name, label, ico]) => h("li", h("a", { href: `#/${name}`, testid: `more-${name}`, "data-route": name, onclick: close }, glyph(ico), h("span", t(label))))),
      h("li", h("button", { type: "button", testid: "more-signout", onclick: () => { close(); signOut(); } }, glyph("signout"), h("span", t("settings.signOut"))))));
  // A tap on the backdrop (outside the sheet's box) closes it, as bottom sheets do.
  sheet.addEventListener("click", (e) => {
    if (e.target !== sheet) return;
    const r = sheet.getBoundingClientRect();
    if (e.clientY < r.top || e.clientY > r.bottom || e.clientX < r.left || e.clientX > r.right) close();
  });
  const more = h("button.more", { type: "button", testid: "bnav-more", "aria-haspopup": "dialog", "aria-expanded": "false",
    onclick: () => {
      if (!sheet.isConnected) document.body.append(sheet);
      // showModal: Safari 15.4+; before that the sheet still opens, without the backdrop's inertness.
      if (typeof sheet.showModal === "function") sheet.showModal(); else sheet.setAttribute("open", "");
      more.setAttribute("aria-expanded", "true");
    } },
  glyph("more"), h("span", t("nav.more")));
  sheet.addEventListener("close", () => more.setAttribute("aria-expanded", "false"));
  const nav = h("nav.bottom-nav", { "aria-label": t("nav.main"), testid: "bottom-nav" }, h("ul",
    BOTTOM.map(([name, label, ico]) => h("li", h("a", { href: `#/${name}`, testid: `bnav-${name}`, "data-route": name }, glyph(ico), h("span", t(label))))),
    h("li", more)));
  const mark = () => {
    const r = routeName();
    for (const a of [...nav.querySelectorAll("a"), ...sheet.querySelectorAll("a")]) {
      if (a.dataset.route === r) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    }
    more.classList.toggle("current", MORE.some(([name]) => name === r));
  };
  addEventListener("hashchange", mark);
  mark();
  const renamed = (e) => { sheet.querySelector("[data-testid=more-user]").textContent = e.detail.display_name || e.detail.username || ""; };
  document.addEventListener("user:changed", renamed);
  // Signing out rebuilds the shell: the old sheet and listener go with it.
  nav.destroy = () => { removeEventListener("hashchange", mark); document.removeEventListener("user:changed", renamed); sheet.remove(); };
  live = nav;
  return nav;
}
