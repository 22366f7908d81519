"""`octopus import`: folders and Google Takeout, through the CLI as a subprocess and through the core.

Real files in a temp dir: JPEGs made by Pillow (with and without an EXIF date), a PNG, a text
file, a truncated JPEG, and a small synthetic Takeout tree with sidecars.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import random
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import pytest
from PIL import Image

from octopus_events.application import Octopus
from octopus_events.config import Config, StorageConfig
from octopus_events.errors import Invalid, NotFound
from octopus_events.eventstore import Meta
from octopus_events.importer import Importer, ImportProgress, SidecarIndex
from octopus_events.notifications import ImportFinished
from octopus_events.photos import Gps
from octopus_events.readmodels import albums as album_model
from octopus_events.readmodels import library as lib
from octopus_events.readmodels.library import PhotoView

from video_support import clip


# -- files -----------------------------------------------------------------------------------------
def image(seed: int, fmt: str = "JPEG", taken: str | None = None) -> bytes:
    """A small image whose bytes differ per seed; `taken` ("YYYY:MM:DD HH:MM:SS") → DateTimeOriginal."""
    rng = random.Random(seed)
    img = Image.new("RGB", (48, 32), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    for _ in range(40):
        img.putpixel((rng.randrange(48), rng.randrange(32)), (rng.randrange(256), 0, rng.randrange(256)))
    save: dict = {}
    if taken:
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0x9003] = taken
        save["exif"] = exif
    buf = io.BytesIO()
    img.save(buf, fmt, **save)
    return buf.getvalue()


def put(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data)
    else:
        path.write_bytes(data)
    return path


def folder_tree(root: Path, *, broken: bool = True) -> Path:
    """3 new images + 1 copy of one of them, 1 text file, optionally 1 truncated JPEG; plus hidden
    files and a symlink loop that must not count."""
    put(root / "2019" / "a.jpg", image(1, taken="2019:07:04 10:00:00"))
    put(root / "2019" / "b.jpg", image(2))
    put(root / "misc" / "c.png", image(3, "PNG"))
    put(root / "misc" / "copy-of-a.jpg", (root / "2019" / "a.jpg").read_bytes())
    put(root / "notes.txt", "not a photo\n")
    if broken:
        put(root / "misc" / "broken.jpg", image(4)[:300])
    put(root / ".thumbnails" / "t.jpg", image(5))
    put(root / ".DS_Store", b"\x00\x00\x00\x01Bud1")
    os.symlink("..", root / "misc" / "loop")
    return root


def ts(iso: str) -> str:
    return str(int(datetime.fromisoformat(iso).replace(tzinfo=timezone.utc).timestamp()))


def sidecar(title: str, taken: str, *, description: str = "", favorited: bool = False, lat: float = 0.0) -> str:
    body: dict = {"title": title, "description": description, "photoTakenTime": {"timestamp": ts(taken)},
                  "geoData": {"latitude": lat, "longitude": lat and 2.35, "altitude": 0.0}}
    if favorited:
        body["favorited"] = True
    return json.dumps(body)


LONG = "PXL_20160101_123456789_A_RATHER_LONG_NAME_0001.jpg"  # 50 characters


def takeout_tree(root: Path) -> Path:
    gp = root / "Takeout" / "Google Photos"
    y15, y16, trip = gp / "Photos from 2015", gp / "Photos from 2016", gp / "Trip to Paris"
    put(y15 / "IMG_0001.jpg", image(11))
    put(y15 / "IMG_0001.jpg.json", sidecar("IMG_0001.jpg", "2015-03-01T12:00:00", description="Beach day",
                                           favorited=True, lat=48.85))
    put(y15 / "IMG_0001-edited.jpg", image(12))  # shares IMG_0001.jpg.json
    put(y15 / "IMG_0002.jpg", image(13))
    put(y15 / "IMG_0002.jpg.json", sidecar("IMG_0002.jpg", "2015-04-04T08:00:00"))
    put(y15 / "IMG_0002(1).jpg", image(14))
    put(y15 / "IMG_0002.jpg(1).json", sidecar("IMG_0002.jpg", "2015-05-05T08:00:00"))
    put(y15 / "clip.mp4", clip(seed=7).read_bytes())  # a real H.264 clip: videos are imported like photos
    put(y16 / LONG, image(15))
    # Takeout cuts the sidecar's name to 46 characters before ".json".
    put(y16 / ((LONG + ".supplemental-metadata")[:46] + ".json"), sidecar(LONG, "2016-01-01T09:30:00"))
    put(y16 / "with_exif.jpg", image(16, taken="2016:08:08 16:00:00"))
    put(y16 / "with_exif.jpg.supplemental-metadata.json", sidecar("with_exif.jpg", "2001-01-01T00:00:00"))
    put(trip / "metadata.json", json.dumps({"title": "Trip to Paris", "description": ""}))
    put(trip / "IMG_0003.jpg", image(17))
    put(trip / "IMG_0003.jpg.supplemental-metadata.json", sidecar("IMG_0003.jpg", "2015-06-01T10:00:00"))
    put(trip / "IMG_0001.jpg", (y15 / "IMG_0001.jpg").read_bytes())  # Takeout repeats album photos
    put(trip / "IMG_0001.jpg.json", sidecar("IMG_0001.jpg", "2015-03-01T12:00:00", description="Beach day",
                                            favorited=True, lat=48.85))
    put(gp / "print-subscriptions.json", "[]")
    put(root / "Takeout" / "archive_browser.html", "<html></html>")
    return root


# -- the core --------------------------------------------------------------------------------------
@pytest.fixture
def octopus(tmp_path: Path) -> Iterator[Octopus]:
    lib_ = Octopus(Config(storage=StorageConfig(data_dir=str(tmp_path / "data")))).open(background_rebuilds=False)
    try:
        asyncio.run(lib_.accounts.admin_create("alice", "alice-password", admin=False, quota_bytes=None, meta=Meta()))
        yield lib_
    finally:
        lib_.close()


def owner_id(octopus: Octopus, name: str = "alice") -> str:
    from octopus_events.readmodels import users

    user = users.find_by_name(octopus.store.reader(), name)
    assert user is not None
    return user.id


def photos_by_name(octopus: Octopus, owner: str) -> dict[str, PhotoView]:
    conn = octopus.store.reader()
    ids = [r[0] for r in conn.execute("SELECT id FROM photo WHERE owner = ?", (owner,))]
    return {view.filename: view for view in (lib.get_photo(conn, owner, i) for i in ids)}


def events_after(octopus: Octopus, position: int) -> list:
    return [r for batch in octopus.store.iter_all(position) for r in batch]


def test_sidecar_names() -> None:
    cut = "IMG_1234567890123456789012345678901234567890.jpg"  # 48 characters: its sidecar key is cut at 46
    index = SidecarIndex(["IMG_1.jpg.json", "IMG_1.jpg(1).json", "IMG_2.jpg.supplemental-metadata.json",
                          cut[:46] + ".json", "OLD.json", "IMG_10.jpg.supplemental-me.json"])
    assert index.find("IMG_1.jpg") == "IMG_1.jpg.json"
    assert index.find("IMG_1-edited.jpg") == "IMG_1.jpg.json"
    assert index.find("IMG_1(1).jpg") == "IMG_1.jpg(1).json"
    assert index.find("IMG_2.jpg") == "IMG_2.jpg.supplemental-metadata.json"
    assert index.find("IMG_10.jpg") == "IMG_10.jpg.supplemental-me.json"
    assert index.find(cut) == cut[:46] + ".json"
    assert index.find("OLD.jpg") == "OLD.json"
    assert index.find("IMG_3.jpg") is None
    assert index.find("IMG_11.jpg") is None  # "IMG_1.jpg" is no prefix match for a short name
    assert index.find(cut[:44] + "99.jpg") is None  # another long name


def test_folder_import_counts_rerun_and_broken_files(octopus: Octopus, tmp_path: Path) -> None:
    tree = folder_tree(tmp_path / "pics")
    owner = owner_id(octopus)
    seen: list[ImportProgress] = []
    report = asyncio.run(Importer(octopus).run(tree, "alice", progress=seen.append))
    assert (report.imported, report.duplicates, report.skipped, report.failed) == (3, 1, 1, 1)
    assert report.files == 6
    assert [f.path for f in report.failures] == ["misc/broken.jpg"]
    assert seen[-1].done == seen[-1].total == 6
    photos = photos_by_name(octopus, owner)
    assert sorted(photos) == ["a.jpg", "b.jpg", "c.png"]
    assert photos["a.jpg"].taken_at is not None and photos["a.jpg"].taken_at.startswith("2019-07-04T10:00:00")
    assert photos["b.jpg"].taken_source == "upload"
    finished = events_after(octopus, 0)[-1]
    assert isinstance(finished.event, ImportFinished)
    assert (finished.event.imported, finished.event.skipped, finished.event.failed) == (3, 2, 1)
    assert finished.owner == owner
    assert not any(octopus.paths.tmp.iterdir())  # no temp file left by the broken one

    head = octopus.store.head()
    again = asyncio.run(Importer(octopus).run(tree, "alice"))
    assert (again.imported, again.duplicates, again.skipped, again.failed) == (0, 4, 1, 1)
    assert [type(r.event) for r in events_after(octopus, head)] == [ImportFinished]  # nothing else written
    assert len(photos_by_name(octopus, owner)) == 3


def test_dry_run_writes_nothing(octopus: Octopus, tmp_path: Path) -> None:
    tree = takeout_tree(tmp_path / "export")
    head = octopus.store.head()
    report = asyncio.run(Importer(octopus).run(tree, "alice", takeout=True, dry_run=True))
    assert octopus.store.head() == head
    assert (report.imported, report.duplicates, report.skipped, report.failed) == (8, 1, 1, 0)
    assert report.albums_created == ["Trip to Paris"]
    assert photos_by_name(octopus, owner_id(octopus)) == {}
    assert not any(octopus.paths.tmp.iterdir())


def test_takeout_dates_descriptions_favourites_albums(octopus: Octopus, tmp_path: Path) -> None:
    tree = takeout_tree(tmp_path / "export")
    owner = owner_id(octopus)
    report = asyncio.run(Importer(octopus).run(tree, "alice", takeout=True))
    # 7 distinct images and a video; the album's IMG_0001.jpg is the year folder's again; the
    # browser page is skipped; Takeout's JSON files are neither photos nor skipped files.
    assert (report.imported, report.duplicates, report.skipped, report.failed) == (8, 1, 1, 0), report
    assert report.videos == 1
    assert report.albums_created == ["Trip to Paris"]
    assert report.favourites_set == 2  # IMG_0001.jpg and its edited copy, which shares the sidecar
    assert report.described_from_sidecar == 2 and report.dated_from_sidecar == 6
    # IMG_0001.jpg and its edited copy; the album's repeat is one of them
    assert (report.located_from_sidecar, report.gps_not_imported) == (2, 0)
    photos = photos_by_name(octopus, owner)
    assert set(photos) == {"IMG_0001.jpg", "IMG_0001-edited.jpg", "IMG_0002.jpg", "IMG_0002(1).jpg", LONG,
                           "with_exif.jpg", "IMG_0003.jpg", "clip.mp4"}  # the two IMG_0001.jpg are one photo
    assert photos["IMG_0001.jpg"].taken_at == "2015-03-01T12:00:00+00:00"
    assert photos["IMG_0001.jpg"].description == "Beach day"
    assert photos["IMG_0001.jpg"].favourite is True
    assert photos["IMG_0001-edited.jpg"].taken_at == "2015-03-01T12:00:00+00:00"  # the original's sidecar
    assert photos["IMG_0002.jpg"].taken_at == "2015-04-04T08:00:00+00:00"
    assert photos["IMG_0002(1).jpg"].taken_at == "2015-05-05T08:00:00+00:00"
    assert photos[LONG].taken_at == "2016-01-01T09:30:00+00:00"  # truncated sidecar name
    assert photos["with_exif.jpg"].taken_at is not None
    assert photos["with_exif.jpg"].taken_at.startswith("2016-08-08T16:00:00")  # EXIF beats the sidecar
    assert photos["IMG_0002.jpg"].favourite is False
    assert photos["IMG_0001.jpg"].gps == Gps(lat=48.85, lon=2.35)  # the sidecar's: the file has none
    assert photos["clip.mp4"].kind == "video"
    conn = octopus.store.reader()
    (album,) = album_model.list_albums(conn, owner)
    assert album.name == "Trip to Paris" and album.count == 2
    members = {p.filename for p in album_model.get(conn, owner, album.id).photos}
    assert members == {"IMG_0003.jpg", "IMG_0001.jpg"}

    head = octopus.store.head()
    again = asyncio.run(Importer(octopus).run(tree, "alice", takeout=True))
    assert (again.imported, again.duplicates, again.failed) == (0, 9, 0)
    assert again.albums_created == [] and again.favourites_set == 0 and again.dated_from_sidecar == 0
    assert [type(r.event) for r in events_after(octopus, head)] == [ImportFinished]
    assert len(album_model.list_albums(octopus.store.reader(), owner)) == 1


def test_takeout_fills_in_photos_already_there(octopus: Octopus, tmp_path: Path) -> None:
    """A photo the phone app uploaded first still gets its Takeout favourite, date and album."""
    tree = takeout_tree(tmp_path / "export")
    owner = owner_id(octopus)
    first = tree / "Takeout" / "Google Photos" / "Trip to Paris" / "IMG_0003.jpg"
    incoming = octopus.photos.new_upload()
    incoming.write(first.read_bytes())
    view, created = asyncio.run(octopus.photos.upload(owner, incoming, filename="phone.jpg", meta=Meta(actor=owner)))
    assert created and view.taken_source == "upload"
    asyncio.run(Importer(octopus).run(tree, "alice", takeout=True))
    photo = photos_by_name(octopus, owner)["phone.jpg"]
    assert photo.taken_at == "2015-06-01T10:00:00+00:00"
    (album,) = album_model.list_albums(octopus.store.reader(), owner)
    assert photo.id in {p.id for p in album_model.get(octopus.store.reader(), owner, album.id).photos}


def test_unknown_user_and_bad_path(octopus: Octopus, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no user named 'nobody'"):
        asyncio.run(Importer(octopus).run(tmp_path, "nobody"))
    with pytest.raises(Invalid, match="no such folder"):
        asyncio.run(Importer(octopus).run(tmp_path / "missing", "alice"))
    with pytest.raises(Invalid, match="not a folder"):
        asyncio.run(Importer(octopus).run(put(tmp_path / "f.jpg", image(1)), "alice"))


# -- the command -----------------------------------------------------------------------------------
def cli(data: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OCTOPUS_STORAGE_DATA_DIR": str(data)}
    env.pop("OCTOPUS_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "octopus_events.cli", *args], input=stdin, capture_output=True,
                          text=True, env=env, timeout=120)


def head_of(data: Path) -> int:
    verified = cli(data, "verify")
    assert verified.returncode == 0, verified.stderr
    match = re.search(r"head (\d+)", verified.stdout)
    assert match, verified.stdout
    return int(match.group(1))


def test_cli_import(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert cli(data, "users", "add", "alice", "--password-stdin", stdin="alice-password\n").returncode == 0
    tree = folder_tree(tmp_path / "pics")

    head = head_of(data)
    dry = cli(data, "import", str(tree), "--user", "alice", "--dry-run")
    assert dry.returncode == 1, dry.stderr  # it found the broken JPEG (by its header)
    assert dry.stdout.startswith("import (dry run): would import 3, 1 already there, 1 skipped (not photos), 1 failed")
    assert head_of(data) == head

    first = cli(data, "import", str(tree), "--user", "alice")
    assert first.returncode == 1, first.stderr  # the broken JPEG
    assert len(first.stdout.strip().splitlines()) == 1
    assert first.stdout.startswith("import: 3 imported, 1 already there, 1 skipped (not photos), 1 failed")
    assert "misc/broken.jpg" in first.stderr and "Traceback" not in first.stderr
    assert "files/s" in first.stderr  # the progress line (plain, stderr is not a terminal)

    again = cli(data, "import", str(tree), "--user", "alice")
    assert again.stdout.startswith("import: 0 imported, 4 already there, 1 skipped (not photos), 1 failed")

    (tree / "misc" / "broken.jpg").unlink()
    clean = cli(data, "import", str(tree), "--user", "alice")
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout.startswith("import: 0 imported, 4 already there")


def test_cli_takeout_and_one_line_errors(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert cli(data, "users", "add", "alice", "--password-stdin", stdin="alice-password\n").returncode == 0
    tree = takeout_tree(tmp_path / "export")
    done = cli(data, "import", str(tree), "--user", "alice", "--takeout")
    assert done.returncode == 0, done.stderr
    assert "8 imported, 1 already there, 1 skipped (not photos), 0 failed, albums created: 1" in done.stdout

    for args, message in [
        (("import", str(tree), "--user", "nobody"), "no user named 'nobody'"),
        (("import", str(tmp_path / "missing"), "--user", "alice"), "no such folder"),
        (("import", str(tree / "Takeout" / "archive_browser.html"), "--user", "alice"), "not a folder"),
    ]:
        result = cli(data, *args)
        assert result.returncode == 1
        assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
        assert result.stdout == ""
    usage = cli(data, "import", str(tree))
    assert usage.returncode == 2 and "--user" in usage.stderr and usage.stderr.count("\n") == 1
    assert cli(data, "import", "--help").stdout.startswith("usage: octopus import")


def test_cli_unreadable_files_are_reported_and_the_rest_imported(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert cli(data, "users", "add", "alice", "--password-stdin", stdin="alice-password\n").returncode == 0
    tree = tmp_path / "pics"
    put(tree / "ok.jpg", image(1))
    os.symlink(tmp_path / "gone.jpg", tree / "dangling.jpg")
    # Unreadable for root too (CI runs as root, which reads a mode-000 file anyway): a link to
    # itself, and a FIFO with no writer, whose open would block the import for ever.
    os.symlink("loop.jpg", tree / "loop.jpg")
    os.mkfifo(tree / "pipe.jpg")
    result = cli(data, "import", str(tree), "--user", "alice")
    assert result.returncode == 1
    assert "dangling.jpg: cannot read: No such file or directory" in result.stderr
    assert "loop.jpg: cannot read: Too many levels of symbolic links" in result.stderr
    assert "pipe.jpg: cannot read: not a regular file" in result.stderr
    assert "Traceback" not in result.stderr
    assert "import: 1 imported, 0 already there, 0 skipped (not photos), 3 failed" in result.stdout
