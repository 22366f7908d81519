"""Places over HTTP (issue 11, item 6): the map's clusters at two zoom levels add up, bbox and
zoom are validated (422, never a 500), another user's items are never counted, trash, restore,
vault and deletion move the counts (archive does not), photos carry their place name and search
finds it."""

from __future__ import annotations

import io
import random

from PIL import Image

from http_support import Server, User, assert_problem
from octopus_events.readmodels.places import tile_bounds

PASSPHRASE = "a long vault passphrase for places"
WORLD = "-180,-85,180,85"
MADRID_BOX = "-3.9,40.3,-3.5,40.6"
# Three photos in Madrid about 4-5 km apart (one cluster at a low zoom, three at zoom 12), two in
# Buenos Aires, one at sea (no place name).
MADRID = [(40.4168, -3.7038), (40.4531, -3.6883), (40.3900, -3.6600)]
BUENOS_AIRES = [(-34.6037, -58.3816), (-34.6090, -58.3700)]
AT_SEA = (0.0, -30.0)


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60, 4)
    return float(degrees), float(minutes), seconds


def gps_jpeg(lat: float, lon: float, seed: int, taken: str = "2021:05:01 10:00:00") -> bytes:
    """A JPEG with unique pixels, a date and EXIF GPS at (lat, lon)."""
    rng = random.Random(seed)
    img = Image.frombytes("RGB", (64, 48), rng.randbytes(64 * 48 * 3))
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = taken
    exif[0x8825] = {1: "N" if lat >= 0 else "S", 2: _dms(lat), 3: "E" if lon >= 0 else "W", 4: _dms(lon)}
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def plain_jpeg(seed: int) -> bytes:
    rng = random.Random(seed)
    out = io.BytesIO()
    Image.frombytes("RGB", (64, 48), rng.randbytes(64 * 48 * 3)).save(out, "JPEG")
    return out.getvalue()


def upload_places(user: User, seed: int) -> dict[str, list[str]]:
    ids: dict[str, list[str]] = {"madrid": [], "ba": [], "sea": [], "none": []}
    for i, (lat, lon) in enumerate(MADRID):
        r = user.upload(gps_jpeg(lat, lon, seed + i, taken=f"2021:05:0{i + 1} 10:00:00"), f"madrid{i}.jpg")
        assert r.status_code == 201, r.text
        ids["madrid"].append(r.json()["id"])
    for i, (lat, lon) in enumerate(BUENOS_AIRES):
        r = user.upload(gps_jpeg(lat, lon, seed + 10 + i), f"ba{i}.jpg")
        assert r.status_code == 201, r.text
        ids["ba"].append(r.json()["id"])
    r = user.upload(gps_jpeg(*AT_SEA, seed + 20), "sea.jpg")
    assert r.status_code == 201, r.text
    ids["sea"].append(r.json()["id"])
    r = user.upload(plain_jpeg(seed + 30), "nogps.jpg")
    assert r.status_code == 201, r.text
    ids["none"].append(r.json()["id"])
    return ids


def clusters(user: User, bbox: str, zoom: int) -> dict:
    with user.client() as c:
        r = c.get("/api/places/clusters", params={"bbox": bbox, "zoom": zoom})
    assert r.status_code == 200, r.text
    return r.json()


def items(user: User, bbox: str, **params: object) -> dict:
    with user.client() as c:
        r = c.get("/api/places/items", params={"bbox": bbox, **params})
    assert r.status_code == 200, r.text
    return r.json()


