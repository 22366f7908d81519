// Views over the library read models: timeline, favourites, tags, memories, search,
// duplicates and trash. A view is {el, grid?, photos()?, mode?, acceptsNew?, destroy?}.
import { api, listOf, qs, thumbUrl, photoPath } from "../api.js";
import { h, fmtMonth, fmtDay, fmtTaken, fmtBytes, todayYmd, plural, showError, toast, confirmDialog } from "../ui.js";
import { t } from "../i18n.js";
import { PhotoGrid } from "../grid.js";
import { libraryActions, trashPhotos, restorePhotos } from "../actions.js";
import { SectionWindow } from "../windowing.js";
import { MonthScrubber } from "../scrubber.js";
import { ownerBadge } from "./sharing.js";

export const header = (title, ...tools) => h("header.view-head", h("h2", { tabindex: "-1" }, title), h("div.tools", tools));
export const pageOf = (res) => ({ photos: listOf(res), cursor: Array.isArray(res) ? null : res && res.cursor });

function gridView(title, url, opts = {}) {
  const grid = new PhotoGrid({ actions: libraryActions(), ...opts });
  grid.follow((cursor) => api(url + qs({ cursor })).then(pageOf));
  return { el: h("div", header(title, grid.selectButton()), grid.el), grid };
}

