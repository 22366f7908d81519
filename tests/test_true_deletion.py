"""True deletion: after a purge no file in the data dir holds the photo's bytes, derivatives,
filename, description, tags or GPS in a recoverable form; replay still works and shows the
tombstone. Real SQLite, real blob files, a real JPEG with EXIF GPS."""

from __future__ import annotations

import asyncio
import io
import os
import struct
from pathlib import Path

import pytest
from PIL import Image

from octopus_events.application import Octopus
from octopus_events.config import Config, StorageConfig
from octopus_events.errors import Unauthorized
from octopus_events.eventstore import Meta
from octopus_events.photos import PhotoPurged, photo_stream
from octopus_events.readmodels import PROJECTORS
from octopus_events.readmodels import library as lib
from octopus_events.readmodels import search
from octopus_events.shares import NewShare
from test_crypto_shredding import opened, photo_keys, sealed_in_log

FILENAME = "QZXMARKFILE4417.jpg"
DESCRIPTION = "QZXMARKDESC8812 at the lake"
TAG = "QZXMARKTAG5531"


def gps_jpeg() -> bytes:
    """A noisy JPEG (its bytes are unique) with EXIF GPS 12°20'44.4444"N 98°45'55.5555"E."""
    img = Image.frombytes("RGB", (96, 64), os.urandom(96 * 64 * 3))
    exif = Image.Exif()
    exif[0x9003] = "2016:07:14 09:30:00"
    exif[0x8825] = {1: "N", 2: (12.0, 20.0, 44.4444), 3: "E", 4: (98.0, 45.0, 55.5555)}
    out = io.BytesIO()
    img.save(out, "JPEG", quality=95, exif=exif)
    return out.getvalue()


