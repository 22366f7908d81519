"""Issue 11's list of defects, each as a browser regression test at 1440x900 in real Chromium
against a real `octopus serve` (the lost edit and the viewer's own items are in
tests/test_browser_viewer.py). Each test fails on the code the issue was filed against."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

import pytest

from browser_support import jpeg
from desktop_support import Desk, chromium, desk, expect, poll
from http_support import Server, jpeg_with_exif

PHOTOS = {  # name: (make, model, taken)
    "eos-2008-05.jpg": ("Canon", "Canon EOS 5D", "2008:05:10 10:00:00"),
    "eos-2008-11.jpg": ("Canon", "Canon EOS 5D", "2008:11:02 16:30:00"),
    "nikon-2015.jpg": ("NIKON CORPORATION", "D70", "2015:06:01 08:00:00"),
}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with chromium() as browser:
        server = Server(tmp_path_factory.mktemp("defects") / "data", env={"OCTOPUS_AUTH_REGISTRATION": "open"}).start()
        try:
            user = server.new_user("desk")
            ids = {}
            for n, (name, (make, model, taken)) in enumerate(PHOTOS.items()):
                r = user.upload(jpeg_with_exif(900 + n, make, model, taken), name)
                assert r.status_code == 201, r.text
                ids[name] = r.json()["id"]
            yield {"browser": browser, "server": server, "user": user, "ids": ids,
                   "tmp": tmp_path_factory.mktemp("defect-files")}
        finally:
            server.stop()


@pytest.fixture
def d(env: dict[str, Any]) -> Iterator[Desk]:
    with desk(env["browser"], env["server"], env["user"]) as page:
        page.tid("photo-tile").first.wait_for()
        yield page
        assert page.errors() == []


SIGNED_OUT = r"status of 401"  # how the UI learns it is signed out


def test_first_run_offers_account_creation_and_closed_registration_offers_none(
        env: dict[str, Any], tmp_path: Path) -> None:
    """A new server opens on "Create account" (it showed "Sign in"); once an account exists, a
    closed server offers no "Create account" it would refuse after the form is filled."""
    server = Server(tmp_path / "data").start()  # registration "closed", the default
    try:
        with desk(env["browser"], server) as fresh:
            expect(fresh.tid("register-form")).to_be_visible()
            expect(fresh.tid("login-form")).to_be_hidden()
            expect(fresh.tid("auth-error")).to_contain_text("first account")
            expect(fresh.tid("register-username")).to_be_focused()
            fresh.tid("register-username").fill("founder")
            fresh.tid("register-password").fill("a good long password")
            fresh.tid("register-password-again").fill("a good long password")
            fresh.tid("register-submit").click()
            expect(fresh.tid("user-link")).to_have_text("founder")
            assert fresh.errors(SIGNED_OUT) == []
        with desk(env["browser"], server) as later:
            expect(later.tid("login-form")).to_be_visible()
            expect(later.tid("registration-closed")).to_be_visible()
            expect(later.tid("show-register")).to_be_hidden()
            expect(later.tid("registration-closed")).to_contain_text("administrator")
            assert later.errors(SIGNED_OUT) == []
    finally:
        server.stop()
    # With registration open the offer stays.
    with desk(env["browser"], env["server"]) as open_:
        expect(open_.tid("show-register")).to_be_visible()
        expect(open_.tid("registration-closed")).to_be_hidden()
        assert open_.errors(SIGNED_OUT) == []


def test_errors_read_as_a_person_would_say_them(env: dict[str, Any]) -> None:
    """It said "password: must have 8 to 1024 characters"."""
    with desk(env["browser"], env["server"]) as page:
        page.tid("show-register").click()
        page.tid("register-username").fill("shorty")
        page.tid("register-password").fill("short")
        page.tid("register-password-again").fill("short")
        page.tid("register-submit").click()
        error = page.tid("auth-error")
        expect(error).to_contain_text("password")
        text = error.inner_text()
        assert not re.match(r"^\s*\w+: ", text), text  # no "field: ..." in front
        assert text[0].isupper() and "8" in text, text
        assert page.errors(SIGNED_OUT, r"status of 422") == []


def test_the_header_shows_a_new_display_name_at_once(d: Desk) -> None:
    d.tid("user-link").click()
    d.tid("display-name").fill("Ana García")
    d.tid("profile-save").click()
    expect(d.tid("toast").first).to_be_visible()
    expect(d.tid("user-link")).to_have_text("Ana García")  # it kept "desk" until a reload
    d.tid("display-name").fill("desk")
    d.tid("profile-save").click()
    expect(d.tid("user-link")).to_have_text("desk")


# Counts the page's requests to open a file chooser (a spy on the DOM's own click(), which still
# runs): headless Chromium delivers a chooser opened from a key event only now and then when
# several contexts share the browser, so the request itself is what is checked after `u`.
SPY_CLICKS = """() => {
  window.__opened = [];
  const click = HTMLInputElement.prototype.click;
  HTMLInputElement.prototype.click = function () { if (this.type === "file") window.__opened.push(this.dataset.testid); return click.call(this); };
}"""


def test_u_still_opens_the_file_chooser_after_clicking_upload(d: Desk, env: dict[str, Any]) -> None:
    """Clicking Upload left the focus on the file input, where `u` was taken for typing."""
    with d.page.expect_file_chooser() as chooser:
        d.tid("upload-button").click()
    chooser.value.set_files([])  # cancelled, like closing the dialog
    assert d.page.evaluate("document.activeElement.dataset.testid") == "upload-input"  # where the focus stays
    d.page.evaluate(SPY_CLICKS)
    d.page.keyboard.press("u")
    poll(lambda: d.page.evaluate("window.__opened") == ["upload-input"], "u to open the upload chooser")
    d.page.keyboard.press("u")  # and again: the focus left the file input
    poll(lambda: d.page.evaluate("window.__opened") == ["upload-input"] * 2, "u to open it again")


def test_the_camera_make_is_not_repeated(d: Desk, env: dict[str, Any]) -> None:
    d.open_viewer(env["ids"]["eos-2008-05.jpg"])
    panel = d.tid("info-panel")
    expect(panel).to_contain_text("Canon EOS 5D")
    assert "Canon Canon" not in panel.inner_text()
    d.open_viewer(env["ids"]["nikon-2015.jpg"])
    expect(d.tid("info-panel")).to_contain_text("NIKON CORPORATION D70")  # a model without the make keeps it


def test_a_year_in_the_header_search_finds_what_was_taken_then(d: Desk, env: dict[str, Any]) -> None:
    box = d.tid("header-search")
    box.fill("2008")
    box.press("Enter")
    grid = d.tid("photo-grid")
    expect(grid.locator("[data-testid=photo-tile]")).to_have_count(2)
    for name in ("eos-2008-05.jpg", "eos-2008-11.jpg"):
        expect(d.tile(env["ids"][name])).to_be_visible()
    box.fill("2008-11")
    box.press("Enter")
    expect(grid.locator("[data-testid=photo-tile]")).to_have_count(1)
    expect(d.tile(env["ids"]["eos-2008-11.jpg"])).to_be_visible()


def test_the_header_search_does_not_keep_an_old_query(d: Desk) -> None:
    box = d.tid("header-search")
    box.fill("2015")
    box.press("Enter")
    expect(d.page).to_have_url(re.compile(r"#/search\?q=2015$"))
    d.tid("nav-albums").click()
    expect(box).to_have_value("")  # it still said 2015 on the albums page
    d.go("#/search?q=canon")
    expect(box).to_have_value("canon")
    d.tid("nav-timeline").click()
    expect(box).to_have_value("")


def test_an_inverted_date_range_says_so_and_offers_the_swap(d: Desk, env: dict[str, Any]) -> None:
    d.go("#/search?from=2016-01-01&to=2008-01-01")
    notice = d.tid("search-inverted")
    expect(notice).to_contain_text("wrong way round")
    assert "No matches" not in d.tid("photo-grid").inner_text()
    d.tid("search-swap-dates").click()
    expect(d.page).to_have_url(re.compile(r"from=2008-01-01&to=2016-01-01"))
    expect(d.tid("search-inverted")).to_have_count(0)
    expect(d.tid("photo-grid").locator("[data-testid=photo-tile]")).to_have_count(3)
    expect(d.tid("search-from")).to_have_value("2008-01-01")


STOP = """() => { const a = document.activeElement, tile = a.closest('[data-testid=photo-tile]');
  return tile ? {tile: tile.dataset.photoId, link: a.matches('.tile > a')} : {tile: null}; }"""


def test_each_photo_is_one_tab_stop(d: Desk) -> None:
    """Tab from the first photo to the last: each tile is reached once, at its link (a day's
    date between them may be a stop of its own: it selects the day)."""
    tiles = d.tid("photo-tile")
    expect(tiles).to_have_count(3)
    order = [tiles.nth(n).get_attribute("data-photo-id") for n in range(3)]
    tiles.nth(0).locator("a").focus()
    seen = [order[0]]
    for _ in range(12):
        d.page.keyboard.press("Tab")
        stop = d.page.evaluate(STOP)
        if stop["tile"] is None:
            if len(seen) == 3:
                break
            continue
        assert stop["link"], stop  # nothing else inside a tile takes the focus
        assert stop["tile"] != seen[-1], "a second Tab stop in the same photo"
        seen.append(stop["tile"])
    assert seen == order


def test_the_upload_panel_has_an_overall_bar(d: Desk, env: dict[str, Any]) -> None:
    files = []
    for n in range(3):
        path = env["tmp"] / f"batch-{n}.jpg"
        path.write_bytes(jpeg((30 + 60 * n, 90, 160), pattern=("across", "down", "checks")[n], size=(800, 600)))
        files.append(str(path))
    d.tid("upload-input").set_input_files(files)
    expect(d.tid("upload-overall-text")).to_contain_text("3 of 3 files")
    assert d.tid("upload-overall").evaluate("p => p.value") == 1
    expect(d.tid("upload-overall-text")).to_contain_text(re.compile(r"KB of [\d.]+ KB"))
    with env["user"].client() as c:
        for p in c.get("/api/search", params={"q": "batch"}).json()["photos"]:
            assert c.delete(f"/api/photos/{p['id']}").status_code in (200, 204)


def test_duplicates_show_name_resolution_size_and_date(d: Desk, env: dict[str, Any]) -> None:
    big = jpeg((200, 60, 90), pattern="down", size=(1200, 900), taken="2019:07:14 11:00:00")
    small = jpeg((200, 60, 90), pattern="down", size=(600, 450), quality=60, taken="2019:07:14 11:00:00")
    made = []
    for name, data in (("pier-full.jpg", big), ("pier-small.jpg", small)):
        r = env["user"].upload(data, name)
        assert r.status_code == 201, r.text
        made.append(r.json()["id"])
    d.go("#/duplicates")
    group = d.tid("duplicate-group")
    expect(group).to_have_count(1)
    rows = group.get_by_test_id("duplicate-fact")
    expect(rows).to_have_count(2)
    full = rows.filter(has_text="pier-full.jpg")
    expect(full).to_contain_text("1200 × 900")
    expect(full).to_contain_text("KB")
    expect(full).to_contain_text("2019")
    expect(rows.filter(has_text="pier-small.jpg")).to_contain_text("600 × 450")
    # The biggest is kept by default; a click on a row's name picks that one instead.
    assert group.locator(f"input[type=radio][value='{made[0]}']").is_checked()
    rows.filter(has_text="pier-small.jpg").locator("label").click()
    assert group.locator(f"input[type=radio][value='{made[1]}']").is_checked()
    with env["user"].client() as c:
        for pid in made:
            assert c.delete(f"/api/photos/{pid}").status_code in (200, 204)


def test_the_vaults_first_visit_offers_creation_not_unlock(d: Desk) -> None:
    d.tid("nav-vault").click()
    expect(d.tid("vault-create-form")).to_be_visible()
    expect(d.tid("vault-unlock-form")).to_have_count(0)  # it offered Unlock for no vault
    d.tid("vault-create-passphrase").fill("a long vault passphrase")
    d.tid("vault-create-confirm").fill("a long vault passphrase")
    d.tid("vault-create-submit").click()
    expect(d.tid("vault-lock")).to_be_visible()
    d.tid("vault-lock").click()
    expect(d.tid("vault-unlock-form")).to_be_visible()
    expect(d.tid("vault-create-form")).to_have_count(0)
    poll(lambda: d.page.evaluate("document.activeElement.dataset.testid") == "vault-passphrase", "focus on the passphrase")
