// Places (#/places, issue 11 item 6): the library's photos on a map. The server counts items with
// GPS per cell of the map's tile grid (GET /api/places/clusters), so a viewport is at most a few
// hundred round markers with counts however large the library is. Clicking one zooms to its cell
// and lists its photos below the map (GET /api/places/items, newest first, paged).
//
// Leaflet (vendor/leaflet-1.9.4.js) is loaded on the first visit only. The background is
// OpenStreetMap's tiles when the browser is online (the app shell's CSP allows images from
// tile.openstreetmap.org and nothing else from there); offline, or once a tile fails to load, the
// map keeps working over a plain background: the clusters come from our server, not from tiles.
// #/places?lat=&lon=&z= opens the map there (the viewer's place line links here).
import { api, qs, thumbUrl } from "../api.js";
import { h, showError } from "../ui.js";
import { t, formatNumber } from "../i18n.js";
import { header } from "./library.js";

const LEAFLET = "vendor/leaflet-1.9.4";
const TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png";
const MAX_ZOOM = 18;
const LIST_PAGE = 60;
let leaflet = null;

/** Leaflet's script and stylesheet, once per page. */
function loadLeaflet() {
  if (!leaflet) {
    leaflet = new Promise((resolve, reject) => {
      const css = h("link", { rel: "stylesheet", href: `${LEAFLET}.css` });
      document.head.append(css);
      // A classic script (Leaflet's UMD build defines window.L); no inline code, so the CSP holds.
      const script = h("script", { src: `${LEAFLET}.js` });
      script.addEventListener("load", () => resolve(window.L));
      script.addEventListener("error", () => { leaflet = null; reject(new Error(t("places.leafletFailed"))); });
      document.head.append(script);
    });
  }
  return leaflet;
}

const wrap = (lon) => ((((lon + 180) % 360) + 360) % 360) - 180;
const clampLat = (lat) => Math.max(-85.05, Math.min(85.05, lat));

/** The viewport as the API's bbox: west,south,east,north within the world (west > east: across 180°). */
function bboxOf(bounds) {
  const south = clampLat(bounds.getSouth()), north = clampLat(bounds.getNorth());
  let west = bounds.getWest(), east = bounds.getEast();
  if (east - west >= 360) { west = -180; east = 180; } else { west = wrap(west); east = wrap(east); }
  if (east === -180) east = 180;
  return [west, south, east, north].map((v) => v.toFixed(6)).join(",");
}

/** A cell's bounds [west, south, east, north]: the web map tile (level, x, y), as the server's tile(). */
function tileBounds(level, x, y) {
  const n = 2 ** level;
  const lat = (row) => (Math.atan(Math.sinh(Math.PI * (1 - (2 * row) / n))) * 180) / Math.PI;
  return [(x / n) * 360 - 180, lat(y + 1), ((x + 1) / n) * 360 - 180, lat(y)];
}

function sizeClass(count) {
  return count >= 1000 ? "xl" : count >= 100 ? "l" : count >= 10 ? "m" : "s";
}

