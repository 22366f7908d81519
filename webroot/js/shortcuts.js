// The keyboard shortcut help that `?` opens (anywhere, and in the viewer): one list of every key
// the UI answers, so the overlay and docs/ui.md "Keyboard" say the same. A module that adds a
// key adds its row here. The overlay is a modal <dialog>: Esc (the browser's own) closes it.
import { h } from "./ui.js";
import { t } from "./i18n.js";

// Key caps whose printed name differs by language (Spanish keyboards: Intro, Supr, Inicio...).
const CAPS = { Space: "keys.space", Enter: "keys.enter", Delete: "keys.delete", Home: "keys.home", End: "keys.end", PgUp: "keys.pgUp", PgDn: "keys.pgDn" };

// [keys, where, what]: where and what are catalogue keys (messages/*.js).
export const SHORTCUTS = [
  [["?"], "shortcuts.where.anywhere", "shortcuts.does.help"],
  [["/"], "shortcuts.where.anywhere", "shortcuts.does.search"],
  [["u"], "shortcuts.where.anywhere", "shortcuts.does.upload"],
  [["←", "→"], "shortcuts.where.viewer", "shortcuts.does.step"],
  [["Space"], "shortcuts.where.viewer", "shortcuts.does.play"], // i18n: not translated: a CAPS name
  [["Esc"], "shortcuts.where.viewer", "shortcuts.does.close"],
  [["i"], "shortcuts.where.viewer", "shortcuts.does.info"],
  [["f"], "shortcuts.where.viewer", "shortcuts.does.favourite"],
  [["d"], "shortcuts.where.viewer", "shortcuts.does.date"],
  [["s"], "shortcuts.where.viewer", "shortcuts.does.slideshow"],
  [["Delete"], "shortcuts.where.viewer", "shortcuts.does.trash"],
  [["Ctrl", "Enter"], "shortcuts.where.description", "shortcuts.does.save"],
  [["x"], "shortcuts.where.tile", "shortcuts.does.select"],
  [["Esc"], "shortcuts.where.grid", "shortcuts.does.leave"],
  [["Ctrl", "A"], "shortcuts.where.grid", "shortcuts.does.selectAll"],
  [["Enter"], "shortcuts.where.dayHeader", "shortcuts.does.selectDay"],
  [["↑", "↓", "PgUp", "PgDn", "Home", "End"], "shortcuts.where.scrubber", "shortcuts.does.months"],
];

let open = null;

export const helpOpen = () => !!open;

/** Show the shortcut list as a modal dialog; focus goes back where it was when it closes. */
export function showShortcuts() {
  if (open) return open;
  const back = document.activeElement;
  const close = h("button", { type: "button", testid: "shortcut-help-close", onclick: () => dlg.close() }, t("common.close"));
  const dlg = h("dialog.modal.shortcuts", { testid: "shortcut-help", "aria-labelledby": "shortcut-help-title" },
    h("h2", { id: "shortcut-help-title" }, t("shortcuts.title")),
    h("table",
      h("thead", h("tr", h("th", t("shortcuts.key")), h("th", t("shortcuts.whereHead")), h("th", t("shortcuts.doesHead")))),
      h("tbody", SHORTCUTS.map(([keys, where, what]) => h("tr", { testid: "shortcut-row" },
        h("td", keys.map((k, i) => [i ? " " : "", h("kbd", CAPS[k] ? t(CAPS[k]) : k)])), h("td", t(where)), h("td", t(what)))))),
    h("div.row.end", close));
  dlg.addEventListener("close", () => { dlg.remove(); open = null; back?.focus?.({ preventScroll: true }); });
  document.body.append(dlg);
  dlg.showModal();
  close.focus();
  open = dlg;
  return dlg;
}
