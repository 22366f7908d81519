"""The browser UI in real headless Chromium against a real `octopus serve`.

One server (fresh data dir) and one browser page for the whole module; the tests run in file
order as one user's first session: create the account, upload, look, tag, sort into an album,
trash and restore, resolve a duplicate, use the vault, sign out and in again. Every test ends by
checking the page logged no JavaScript error.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator
from zoneinfo import ZoneInfo

import pytest

from ci_support import require_or_skip
from browser_support import CHROMIUM_ARGS, ConsoleWatch, chromium_path, write_photos
from http_support import Server
from orientation_support import PROBES, near, oriented_jpeg, wrong_probes

try:
    from playwright import sync_api
except ImportError:  # the ui fixture says what is missing (and fails under CI)
    sync_api = None  # type: ignore[assignment]
expect = getattr(sync_api, "expect", None)

USERNAME = "octo"
PASSWORD = "eight arms, one library"
VAULT_PASSPHRASE = "a long vault passphrase"
DESCRIPTION = "Sunset over the harbour wall"
TIMEOUT_MS = 10_000
TIME_ZONE = "Europe/Berlin"  # not the server's UTC, so a time shown in the wrong zone shows up
LIBRARY = ("red.jpg", "green.jpg", "blue-rotated.jpg")  # what the first upload sends
# The UI asks /api/users/me on boot; a 401 is how it learns it is signed out.
SIGNED_OUT_PROBE = r"status of 401"


@dataclass
class Session:
    server: Server
    page: Any
    console: ConsoleWatch
    shots: Path
    photos: dict[str, Path]
    ids: dict[str, str] = field(default_factory=dict)  # filename → photo id

    def tid(self, testid: str) -> Any:
        return self.page.get_by_test_id(testid)

    def tile(self, name: str) -> Any:
        return self.page.locator(f"[data-testid=photo-tile][data-photo-id='{self.ids[name]}']")

    def go(self, route: str) -> None:
        self.tid(f"nav-{route}").click()
        expect(self.page).to_have_url(f"{self.server.url}/#/{route}")

    def api(self, path: str) -> Any:
        res = self.page.request.get(self.server.url + path)
        assert res.ok, (path, res.status, res.text())
        return res.json()

    def shot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=False)
        return path

    def assert_no_js_errors(self, *allowed: str) -> None:
        assert self.console.take(*allowed) == []


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    require_or_skip(sync_api, "the playwright package", "run uv sync")
    exe = chromium_path()
    require_or_skip(exe, "a chromium binary on PATH", "Debian: apt-get install chromium; .ci/run does this")
    root = tmp_path_factory.mktemp("browser")
    server = Server(root / "data").start()  # registration closed: only the first account may register
    # Screenshots go to the test's tmp dir, or wherever BROWSER_SCREENSHOTS points.
    shots = Path(os.environ.get("BROWSER_SCREENSHOTS") or root / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB",
                                              timezone_id=TIME_ZONE, color_scheme="light", reduced_motion="reduce")
                context.set_default_timeout(TIMEOUT_MS)
                expect.set_options(timeout=TIMEOUT_MS)
                page = context.new_page()
                console = ConsoleWatch()
                console.attach(page)
                yield Session(server, page, console, shots, write_photos(root / "photos"))
            finally:
                browser.close()
    finally:
        server.stop()


def tiles_in_day(ui: Session, date: str) -> Any:
    return ui.page.locator(f"[data-testid=day-section][data-date='{date}'] [data-testid=photo-tile]")


def info_row(ui: Session, label: str) -> Any:
    return ui.tid("info-panel").locator(f"dt:text-is('{label}') + dd")


def images_loaded(locator: Any) -> None:
    """Every <img> under `locator` finished loading real pixels."""
    locator.first.wait_for()
    ui_page = locator.page
    handles = locator.element_handles()
    assert handles
    ui_page.wait_for_function("imgs => imgs.every(i => i.complete && i.naturalWidth > 0)", arg=handles)


def shown_pixels(img: Any, points: list[tuple[float, float]]) -> list[list[int]]:
    """The RGB the page decoded for `img` at each (x, y) fraction of its natural size: the <img>
    drawn into a canvas as the browser shows it (EXIF applied, if the file still carried any)."""
    return img.evaluate(
        """(i, points) => {
            const c = document.createElement("canvas");
            c.width = i.naturalWidth;
            c.height = i.naturalHeight;
            const g = c.getContext("2d", {willReadFrequently: true});
            g.drawImage(i, 0, 0);
            return points.map(([fx, fy]) => Array.from(g.getImageData(
                Math.min(c.width - 1, Math.floor(fx * c.width)), Math.min(c.height - 1, Math.floor(fy * c.height)), 1, 1
            ).data.slice(0, 3)));
        }""",
        [list(p) for p in points],
    )


CORNERS = [(0.06, 0.06), (0.94, 0.06), (0.06, 0.94), (0.94, 0.94)]  # top-left, top-right, bottom-left, bottom-right
MARKER = (20, 20, 20)  # the dark block browser_support.jpeg paints in the stored top-left corner


def assert_marker_top_right(img: Any, what: str) -> None:
    """blue-rotated.jpg is stored landscape with its dark marker top-left and orientation 6: upright,
    the marker is top-right. Turned the other way it would be bottom-left; mirrored, top-left or
    bottom-right."""
    dark = [near(p, MARKER) for p in shown_pixels(img, CORNERS)]
    assert dark == [False, True, False, False], f"the orientation-6 {what} is not upright: dark corners {dark}"


def test_first_run_creates_the_admin_and_shows_an_empty_timeline(ui: Session) -> None:
    page = ui.page
    page.goto(ui.server.url + "/")
    # A new server opens on account creation (issue 11; GET /api/auth/status): the first account
    # becomes the admin.
    expect(ui.tid("register-form")).to_be_visible()
    expect(ui.tid("login-form")).to_be_hidden()
    ui.shot("sign-in")
    ui.tid("register-username").fill(USERNAME)
    ui.tid("register-password").fill(PASSWORD)
    ui.tid("register-password-again").fill(PASSWORD)
    ui.tid("register-submit").click()

    expect(ui.tid("timeline")).to_be_visible()
    expect(page).to_have_title("Photos · Octopus Photos")
    expect(ui.tid("user-link")).to_have_text(USERNAME)
    expect(ui.tid("photo-grid").locator(".empty")).to_be_visible()
    expect(ui.tid("photo-grid").locator(".empty")).to_contain_text("No photos yet")
    expect(ui.tid("photo-tile")).to_have_count(0)
    ui.shot("timeline-empty")
    assert ui.api("/api/users/me")["admin"] is True
    ui.assert_no_js_errors(SIGNED_OUT_PROBE)


def test_upload_puts_photos_under_their_days_without_a_reload(ui: Session) -> None:
    page = ui.page
    page.evaluate("window.__sameDocument = true")  # gone if anything reloads the page
    ui.tid("upload-input").set_input_files([str(ui.photos[name]) for name in LIBRARY])
    expect(ui.tid("upload-panel")).to_be_visible()
    expect(page.locator("[data-testid=upload-item][data-status=new]")).to_have_count(3)
    expect(ui.tid("upload-panel")).to_contain_text("3 new")

    for day in ui.api("/api/timeline")["days"]:
        for p in day["photos"]:
            ui.ids[p["filename"]] = p["id"]
    assert set(ui.ids) == set(LIBRARY)

    expect(tiles_in_day(ui, "2023-05-10")).to_have_count(2)
    expect(tiles_in_day(ui, "2022-12-24")).to_have_count(1)
    # Newest first: the days, and the photos within a day.
    dates = page.locator("[data-testid=day-section]").evaluate_all("els => els.map(e => e.dataset.date)")
    assert dates == ["2023-05-10", "2022-12-24"]
    order = tiles_in_day(ui, "2023-05-10").evaluate_all("els => els.map(e => e.dataset.photoId)")
    assert order == [ui.ids["green.jpg"], ui.ids["red.jpg"]]
    expect(page.locator("[data-testid=day-section][data-date='2023-05-10'] h3")).to_contain_text("10 May 2023")
    expect(ui.tid("photo-grid").locator(".empty")).to_be_hidden()
    expect(ui.tid("month-scrubber").locator("button[data-month]")).to_have_count(2)
    assert page.evaluate("window.__sameDocument") is True

    images_loaded(ui.tid("photo-tile").locator("img"))
    rotated = ui.tile("blue-rotated.jpg").locator("img")
    natural = rotated.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    assert natural[1] > natural[0], f"the orientation-6 thumbnail is not upright: {natural}"
    assert_marker_top_right(rotated, "thumbnail")
    box = rotated.bounding_box()
    assert box is not None and box["height"] > box["width"], f"the orientation-6 tile is shown landscape: {box}"
    for name in ("red.jpg", "green.jpg"):
        box = ui.tile(name).locator("img").bounding_box()
        assert box is not None and box["width"] > box["height"], (name, box)
    ui.shot("timeline")

    ui.tid("upload-input").set_input_files(str(ui.photos["red.jpg"]))
    duplicate = page.locator("[data-testid=upload-item][data-status=duplicate]")
    expect(duplicate).to_have_count(1)
    expect(duplicate).to_contain_text("red.jpg")
    expect(duplicate).to_contain_text("already in library")
    expect(ui.tid("photo-tile")).to_have_count(3)
    ui.assert_no_js_errors()


def test_viewer_favourite_tags_description_search_and_keys(ui: Session) -> None:
    page = ui.page
    green, red = ui.ids["green.jpg"], ui.ids["red.jpg"]
    ui.tile("green.jpg").locator("a").click()
    expect(ui.tid("viewer")).to_be_visible()
    expect(page).to_have_url(f"{ui.server.url}/#/photo/{green}")
    image = ui.tid("viewer-image")
    expect(image).to_have_attribute("src", f"/api/photos/{green}/thumbnail?size=preview")
    page.wait_for_function("i => i.complete && i.naturalWidth > 0", arg=image.element_handle())
    expect(ui.tid("viewer-prev")).to_be_disabled()
    expect(ui.tid("info-panel")).to_contain_text("green.jpg")
    # Taken: the photo's own wall clock; uploaded: an instant, in the browser's time zone.
    expect(info_row(ui, "Taken")).to_have_text("10 May 2023, 17:45")
    uploaded = datetime.fromisoformat(ui.api(f"/api/photos/{green}")["uploaded_at"]).astimezone(ZoneInfo(TIME_ZONE))
    expect(info_row(ui, "Uploaded")).to_have_text(f"{uploaded.day} {uploaded:%b %Y, %H:%M}")

    fav = ui.tid("favourite-button")
    expect(fav).to_have_attribute("aria-pressed", "false")
    fav.click()
    expect(fav).to_have_attribute("aria-pressed", "true")

    tags = ui.tid("tags-input")
    tags.fill("Harbour")
    tags.press("Enter")
    expect(ui.tid("tag-chip")).to_have_count(1)
    expect(ui.tid("tag-chip")).to_contain_text("Harbour")

    ui.tid("description-input").fill(DESCRIPTION)
    ui.tid("description-save").click()
    expect(ui.tid("toast").filter(has_text="Description saved")).to_be_visible()
    expect(ui.tid("description-save")).to_be_disabled()
    ui.shot("viewer")

    # The description survives a reload (the viewer reopens from the address).
    page.reload()
    expect(ui.tid("viewer")).to_be_visible()
    expect(ui.tid("description-input")).to_have_value(DESCRIPTION)
    expect(ui.tid("favourite-button")).to_have_attribute("aria-pressed", "true")
    expect(ui.tid("tag-chip")).to_have_text("Harbour×")

    # Keyboard: → next, ← back, Esc closes (focus must not be in a text box).
    ui.tid("viewer-close").focus()
    page.keyboard.press("ArrowRight")
    expect(page).to_have_url(f"{ui.server.url}/#/photo/{red}")
    expect(ui.tid("info-panel")).to_contain_text("red.jpg")
    expect(ui.tid("favourite-button")).to_have_attribute("aria-pressed", "false")
    page.keyboard.press("ArrowLeft")
    expect(page).to_have_url(f"{ui.server.url}/#/photo/{green}")
    expect(ui.tid("favourite-button")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Escape")
    expect(ui.tid("viewer")).to_have_count(0)
    expect(page).to_have_url(f"{ui.server.url}/#/timeline")
    expect(ui.tile("green.jpg").locator(".fav")).to_be_visible()

    ui.go("favourites")
    expect(ui.tid("photo-tile")).to_have_count(1)
    expect(ui.tile("green.jpg")).to_be_visible()

    ui.go("tags")
    link = ui.tid("tag-link")
    expect(link).to_have_count(1)
    expect(link).to_have_text("Harbour 1")
    link.click()
    expect(page.locator("#view h2")).to_have_text("Tag: Harbour")
    expect(ui.tid("photo-tile")).to_have_count(1)
    expect(ui.tile("green.jpg")).to_be_visible()

    search = ui.tid("header-search")
    search.fill("harbour")
    search.press("Enter")
    expect(page).to_have_url(f"{ui.server.url}/#/search?q=harbour")
    expect(ui.tid("search-q")).to_have_value("harbour")
    expect(ui.tid("photo-tile")).to_have_count(1)
    expect(ui.tile("green.jpg")).to_be_visible()
    ui.tid("search-q").fill("nothing-like-this")
    ui.tid("search-submit").click()
    expect(ui.tid("photo-grid").locator(".empty")).to_have_text("No matches.")
    ui.assert_no_js_errors()


def test_album_create_add_by_selection_open_and_rename(ui: Session) -> None:
    page = ui.page
    ui.go("albums")
    expect(page.locator(".empty")).to_contain_text("No albums yet")
    ui.tid("album-create-name").fill("Trip")
    ui.tid("album-create-submit").click()
    expect(page).to_have_url(re.compile(r"#/albums/[^/]+$"))
    album_url = page.url
    expect(page.locator("#view h2")).to_have_text("Trip")
    expect(ui.tid("photo-grid").locator(".empty")).to_contain_text("This album is empty")

    ui.go("timeline")
    ui.tid("select-toggle").click()
    expect(ui.tid("selection-bar")).to_be_visible()
    ui.tile("red.jpg").click()
    expect(ui.tile("red.jpg")).to_have_class(re.compile(r"\bselected\b"))
    expect(ui.tid("selection-bar")).to_contain_text("1 photo selected")
    ui.tid("selection-add-album").click()
    ui.tid("album-choice").filter(has_text="Trip").click()
    expect(ui.tid("toast").filter(has_text="1 photo added to the album")).to_be_visible()
    expect(ui.tid("selection-bar")).to_be_hidden()
    assert page.url.endswith("#/timeline"), "a click in selection mode must not open the viewer"

    ui.go("albums")
    card = ui.tid("album-card")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("Trip")
    expect(card).to_contain_text("1 photo")
    images_loaded(card.locator("img"))
    ui.shot("albums")
    card.click()
    expect(page).to_have_url(album_url)
    expect(ui.tid("photo-tile")).to_have_count(1)
    expect(ui.tile("red.jpg")).to_be_visible()

    ui.tid("album-rename").click()
    prompt = ui.tid("prompt-input")
    expect(prompt).to_have_value("Trip")
    prompt.fill("Summer trip")
    ui.tid("prompt-ok").click()
    expect(page.locator("#view h2")).to_have_text("Summer trip")
    page.reload()
    expect(page.locator("#view h2")).to_have_text("Summer trip")
    expect(ui.tile("red.jpg")).to_be_visible()
    ui.assert_no_js_errors()


def test_trash_from_the_viewer_then_restore(ui: Session) -> None:
    page = ui.page
    ui.go("timeline")
    ui.tile("blue-rotated.jpg").locator("a").click()
    expect(ui.tid("viewer")).to_be_visible()
    expect(ui.tid("info-panel")).to_contain_text("blue-rotated.jpg")
    rotated = ui.tid("viewer-image")
    page.wait_for_function("i => i.complete && i.naturalWidth > 0", arg=rotated.element_handle())
    natural = rotated.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    assert natural[1] > natural[0], f"the orientation-6 preview is not upright: {natural}"
    assert_marker_top_right(rotated, "preview")
    ui.shot("viewer-rotated")
    ui.tid("trash-button").click()
    expect(ui.tid("toast").filter(has_text="1 photo moved to trash")).to_be_visible()
    # The last photo of the list went: the viewer shows its neighbour.
    expect(ui.tid("info-panel")).not_to_contain_text("blue-rotated.jpg")
    page.keyboard.press("Escape")
    expect(ui.tid("viewer")).to_have_count(0)
    expect(ui.tid("photo-tile")).to_have_count(2)
    expect(ui.tile("blue-rotated.jpg")).to_have_count(0)
    expect(page.locator("[data-testid=day-section][data-date='2022-12-24']")).to_have_count(0)

    ui.go("trash")
    expect(ui.tid("photo-tile")).to_have_count(1)
    tile = ui.tile("blue-rotated.jpg")
    expect(tile.locator(".purge")).to_have_text(re.compile(r"^deleted in \d+ days$"))
    images_loaded(tile.locator("img"))
    ui.shot("trash")
    ui.tid("select-toggle").click()
    tile.click()
    ui.tid("selection-restore").click()
    expect(ui.tid("photo-tile")).to_have_count(0)
    expect(ui.tid("photo-grid").locator(".empty")).to_have_text("Trash is empty.")

    ui.go("timeline")
    expect(ui.tid("photo-tile")).to_have_count(3)
    expect(tiles_in_day(ui, "2022-12-24")).to_have_count(1)
    ui.assert_no_js_errors()


def test_duplicates_keep_one_then_delete_the_other_forever(ui: Session) -> None:
    page = ui.page
    ui.go("timeline")
    ui.tid("upload-input").set_input_files(str(ui.photos["green-copy.jpg"]))
    item = page.locator("[data-testid=upload-item]").filter(has_text="green-copy.jpg")
    expect(item).to_have_attribute("data-status", "new")
    expect(tiles_in_day(ui, "2023-05-10")).to_have_count(3)
    ui.ids["green-copy.jpg"] = ui.api("/api/search?q=green-copy")["photos"][0]["id"]

    ui.go("duplicates")
    group = ui.tid("duplicate-group")
    expect(group).to_have_count(1)
    expect(group.locator("[data-testid=photo-tile]")).to_have_count(2)
    expect(ui.tile("green.jpg")).to_be_visible()
    expect(ui.tile("green-copy.jpg")).to_be_visible()
    images_loaded(group.locator("img"))
    ui.tile("green.jpg").locator("input[type=radio]").check()
    expect(ui.tid("duplicate-trash-others")).to_have_text("Keep selected, trash 1 other")
    ui.tid("duplicate-trash-others").click()
    expect(group).to_have_count(0)
    expect(ui.tid("duplicates")).to_contain_text("No duplicates found.")

    ui.go("trash")
    expect(ui.tid("photo-tile")).to_have_count(1)
    ui.tid("select-toggle").click()
    ui.tile("green-copy.jpg").click()
    ui.tid("selection-delete").click()
    ui.tid("confirm-ok").click()
    expect(ui.tid("toast").filter(has_text="1 photo deleted forever")).to_be_visible()
    expect(ui.tid("photo-grid").locator(".empty")).to_have_text("Trash is empty.")
    assert page.request.get(f"{ui.server.url}/api/photos/{ui.ids['green-copy.jpg']}").status == 404

    ui.go("timeline")
    expect(ui.tid("photo-tile")).to_have_count(3)
    expect(ui.tile("green.jpg")).to_be_visible()
    ui.assert_no_js_errors()


def test_vault_create_move_in_view_restore_and_lock(ui: Session) -> None:
    page = ui.page
    ui.go("vault")
    # No vault yet: the first visit offers creation, not Unlock (issue 11).
    expect(ui.tid("vault-create-form")).to_be_visible()
    expect(ui.tid("vault-unlock-form")).to_have_count(0)
    page.get_by_test_id("vault-create-passphrase").fill(VAULT_PASSPHRASE)
    page.get_by_test_id("vault-create-confirm").fill(VAULT_PASSPHRASE)
    with page.expect_response(lambda r: r.url.endswith("/api/vault/unlock")) as unlocked:
        ui.tid("vault-create-submit").click()
    vault_token = {"X-Vault-Token": unlocked.value.json()["vault_token"]}
    expect(ui.tid("toast").filter(has_text="Vault created")).to_be_visible()
    expect(ui.tid("vault-lock")).to_be_visible()
    expect(ui.tid("photo-grid").locator(".empty")).to_contain_text("The vault is empty")

    ui.go("timeline")
    ui.tile("red.jpg").locator("a").click()
    expect(ui.tid("info-panel")).to_contain_text("red.jpg")
    ui.tid("vault-button").click()
    expect(ui.tid("toast").filter(has_text="1 photo moved to the vault")).to_be_visible()
    expect(ui.tid("info-panel")).not_to_contain_text("red.jpg")
    page.keyboard.press("Escape")
    expect(ui.tid("viewer")).to_have_count(0)
    expect(ui.tid("photo-tile")).to_have_count(2)
    expect(ui.tile("red.jpg")).to_have_count(0)

    ui.go("vault")  # still unlocked: the token lives in page memory
    expect(ui.tid("photo-tile")).to_have_count(1)
    images_loaded(ui.tile("red.jpg").locator("img"))
    assert ui.tile("red.jpg").locator("img").get_attribute("src").startswith("blob:")
    ui.tile("red.jpg").locator("a").click()
    expect(ui.tid("viewer")).to_be_visible()
    image = ui.tid("viewer-image")
    expect(image).to_have_attribute("src", re.compile(r"^blob:"))
    page.wait_for_function("i => i.complete && i.naturalWidth > 0", arg=image.element_handle())
    ui.tid("vault-restore-button").click()
    expect(ui.tid("toast").filter(has_text="Restored to the library")).to_be_visible()
    expect(ui.tid("viewer")).to_have_count(0)
    expect(ui.tid("photo-tile")).to_have_count(0)

    assert page.request.get(f"{ui.server.url}/api/vault/photos", headers=vault_token).status == 200
    ui.tid("vault-lock").click()
    expect(ui.tid("vault-unlock-form")).to_be_visible()
    # Locked on the server, not only forgotten by the page: the same session's token is refused.
    assert page.request.get(f"{ui.server.url}/api/vault/photos", headers=vault_token).status == 403
    ui.tid("vault-passphrase").fill(VAULT_PASSPHRASE)
    ui.tid("vault-unlock-submit").click()
    expect(ui.tid("vault-lock")).to_be_visible()
    expect(ui.tid("photo-grid").locator(".empty")).to_contain_text("The vault is empty")

    ui.go("timeline")
    expect(ui.tid("photo-tile")).to_have_count(3)
    images_loaded(ui.tile("red.jpg").locator("img"))
    ui.assert_no_js_errors()


def test_settings_storage_sign_out_and_in_again(ui: Session) -> None:
    page = ui.page
    ui.go("settings")
    total_kb = sum(ui.photos[name].stat().st_size for name in LIBRARY) / 1024
    expect(ui.tid("storage").locator("p")).to_have_text(f"3 photos · {total_kb:.0f} KB (no quota)")
    expect(ui.tid("storage")).not_to_contain_text("null")
    expect(ui.tid("admin-users")).to_contain_text(USERNAME)
    expect(ui.tid("admin-users").locator("[data-testid=admin-user-row]")).to_contain_text("admin")
    expect(ui.tid("admin-projections").locator("[data-testid=projection-row]").first).to_be_visible()
    ui.shot("settings")

    ui.tid("logout-button").click()
    expect(ui.tid("login-form")).to_be_visible()
    expect(ui.tid("timeline")).to_have_count(0)
    assert page.request.get(ui.server.url + "/api/users/me").status == 401

    ui.tid("login-username").fill(USERNAME)
    ui.tid("login-password").fill("not the password")
    ui.tid("login-submit").click()
    # The UI words the problem's code (wrong_credentials) itself: a sentence, in the UI's language.
    expect(ui.tid("auth-error")).to_have_text("Wrong username or password.")
    ui.tid("login-password").fill(PASSWORD)
    ui.tid("login-submit").click()
    expect(ui.tid("storage")).to_be_visible()  # back on the page in the address
    ui.go("timeline")
    expect(ui.tid("photo-tile")).to_have_count(3)
    images_loaded(ui.tid("photo-tile").locator("img"))
    ui.assert_no_js_errors(r"status of 401")


def test_every_exif_orientation_is_shown_upright(ui: Session, tmp_path: Path) -> None:
    # Last, so the eight extra photos change no count above. One scene stored turned or mirrored
    # for each EXIF orientation: every tile and the viewer show it the same way up.
    page = ui.page
    ui.go("timeline")
    files = []
    for orientation in range(1, 9):
        path = tmp_path / f"orientation-{orientation}.jpg"
        path.write_bytes(oriented_jpeg(orientation, (1600, 1200)))
        files.append(path)
    before = ui.tid("photo-tile").count()
    ui.tid("upload-input").set_input_files([str(p) for p in files])
    # The tiles, not the upload panel: an earlier batch's tidy-up timer may close the panel early.
    expect(ui.tid("photo-tile")).to_have_count(before + len(files))
    for day in ui.api("/api/timeline?limit=100")["days"]:
        for p in day["photos"]:
            ui.ids[p["filename"]] = p["id"]
    assert {p.name for p in files} <= set(ui.ids)
    points = [(fx, fy) for fx, fy, _ in PROBES]
    for path in files:
        img = ui.tile(path.name).locator("img")
        images_loaded(img)
        # Upright means landscape 4:3 for every orientation (5-8 are stored turned). The grid's srcset
        # picks the 256 or the 512 px size, and naturalWidth is then scaled by the chosen density.
        w, h = img.evaluate("i => [i.naturalWidth, i.naturalHeight]")
        assert w > h and abs(w / h - 4 / 3) < 0.03, (path.name, w, h)
        assert wrong_probes(shown_pixels(img, points)) == [], f"{path.name} tile"
    ui.tile("orientation-2.jpg").locator("a").click()  # the mirrored one, large
    preview = ui.tid("viewer-image")
    page.wait_for_function("i => i.complete && i.naturalWidth > 0", arg=preview.element_handle())
    assert wrong_probes(shown_pixels(preview, points)) == [], "orientation-2.jpg preview"
    page.keyboard.press("Escape")
    expect(ui.tid("viewer")).to_have_count(0)
    ui.assert_no_js_errors()
