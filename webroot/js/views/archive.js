// The Archive: photos kept out of the timeline (and its months and memories) but still in
// albums, search, tags and favourites. Select → Unarchive brings them back.
import { api, qs } from "../api.js";
import { h } from "../ui.js";
import { t } from "../i18n.js";
import { PhotoGrid } from "../grid.js";
import { archiveActions } from "../actions.js";
import { header, pageOf } from "./library.js";

export function archive() {
  const grid = new PhotoGrid({ actions: archiveActions(), onlyArchived: true, hidesArchived: false, empty: t("archive.empty") });
  grid.follow((cursor) => api("/api/archive" + qs({ cursor })).then(pageOf));
  return { el: h("div", { testid: "archive-view" }, header(t("archive.title"), grid.selectButton()),
    h("p.muted", t("archive.intro")), grid.el), grid };
}
