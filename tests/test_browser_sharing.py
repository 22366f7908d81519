"""Sharing between accounts in real headless Chromium against a real `octopus serve`
(docs/sharing.md): album members (invite by username with a role, the member's "Shared with me",
the owner's name on items, leaving) and partner settings (share my library, the partner's view,
the merged timeline with the owner on each item, stop sharing)."""

from __future__ import annotations

from typing import Any, Iterator

import httpx
import pytest

from browser_support import CHROMIUM_ARGS, ConsoleWatch, chromium_path
from ci_support import require_or_skip
from http_support import Server, image_bytes

try:
    from playwright import sync_api
except ImportError:  # the fixture says what is missing (and fails under CI)
    sync_api = None  # type: ignore[assignment]
expect = getattr(sync_api, "expect", None)

PASSWORD = "eight arms, one library"
SIGNED_OUT_PROBE = r"status of 401"


class World:
    def __init__(self, server: Server, browser: Any, tokens: dict[str, str], photos: dict[str, str], album: str) -> None:
        self.server, self.browser, self.tokens, self.photos, self.album = server, browser, tokens, photos, album

    def api(self, who: str) -> httpx.Client:
        return httpx.Client(base_url=self.server.url, headers={"Authorization": f"Bearer {self.tokens[who]}"}, timeout=30)

    def page(self, who: str) -> tuple[Any, Any, ConsoleWatch]:
        context = self.browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
        context.set_default_timeout(10_000)
        page = context.new_page()
        console = ConsoleWatch()
        console.attach(page)
        tid = page.get_by_test_id
        page.goto(self.server.url + "/")
        tid("login-username").fill(who)
        tid("login-password").fill(PASSWORD)
        tid("login-submit").click()
        expect(tid("nav-albums")).to_be_visible()
        return context, page, console


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    require_or_skip(sync_api, "the playwright package", "run uv sync")
    exe = chromium_path()
    require_or_skip(exe, "a chromium binary on PATH", "Debian: apt-get install chromium; .ci/run does this")
    server = Server(tmp_path_factory.mktemp("browser-sharing") / "data", env={"OCTOPUS_AUTH_REGISTRATION": "open"}).start()
    try:
        tokens, photos = {}, {}
        for who in ("alice", "bob"):
            assert server.register(who, PASSWORD).status_code == 201
            tokens[who] = server.login(who, PASSWORD).json()["token"]
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {tokens['alice']}"}, timeout=30) as c:
            for i, name in enumerate(("in-album", "elsewhere")):
                r = c.post("/api/photos", files={"file": (f"{name}.jpg", image_bytes(800 + i, size=(640, 480)))},
                           data={"taken_at": f"2023-0{i + 4}-01T10:00:00+00:00"})
                assert r.status_code == 201, r.text
                photos[name] = r.json()["id"]
            album = c.post("/api/albums", json={"name": "Family trip"}).json()["id"]
            assert c.post(f"/api/albums/{album}/photos", json={"photo_ids": [photos["in-album"]]}).status_code == 200
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {tokens['bob']}"}, timeout=30) as c:
            r = c.post("/api/photos", files={"file": ("bobs.jpg", image_bytes(810, size=(640, 480)))},
                       data={"taken_at": "2023-05-15T10:00:00+00:00"})
            photos["bobs"] = r.json()["id"]
        expect.set_options(timeout=10_000)
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
            try:
                yield World(server, browser, tokens, photos, album)
            finally:
                browser.close()
    finally:
        server.stop()


