"""Selection and bulk actions at 1440x900 in real Chromium against a real `octopus serve` (issue 11,
item 3, and the Archive of item 5): shift-click ranges, a day header selecting its day, the mouse's
rubber band, Ctrl-A selecting the loaded photos (not the page's text), Esc clearing; then the bulk
actions, each checked through the API: a date shift for a camera with a wrong clock, tags added
and removed, unfavourite, the ZIP the page downloads (opened with zipfile, byte-exact), and the
Archive (off the timeline, still in the album and search, back with Unarchive).

One server and one browser for the module; each test has its own user and photos."""

from __future__ import annotations

import hashlib
import zipfile
from typing import Any, Iterator

import pytest

from desktop_support import Desk, chromium, desk, expect, poll
from http_support import Server, User, jpeg_with_exif

# Six photos on three days, two a day, newest first on the timeline.
TAKEN = ["2024:06:03 18:00:00", "2024:06:03 09:00:00", "2024:06:02 18:00:00", "2024:06:02 09:00:00",
         "2024:06:01 18:00:00", "2024:06:01 09:00:00"]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with chromium() as browser:
        server = Server(tmp_path_factory.mktemp("selection") / "data", env={"OCTOPUS_AUTH_REGISTRATION": "open"}).start()
        try:
            yield {"browser": browser, "server": server, "n": 0}
        finally:
            server.stop()


class Library:
    def __init__(self, user: User, ids: list[str], data: dict[str, bytes]) -> None:
        self.user, self.ids, self.data = user, ids, data

    def photo(self, pid: str) -> dict[str, Any]:
        with self.user.client() as c:
            r = c.get(f"/api/photos/{pid}")
            assert r.status_code == 200, r.text
            return r.json()

    def get(self, path: str, **params: Any) -> Any:
        with self.user.client() as c:
            r = c.get(path, params=params)
            assert r.status_code == 200, r.text
            return r.json()


def library(env: dict[str, Any], taken: list[str] = TAKEN) -> Library:
    server: Server = env["server"]
    env["n"] += 1
    user = server.new_user(f"picker{env['n']}")
    ids, data = [], {}
    for i, when in enumerate(taken):
        body = jpeg_with_exif(9000 + 50 * env["n"] + i, "Octopus", "Test Camera", when)
        r = user.upload(body, f"IMG_{i:04d}.jpg", description=f"picture number {i}")
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
        data[ids[-1]] = body
    return Library(user, ids, data)


@pytest.fixture
def lib(env: dict[str, Any]) -> Library:
    return library(env)


@pytest.fixture
def d(env: dict[str, Any], lib: Library) -> Iterator[Desk]:
    with desk(env["browser"], env["server"], lib.user) as page:
        expect(page.tid("photo-tile")).to_have_count(len(lib.ids))
        yield page
        assert page.errors() == []


def selected(d: Desk) -> list[str]:
    return d.page.eval_on_selector_all(".tile.selected", "ts => ts.map((t) => t.dataset.photoId)")


def bar_count(d: Desk, n: int) -> None:
    expect(d.tid("selection-bar").locator(".count")).to_contain_text(f"{n} photo" if n == 1 else f"{n} photos")


def select_ids(d: Desk, ids: list[str]) -> None:
    d.tid("select-toggle").click()
    for pid in ids:
        d.tile(pid).locator("button.check").click()
    bar_count(d, len(ids))


def test_shift_click_selects_the_range(d: Desk, lib: Library) -> None:
    ids = lib.ids
    d.tile(ids[1]).click(modifiers=["Control"])  # starts selecting, the anchor
    bar_count(d, 1)
    d.tile(ids[4]).click(modifiers=["Shift"])
    bar_count(d, 4)
    assert selected(d) == ids[1:5]
    # Backwards from the same anchor adds the other side; nothing opened.
    d.tile(ids[0]).click(modifiers=["Shift"])
    assert selected(d) == ids[0:5]
    expect(d.tid("viewer")).to_have_count(0)
    # The keyboard's shift-click: x on one tile, Shift+x on another.
    d.page.keyboard.press("Escape")
    assert selected(d) == []
    d.tile(ids[5]).locator("a").press("x")
    d.tile(ids[3]).locator("a").press("Shift+x")
    assert selected(d) == ids[3:6]


