"""Finding a motion photo's clip and a Live Photo's content identifier in real files."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from octopus_events.media.motion import EmbeddedClip, content_identifier, find_embedded_clip
import motion_support as ms

CONTENT_ID = "A1B2C3D4-E5F6-4711-8899-AABBCCDDEEFF"


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _clip_bytes(path: Path, found: EmbeddedClip) -> bytes:
    return path.read_bytes()[found.offset:found.offset + found.length]


@pytest.mark.parametrize("form", ["container", "microvideo"])
def test_google_motion_photo_clip_is_exactly_the_appended_mp4(tmp_path: Path, form: str) -> None:
    data, mp4 = ms.google_motion_photo(form)
    path = _write(tmp_path, "MVIMG_20240101_120000.jpg", data)
    found = find_embedded_clip(path)
    assert found is not None
    assert found.source == f"google-{form}"
    assert _clip_bytes(path, found) == mp4


def test_google_container_with_an_item_after_the_clip(tmp_path: Path) -> None:
    mp4 = ms.clip("mp4")
    gain_map = ms.still_jpeg((1, 2, 3), size=(16, 16))
    data = ms.with_xmp(ms.still_jpeg(), ms.container_xmp(len(mp4), trailing=len(gain_map))) + mp4 + gain_map
    path = _write(tmp_path, "PXL_1.MP.jpg", data)
    found = find_embedded_clip(path)
    assert found is not None and _clip_bytes(path, found) == mp4


def test_samsung_trailer_clip_stops_before_the_sef_directory(tmp_path: Path) -> None:
    data, mp4 = ms.samsung_motion_photo(sef=True)
    path = _write(tmp_path, "20240101_120000.jpg", data)
    found = find_embedded_clip(path)
    assert found is not None and found.source == "samsung"
    assert _clip_bytes(path, found) == mp4


def test_samsung_trailer_clip_to_end_of_file(tmp_path: Path) -> None:
    data, mp4 = ms.samsung_motion_photo(sef=False)
    path = _write(tmp_path, "s.jpg", data)
    found = find_embedded_clip(path)
    assert found is not None and _clip_bytes(path, found) == mp4


def test_samsung_heic_mpvd_box(tmp_path: Path) -> None:
    heic, _ = ms.live_photo_pair(CONTENT_ID, still="heic")
    mp4 = ms.clip("mp4")
    data = heic + struct.pack(">I", 8 + len(mp4)) + b"mpvd" + mp4
    path = _write(tmp_path, "s.heic", data)
    found = find_embedded_clip(path)
    assert found is not None and found.source == "samsung-heic"
    assert _clip_bytes(path, found) == mp4


@pytest.mark.parametrize("form", ["container", "microvideo"])
def test_a_false_offset_pointing_at_garbage_is_no_clip(tmp_path: Path, form: str) -> None:
    garbage = bytes(range(256)) * 40
    xmp = ms.container_xmp(len(garbage)) if form == "container" else ms.microvideo_xmp(len(garbage))
    path = _write(tmp_path, "MVIMG_bad.jpg", ms.with_xmp(ms.still_jpeg(), xmp) + garbage)
    assert find_embedded_clip(path) is None


def test_offsets_beyond_the_file_or_unparseable_xmp_are_no_clip(tmp_path: Path) -> None:
    mp4 = ms.clip("mp4")
    too_long = _write(tmp_path, "a.jpg", ms.with_xmp(ms.still_jpeg(), ms.microvideo_xmp(10**12)) + mp4)
    broken = _write(tmp_path, "b.jpg", ms.with_xmp(ms.still_jpeg(), "<x:xmpmeta><unclosed") + mp4)
    assert find_embedded_clip(too_long) is None
    assert find_embedded_clip(broken) is None


def test_plain_stills_and_a_marker_without_mp4_have_no_clip(tmp_path: Path) -> None:
    plain = _write(tmp_path, "plain.jpg", ms.still_jpeg())
    marker_only = _write(tmp_path, "m.jpg", ms.still_jpeg() + b"MotionPhoto_Data" + b"\x00" * 64)
    truncated = _write(tmp_path, "t.jpg", ms.still_jpeg() + b"MotionPhoto_Data" + ms.clip("mp4")[:24])
    png = _write(tmp_path, "x.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    for path in (plain, marker_only, truncated, png):
        assert find_embedded_clip(path) is None, path.name


@pytest.mark.parametrize("order", [b"MM", b"II"])
def test_apple_jpeg_content_identifier_from_the_makernote(tmp_path: Path, order: bytes) -> None:
    path = _write(tmp_path, "IMG_0001.JPG", ms.still_jpeg(exif=ms.apple_exif(CONTENT_ID, order)))
    assert content_identifier(path, "image/jpeg") == CONTENT_ID


def test_apple_heic_content_identifier(tmp_path: Path) -> None:
    heic, _ = ms.live_photo_pair(CONTENT_ID, still="heic")
    path = _write(tmp_path, "IMG_0001.HEIC", heic)
    assert content_identifier(path, "image/heic") == CONTENT_ID


def test_mov_content_identifier_reads_back(tmp_path: Path) -> None:
    _, mov = ms.live_photo_pair(CONTENT_ID)
    path = _write(tmp_path, "IMG_0001.MOV", mov)
    assert content_identifier(path, "video/quicktime") == CONTENT_ID


def test_files_without_an_identifier(tmp_path: Path) -> None:
    plain = _write(tmp_path, "p.jpg", ms.still_jpeg())
    other_maker = _write(tmp_path, "o.jpg", ms.still_jpeg(exif=_exif_with_makernote(b"Nikon\x00\x02\x10\x00\x00")))
    mov = _write(tmp_path, "c.mov", ms.clip("mov"))
    garbage_mov = _write(tmp_path, "g.mov", b"\x00\x00\x00\x08wide" + b"\x01" * 200)
    assert content_identifier(plain, "image/jpeg") is None
    assert content_identifier(other_maker, "image/jpeg") is None
    assert content_identifier(mov, "video/quicktime") is None
    assert content_identifier(garbage_mov, "video/quicktime") is None
    assert content_identifier(plain, "image/png") is None


def _exif_with_makernote(note: bytes) -> bytes:
    from PIL import Image

    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x927C] = note
    return exif.tobytes()


# -- the domain, in process: an unpaired Live Photo MOV expires like the trash ---------------------


def test_unpaired_live_clip_is_purged_after_the_trash_retention(tmp_path: Path) -> None:
    import asyncio
    import hashlib
    from datetime import datetime, timedelta, timezone

    from octopus_events.application import Octopus
    from octopus_events.config import Config, StorageConfig
    from octopus_events.eventstore import Meta
    from octopus_events.motion import HeldClip, LiveClipPurged, clip_stream
    from octopus_events.readmodels import motion as read

    _, mov = ms.live_photo_pair("EXP1RED0-0000-4000-8000-00000000CAFE")
    sha = hashlib.sha256(mov).hexdigest()

    async def scenario(octopus: Octopus) -> None:
        user = await octopus.accounts.register("hana", "correct horse battery", meta=Meta())
        meta = Meta(actor=user.id, owner=user.id)
        incoming = octopus.photos.new_upload()
        incoming.write(mov)
        held, created = await octopus.photos.upload(user.id, incoming, filename="IMG_9.MOV", meta=meta)
        assert isinstance(held, HeldClip) and created
        assert octopus.photos.blobs.original_path(sha).is_file()
        # Not due yet: a purge now keeps it; gc keeps its blob however old the file is.
        await octopus.photos.purge_expired()
        assert read.held(octopus.store.reader(), held.id) is not None
        later = datetime.now(timezone.utc) + timedelta(days=octopus.config.trash.retention_days, hours=1)
        await octopus.photos.purge_expired(later)
        assert read.held(octopus.store.reader(), held.id) is None
        assert not octopus.photos.blobs.original_path(sha).is_file()
        rows = octopus.store.reader().execute("SELECT type FROM events WHERE stream = ?", (clip_stream(held.id),)).fetchall()
        assert [r[0] for r in rows] == ["LiveClipHeld", LiveClipPurged.__name__]
        keys = octopus.store.reader().execute("SELECT count(*) FROM keystore WHERE key_id LIKE ?",
                                              (f"liveclip:{held.id}:%",)).fetchone()[0]
        assert keys == 0

    octopus = Octopus(Config(storage=StorageConfig(data_dir=str(tmp_path / "data")))).open()
    try:
        asyncio.run(scenario(octopus))
    finally:
        octopus.close()


def _open_octopus(tmp_path: Path):  # type: ignore[no-untyped-def]
    from octopus_events.application import Octopus
    from octopus_events.config import Config, StorageConfig

    return Octopus(Config(storage=StorageConfig(data_dir=str(tmp_path / "data")))).open()


@pytest.mark.parametrize("still", ["heic", "jpeg"])
def test_import_of_a_live_photo_folder_gives_one_motion_item(tmp_path: Path, still: str) -> None:
    import asyncio

    from octopus_events.cli import _import_summary
    from octopus_events.eventstore import Meta
    from octopus_events.importer import Importer
    from octopus_events.readmodels import library as lib
    from octopus_events.readmodels import motion as read

    picture, mov = ms.live_photo_pair("1A2B3C4D-0000-4000-8000-00000000F00D", colour=(90, 10, 160), still=still)
    folder = tmp_path / "phone"
    folder.mkdir()
    name = "IMG_1.HEIC" if still == "heic" else "IMG_1.JPG"
    (folder / name).write_bytes(picture)
    (folder / "IMG_1.MOV").write_bytes(mov)
    octopus = _open_octopus(tmp_path)
    try:
        owner = asyncio.run(octopus.accounts.register("ina", "correct horse battery", meta=Meta())).id
        report = asyncio.run(Importer(octopus).run(folder, "ina"))
        assert (report.imported, report.live_clips, report.duplicates, report.skipped, report.failed) == (1, 1, 0, 0, 0)
        assert report.files == 2 and report.videos == 0
        assert "1 imported, 0 already there" in _import_summary(report)
        assert "1 Live Photo videos joined their photos" in _import_summary(report)
        conn = octopus.store.reader()
        photos = [p for day in lib.timeline(conn, owner).days for p in day.photos]
        assert [(p.filename, p.kind, p.motion) for p in photos] == [(name, "photo", True)]
        clip = read.clip_of(conn, owner, photos[0].id)
        assert clip is not None and clip.source == "live-photo" and clip.length == len(mov)
        assert conn.execute("SELECT count(*) FROM motion_held").fetchone()[0] == 0
        # Again: both files are already there, the MOV as its photo's clip.
        again = asyncio.run(Importer(octopus).run(folder, "ina"))
        assert (again.imported, again.live_clips, again.duplicates) == (0, 0, 2)
    finally:
        octopus.close()


def test_a_held_mov_counts_against_the_quota(tmp_path: Path) -> None:
    import asyncio

    from octopus_events.errors import TooLarge
    from octopus_events.eventstore import Meta
    from octopus_events.readmodels import storage

    still, mov = ms.live_photo_pair("2B3C4D5E-0000-4000-8000-00000000BEEF", colour=(10, 160, 90))
    other = ms.still_jpeg((250, 250, 5))
    octopus = _open_octopus(tmp_path)

    async def scenario() -> None:
        admin = await octopus.accounts.register("admin", "correct horse battery", meta=Meta())
        # Room for the MOV and the still, not for a third file as well.
        quota = len(mov) + len(still) + len(other) // 2
        user = await octopus.accounts.admin_create("kim", "another good password", admin=False, quota_bytes=quota,
                                                   meta=Meta(actor=admin.id))
        meta = Meta(actor=user.id, owner=user.id)

        async def upload(data: bytes, name: str):  # type: ignore[no-untyped-def]
            incoming = octopus.photos.new_upload()
            incoming.write(data)
            return await octopus.photos.upload(user.id, incoming, filename=name, meta=meta)

        await upload(mov, "IMG_2.MOV")  # held
        used = storage.usage(octopus.store.reader(), user.id, quota)
        assert (used.photos, used.bytes, used.live_clip_bytes) == (0, len(mov), len(mov))
        view, created = await upload(still, "IMG_2.JPG")
        assert created and view.motion
        used = storage.usage(octopus.store.reader(), user.id, quota)
        assert (used.photos, used.bytes, used.live_clip_bytes) == (1, len(mov) + len(still), len(mov))
        with pytest.raises(TooLarge):
            await upload(other, "other.jpg")

    try:
        asyncio.run(scenario())
    finally:
        octopus.close()
