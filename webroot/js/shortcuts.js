// The keyboard shortcut help that `?` opens (anywhere, and in the viewer): one list of every key
// the UI answers, so the overlay and docs/ui.md "Keyboard" say the same. A module that adds a
// key adds its row here. The overlay is a modal <dialog>: Esc (the browser's own) closes it.
import { h } from "./ui.js";

// [keys, where, what]. Strings in one place (to move into the message catalogue).
const TEXT = {
  title: "Keyboard shortcuts",
  close: "Close",
  key: "Key", where: "Where", does: "Does",
  anywhere: "anywhere", viewer: "viewer", grid: "a grid", tile: "a focused tile", description: "description box",
  scrubber: "phone scrubber handle", slideshow: "slideshow",
};
export const SHORTCUTS = [
  [["?"], TEXT.anywhere, "show this list of shortcuts"],
  [["/"], TEXT.anywhere, "focus search"],
  [["u"], TEXT.anywhere, "choose files to upload"],
  [["←", "→"], TEXT.viewer, "previous / next photo (swipe on touch screens)"],
  [["Space"], TEXT.viewer, "play / pause a video or a motion photo's clip"],
  [["Esc"], TEXT.viewer, "stop the slideshow, or close the viewer"],
  [["i"], TEXT.viewer, "show / hide the info panel"],
  [["f"], TEXT.viewer, "favourite / unfavourite"],
  [["d"], TEXT.viewer, "change the date and time taken"],
  [["s"], TEXT.viewer, "start / pause the slideshow"],
  [["Delete"], TEXT.viewer, "move to trash (Undo in the toast)"],
  [["Ctrl", "Enter"], TEXT.description, "save"],
  [["x"], TEXT.tile, "select / unselect it (starts selection mode); Space too"],
  [["Esc"], TEXT.grid, "leave selection mode"],
  [["↑", "↓", "PgUp", "PgDn", "Home", "End"], TEXT.scrubber, "move by months and jump there"],
];

let open = null;

export const helpOpen = () => !!open;

/** Show the shortcut list as a modal dialog; focus goes back where it was when it closes. */
export function showShortcuts() {
  if (open) return open;
  const back = document.activeElement;
  const close = h("button", { type: "button", testid: "shortcut-help-close", onclick: () => dlg.close() }, TEXT.close);
  const dlg = h("dialog.modal.shortcuts", { testid: "shortcut-help", "aria-labelledby": "shortcut-help-title" },
    h("h2", { id: "shortcut-help-title" }, TEXT.title),
    h("table",
      h("thead", h("tr", h("th", TEXT.key), h("th", TEXT.where), h("th", TEXT.does))),
      h("tbody", SHORTCUTS.map(([keys, where, what]) => h("tr", { testid: "shortcut-row" },
        h("td", keys.map((k, i) => [i ? " " : "", h("kbd", k)])), h("td", where), h("td", what))))),
    h("div.row.end", close));
  dlg.addEventListener("close", () => { dlg.remove(); open = null; back?.focus?.({ preventScroll: true }); });
  document.body.append(dlg);
  dlg.showModal();
  close.focus();
  open = dlg;
  return dlg;
}