def test_a_day_header_selects_and_clears_its_day(d: Desk, lib: Library) -> None:
    head = d.page.locator("section.day[data-date='2024-06-02'] > h3")
    expect(head).to_have_attribute("role", "button")
    head.click()
    bar_count(d, 2)
    assert selected(d) == lib.ids[2:4]
    expect(head).to_have_attribute("aria-pressed", "true")
    d.page.locator("section.day[data-date='2024-06-01'] > h3").click()
    assert selected(d) == lib.ids[2:6]
    head.click()  # the whole day was selected: it is cleared
    assert selected(d) == lib.ids[4:6]
    expect(head).to_have_attribute("aria-pressed", "false")
    # The keyboard does the same.
    head.focus()
    d.page.keyboard.press("Enter")
    assert selected(d) == lib.ids[2:6]


def test_drag_draws_a_rubber_band_that_selects_what_it_touches(d: Desk, lib: Library) -> None:
    first, third = d.tile(lib.ids[0]).bounding_box(), d.tile(lib.ids[2]).bounding_box()
    assert first and third
    start = (first["x"] + first["width"] / 2, first["y"] + first["height"] / 2)
    stop = (third["x"] + 5, third["y"] + 5)
    mouse = d.page.mouse
    mouse.move(*start)
    mouse.down()
    mouse.move(start[0] + 3, start[1] + 3)
    mouse.move((start[0] + stop[0]) / 2, (start[1] + stop[1]) / 2, steps=4)
    mouse.move(*stop, steps=4)
    expect(d.tid("rubber-band")).to_be_visible()
    mouse.up()
    expect(d.tid("rubber-band")).to_have_count(0)
    # What the band covered, worked out from the tiles' boxes: at least the first three.
    x0, y0, x1, y1 = min(start[0], stop[0]), min(start[1], stop[1]), max(start[0], stop[0]), max(start[1], stop[1])
    boxes = {pid: d.tile(pid).bounding_box() for pid in lib.ids}
    want = [pid for pid, b in boxes.items()
            if b and b["x"] <= x1 and b["x"] + b["width"] >= x0 and b["y"] <= y1 and b["y"] + b["height"] >= y0]
    assert set(lib.ids[:3]) <= set(want)
    assert selected(d) == want
    bar_count(d, len(want))
    # The mouse-up that ended the drag opened nothing, and no text got selected.
    expect(d.tid("viewer")).to_have_count(0)
    assert d.page.evaluate("getSelection().toString()") == ""


def test_ctrl_a_selects_the_loaded_photos_and_esc_clears(d: Desk, lib: Library) -> None:
    d.page.locator("main h2").first.click()  # focus in the page, not in a field
    d.page.keyboard.press("Control+a")
    bar_count(d, 6)
    assert selected(d) == lib.ids
    assert d.page.evaluate("getSelection().toString()") == ""  # not the page's text
    d.page.keyboard.press("Escape")
    expect(d.tid("selection-bar")).to_be_hidden()
    assert selected(d) == []
    # In a text field Ctrl-A is the field's own.
    d.tid("header-search").fill("hello")
    d.tid("header-search").press("Control+a")
    assert selected(d) == []