// The timeline's first page, asked for while the boot's /api/users/me is still on its way: that
// round trip was the first screen's longest wait (issue 11: first screen < 1 s at 100,000 items).
// Only a 200 is used; signed out, offline or slow (over 10 s), the view asks again the usual way.
let early = null;
const FIRST_PAGE = "/api/timeline" + qs({ limit: 150 });
export function prefetchTimeline() {
  const where = location.hash.replace(/^#\/?/, "");
  if (where && where !== "timeline") return;
  early = { at: Date.now(), page: fetch(FIRST_PAGE, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then((r) => (r.ok ? r.json() : null)).catch(() => null) };
}
function earlyPage() {
  const e = early;
  early = null;
  return e && Date.now() - e.at < 10_000 ? e.page : null;
}

export function timeline() {
  const grid = new PhotoGrid({ grouped: true, actions: libraryActions(),
    empty: t("timeline.empty"), extra: ownerBadge }); // merged partners' items say whose (docs/sharing.md)
  const strip = h("section.memories-strip", { testid: "memories-strip", hidden: true, "aria-label": t("nav.memories") });
  const scrubber = h("nav.scrubber", { testid: "month-scrubber", "aria-label": t("timeline.jumpToMonth") });
  new SectionWindow(grid); // far day sections leave the DOM (≤ 3,000 nodes at 10,000 items)
  const first = earlyPage();
  grid.follow((cursor) => (!cursor && first ? first.then((page) => page || api(FIRST_PAGE)) : api("/api/timeline" + qs({ cursor, limit: 150 }))));
  memoriesStrip(strip);
  const months = new MonthScrubber(scrubber, grid); // every year on a track; drag, tooltip, jump
  const loadMonths = () => months.load();
  loadMonths();
  const el = h("div.timeline", { testid: "timeline" }, header(t("nav.timeline"), grid.selectButton()), strip,
    h("div.with-scrubber", grid.el, scrubber));
  return { el, grid, acceptsNew: true, onUploaded: loadMonths };
}

async function memoriesStrip(strip) {
  try {
    const mem = listOf(await api("/api/memories" + qs({ date: todayYmd() })), "memories");
    const withPhotos = mem.filter((m) => (m.photos || []).length);
    if (!withPhotos.length) return;
    strip.hidden = false;
    strip.append(h("h3", t("nav.memories")), h("div.cards", withPhotos.map((m) => {
      const p = m.photos[0];
      return h("a.memory-card", { href: "#/memories", testid: "memory-card" },
        h("img", { src: thumbUrl(p.id), alt: "", loading: "lazy", decoding: "async", width: 256, height: 256 }),
        h("span", t("memories.yearsAgo", { count: m.years_ago })));
    })));
  } catch { /* memories are a bonus: the timeline stays usable without them */ }
}

export const favourites = () => gridView(t("nav.favourites"), "/api/favourites", { onlyFavourites: true, empty: t("favourites.empty") });

export function tags() {
  const list = h("ul.tag-cloud", { testid: "tag-list" });
  api("/api/tags").then((res) => {
    const tags = listOf(res, "tags");
    if (!tags.length) list.replaceWith(h("p.empty", t("tags.empty")));
    list.append(...tags.map((x) => h("li", h("a.chip", { href: `#/tags/${encodeURIComponent(x.tag)}`, testid: "tag-link" }, x.tag, h("small", ` ${x.count}`)))));
  }).catch(showError);
  return { el: h("div", header(t("nav.tags")), list) };
}

export const tag = ({ id }) => gridView(t("tags.title", { tag: id }), `/api/tags/${encodeURIComponent(id)}`, { empty: t("tags.none") });

export function memories({ query }) {
  const date = query.get("date") || todayYmd();
  const grid = new PhotoGrid({ grouped: true, actions: libraryActions(), empty: t("memories.empty") });
  const picker = h("input", { type: "date", value: date, "aria-label": t("memories.day"), testid: "memories-date",
    onchange: () => { location.hash = `#/memories?date=${picker.value}`; } });
  grid.follow(async () => {
    const mem = listOf(await api("/api/memories" + qs({ date })), "memories");
    for (const m of mem) {
      const d = `${m.year}${date.slice(4)}`;
      grid.add(m.photos || [], d, `${t("memories.yearsAgo", { count: m.years_ago })} · ${fmtDay(d)}`);
    }
    return { photos: [], cursor: null };
  });
  return { el: h("div", header(t("nav.memories"), picker), grid.el), grid };
}

export function search({ query }) {
  const field = (name, label, attrs = {}) => h("label", label, h("input", { name, value: query.get(name) || "", testid: `search-${name}`, ...attrs }));
  const fav = h("input", { type: "checkbox", name: "favourite", checked: query.get("favourite") === "true", testid: "search-favourite" });
  const form = h("form.search-form", { testid: "search-form", role: "search",
    onsubmit: (e) => {
      e.preventDefault();
      const p = new URLSearchParams();
      for (const [k, v] of new FormData(form)) if (v) p.set(k, k === "favourite" ? "true" : v);
      location.hash = `#/search?${p}`;
    } },
    field("q", t("search.text"), { type: "search", placeholder: t("search.textPlaceholder") }),
    field("tag", t("search.tag")), field("camera", t("search.camera")),
    field("from", t("search.from"), { type: "date" }), field("to", t("search.to"), { type: "date" }),
    h("label", t("search.show"), h("select", { name: "kind", testid: "search-kind" },
      [["", "search.kindAll"], ["photo", "search.kindPhotos"], ["video", "search.kindVideos"]].map(([value, label]) =>
        h("option", { value, selected: (query.get("kind") || "") === value }, t(label))))),
    h("label.check", fav, t("search.favouritesOnly")),
    h("button.primary", { type: "submit", testid: "search-submit" }, t("nav.search")));
  const params = Object.fromEntries(["q", "tag", "from", "to", "camera", "favourite", "kind"].map((k) => [k, query.get(k)]));
  const any = Object.values(params).some(Boolean);
  // From after To matches nothing by definition: say so (and offer the swap) instead of "No matches".
  const inverted = params.from && params.to && params.from.slice(0, 10) > params.to.slice(0, 10);
  const notice = inverted ? h("div.banner", { role: "alert", testid: "search-inverted" },
    h("p", t("search.rangeInverted", { from: fmtDay(params.from.slice(0, 10)), to: fmtDay(params.to.slice(0, 10)) })),
    h("button", { type: "button", testid: "search-swap-dates", onclick: () => {
      const p = new URLSearchParams(query);
      p.set("from", params.to);
      p.set("to", params.from);
      location.hash = `#/search?${p}`;
    } }, t("search.swapDates"))) : null;
  const grid = new PhotoGrid({ actions: libraryActions(), empty: inverted ? "" : any ? t("search.noMatches") : t("search.typeSomething") });
  if (any && !inverted) grid.follow((cursor) => api("/api/search" + qs({ ...params, cursor })).then(pageOf));
  else grid.updateEmpty();
  return { el: h("div", header(t("nav.search"), grid.selectButton()), form, notice, grid.el), grid, focus: form.elements.q };
}

export function duplicates() {
  const box = h("div.dups", { testid: "duplicates" });
  const grids = [];
  api("/api/duplicates").then((res) => {
    const groups = listOf(res, "groups").map((g) => (Array.isArray(g) ? g : g.photos || [])).filter((g) => g.length > 1);
    const none = () => box.append(h("p.empty", t("duplicates.none")));
    if (!groups.length) return none();
    groups.forEach((photos, n) => {
      // Kept by default: the most pixels, then the most bytes (the least recompressed copy).
      const score = (p) => [(p.width || 0) * (p.height || 0), p.bytes || 0];
      const best = photos.reduce((a, b) => { const [pa, ba] = score(a), [pb, bb] = score(b); return pb > pa || (pb === pa && bb > ba) ? b : a; });
      const name = `keep-${n}`;
      const radioId = (p) => `keep-${n}-${p.id}`;
      const grid = new PhotoGrid({ extra: (p) => h("label.extra.keep", h("input", { type: "radio", name, value: p.id, id: radioId(p), checked: p === best }), t("duplicates.keep")) });
      grid.add(photos);
      grids.push(grid);
      // What to choose by: name, resolution, size and date side by side; a row picks its photo.
      const facts = h("table.dup-facts", { testid: "duplicate-facts" },
        h("thead", h("tr", ...["duplicates.file", "duplicates.resolution", "duplicates.size", "duplicates.taken"].map((k) => h("th", t(k))))),
        h("tbody", photos.map((p) => h("tr", { testid: "duplicate-fact", "data-photo-id": p.id },
          h("td", h("label", { for: radioId(p) }, p.filename || "")),
          h("td", p.width && p.height ? `${p.width} × ${p.height}` : ""),
          h("td", fmtBytes(p.bytes)),
          h("td", fmtTaken(p.taken_at))))));
      const section = h("section.dup-group", { testid: "duplicate-group" }, grid.el, facts,
        h("button.danger", { type: "button", testid: "duplicate-trash-others", onclick: async () => {
          const keep = section.querySelector(`input[name="${name}"]:checked`).value;
          const others = photos.map((p) => p.id).filter((id) => id !== keep);
          if ((await trashPhotos(others)).length !== others.length) return;
          section.remove();
          if (!box.querySelector("[data-testid=duplicate-group]")) none();
        } }, t("duplicates.trashOthers", { count: photos.length - 1 })));
      box.append(section);
    });
  }).catch(showError);
  return {
    el: h("div", header(t("nav.duplicates")), h("p.muted", t("duplicates.intro")), box),
    photos: () => grids.flatMap((g) => g.photos()),
    grids,
  };
}

export function trash() {
  const daysLeft = (p) => {
    if (!p.purge_at) return "";
    const d = Math.max(0, Math.ceil((Date.parse(p.purge_at) - Date.now()) / 864e5));
    return d ? t("trash.deletedIn", { count: d }) : t("trash.deletedToday");
  };
  const deleteForever = async (ids, g) => {
    if (!(await confirmDialog(t("trash.deleteTitle"), t("trash.deleteText", { count: ids.length }), t("trash.deleteForever"), true))) return;
    const done = [];
    for (const id of ids) {
      try { await api(photoPath(id), { method: "DELETE" }); done.push(id); } catch (err) { showError(err); break; }
    }
    g.remove(done);
    g.setSelecting(false);
    if (done.length) toast(t("trash.deleted", { count: done.length }));
  };
  const grid = new PhotoGrid({
    empty: t("trash.empty"),
    extra: (p) => h("span.extra.purge", daysLeft(p)),
    actions: [
      { label: t("trash.restore"), testid: "selection-restore", run: async (ids, g) => { g.remove(await restorePhotos(ids)); g.setSelecting(false); } },
      { label: t("trash.deleteForever"), testid: "selection-delete", danger: true, run: deleteForever },
    ],
  });
  grid.follow((cursor) => api("/api/trash" + qs({ cursor })).then((res) => {
    const page = pageOf(res);
    page.photos = page.photos.map((x) => (x.photo ? { ...x.photo, purge_at: x.purge_at } : x));
    return page;
  }));
  const emptyAll = h("button.danger", { type: "button", testid: "trash-empty", onclick: () => deleteForever([...grid.byId.keys()], grid) }, t("trash.emptyAll"));
  return {
    el: h("div", header(t("nav.trash"), grid.selectButton(), emptyAll), h("p.muted", t("trash.intro")), grid.el),
    grid, mode: "trash", deleteForever,
  };
}