export function places({ query }) {
  const mapEl = h("div.places-map", { testid: "places-map", role: "region", "aria-label": t("places.mapLabel") });
  const status = h("p.places-status", { testid: "places-status", "aria-live": "polite" });
  const listHead = h("h3.places-list-head", { testid: "places-list-head", hidden: true });
  const list = h("ul.places-list", { testid: "places-list" });
  const moreButton = h("button.secondary", { type: "button", testid: "places-more", hidden: true }, t("places.more"));
  const el = h("div.places", { testid: "places" }, header(t("places.title")), status, mapEl, listHead, list, moreButton);
  let map = null, layer = null, tiles = null, destroyed = false, seq = 0;
  let listed = [], listBox = null, listCursor = null;

  function showStatus(key) {
    status.textContent = key ? t(key) : "";
    status.hidden = !key;
  }

  function useTiles(L) {
    if (tiles || !navigator.onLine) return;
    tiles = L.tileLayer(TILES, { maxZoom: 19, attribution: t("places.attribution"), crossOrigin: false });
    // One failed tile (offline after all, a blocked host): drop the background, keep the map.
    tiles.once("tileerror", () => { dropTiles(); showStatus("places.tilesFailed"); });
    tiles.addTo(map);
    mapEl.classList.remove("plain");
  }

  function dropTiles() {
    if (tiles && map) map.removeLayer(tiles);
    tiles = null;
    mapEl.classList.add("plain");
  }

  function online() { if (map) { showStatus(""); useTiles(window.L); } }
  function offline() { dropTiles(); showStatus("places.offline"); }

  async function refresh() {
    if (!map || destroyed) return;
    const mine = ++seq;
    const zoom = map.getZoom();
    const bounds = map.getBounds();
    let res;
    try {
      res = await api(`/api/places/clusters${qs({ bbox: bboxOf(bounds), zoom })}`);
    } catch (err) {
      if (mine === seq) showError(err);
      return;
    }
    if (mine !== seq || destroyed) return; // a newer viewport's answer is on its way
    const L = window.L;
    layer.clearLayers();
    const west = bounds.getWest();
    for (const c of res.clusters) {
      // Markers go on the world copy the viewport shows (the view may sit past 180°).
      let lon = c.lon;
      while (lon < west) lon += 360;
      while (lon > west + 360) lon -= 360;
      const label = t("places.cluster", { count: c.count });
      const marker = L.marker([c.lat, lon], {
        icon: L.divIcon({ className: `place-cluster ${sizeClass(c.count)}`, html: "", iconSize: null }),
        title: label, alt: label, keyboard: true, riseOnHover: true,
      });
      marker.on("add", () => {
        const node = marker.getElement();
        node.textContent = formatNumber(c.count);
        node.dataset.testid = "place-cluster";
        node.dataset.count = String(c.count);
        node.setAttribute("role", "button");
        node.setAttribute("aria-label", label);
      });
      marker.on("click", () => openCluster(c, tileBounds(res.level, c.x, c.y)));
      layer.addLayer(marker);
    }
    el.dataset.total = String(res.total);
    el.dataset.zoom = String(zoom);
    el.dataset.clusters = String(res.clusters.length);
    if (!res.total && !listed.length && zoom <= 2) showStatus("places.empty");
    else if (status.textContent === t("places.empty")) showStatus("");
  }

  function openCluster(c, bounds) {
    const [w, s, e, n] = bounds;
    // Zoom until the cell fills the map, centred on its photos (the cell's middle may be sea).
    if (c.count > 1 && map.getZoom() < MAX_ZOOM) {
      map.setView([c.lat, c.lon], Math.min(MAX_ZOOM, Math.max(map.getZoom() + 1, map.getBoundsZoom([[s, w], [n, e]]))));
    }
    showItems(bounds.map((v) => v.toFixed(6)).join(","), c.count);
  }

  async function showItems(bbox, count, more = false) {
    if (!more) { listed = []; listCursor = null; listBox = bbox; list.replaceChildren(); }
    listHead.hidden = false;
    listHead.textContent = t("places.here", { count });
    listHead.dataset.count = String(count);
    let res;
    try {
      res = await api(`/api/places/items${qs({ bbox, limit: LIST_PAGE, cursor: listCursor || undefined })}`);
    } catch (err) { showError(err); return; }
    if (destroyed || bbox !== listBox) return;
    listed.push(...res.photos);
    listCursor = res.cursor;
    moreButton.hidden = !res.cursor;
    list.append(...res.photos.map((p) => {
      const name = p.place ? p.place.city : "";
      const alt = p.description || p.filename || t("places.photo");
      return h("li", h("a.place-item", { href: `#/photo/${encodeURIComponent(p.id)}`, testid: "place-item", "data-id": p.id, title: name },
        h("img", { src: thumbUrl(p.id), alt, loading: "lazy", width: 128, height: 128 })));
    }));
  }
  moreButton.addEventListener("click", () => listBox && showItems(listBox, Number(listHead.dataset.count), true));

  loadLeaflet().then((L) => {
    if (destroyed) return;
    const lat = Number(query.get("lat")), lon = Number(query.get("lon")), z = Number(query.get("z"));
    const aimed = query.has("lat") && Number.isFinite(lat) && Number.isFinite(lon);
    map = L.map(mapEl, { worldCopyJump: true, minZoom: 1, maxZoom: MAX_ZOOM, zoomSnap: 1 })
      .setView(aimed ? [lat, lon] : [20, 0], aimed && Number.isFinite(z) ? Math.min(MAX_ZOOM, Math.max(1, z)) : 2);
    map.attributionControl.setPrefix(false);
    layer = L.layerGroup().addTo(map);
    mapEl.classList.add("plain");
    if (navigator.onLine) useTiles(L); else showStatus("places.offline");
    addEventListener("online", online);
    addEventListener("offline", offline);
    map.on("moveend", refresh);
    el.dataset.ready = "true";
    refresh();
  }).catch(showError);

  return {
    el,
    photos: () => listed,
    destroy() {
      destroyed = true;
      removeEventListener("online", online);
      removeEventListener("offline", offline);
      if (map) map.remove();
      map = null;
    },
  };
}