def test_bulk_date_shift_fixes_a_wrong_camera_clock(env: dict[str, Any]) -> None:
    lib = library(env, ["2038:01:19 03:14:07", "2038:01:19 02:00:00", "2024:06:01 09:00:00"])
    with desk(env["browser"], env["server"], lib.user) as d:
        expect(d.tid("day-section").first).to_have_attribute("data-date", "2038-01-19")  # on top
        select_ids(d, lib.ids[:2])
        d.tid("selection-more").click()
        d.tid("selection-date").click()
        d.tid("bulk-shift-input").fill("-12 y -3 h")
        d.tid("bulk-date-ok").click()
        expect(d.tid("toast").filter(has_text="New date for 2 photos")).to_be_visible()
        got = [lib.photo(pid)["taken_at"] for pid in lib.ids[:2]]
        assert got == ["2026-01-19T00:14:07+00:00", "2026-01-18T23:00:00+00:00"]
        months = {m["month"] for m in lib.get("/api/timeline/months")}
        assert "2038-01" not in months and {"2026-01", "2024-06"} <= months
        # The page follows: the 2038 day is gone from the top.
        expect(d.page.locator("section.day[data-date='2038-01-19']")).to_have_count(0)
        # Setting a date and time: the browser's own zone (Europe/Madrid, +01:00 in January).
        select_ids(d, lib.ids[2:3])
        d.tid("selection-more").click()
        d.tid("selection-date").click()
        d.tid("bulk-date-input").fill("2020-01-05T10:30:00")
        d.tid("bulk-date-ok").click()
        expect(d.tid("toast").filter(has_text="New date for 1 photo")).to_be_visible()
        assert lib.photo(lib.ids[2])["taken_at"] == "2020-01-05T10:30:00+01:00"
        # A shift that cannot be read is refused in the dialog, nothing sent.
        select_ids(d, lib.ids[2:3])
        d.tid("selection-more").click()
        d.tid("selection-date").click()
        d.tid("date-mode-shift").check()
        d.tid("bulk-shift-input").fill("soon")
        d.tid("bulk-date-ok").click()
        expect(d.tid("bulk-date-note")).to_contain_text("signed numbers")
        d.page.keyboard.press("Escape")
        assert lib.photo(lib.ids[2])["taken_at"] == "2020-01-05T10:30:00+01:00"
        # In an album the photo stays on screen with its new date (only the timeline re-sorts).
        with lib.user.client() as c:
            album = c.post("/api/albums", json={"name": "Clock"}).json()
            assert c.post(f"/api/albums/{album['id']}/photos", json={"photo_ids": lib.ids[2:3]}).status_code == 200
        d.go(f"#/albums/{album['id']}")
        expect(d.tid("photo-tile")).to_have_count(1)
        select_ids(d, lib.ids[2:3])
        d.tid("selection-more").click()
        d.tid("selection-date").click()
        d.tid("date-mode-shift").check()
        d.tid("bulk-shift-input").fill("+1 d")
        d.tid("bulk-date-ok").click()
        poll(lambda: lib.photo(lib.ids[2])["taken_at"] == "2020-01-06T10:30:00+01:00", "the shifted date")
        expect(d.tid("selection-bar")).to_be_hidden()
        expect(d.tile(lib.ids[2])).to_be_visible()
        assert d.errors() == []


def test_the_zip_the_page_downloads_holds_the_originals(d: Desk, lib: Library, tmp_path: Any) -> None:
    pick = lib.ids[1:4]
    select_ids(d, pick)
    with d.page.expect_download() as info:
        d.tid("selection-download").click()
    download = info.value
    assert download.suggested_filename.startswith("octopus-photos-") and download.suggested_filename.endswith(".zip")
    path = tmp_path / "photos.zip"
    download.save_as(path)
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        assert z.namelist() == ["IMG_0001.jpg", "IMG_0002.jpg", "IMG_0003.jpg"]
        for name, pid in zip(z.namelist(), pick):
            assert hashlib.sha256(z.read(name)).hexdigest() == hashlib.sha256(lib.data[pid]).hexdigest()
    expect(d.tid("selection-bar")).to_be_hidden()