def test_clusters_at_two_zoom_levels_add_up(server: Server) -> None:
    alice = server.new_user()
    ids = upload_places(alice, 100)
    world = clusters(alice, WORLD, 1)
    # The whole world at zoom 1: Madrid's three photos in one cluster, Buenos Aires' two in
    # another, the one at sea in a third; the photo without GPS is nowhere.
    assert world["total"] == 6 and world["level"] == 3
    counts = sorted(c["count"] for c in world["clusters"])
    assert counts == [1, 2, 3]
    madrid = next(c for c in world["clusters"] if c["count"] == 3)
    assert abs(madrid["lat"] - sum(p[0] for p in MADRID) / 3) < 1e-4
    assert abs(madrid["lon"] - sum(p[1] for p in MADRID) / 3) < 1e-4
    cell = tile_bounds(madrid["x"], madrid["y"], world["level"])  # the cell: a web map tile
    w, s, e, n = cell
    assert w <= madrid["lon"] <= e and s <= madrid["lat"] <= n
    # Zoomed in on Madrid (zoom 12: cells of ~2 km), the three are three clusters of one that
    # add up to the one cluster of three; Buenos Aires is outside the viewport.
    close = clusters(alice, MADRID_BOX, 12)
    assert close["level"] == 14 and close["total"] == 3
    assert sorted(c["count"] for c in close["clusters"]) == [1, 1, 1]
    for c in close["clusters"]:
        assert any(abs(c["lat"] - lat) < 1e-5 and abs(c["lon"] - lon) < 1e-5 for lat, lon in MADRID)
    # A cluster's bbox lists exactly its items, newest first.
    listed = items(alice, ",".join(map(str, cell)))
    assert [p["id"] for p in listed["photos"]] == list(reversed(ids["madrid"]))
    # Pages follow the cursor.
    first = items(alice, ",".join(map(str, cell)), limit=2)
    assert len(first["photos"]) == 2 and first["cursor"]
    rest = items(alice, ",".join(map(str, cell)), limit=2, cursor=first["cursor"])
    assert [p["id"] for p in first["photos"] + rest["photos"]] == list(reversed(ids["madrid"]))
    assert rest["cursor"] is None
    # Both plans give the same pages: a big area with small pages walks the timeline (most of the
    # library is inside), a whole listing at once sorts the area's items.
    everything = [p["id"] for p in items(alice, "-180,-90,180,90")["photos"]]
    assert len(everything) == 6 and set(everything) == set(ids["madrid"] + ids["ba"] + ids["sea"])
    paged, cursor = [], None
    while True:
        page = items(alice, "-180,-90,180,90", limit=2, **({"cursor": cursor} if cursor else {}))
        paged += [p["id"] for p in page["photos"]]
        cursor = page["cursor"]
        if not cursor:
            break
    assert paged == everything
    # Across the antimeridian (west > east): nothing of Alice's is in the Pacific.
    assert clusters(alice, "170,-50,-170,50", 3)["total"] == 0


def test_photos_carry_their_place_name_and_search_finds_it(server: Server) -> None:
    alice = server.new_user()
    ids = upload_places(alice, 200)
    with alice.client() as c:
        photo = c.get(f"/api/photos/{ids['madrid'][0]}").json()
        assert photo["gps"] and photo["place"] == {"city": "Madrid", "region": "Madrid", "country": "Spain"}
        ba = c.get(f"/api/photos/{ids['ba'][0]}").json()
        assert ba["place"]["city"] == "Buenos Aires" and ba["place"]["country"] == "Argentina"
        # At sea there is no place to name (the GPS stays); without GPS, neither.
        assert c.get(f"/api/photos/{ids['sea'][0]}").json()["place"] is None
        assert c.get(f"/api/photos/{ids['none'][0]}").json()["place"] is None
        # Lists carry it too (the timeline's photos are the same shape).
        days = c.get("/api/timeline").json()["days"]
        shown = {p["id"]: p["place"] for d in days for p in d["photos"]}
        assert shown[ids["madrid"][1]]["city"] == "Madrid"
        # Search finds items by where they were taken.
        found = c.get("/api/search", params={"q": "Madrid"}).json()["photos"]
        assert sorted(p["id"] for p in found) == sorted(ids["madrid"])
        found = c.get("/api/search", params={"q": "argentina"}).json()["photos"]
        assert sorted(p["id"] for p in found) == sorted(ids["ba"])
        assert c.get("/api/search", params={"q": "Tokyo"}).json()["photos"] == []


def test_another_users_items_are_never_counted_or_listed(server: Server) -> None:
    alice, bob = server.new_user(), server.new_user()
    theirs = upload_places(alice, 300)
    assert clusters(bob, WORLD, 0)["total"] == 0
    r = bob.upload(gps_jpeg(40.4168, -3.7038, 399), "bob-madrid.jpg")
    assert r.status_code == 201
    mine = r.json()["id"]
    bob_world = clusters(bob, WORLD, 0)
    assert bob_world["total"] == 1 and [c["count"] for c in bob_world["clusters"]] == [1]
    listed = items(bob, MADRID_BOX)
    assert [p["id"] for p in listed["photos"]] == [mine]
    everything = items(bob, "-180,-90,180,90")
    assert not {p["id"] for p in everything["photos"]} & {i for v in theirs.values() for i in v}
    with bob.client() as c:
        assert [p["id"] for p in c.get("/api/search", params={"q": "Madrid"}).json()["photos"]] == [mine]
    assert clusters(alice, WORLD, 0)["total"] == 6  # Bob's photo is not Alice's either


