"""The photo viewer at 1440x900 in real Chromium against a real `octopus serve` (issue 11): the
lost edit (f, then a description, then Save), a real conflict keeping what was typed, changing
the date and time taken (the time zone kept), the slideshow, and the `?` shortcut help.

One server and one browser for the module; each test opens its own page."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from browser_support import jpeg
from desktop_support import Desk, chromium, desk, expect, poll
from http_support import Server, User
from video_support import clip_bytes

# Three photos on three days and one video between them, newest first on the timeline:
# sunset (2023-05-12, taken at +02:00), video (2023-05-11), harbour (2023-05-10), market (2022-12-24).
PHOTOS = {
    "sunset.jpg": ((220, 120, 40), "across", "2023:05:12 20:30:00"),
    "harbour.jpg": ((40, 80, 220), "down", "2023:05:10 09:15:00"),
    "market.jpg": ((40, 200, 60), "checks", "2022:12:24 12:00:00"),
}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with chromium() as browser:
        server = Server(tmp_path_factory.mktemp("viewer") / "data").start()
        try:
            user = server.new_user("viewer")
            ids = {}
            for name, (colour, pattern, taken) in PHOTOS.items():
                r = user.upload(jpeg(colour, pattern=pattern, taken=taken), name)
                assert r.status_code == 201, r.text
                ids[name] = r.json()["id"]
            r = user.upload(clip_bytes(seconds=1.0), "clip.mp4", taken_at="2023-05-11T10:00:00+02:00")
            assert r.status_code == 201, r.text
            ids["clip.mp4"] = r.json()["id"]
            with user.client() as c:  # the sunset was taken two hours east of UTC
                r = c.patch(f"/api/photos/{ids['sunset.jpg']}", json={"taken_at": "2023-05-12T20:30:00+02:00"})
                assert r.status_code == 200, r.text
            yield {"browser": browser, "server": server, "user": user, "ids": ids}
        finally:
            server.stop()


@pytest.fixture
def d(env: dict[str, Any]) -> Iterator[Desk]:
    with desk(env["browser"], env["server"], env["user"]) as page:
        page.tid("photo-tile").first.wait_for()
        yield page
        assert page.errors() == []


def ids(env: dict[str, Any]) -> dict[str, str]:
    return env["ids"]


def test_favourite_then_describe_saves_without_a_conflict(d: Desk, env: dict[str, Any]) -> None:
    """Issue 11's lost edit: f (a favourite moves the photo's version on), then a description and
    Save. It used to answer 409 'changed elsewhere' every time: the viewer held the old version."""
    pid = ids(env)["harbour.jpg"]
    d.open_viewer(pid)
    d.page.keyboard.press("f")
    expect(d.tid("favourite-button")).to_have_attribute("aria-pressed", "true")
    d.tid("description-input").fill("Fishing boats at dawn")
    d.tid("description-save").click()
    expect(d.tid("toast").filter(has_text="Description saved")).to_be_visible()
    expect(d.tid("conflict-notice")).to_have_count(0)
    got = d.photo(pid)
    assert got["favourite"] is True and got["description"] == "Fishing boats at dawn"
    # Once more the other way round, quickly: unfavourite and save without waiting in between.
    d.tid("description-input").fill("Fishing boats, later")
    d.page.keyboard.press("Escape")  # leaves the field (blur), the viewer stays
    d.page.keyboard.press("f")
    d.tid("description-save").click()
    poll(lambda: d.photo(pid)["description"] == "Fishing boats, later", "the second description")
    assert d.photo(pid)["favourite"] is False
    expect(d.tid("conflict-notice")).to_have_count(0)
    # A favourite from another device moves the version on too: still no conflict over the text.
    with env["user"].client() as c:
        assert c.put(f"/api/photos/{pid}/favourite").status_code == 200
    d.tid("description-input").fill("Boats, from the other device's version")
    d.tid("description-save").click()
    poll(lambda: d.photo(pid)["description"] == "Boats, from the other device's version", "the save over a moved version")
    expect(d.tid("conflict-notice")).to_have_count(0)
    # Tags move the version on too.
    d.tid("tags-input").fill("boats")
    d.tid("tags-input").press("Enter")
    expect(d.tid("tag-chip")).to_have_count(1)
    d.tid("description-input").fill("Boats")
    d.tid("description-save").click()
    poll(lambda: d.photo(pid)["description"] == "Boats", "the description after tagging")
    expect(d.tid("conflict-notice")).to_have_count(0)
    assert d.errors(r"status of 409") == []  # the save over another device's favourite meets one first


def test_a_real_conflict_keeps_the_typed_text(d: Desk, env: dict[str, Any]) -> None:
    pid = ids(env)["market.jpg"]
    d.open_viewer(pid)
    d.tid("description-input").fill("Christmas market, my words")
    with env["user"].client() as c:  # meanwhile, another device
        assert c.patch(f"/api/photos/{pid}", json={"description": "from the phone"}).status_code == 200
    d.tid("description-save").click()
    expect(d.tid("conflict-notice")).to_contain_text("your text was kept")
    expect(d.tid("description-input")).to_have_value("Christmas market, my words")
    d.tid("conflict-retry").click()
    poll(lambda: d.photo(pid)["description"] == "Christmas market, my words", "the retried description")
    expect(d.tid("description-input")).to_have_value("Christmas market, my words")
    assert d.errors(r"status of 409") == []  # the stale PATCH is the point


def test_change_the_date_and_time_keeping_the_time_zone(d: Desk, env: dict[str, Any]) -> None:
    pid = ids(env)["sunset.jpg"]
    d.open_viewer(pid)
    before = d.photo(pid)
    assert before["taken_at"].startswith("2023-05-12T20:30:00") and before["taken_at"].endswith("+02:00")
    d.tid("date-edit").click()
    field = d.tid("date-input")
    expect(field).to_have_value("2023-05-12T20:30")  # Chromium drops ":00" seconds
    expect(d.tid("date-offset")).to_contain_text("+02:00")
    field.fill("2021-08-03T07:45:10")
    d.tid("date-save").click()
    expect(d.tid("toast").filter(has_text="Date changed")).to_be_visible()
    poll(lambda: d.photo(pid)["taken_at"] == "2021-08-03T07:45:10+02:00", "the new date with the old offset")
    expect(d.tid("taken-value")).to_contain_text("2021")
    expect(d.tid("date-input")).to_have_count(0)
    # Behind the viewer the tile moved to its new day (it sat on top of the timeline before).
    moved = d.page.locator(f"[data-testid=day-section][data-date='2021-08-03'] [data-photo-id='{pid}']")
    expect(moved).to_have_count(1)
    expect(d.page.locator("[data-testid=day-section][data-date='2023-05-12']")).to_have_count(0)
    # d opens it from the keyboard; Esc in the field cancels without closing the viewer.
    d.tid("viewer-close").focus()
    d.page.keyboard.press("d")
    expect(d.tid("date-input")).to_be_focused()
    d.page.keyboard.press("Escape")
    expect(d.tid("date-input")).to_have_count(0)
    expect(d.tid("viewer")).to_be_visible()
    # A version moved on by a favourite is no conflict for the date either.
    d.page.keyboard.press("f")
    expect(d.tid("favourite-button")).to_have_attribute("aria-pressed", "true")
    d.tid("date-edit").click()
    d.tid("date-input").fill("2023-05-12T20:30:00")
    d.tid("date-save").click()
    poll(lambda: d.photo(pid)["taken_at"] == "2023-05-12T20:30:00+02:00", "the date put back")
    expect(d.tid("conflict-notice")).to_have_count(0)
    # A real conflict (the date changed on another device meanwhile) keeps the typed date.
    d.tid("date-edit").click()
    d.tid("date-input").fill("2020-01-02T03:04:05")
    with env["user"].client() as c:
        assert c.patch(f"/api/photos/{pid}", json={"taken_at": "2019-09-09T09:09:09+02:00"}).status_code == 200
    d.tid("date-save").click()
    expect(d.tid("conflict-notice")).to_contain_text("your date was kept")
    expect(d.tid("date-input")).to_have_value("2020-01-02T03:04:05")
    d.tid("conflict-retry").click()
    poll(lambda: d.photo(pid)["taken_at"] == "2020-01-02T03:04:05+02:00", "the retried date")
    expect(d.tid("conflict-notice")).to_have_count(0)
    with env["user"].client() as c:  # back to where the other tests expect it
        assert c.patch(f"/api/photos/{pid}", json={"taken_at": "2023-05-12T20:30:00+02:00"}).status_code == 200
    assert d.errors(r"status of 409") == []


def test_slideshow_plays_skips_videos_pauses_and_esc_stops(d: Desk, env: dict[str, Any]) -> None:
    i = ids(env)
    d.page.evaluate("localStorage.setItem('octopus.slideshow.seconds', '1')")
    d.open_viewer(i["sunset.jpg"])
    d.tid("slideshow-button").click()
    bar = d.tid("slideshow-bar")
    expect(bar).to_have_attribute("data-state", "playing")
    expect(d.tid("info-panel")).to_be_hidden()
    expect(d.tid("slideshow-interval")).to_have_value("1")
    # The video (next on the timeline) is skipped: the harbour comes next, then the market.
    expect(d.page).to_have_url(f"{env['server'].url}/#/photo/{i['harbour.jpg']}", timeout=5000)
    d.page.keyboard.press("s")  # pause
    expect(bar).to_have_attribute("data-state", "paused")
    d.page.wait_for_timeout(1600)
    expect(d.page).to_have_url(f"{env['server'].url}/#/photo/{i['harbour.jpg']}")
    d.tid("slideshow-toggle").click()  # play again
    expect(d.page).to_have_url(f"{env['server'].url}/#/photo/{i['market.jpg']}", timeout=5000)
    # The last item: the slideshow ends by itself.
    expect(bar).to_have_count(0, timeout=5000)
    expect(d.tid("toast").filter(has_text="Slideshow finished")).to_be_visible()
    d.page.keyboard.press("Escape")
    expect(d.tid("viewer")).to_have_count(0)
    # Videos "play them": the clip is shown and played to its end, then the next photo.
    d.open_viewer(i["sunset.jpg"])
    d.page.keyboard.press("s")
    d.tid("slideshow-videos").select_option("play")
    expect(d.page).to_have_url(f"{env['server'].url}/#/photo/{i['clip.mp4']}", timeout=5000)
    poll(lambda: d.page.evaluate("() => { const v = document.querySelector('[data-testid=viewer-video]');"
                                 " return !!v && v.currentTime > 0; }"), "the clip to play")
    expect(d.page).to_have_url(f"{env['server'].url}/#/photo/{i['harbour.jpg']}", timeout=8000)
    # Esc stops the slideshow only; a second Esc closes the viewer.
    d.page.keyboard.press("Escape")
    expect(d.tid("slideshow-bar")).to_have_count(0)
    expect(d.tid("viewer")).to_be_visible()
    d.page.wait_for_timeout(1500)
    expect(d.page).to_have_url(f"{env['server'].url}/#/photo/{i['harbour.jpg']}")
    expect(d.tid("info-panel")).to_be_visible()
    d.page.keyboard.press("Escape")
    expect(d.tid("viewer")).to_have_count(0)


def test_question_mark_lists_every_shortcut_and_esc_closes(d: Desk, env: dict[str, Any]) -> None:
    d.open_viewer(ids(env)["market.jpg"])
    d.page.keyboard.press("?")
    help_ = d.tid("shortcut-help")
    expect(help_).to_be_visible()
    text = help_.inner_text()
    for key in ("?", "/", "u", "←", "→", "Space", "Esc", "i", "f", "d", "s", "Delete", "Ctrl", "Enter", "x",
                "PgUp", "Home"):
        assert key in text, key
    for what in ("favourite", "slideshow", "date", "info panel", "upload", "search", "trash"):
        assert what in text.lower(), what
    d.page.keyboard.press("Escape")
    expect(help_).to_have_count(0)
    expect(d.tid("viewer")).to_be_visible()  # Esc closed the help, not the viewer
    # Outside the viewer too.
    d.page.keyboard.press("Escape")
    expect(d.tid("viewer")).to_have_count(0)
    d.page.keyboard.press("?")
    expect(d.tid("shortcut-help")).to_be_visible()
    d.page.keyboard.press("Escape")
    expect(d.tid("shortcut-help")).to_have_count(0)