def test_bulk_tags_add_and_remove(d: Desk, lib: Library) -> None:
    pick = lib.ids[:2]
    select_ids(d, pick)
    d.tid("selection-more").click()
    d.tid("selection-tags-add").click()
    d.tid("prompt-input").fill("Beach, sea ,  sunset")
    d.tid("prompt-ok").click()
    expect(d.tid("toast").filter(has_text="Tags added to 2 photos")).to_be_visible()
    assert [lib.photo(pid)["tags"] for pid in pick] == [["Beach", "sea", "sunset"]] * 2
    select_ids(d, pick[:1])
    d.tid("selection-more").click()
    d.tid("selection-tags-remove").click()
    d.tid("prompt-input").fill("beach, SUNSET")
    d.tid("prompt-ok").click()
    expect(d.tid("toast").filter(has_text="Tags removed from 1 photo")).to_be_visible()
    assert [lib.photo(pid)["tags"] for pid in pick] == [["sea"], ["Beach", "sea", "sunset"]]
    assert {t["tag"]: t["count"] for t in lib.get("/api/tags")} == {"sea": 2, "Beach": 1, "sunset": 1}


def test_bulk_unfavourite(d: Desk, lib: Library) -> None:
    with lib.user.client() as c:
        for pid in lib.ids[:3]:
            assert c.put(f"/api/photos/{pid}/favourite").status_code == 200
    d.page.reload()
    expect(d.tid("photo-tile")).to_have_count(6)
    select_ids(d, lib.ids[:2])
    d.tid("selection-more").click()
    d.tid("selection-unfavourite").click()
    expect(d.tid("toast").filter(has_text="2 photos removed from favourites")).to_be_visible()
    assert [p["id"] for p in lib.get("/api/favourites")["photos"]] == [lib.ids[2]]
    expect(d.tile(lib.ids[0]).locator(".fav")).to_have_count(0)
    expect(d.tile(lib.ids[2]).locator(".fav")).to_have_count(1)


def test_archive_hides_from_the_timeline_and_keeps_album_and_search(d: Desk, lib: Library) -> None:
    hide = lib.ids[1]
    with lib.user.client() as c:
        album = c.post("/api/albums", json={"name": "Keepers"}).json()
        assert c.post(f"/api/albums/{album['id']}/photos", json={"photo_ids": [hide, lib.ids[2]]}).status_code == 200
    select_ids(d, [hide])
    d.tid("selection-archive").click()
    expect(d.tid("toast").filter(has_text="1 photo archived")).to_be_visible()
    expect(d.tile(hide)).to_have_count(0)
    assert lib.photo(hide)["state"] == "archived"
    # A reload agrees: the timeline has five.
    d.page.reload()
    expect(d.tid("photo-tile")).to_have_count(5)
    expect(d.tile(hide)).to_have_count(0)
    # Still in its album and in search.
    d.go(f"#/albums/{album['id']}")
    expect(d.tile(hide)).to_be_visible()
    d.go("#/search?q=picture")
    expect(d.tile(hide)).to_be_visible()
    # The Archive lists it; Unarchive brings it back to the timeline.
    d.tid("nav-archive").click()
    expect(d.tid("archive-view")).to_be_visible()
    expect(d.tid("photo-tile")).to_have_count(1)
    select_ids(d, [hide])
    d.tid("selection-unarchive").click()
    expect(d.tid("toast").filter(has_text="1 photo back in Photos")).to_be_visible()
    expect(d.tile(hide)).to_have_count(0)
    assert lib.photo(hide)["state"] == "library"
    d.tid("nav-timeline").click()
    expect(d.tid("photo-tile")).to_have_count(6)


def test_the_viewer_archives_and_unarchives(d: Desk, lib: Library) -> None:
    pid = lib.ids[0]
    d.open_viewer(pid)
    button = d.tid("archive-button")
    expect(button).to_have_attribute("aria-pressed", "false")
    button.click()
    expect(button).to_have_attribute("aria-pressed", "true")
    poll(lambda: lib.photo(pid)["state"] == "archived", "the photo to be archived")
    button.click()
    expect(button).to_have_attribute("aria-pressed", "false")
    poll(lambda: lib.photo(pid)["state"] == "library", "the photo to be back")
    d.page.keyboard.press("Escape")
    expect(d.tile(pid)).to_be_visible()