def test_trash_restore_vault_and_deletion_move_the_counts(server: Server) -> None:
    alice = server.new_user()
    ids = upload_places(alice, 400)
    first, second, third = ids["madrid"]

    def madrid_total() -> int:
        return clusters(alice, MADRID_BOX, 5)["total"]

    assert madrid_total() == 3
    with alice.client() as c:
        assert c.post(f"/api/photos/{first}/trash").status_code == 200
        assert madrid_total() == 2
        assert first not in {p["id"] for p in items(alice, MADRID_BOX)["photos"]}
        assert c.post(f"/api/photos/{first}/restore").status_code == 200
        assert madrid_total() == 3
        # Archived items stay on the map (archive hides from the timeline only) and in its lists.
        assert c.post(f"/api/photos/{first}/archive").status_code == 200
        assert madrid_total() == 3
        assert first in {p["id"] for p in items(alice, MADRID_BOX)["photos"]}
        assert c.post(f"/api/photos/{first}/unarchive").status_code == 200
        # Into the vault: off the map, its coordinates and name gone from the read model.
        assert c.post("/api/vault", json={"passphrase": PASSPHRASE}).status_code in (200, 201)
        token = c.post("/api/vault/unlock", json={"passphrase": PASSPHRASE}).json()["vault_token"]
        assert c.post(f"/api/photos/{second}/vault", headers={"X-Vault-Token": token}).status_code == 200
        assert madrid_total() == 2
        assert c.get("/api/search", params={"q": "Madrid"}).json()["photos"].__len__() == 2
        # Back from the vault: on the map again, with its place.
        back = c.post(f"/api/vault/photos/{second}/restore", headers={"X-Vault-Token": token})
        assert back.status_code == 200, back.text
        assert madrid_total() == 3
        assert c.get(f"/api/photos/{second}").json()["place"]["city"] == "Madrid"
        # Deleted for good: gone from every level's counts and from the listing.
        assert c.delete(f"/api/photos/{third}").status_code == 204
        assert madrid_total() == 2
        assert clusters(alice, WORLD, 0)["total"] == 5
        assert third not in {p["id"] for p in items(alice, "-180,-90,180,90")["photos"]}
        assert_problem(c.get(f"/api/photos/{third}"), 404)


def test_bad_bbox_and_zoom_are_422_with_a_clear_message(server: Server) -> None:
    alice = server.new_user()
    bad = [
        ({"zoom": 3}, "bbox: required"),
        ({"bbox": "1,2,3", "zoom": 3}, "four numbers"),
        ({"bbox": "a,b,c,d", "zoom": 3}, "four numbers"),
        ({"bbox": "1,2,3,4,5", "zoom": 3}, "four numbers"),
        ({"bbox": "nan,0,1,1", "zoom": 3}, "finite"),
        ({"bbox": "0,0,inf,1", "zoom": 3}, "finite"),
        ({"bbox": "-181,0,1,1", "zoom": 3}, "between -180 and 180"),
        ({"bbox": "0,-91,1,1", "zoom": 3}, "between -90 and 90"),
        ({"bbox": "0,10,1,5", "zoom": 3}, "south"),
        ({"bbox": WORLD}, "zoom: required"),
        ({"bbox": WORLD, "zoom": 23}, "zoom: must be between 0 and 22"),
        ({"bbox": WORLD, "zoom": -1}, "zoom: must be between 0 and 22"),
        ({"bbox": WORLD, "zoom": 12}, "too large"),
    ]
    with alice.client() as c:
        for params, message in bad:
            body = assert_problem(c.get("/api/places/clusters", params=params), 422)
            assert message in body["detail"], (params, body)
        assert "zoom" in assert_problem(c.get("/api/places/clusters", params={"bbox": WORLD, "zoom": "x"}), 400)["detail"]
        for params, message in bad[:9]:
            body = assert_problem(c.get("/api/places/items", params={k: v for k, v in params.items() if k == "bbox"}), 422)
            assert message in body["detail"], (params, body)
        assert_problem(c.get("/api/places/items", params={"bbox": WORLD, "limit": 0}), 400)
        assert_problem(c.get("/api/places/items", params={"bbox": WORLD, "cursor": "garbage!"}), 400)