def every_file(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def needles_in(root: Path, needles: dict[str, bytes]) -> list[str]:
    found = []
    for path in every_file(root):
        data = path.read_bytes()
        for name, needle in needles.items():
            if needle in data:
                found.append(f"{name} in {path.relative_to(root)}")
    return found


async def _scenario(octopus: Octopus, data_dir: Path) -> dict[str, bytes]:
    alice = await octopus.accounts.register("alice", "correct horse battery", meta=Meta())
    meta = Meta(actor=alice.id, owner=alice.id)
    original = gps_jpeg()
    incoming = octopus.photos.new_upload()
    incoming.write(original)
    photo, created = await octopus.photos.upload(
        alice.id, incoming, filename=FILENAME, tags=[TAG, "lake"], description=DESCRIPTION, meta=meta,
    )
    assert created and photo.gps is not None and photo.place is not None
    # Touch every read model the photo can reach, and make a preview.
    await octopus.photos.favourite(alice.id, photo.id, True, meta)
    album = await octopus.albums.create(alice.id, "Summer", meta)
    await octopus.albums.add(alice.id, album.id, [photo.id], meta)
    # Share links to it: a selection that shows locations and the album (docs/sharing.md).
    selection = await octopus.shares.create(alice.id, NewShare(photo_ids=[photo.id], show_location=True), meta)
    await octopus.shares.create(alice.id, NewShare(album_id=album.id), meta)
    await octopus.photos.derivative(alice.id, photo.id, "preview")
    # The lazily made hi-DPI sizes too (the grid's srcset 2x, the viewer's large).
    await octopus.photos.derivative(alice.id, photo.id, "thumb2x")
    await octopus.photos.derivative(alice.id, photo.id, "large")
    conn = octopus.store.reader()
    assert search.search(conn, alice.id, q="QZXMARKDESC8812").photos
    thumb = octopus.photos.blobs.derivative_path("thumb", photo.sha256 or "").read_bytes()
    preview = octopus.photos.blobs.derivative_path("preview", photo.sha256 or "").read_bytes()
    thumb2x = octopus.photos.blobs.derivative_path("thumb2x", photo.sha256 or "").read_bytes()
    large = octopus.photos.blobs.derivative_path("large", photo.sha256 or "").read_bytes()

    lat, lon = photo.gps.lat, photo.gps.lon
    needles = {
        "original bytes": original[len(original) // 2: len(original) // 2 + 64],
        "thumbnail bytes": thumb[len(thumb) // 2: len(thumb) // 2 + 64],
        "preview bytes": preview[len(preview) // 2: len(preview) // 2 + 64],
        "thumb2x bytes": thumb2x[len(thumb2x) // 2: len(thumb2x) // 2 + 64],
        "large bytes": large[len(large) // 2: len(large) // 2 + 64],
        "filename": b"QZXMARKFILE4417",
        "description": b"QZXMARKDESC8812",
        "tag": b"QZXMARKTAG5531",
        "tag (case-folded)": TAG.casefold().encode(),
        "latitude text": repr(lat).encode(),
        "longitude text": repr(lon).encode(),
        "latitude as a stored REAL": struct.pack(">d", lat),
        "longitude as a stored REAL": struct.pack(">d", lon),
        "latitude (little-endian)": struct.pack("<d", lat),
        # The places read model (docs/places.md): the name found for the coordinates, in its row,
        # in the search document and as a search token, and the micro-degrees in every cell sum.
        "place name (city)": photo.place.city.encode(),
        "place name (region)": (photo.place.region or "").encode(),
        "place name as a search token": photo.place.city.casefold().encode(),
        "latitude in micro-degrees": struct.pack(">i", round(lat * 1_000_000)),
        "longitude in micro-degrees": struct.pack(">i", round(lon * 1_000_000)),
    }
    octopus.forget_now()
    before = needles_in(data_dir, needles)
    # The scan itself must be able to see these: before deletion the plaintext is really there.
    assert any("filename" in f for f in before) and any("original bytes" in f for f in before)
    assert any("place name (city)" in f for f in before) and any("latitude in micro-degrees" in f for f in before)
    sealed = sealed_in_log(octopus.paths.db, stream=photo_stream(photo.id))
    assert photo_keys(octopus.paths.db, photo.id) and opened(octopus.paths.db, sealed)

    await octopus.photos.purge(alice.id, photo.id, meta)

    leftovers = needles_in(data_dir, needles)
    assert leftovers == [], leftovers
    # No link holds the item any more: not the selection's rows, not what a visitor is shown.
    assert conn.execute("SELECT count(*) FROM share_photo WHERE photo_id = ?", (photo.id,)).fetchone()[0] == 0
    assert octopus.shares.get(alice.id, selection.id).count == 0
    # The scan cannot tell shredded ciphertext from live ciphertext: the keys must be gone too.
    assert photo_keys(octopus.paths.db, photo.id) == []
    assert opened(octopus.paths.db, sealed_in_log(octopus.paths.db, stream=photo_stream(photo.id))) == []
    assert list((data_dir / "tmp").iterdir()) == []

    # Replay after deletion still works, and the log keeps only the tombstone.
    for cls in PROJECTORS:
        octopus.engine.rebuild(cls.name, wait=True)
    assert lib.timeline(conn, alice.id).days == []
    assert lib.trash(conn, alice.id) == []
    stream = octopus.store.read_stream(photo_stream(photo.id))
    assert isinstance(stream[-1].event, PhotoPurged)
    assert octopus.store.verify().ok
    octopus.forget_now()
    assert needles_in(data_dir, needles) == []
    return needles


def test_purged_photo_leaves_nothing_behind(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    octopus = Octopus(Config(storage=StorageConfig(data_dir=str(data_dir)))).open()
    try:
        needles = asyncio.run(_scenario(octopus, data_dir))
    finally:
        octopus.close()
    # Closed (the WAL folded in, every file flushed), the files on disk still hold nothing.
    assert (data_dir / "octopus.db").stat().st_size > 0
    assert needles_in(data_dir, needles) == []


@pytest.mark.parametrize("reason", ["account"])
def test_account_deletion_shreds_every_photo(tmp_path: Path, reason: str) -> None:
    data_dir = tmp_path / "data"
    octopus = Octopus(Config(storage=StorageConfig(data_dir=str(data_dir)))).open()

    async def scenario() -> None:
        admin = await octopus.accounts.register("admin", "correct horse battery", meta=Meta())
        bob = await octopus.accounts.admin_create("bob", "another good password", admin=False, quota_bytes=None,
                                                  meta=Meta(actor=admin.id))
        meta = Meta(actor=bob.id, owner=bob.id)
        originals = []
        for i in range(3):
            data = gps_jpeg()
            originals.append(data)
            incoming = octopus.photos.new_upload()
            incoming.write(data)
            await octopus.photos.upload(bob.id, incoming, filename=f"BOBMARK{i}.jpg", tags=["BOBTAGMARK"], meta=meta)
        album = await octopus.albums.create(bob.id, "BOBALBUMMARK", meta)
        link = await octopus.shares.create(bob.id, NewShare(album_id=album.id, password="BOBLINKPASSWORD"), meta)
        octopus.shares.viewed(octopus.shares.lookup(link.token or ""))
        octopus.shares.flush()
        token, _ = await octopus.accounts.login("bob", "another good password", device="phone", client="127.0.0.1", meta=Meta())
        who = await asyncio.get_running_loop().run_in_executor(None, octopus.accounts.authenticate, token)
        await octopus.accounts.delete_account(who, "another good password", Meta(actor=bob.id, owner=bob.id))
        needles = {f"original {i}": d[len(d) // 2: len(d) // 2 + 64] for i, d in enumerate(originals)}
        needles.update({"filename": b"BOBMARK", "tag": b"BOBTAGMARK", "album": b"BOBALBUMMARK", "bobtag": b"bobtagmark",
                        "share token": (link.token or "").encode()})
        assert needles_in(data_dir, needles) == []
        # The link is gone whole: no row, no sealed token or password hash, no view count.
        conn = octopus.store.reader()
        assert conn.execute("SELECT count(*) FROM share WHERE owner = ?", (bob.id,)).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM share_views WHERE owner = ?", (bob.id,)).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM keystore WHERE key_id LIKE 'share-%:' || ?", (link.id,)).fetchone()[0] == 0
        with pytest.raises(Unauthorized):
            octopus.accounts.authenticate(token)

    try:
        asyncio.run(scenario())
    finally:
        octopus.close()


def test_account_deletion_leaves_no_held_live_photo_clip(tmp_path: Path) -> None:
    """A Live Photo MOV still waiting for its still is purged with the account: its blob, its key,
    its pairing key, its read-model rows; its sealed filename no longer opens."""
    import hashlib

    import motion_support as ms
    from octopus_events.motion import HeldClip, LiveClipHeld, LiveClipPurged, clip_stream

    data_dir = tmp_path / "data"
    octopus = Octopus(Config(storage=StorageConfig(data_dir=str(data_dir)))).open()
    _, mov = ms.live_photo_pair("B0B0B0B0-0000-4000-8000-0000000000AA", colour=(33, 44, 155))
    sha = hashlib.sha256(mov).hexdigest()

    async def scenario() -> None:
        bob = await octopus.accounts.register("bob", "another good password", meta=Meta())
        meta = Meta(actor=bob.id, owner=bob.id)
        incoming = octopus.photos.new_upload()
        incoming.write(mov)
        held, created = await octopus.photos.upload(bob.id, incoming, filename="HELDMOVMARK.MOV", meta=meta)
        assert isinstance(held, HeldClip) and created
        conn = octopus.store.reader()
        assert conn.execute("SELECT count(*) FROM motion_held WHERE owner = ?", (bob.id,)).fetchone()[0] == 1
        # The held clip's sealed field is bound to its clip id (not a photo's), so name that context.
        sealed = [(s, f"{held.id}|LiveClipHeld", v)
                  for s, _, v in sealed_in_log(data_dir / "octopus.db", stream=clip_stream(held.id))]
        assert len(sealed) == 1 and opened(data_dir / "octopus.db", sealed), "sealed, and it opens while it lives"
        await octopus.accounts.delete_user(bob.id, Meta(actor=bob.id))

        assert not octopus.photos.blobs.original_path(sha).exists()
        assert not any(sha in p.name for p in every_file(data_dir))
        conn = octopus.store.reader()
        for table in ("motion_held", "motion_clip", "motion_still"):
            assert conn.execute(f"SELECT count(*) FROM {table} WHERE owner = ?", (bob.id,)).fetchone()[0] == 0, table
        keys = conn.execute("SELECT key_id FROM keystore WHERE key_id LIKE 'liveclip:%' OR key_id LIKE 'livepair:%'")
        assert keys.fetchall() == []
        assert opened(data_dir / "octopus.db", sealed) == []
        events = [r.event for r in octopus.store.read_stream(clip_stream(held.id))]
        assert [type(e) for e in events] == [LiveClipHeld, LiveClipPurged]
        assert events[-1].reason == "account_deleted"  # type: ignore[attr-defined]
        octopus.forget_now()
        assert needles_in(data_dir, {"mov": mov[len(mov) // 2: len(mov) // 2 + 64], "filename": b"HELDMOVMARK",
                                     "sha": sha.encode()}) == []

    try:
        asyncio.run(scenario())
    finally:
        octopus.close()


def test_shares_keep_no_trace_of_purged_items_or_deleted_accounts(tmp_path: Path) -> None:
    """Shared albums and partner shares (docs/sharing.md): a purged item leaves members' albums,
    feeds and partners' views at once, with only its id in a tombstone; a deleted account's
    albums, memberships, partner shares and feed rows go with it."""
    from octopus_events import sync as sync_feed
    from octopus_events.readmodels import albums as album_read, members as member_read, partners as partner_read

    data_dir = tmp_path / "data"
    octopus = Octopus(Config(storage=StorageConfig(data_dir=str(data_dir)))).open()

    def feed(user_id: str) -> str:
        page = sync_feed.read_feed(octopus.store.reader(), user_id, 0, 1000).page
        return b"".join(bytes(e.data) + e.type.encode() for e in page.events).decode()

    async def upload(owner: str, name: str) -> str:
        incoming = octopus.photos.new_upload()
        if name.startswith("GPS"):
            data = gps_jpeg()
        else:
            buf = io.BytesIO()
            Image.new("RGB", (64, 48), (10, 200, 30)).save(buf, "JPEG")
            data = buf.getvalue()
        incoming.write(data)
        view, _ = await octopus.photos.upload(owner, incoming, filename=name, meta=Meta(actor=owner, owner=owner))
        return view.id

    async def scenario() -> None:
        alice = await octopus.accounts.register("alice", "correct horse battery", meta=Meta())
        bob, carol, dave = [await octopus.accounts.admin_create(n, "correct horse battery", admin=False, quota_bytes=None,
                                                                meta=Meta(actor=alice.id)) for n in ("bob", "carol", "dave")]
        m = {u.id: Meta(actor=u.id, owner=u.id) for u in (alice, bob, carol, dave)}
        photo = await upload(alice.id, "GPSSHAREMARK.jpg")
        album = await octopus.albums.create(alice.id, "SHAREDALBUMMARK", m[alice.id])
        await octopus.albums.add(alice.id, album.id, [photo], m[alice.id])
        await octopus.members.invite(alice.id, album.id, "bob", "viewer", m[alice.id])
        await octopus.members.invite(alice.id, album.id, "dave", "contributor", m[alice.id])
        daves = await upload(dave.id, "DAVEMARK.jpg")
        await octopus.albums.add(dave.id, album.id, [daves], m[dave.id])
        await octopus.partners.share(alice.id, "carol", None, m[alice.id])
        conn = octopus.store.reader()
        assert "GPSSHAREMARK" in feed(bob.id) and "DAVEMARK" in feed(bob.id) and "DAVEMARK" in feed(alice.id)
        assert partner_read.partner_timeline(conn, carol.id, "alice").days[0].photos[0].id == photo

        await octopus.photos.purge(alice.id, photo, m[alice.id])
        conn = octopus.store.reader()
        assert "GPSSHAREMARK" not in feed(bob.id)
        assert '"lat"' not in feed(bob.id)
        # The only mention left is the tombstone that tells a member's phone to drop it.
        rows = conn.execute("SELECT type, data FROM shared_feed WHERE owner = ?", (bob.id,)).fetchall()
        assert [r[0] for r in rows if photo.encode() in bytes(r[1])] == ["album.shared_removed"]
        assert partner_read.partner_timeline(conn, carol.id, "alice").days == []
        assert [p.id for p in album_read.get(conn, bob.id, album.id).photos] == [daves]
        assert member_read.album_viewer_owner(conn, bob.id, photo) is None

        # Dave's account goes: his item leaves the album and every feed, his membership with it.
        await octopus.accounts.delete_user(dave.id, Meta(actor=dave.id))
        conn = octopus.store.reader()
        assert album_read.get(conn, bob.id, album.id).photos == []
        assert "DAVEMARK" not in feed(bob.id) and "DAVEMARK" not in feed(alice.id)
        assert [x.username for x in member_read.list_members(conn, album.id)] == ["alice", "bob"]
        assert conn.execute("SELECT count(*) FROM shared_feed WHERE owner = ?", (dave.id,)).fetchone()[0] == 0

        # Alice's account goes: her album leaves Bob's albums and feed, her share leaves Carol's.
        await octopus.accounts.delete_user(alice.id, Meta(actor=alice.id))
        conn = octopus.store.reader()
        assert album_read.list_albums(conn, bob.id, with_shared=True) == []
        assert [r[0] for r in conn.execute("SELECT type FROM shared_feed WHERE owner = ?", (bob.id,))] == ["album.left"]
        assert partner_read.lists(conn, carol.id).shared_with_me == []
        assert conn.execute("SELECT count(*) FROM album_member").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM partner_share").fetchone()[0] == 0
        # A rebuild from the log reaches the same rows.
        before = {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in ("shared_feed", "album_member")}
        for name in ("members", "partners"):
            octopus.engine.rebuild(name, wait=True)
        conn = octopus.store.reader()
        assert {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in ("shared_feed", "album_member")} == before
        octopus.forget_now()
        assert needles_in(data_dir, {"filename": b"GPSSHAREMARK", "dave's": b"DAVEMARK", "album": b"SHAREDALBUMMARK"}) == []

    try:
        asyncio.run(scenario())
    finally:
        octopus.close()
