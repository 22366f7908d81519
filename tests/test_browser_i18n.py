"""The UI in Spanish (issue 11, item 7) in real Chromium against a real `octopus serve`.

A browser whose language is es-ES (Playwright's locale: navigator.languages and Accept-Language)
walks the main screens and the public share page and finds no English left: the visible text, and
the aria-label, title, placeholder and alt of what is on screen, are checked against every English
text of the catalogue (webroot/js/messages/en.js) that differs from its Spanish one. Then the
language is switched in Settings, remembered after a reload, and switched back to automatic.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

import pytest

from browser_support import CHROMIUM_ARGS, ConsoleWatch, jpeg
from desktop_support import TIME_ZONE, VIEWPORT, chromium, expect
from http_support import PASSWORD, Server, User
from test_i18n import ALLOWED, load_catalogue

# User data on screen that is not the UI's to translate: the product's name, the test camera
# EXIF of tests/browser_support.jpeg, file names.
USER_DATA = ["Octopus Photos", "Octopus Test Camera", "Test Camera", "Octopus"]

PHOTOS = {  # Spanish names: a file name is the user's words, not the UI's
    "playa.jpg": ((220, 120, 40), "across", "2023:05:12 20:30:00"),
    "puerto.jpg": ((40, 80, 220), "down", "2023:05:10 09:15:00"),
    "mercado.jpg": ((40, 200, 60), "checks", "2022:12:24 12:00:00"),
}


def english_phrases() -> list[tuple[str, re.Pattern[str]]]:
    """(key, pattern) for each static piece of an English text that is not also Spanish."""
    en, es = load_catalogue("en"), load_catalogue("es")
    spanish = " ".join(str(v) for v in es.values())
    found = []
    for key, value in en.items():
        if key.startswith("error.") or value == es[key]:
            continue  # errors need a failing request; names and symbols read the same
        forms = value.values() if isinstance(value, dict) else [value]
        for form in forms:
            for piece in re.split(r"\{\w+\}", form):
                piece = piece.strip(" .,:;·()“”«»…→←?!¿¡-")
                letters = re.sub(r"[^A-Za-z]", "", piece)
                # Short or one-word pieces only when they are long enough not to be Spanish too.
                if len(letters) < 4 or (" " not in piece and len(letters) < 5) or piece in ALLOWED:
                    continue
                if re.search(rf"(?<![\w]){re.escape(piece)}(?![\w])", spanish):
                    continue  # the same word in Spanish ("Total", "Zoom")
                found.append((key, re.compile(rf"(?<![\wÀ-ÿ]){re.escape(piece)}(?![\wÀ-ÿ])")))
    return found


ENGLISH = english_phrases()

# Everything a person sees or hears on the page: visible text, and the labels of rendered elements.
VISIBLE_TEXT = """() => {
  const out = [document.body.innerText, document.title];
  for (const el of document.querySelectorAll("[aria-label], [title], [placeholder], img[alt]")) {
    if (!el.checkVisibility || !el.checkVisibility()) continue;
    for (const a of ["aria-label", "title", "placeholder", "alt"]) if (el.getAttribute(a)) out.push(el.getAttribute(a));
  }
  return out.join("\\n");
}"""


def english_on(page: Any) -> list[str]:
    text = page.evaluate(VISIBLE_TEXT)
    for data in USER_DATA:
        text = text.replace(data, " ")
    return sorted({f"{key}: {m.group(0)!r}" for key, pat in ENGLISH for m in [pat.search(text)] if m})


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with chromium() as browser:
        server = Server(tmp_path_factory.mktemp("i18n") / "data").start()
        try:
            user = server.new_user("ana")  # the first account: the admin, so Settings shows its cards
            ids = {}
            for name, (colour, pattern, taken) in PHOTOS.items():
                r = user.upload(jpeg(colour, pattern=pattern, taken=taken), name)
                assert r.status_code == 201, r.text
                ids[name] = r.json()["id"]
            with user.client() as c:
                assert c.put(f"/api/photos/{ids['playa.jpg']}/favourite").status_code == 200
                assert c.put(f"/api/photos/{ids['playa.jpg']}/tags", json={"tags": ["verano"]}).status_code == 200
                album = c.post("/api/albums", json={"name": "Vacaciones"}).json()
                r = c.post(f"/api/albums/{album['id']}/photos", json={"photo_ids": [ids["puerto.jpg"]]})
                assert r.status_code == 200, r.text
                share = c.post("/api/shares", json={"album_id": album["id"]})
                assert share.status_code == 201, share.text
                r = c.post(f"/api/photos/{ids['mercado.jpg']}/trash")
                assert r.status_code in (200, 204), r.text
            yield {"browser": browser, "server": server, "user": user, "ids": ids, "album": album["id"],
                   "share": share.json()}
        finally:
            server.stop()


def page_in(env: dict[str, Any], locale: str, user: User | None) -> tuple[Any, Any, ConsoleWatch]:
    context = env["browser"].new_context(viewport=VIEWPORT, timezone_id=TIME_ZONE, locale=locale)
    context.set_default_timeout(10_000)
    page = context.new_page()
    console = ConsoleWatch()
    console.attach(page)
    if user is not None:
        r = page.request.post(env["server"].url + "/api/auth/login", data={"username": user.name, "password": PASSWORD})
        assert r.ok, r.text()
    return context, page, console


def screen(page: Any, route: str, ready: str) -> list[str]:
    page.evaluate(f"location.hash = {route!r}")
    expect(page.locator(ready).first).to_be_visible()
    page.wait_for_timeout(150)  # late text (counts, storage, lists) settles
    return english_on(page)


def test_the_spanish_ui_has_no_english_left(env: dict[str, Any]) -> None:
    context, page, console = page_in(env, "es-ES", env["user"])
    try:
        page.goto(env["server"].url + "/#/timeline")
        expect(page.get_by_test_id("photo-tile").first).to_be_visible()
        assert page.evaluate("document.documentElement.lang") == "es"
        expect(page.get_by_test_id("nav-timeline")).to_have_text("Fotos")
        left: dict[str, list[str]] = {}
        left["timeline"] = english_on(page)
        page.get_by_test_id("select-toggle").click()  # selection mode: its bar and tile labels
        page.get_by_test_id("photo-tile").first.locator("button.check").click()
        expect(page.get_by_test_id("selection-bar")).to_be_visible()
        left["selection"] = english_on(page)
        page.keyboard.press("Escape")
        ids = env["ids"]
        left["viewer"] = screen(page, f"#/photo/{ids['playa.jpg']}", "[data-testid=info-panel] dl")
        page.keyboard.press("?")
        expect(page.locator("[data-testid=shortcut-row]").first).to_be_visible()
        left["shortcuts"] = english_on(page)
        page.keyboard.press("Escape")
        page.keyboard.press("Escape")
        walk = {
            "albums": ("#/albums", "[data-testid=album-card]"),
            "album": (f"#/albums/{env['album']}", "[data-testid=photo-tile]"),
            "favourites": ("#/favourites", "[data-testid=photo-tile]"),
            "tags": ("#/tags", "[data-testid=tag-link]"),
            "tag": ("#/tags/verano", "[data-testid=photo-tile]"),
            "memories": ("#/memories", "main h2"),
            "search": ("#/search?q=puerto", "[data-testid=photo-tile]"),
            "search-empty": ("#/search?q=nada-de-nada", "main p.empty"),
            "duplicates": ("#/duplicates", "main h2"),
            "trash": ("#/trash", "[data-testid=photo-tile]"),
            "vault": ("#/vault", "[data-testid=vault] form"),
            "backup": ("#/backup", "[data-testid=backup-choose]"),
            "settings": ("#/settings", "[data-testid=projection-row]"),
            "places": ("#/places", "main h2"),
            "archive": ("#/archive", "main h2"),
            "shared": ("#/shared", "main h2"),
            "shares": ("#/shares", "main h2"),
            "not-found": ("#/no-such-screen", "main h2"),
        }
        for name, (route, ready) in walk.items():
            left[name] = screen(page, route, ready)
        # The upload panel with its states and summary, and the toast of a trashed photo.
        page.evaluate("location.hash = '#/timeline'")
        page.get_by_test_id("upload-input").set_input_files(files=[{
            "name": "nueva.jpg", "mimeType": "image/jpeg", "buffer": jpeg((200, 60, 90), pattern="checks")}])
        expect(page.get_by_test_id("upload-item")).to_have_attribute("data-status", "new")
        left["upload"] = english_on(page)
        page.get_by_test_id("photo-tile").first.click()  # the new one (no EXIF date: now, the newest)
        expect(page.get_by_test_id("viewer")).to_be_visible()
        page.get_by_test_id("trash-button").click()
        expect(page.get_by_test_id("toast").first).to_be_visible()
        left["trash-toast"] = english_on(page)
        left = {k: v for k, v in left.items() if v}
        assert left == {}, "English on the Spanish UI (screen: key: text)"
        assert console.take(r"tile\.openstreetmap\.org") == []  # the map's tiles: this machine is offline
    finally:
        context.close()


def test_sign_in_and_the_phone_layout_in_spanish(env: dict[str, Any]) -> None:
    context, page, console = page_in(env, "es-ES", None)
    try:
        page.goto(env["server"].url + "/")
        expect(page.get_by_test_id("login-form")).to_be_visible()
        assert english_on(page) == []
        page.get_by_test_id("login-username").fill(env["user"].name)
        page.get_by_test_id("login-password").fill("wrong password")
        page.get_by_test_id("login-submit").click()
        expect(page.get_by_test_id("auth-error")).to_have_text("Nombre de usuario o contraseña incorrectos.")
        page.set_viewport_size({"width": 390, "height": 844})
        page.get_by_test_id("login-password").fill(PASSWORD)
        page.get_by_test_id("login-submit").click()
        expect(page.get_by_test_id("bottom-nav")).to_be_visible()
        expect(page.get_by_test_id("photo-tile").first).to_be_visible()
        assert english_on(page) == []
        page.get_by_test_id("bnav-more").click()
        expect(page.get_by_test_id("more-sheet")).to_be_visible()
        assert english_on(page) == []
        assert console.take(r"401") == []
    finally:
        context.close()


def test_the_share_page_speaks_the_visitors_language(env: dict[str, Any]) -> None:
    context, page, console = page_in(env, "es-MX", None)  # a visitor without an account
    try:
        page.goto(env["server"].url + f"/s/{env['share']['token']}")
        expect(page.locator("#share-grid li").first).to_be_visible()
        assert page.evaluate("document.documentElement.lang") == "es"
        assert english_on(page) == []
        assert console.take() == []
    finally:
        context.close()


def test_switching_language_in_settings_is_remembered(env: dict[str, Any]) -> None:
    context, page, console = page_in(env, "es-ES", env["user"])
    try:
        page.goto(env["server"].url + "/#/settings")
        expect(page.get_by_test_id("language-select")).to_be_visible()
        expect(page.get_by_test_id("nav-settings")).to_have_text("Ajustes")
        with page.expect_navigation():
            page.get_by_test_id("language-select").select_option("en")
        expect(page.get_by_test_id("nav-settings")).to_have_text("Settings")
        assert page.evaluate("document.documentElement.lang") == "en"
        assert page.evaluate("localStorage.getItem('octopus.lang')") == "en"
        page.reload()  # remembered: the browser still says Spanish
        expect(page.get_by_test_id("nav-timeline")).to_have_text("Photos")
        expect(page.get_by_test_id("language-select")).to_have_value("en")
        # Dates follow: an English month name in the viewer, then a Spanish one after switching back.
        page.evaluate(f"location.hash = '#/photo/{env['ids']['playa.jpg']}'")
        expect(page.get_by_test_id("info-panel")).to_contain_text("May 12, 2023")
        assert english_on(page), "the English UI shows none of the English texts: the detector is blind"
        page.evaluate("location.hash = '#/settings'")
        with page.expect_navigation():
            page.get_by_test_id("language-select").select_option("")
        expect(page.get_by_test_id("nav-settings")).to_have_text("Ajustes")
        assert page.evaluate("localStorage.getItem('octopus.lang')") is None
        page.evaluate(f"location.hash = '#/photo/{env['ids']['playa.jpg']}'")
        expect(page.get_by_test_id("info-panel")).to_contain_text("12 may 2023")
        assert console.take() == []
    finally:
        context.close()
