"""Screenshots of the main screens for the README and docs (issue 11, item 8).

    uv run python scripts/screenshots.py [OUT]      # OUT defaults to docs/screenshots

Starts a real `octopus serve` on 127.0.0.1 with a new data dir (tests/http_support.Server, the
one the HTTP tests use), fills it over HTTP with generated photos that look like photos (sky,
sea, hills, a town, a sunset: drawn with Pillow, with EXIF dates over a few months, cameras and,
for most, GPS around Spain and Portugal), albums, favourites, tags and a description, then opens
headless Chromium at 1440×900 (and 390×844 for the phone) and saves one PNG a screen. Nothing
comes from the network: the map shows its clusters on a blank background when the machine is
offline. Same seed, same pictures; the dates shown move with today's date only in "On this day".
"""

from __future__ import annotations

import io
import math
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the real-server and Chromium helpers the tests use

from PIL import Image, ImageDraw, ImageFilter  # noqa: E402

from browser_support import CHROMIUM_ARGS, chromium_path  # noqa: E402
from http_support import PASSWORD, Server  # noqa: E402

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}

# Where and when: (place, lat, lon, first day, days, photos a day).
TRIPS = [
    ("Cádiz", 36.53, -6.29, "2024-08-03", 4, 5),
    ("Granada", 37.18, -3.60, "2024-08-08", 2, 4),
    ("Lisboa", 38.72, -9.14, "2024-10-12", 3, 4),
    ("Madrid", 40.42, -3.70, "2024-11-23", 2, 3),
    ("Picos de Europa", 43.20, -4.85, "2025-04-18", 3, 4),
    ("Barcelona", 41.39, 2.17, "2025-06-21", 2, 5),
    ("Madrid", 40.42, -3.70, "2025-09-06", 3, 3),
]
CAMERAS = [("Canon", "Canon EOS R6"), ("FUJIFILM", "X-T4"), ("Google", "Pixel 8"), ("Apple", "iPhone 15")]
SIZES = [(1800, 1200), (1600, 1200), (1200, 1800), (1920, 1080), (1500, 1500)]


def lerp(a: tuple[int, ...], b: tuple[int, ...], t: float) -> tuple[int, ...]:
    return tuple(int(x + (y - x) * t) for x, y in zip(a, b))