def test_album_members_invite_see_and_leave(world: World) -> None:
    context, p, console = world.page("alice")
    bob_context = None
    try:
        tid = p.get_by_test_id
        p.goto(f"{world.server.url}/#/albums/{world.album}")
        expect(p.locator("#view h2")).to_have_text("Family trip")
        expect(tid("album-members")).to_be_visible()
        tid("album-members").click()
        expect(tid("member-row")).to_have_count(1)  # the owner
        tid("member-username").fill("bob")
        tid("member-role").select_option("contributor")
        tid("member-invite-submit").click()
        expect(tid("member-row")).to_have_count(2)
        expect(p.locator("[data-testid=member-row][data-username=bob]")).to_contain_text("contributor")
        tid("members-close").click()
        with world.api("alice") as c:
            assert [(m["username"], m["role"]) for m in c.get(f"/api/albums/{world.album}/members").json()] == [
                ("alice", "owner"), ("bob", "contributor")]
        assert console.take(SIGNED_OUT_PROBE) == []

        # As a viewer (the owner changes his role) he changes nothing there.
        with world.api("alice") as c:
            assert c.post(f"/api/albums/{world.album}/members", json={"username": "bob", "role": "viewer"}).status_code == 201
        # Bob finds it under "Shared with me", with whose it is, and its item with the owner's name.
        bob_context, b, bob_console = world.page("bob")
        btid = b.get_by_test_id
        btid("nav-shared").click()
        card = btid("shared-album-card")
        expect(card).to_have_count(1)
        expect(card).to_contain_text("Family trip")
        expect(card).to_contain_text("alice")
        card.click()
        expect(b.locator("#view h2")).to_have_text("Family trip")
        expect(btid("photo-tile")).to_have_count(1)
        expect(btid("owner-badge")).to_have_text("alice")
        expect(btid("album-rename")).to_be_hidden()
        expect(btid("select-toggle")).to_be_hidden()
        expect(btid("album-delete")).to_be_hidden()
        # The thumbnail really loads for him (the photo routes let a member read it).
        b.wait_for_function("() => { const i = document.querySelector('[data-testid=photo-tile] img'); return i && i.complete && i.naturalWidth > 0; }")
        btid("album-members").click()
        expect(btid("member-row")).to_have_count(2)
        expect(btid("member-invite")).to_have_count(0)  # only the owner invites
        assert bob_console.take(SIGNED_OUT_PROBE) == []
        btid("album-leave").click()
        btid("confirm-ok").click()
        expect(btid("shared-with-me")).to_be_visible()
        expect(btid("shared-albums-none")).to_be_visible()
        with world.api("bob") as c:
            assert c.get(f"/api/albums/{world.album}").status_code == 404
        # A tile's lazy hi-DPI copy asked for after he left is refused like any unknown id.
        assert bob_console.take(SIGNED_OUT_PROBE, r"status of 404 .*/thumbnail") == []
    finally:
        context.close()
        if bob_context is not None:
            bob_context.close()


def test_partner_settings_share_merge_and_stop(world: World) -> None:
    context, p, console = world.page("alice")
    bob_context = None
    try:
        tid = p.get_by_test_id
        tid("nav-settings").click()
        card = tid("partners")
        expect(card).to_be_visible()
        tid("partner-username").fill("bob")
        tid("partner-share-submit").click()
        expect(tid("partner-row")).to_have_count(1)
        expect(tid("partner-row")).to_contain_text("bob")
        with world.api("alice") as c:
            assert [x["username"] for x in c.get("/api/partners").json()["shared_by_me"]] == ["bob"]

        bob_context, b, bob_console = world.page("bob")
        btid = b.get_by_test_id
        # His timeline is his until he asks for the merge.
        expect(btid("photo-tile")).to_have_count(1)
        btid("nav-settings").click()
        expect(btid("partner-theirs-row")).to_contain_text("alice")
        btid("partners-merge").check()
        expect(btid("toast").last).to_contain_text("timeline")
        with world.api("bob") as c:
            assert c.get("/api/users/me/sharing").json() == {"merge_partners": True}
        btid("nav-timeline").click()
        expect(btid("photo-tile")).to_have_count(3)
        expect(btid("owner-badge")).to_have_count(2)  # Alice's two; his own carries no name
        expect(btid("owner-badge").first).to_have_text("alice")
        # The viewer says whose it is, too.
        btid("owner-badge").first.locator("xpath=..").locator("a").click()
        if not btid("info-panel").is_visible():
            btid("info-button").click()
        expect(btid("info-panel")).to_contain_text("Shared by")
        expect(btid("info-panel")).to_contain_text("alice")
        b.keyboard.press("Escape")
        # Her library on its own page, read-only (no selection).
        b.goto(f"{world.server.url}/#/partner/alice")
        expect(btid("partner-view")).to_be_visible()
        expect(btid("photo-tile")).to_have_count(2)
        expect(btid("select-toggle")).to_have_count(0)

        # Alice stops: Bob's view empties.
        p.reload()
        expect(tid("partner-row")).to_have_count(1)
        tid("partner-stop").click()
        expect(tid("partner-row")).to_have_count(0)
        b.reload()
        expect(btid("partner-view")).to_be_visible()
        expect(btid("photo-tile")).to_have_count(0)
        b.goto(f"{world.server.url}/#/timeline")
        expect(btid("photo-tile")).to_have_count(1)
        assert console.take(SIGNED_OUT_PROBE) == []
        # The partner's page of an ended share answers 404 (shown as an error toast), nothing else.
        # Settings probes the admin routes (403 for Bob, views/settings.js).
        assert bob_console.take(SIGNED_OUT_PROBE, r"status of 404", r"shares no library", r"status of 403 .*/api/admin/") == []
    finally:
        context.close()
        if bob_context is not None:
            bob_context.close()