def scene(rng: random.Random, kind: str, size: tuple[int, int]) -> Image.Image:
    """A landscape drawn in a few layers: sky gradient, sun, far hills, water or land, details."""
    w, h = size
    img = Image.new("RGB", size)
    d = ImageDraw.Draw(img)
    sunset = kind in ("sunset", "town-dusk")
    top, bottom = ((40, 60, 140), (250, 150, 80)) if sunset else ((70, 130, 210), (190, 220, 245))
    horizon = int(h * rng.uniform(0.45, 0.62))
    for y in range(horizon):
        d.line([(0, y), (w, y)], fill=lerp(top, bottom, y / horizon))
    sun = (int(w * rng.uniform(0.15, 0.85)), int(horizon * rng.uniform(0.35, 0.8)))
    r = int(min(w, h) * rng.uniform(0.04, 0.08))
    glow = Image.new("L", size, 0)
    ImageDraw.Draw(glow).ellipse([sun[0] - 4 * r, sun[1] - 4 * r, sun[0] + 4 * r, sun[1] + 4 * r], fill=110)
    img.paste((255, 225, 170) if sunset else (255, 252, 235), mask=glow.filter(ImageFilter.GaussianBlur(r * 1.5)))
    d.ellipse([sun[0] - r, sun[1] - r, sun[0] + r, sun[1] + r], fill=(255, 220, 150) if sunset else (255, 250, 225))
    for _ in range(rng.randint(2, 6)):  # clouds
        cx, cy = rng.randint(0, w), rng.randint(0, horizon // 2)
        for _ in range(6):
            rr = rng.randint(h // 30, h // 12)
            ox, oy = rng.randint(-rr * 2, rr * 2), rng.randint(-rr // 2, rr // 2)
            d.ellipse([cx + ox - rr, cy + oy - rr // 2, cx + ox + rr, cy + oy + rr // 2],
                      fill=(250, 235, 230) if sunset else (245, 248, 252))
    for layer in range(3):  # hills, far to near
        base = horizon - int(h * 0.02 * (2 - layer))
        colour = lerp((120, 140, 170), (60, 110, 70), layer / 2) if kind != "sunset" else lerp((90, 70, 110), (50, 40, 60), layer / 2)
        pts = [(0, h)]
        phase, amp, freq = rng.uniform(0, 6.28), h * rng.uniform(0.03, 0.12) * (1 + (kind == "mountains") * 1.5), rng.uniform(1.5, 4)
        for x in range(0, w + 20, 20):
            pts.append((x, base - amp * (0.6 + 0.4 * math.sin(phase + freq * x / w * 6.28) + 0.2 * math.sin(7 * x / w * 6.28))))
        pts.append((w, h))
        # Lit from above, hazier with distance: a vertical gradient through the hill's shape.
        mask = Image.new("L", size, 0)
        ImageDraw.Draw(mask).polygon(pts, fill=255)
        shade = Image.linear_gradient("L").resize(size)
        hill = Image.composite(Image.new("RGB", size, lerp(colour, (255, 255, 255), 0.25)), Image.new("RGB", size, lerp(colour, (0, 0, 0), 0.35)),
                               shade.point(lambda v: 255 - v))
        img.paste(hill, mask=mask)
    if kind in ("beach", "sunset"):
        sea_top = horizon
        for y in range(sea_top, h):
            t = (y - sea_top) / (h - sea_top)
            d.line([(0, y), (w, y)], fill=lerp((40, 90, 150) if not sunset else (120, 80, 110), (20, 140, 170) if not sunset else (200, 120, 90), t))
        shore = int(h * rng.uniform(0.72, 0.85))
        pts = [(0, h), (0, shore)] + [(x, shore + 25 * math.sin(x / w * 9 + rng.random())) for x in range(0, w + 40, 40)] + [(w, h)]
        d.polygon(pts, fill=(225, 200, 150))
        for _ in range(60):  # sparkles on the water
            x, y = rng.randint(0, w), rng.randint(sea_top, shore)
            d.line([(x, y), (x + rng.randint(8, 30), y)], fill=(230, 240, 250), width=2)
    elif kind in ("town", "town-dusk"):
        ground = horizon + int(h * 0.05)
        d.rectangle([0, ground, w, h], fill=(150, 140, 120))
        x = 0
        while x < w:
            bw, bh = rng.randint(w // 14, w // 7), rng.randint(h // 12, h // 4)
            wall = rng.choice([(235, 220, 190), (220, 180, 140), (245, 240, 230), (200, 110, 80)])
            d.rectangle([x, ground - bh, x + bw, h], fill=wall)
            d.polygon([(x - 4, ground - bh), (x + bw // 2, ground - bh - bh // 5), (x + bw + 4, ground - bh)], fill=(170, 70, 50))
            for wy in range(ground - bh + 18, h - 30, 40):
                for wx in range(x + 12, x + bw - 16, 30):
                    lit = sunset and rng.random() < 0.5
                    d.rectangle([wx, wy, wx + 10, wy + 14], fill=(255, 210, 120) if lit else (70, 80, 100))
            x += bw + rng.randint(0, 10)
    else:  # fields, forest, mountains
        for y in range(horizon, h):
            d.line([(0, y), (w, y)], fill=lerp((110, 150, 80), (60, 100, 40), (y - horizon) / (h - horizon)))
        for _ in range(rng.randint(20, 60)):  # trees
            tx, ty = rng.randint(0, w), rng.randint(horizon, h)
            s = int(12 + (ty - horizon) / (h - horizon) * 60)
            d.polygon([(tx, ty - s * 2), (tx - s // 2, ty), (tx + s // 2, ty)], fill=(30, 80 + rng.randint(0, 40), 40))
    img = img.filter(ImageFilter.GaussianBlur(1.2))
    # A lens: darker corners. (No grain: it would triple the screenshots' PNG bytes in the repo.)
    vignette = Image.radial_gradient("L").resize(size).point(lambda v: min(255, int(v * 1.1)))
    return Image.composite(Image.new("RGB", size, (0, 0, 0)), img, vignette.point(lambda v: max(0, v - 150)))


def photo_bytes(rng: random.Random, kind: str, taken: str, camera: tuple[str, str],
                gps: tuple[float, float] | None) -> bytes:
    img = scene(rng, kind, rng.choice(SIZES))
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = camera
    exif[0x0132] = taken
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = taken
    sub[0x829D] = rng.choice([1.8, 2.8, 4.0, 5.6, 8.0])  # FNumber
    sub[0x8827] = rng.choice([100, 200, 400])  # ISO
    sub[0x829A] = rng.choice([1 / 250, 1 / 500, 1 / 1000, 1 / 60])  # ExposureTime
    sub[0x920A] = rng.choice([24.0, 35.0, 50.0, 6.9])  # FocalLength
    if gps:
        lat, lon = gps
        exif.get_ifd(0x8825).update({1: "N" if lat >= 0 else "S", 2: (abs(lat), 0.0, 0.0),
                                     3: "E" if lon >= 0 else "W", 4: (abs(lon), 0.0, 0.0)})
    out = io.BytesIO()
    img.save(out, "JPEG", quality=86, exif=exif.tobytes())
    return out.getvalue()


KINDS = {"Cádiz": ["beach", "beach", "sunset", "town"], "Granada": ["town", "mountains", "town-dusk"],
         "Lisboa": ["town", "town-dusk", "beach"], "Madrid": ["town", "town-dusk", "fields"],
         "Picos de Europa": ["mountains", "forest", "fields"], "Barcelona": ["beach", "town", "sunset"]}


def seed(server: Server) -> dict[str, Any]:
    """One family library: trips with GPS, a few photos without, albums, favourites, tags."""
    import datetime as dt

    rng = random.Random(11)
    user = server.new_user("marta")
    with user.client() as c:
        r = c.patch("/api/users/me", json={"display_name": "Marta"})
        assert r.status_code == 200, r.text
    ids: dict[str, list[str]] = {}
    n = 0
    for place, lat, lon, first, days, per_day in TRIPS:
        day0 = dt.date.fromisoformat(first)
        for d in range(days):
            for k in range(per_day - (d % 2)):
                n += 1
                taken = f"{day0 + dt.timedelta(days=d):%Y:%m:%d} {9 + k * 2:02d}:{rng.randint(0, 59):02d}:00"
                gps = (lat + rng.uniform(-0.03, 0.03), lon + rng.uniform(-0.03, 0.03)) if rng.random() < 0.85 else None
                data = photo_bytes(rng, rng.choice(KINDS[place]), taken, rng.choice(CAMERAS), gps)
                r = user.upload(data, f"IMG_{20240000 + n * 7}.jpg")
                assert r.status_code == 201, r.text
                ids.setdefault(place, []).append(r.json()["id"])
    everything = [i for v in ids.values() for i in v]
    with user.client() as c:
        for pid in rng.sample(everything, 9):
            assert c.put(f"/api/photos/{pid}/favourite").status_code == 200
        for place, tags in (("Cádiz", ["playa", "verano"]), ("Picos de Europa", ["montaña"]), ("Barcelona", ["playa"])):
            for pid in ids[place]:
                assert c.put(f"/api/photos/{pid}/tags", json={"tags": tags}).status_code == 200
        first = c.get(f"/api/photos/{ids['Cádiz'][0]}").json()
        r = c.patch(f"/api/photos/{first['id']}", json={"description": "Atardecer en la Caleta", "version": first["version"]})
        assert r.status_code == 200, r.text
        albums = {}
        for name, places in (("Verano en Cádiz", ["Cádiz"]), ("Lisboa 2024", ["Lisboa"]), ("Montaña", ["Picos de Europa"]),
                             ("Barcelona con los primos", ["Barcelona"])):
            album = c.post("/api/albums", json={"name": name}).json()
            photo_ids = [i for p in places for i in ids[p]]
            assert c.post(f"/api/albums/{album['id']}/photos", json={"photo_ids": photo_ids}).status_code == 200
            albums[name] = album["id"]
    return {"user": user, "ids": ids, "albums": albums, "first": ids["Cádiz"][0]}


def shoot(out: Path) -> list[Path]:
    from playwright.sync_api import expect, sync_playwright

    exe = chromium_path()
    if not exe:
        raise SystemExit("no chromium on PATH (Debian: apt-get install chromium)")
    out.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "data").start()
        try:
            lib = seed(server)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)

                def page_for(locale: str, viewport: dict[str, int]) -> Any:
                    context = browser.new_context(viewport=viewport, locale=locale, timezone_id="Europe/Madrid",
                                                  color_scheme="light", device_scale_factor=1)
                    context.set_default_timeout(20_000)
                    page = context.new_page()
                    r = page.request.post(server.url + "/api/auth/login",
                                          data={"username": lib["user"].name, "password": PASSWORD})
                    assert r.ok, r.text()
                    page.goto(server.url + "/#/timeline")
                    expect(page.get_by_test_id("photo-tile").first).to_be_visible()
                    return page

                def settle(page: Any) -> None:
                    # Every image on screen decoded, then a breath for late text and layout.
                    page.wait_for_function("""() => [...document.images].filter((i) => {
                        const r = i.getBoundingClientRect();
                        return r.bottom > 0 && r.top < innerHeight && r.width > 0;
                      }).every((i) => i.complete)""")
                    page.wait_for_timeout(400)

                def snap(page: Any, name: str) -> None:
                    settle(page)
                    path = out / f"{name}.png"
                    page.screenshot(path=str(path))
                    # 256 colours, dithered: a third of the bytes in the repository, no visible banding.
                    shot = Image.open(path).convert("RGB")
                    shot.quantize(palette=shot.quantize(256, method=Image.Quantize.MEDIANCUT),
                                  dither=Image.Dither.FLOYDSTEINBERG).save(path, optimize=True)
                    saved.append(path)
                    print(f"  {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")

                def go(page: Any, route: str, ready: str) -> None:
                    page.evaluate(f"location.hash = {route!r}")
                    expect(page.locator(ready).first).to_be_visible()

                en = page_for("en-GB", DESKTOP)
                snap(en, "timeline")
                go(en, f"#/photo/{lib['first']}", "[data-testid=info-panel] dl")
                en.wait_for_function("() => { const i = document.querySelector('[data-testid=viewer-image]'); return i && i.complete && i.naturalWidth > 0; }")
                snap(en, "viewer")
                en.keyboard.press("Escape")
                go(en, "#/albums", "[data-testid=album-card]")
                snap(en, "albums")
                go(en, "#/places?lat=40.2&lon=-4.6&z=6", "main h2")
                en.wait_for_timeout(1500)  # the map and its clusters
                snap(en, "places")
                go(en, "#/search?q=playa", "[data-testid=photo-tile]")
                snap(en, "search")
                go(en, "#/settings", "[data-testid=storage] p")
                en.wait_for_timeout(500)
                snap(en, "settings")
                en.context.close()

                phone = page_for("en-GB", PHONE)
                snap(phone, "phone-timeline")
                phone.context.close()

                es = page_for("es-ES", DESKTOP)
                snap(es, "timeline-es")
                es.context.close()
                browser.close()
        finally:
            server.stop()
    return saved


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots"
    print(f"screenshots into {out}:")
    shoot(out.resolve())


if __name__ == "__main__":
    main()
