"""Google Takeout, completely: the names, files and flags real Takeout folders hold.

One small Takeout tree of real files (JPEGs from Pillow, clips from PyAV via video_support) goes
through the real `octopus import --takeout` command against a real data dir, once per module;
each test then reads what the library holds. Sidecar name matching is also checked on its own,
with the names Google writes (localized edits, names cut at 46 UTF-16 units, copies "(n)").
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import pytest
from PIL import Image

from octopus_events.application import Octopus
from octopus_events.config import Config, StorageConfig
from octopus_events.importer import SidecarIndex, album_title
from octopus_events.readmodels import albums as album_model
from octopus_events.readmodels import library as lib
from octopus_events.readmodels import users
from octopus_events.readmodels.library import PhotoView

from video_support import ANDROID_TAGS, clip

SUPP = ".supplemental-metadata"


def cut16(text: str, units: int = 46) -> str:
    """`text` cut to `units` UTF-16 code units as Google cuts sidecar names (a split emoji goes)."""
    return text.encode("utf-16-le")[: units * 2].decode("utf-16-le", errors="ignore")


def jpeg(seed: int, taken: str | None = None, gps: tuple[float, float] | None = None) -> bytes:
    img = Image.new("RGB", (40, 30), ((seed * 37) % 256, (seed * 91) % 256, (seed * 13) % 256))
    img.putpixel((seed % 40, seed % 30), (255, 255, 255))
    exif = Image.Exif()
    if taken:
        exif.get_ifd(0x8769)[0x9003] = taken  # DateTimeOriginal, no OffsetTimeOriginal
    if gps:
        exif.get_ifd(0x8825).update({1: "N", 2: (gps[0], 0.0, 0.0), 3: "E", 4: (gps[1], 0.0, 0.0)})
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def side(title: str, taken: str, *, lat: float = 0.0, lon: float = 0.0, exif_lat: float = 0.0,
         exif_lon: float = 0.0, **flags: object) -> str:
    moment = int(datetime.fromisoformat(taken).replace(tzinfo=timezone.utc).timestamp())
    return json.dumps({
        "title": title, "description": "", "imageViews": "3",
        "creationTime": {"timestamp": str(moment + 60), "formatted": "…"},
        "photoTakenTime": {"timestamp": str(moment), "formatted": "…"},
        "geoData": {"latitude": lat, "longitude": lon, "altitude": 0.0},
        "geoDataExif": {"latitude": exif_lat, "longitude": exif_lon, "altitude": 0.0},
        "url": "https://photos.google.com/photo/x", **flags,
    })


def put(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


# Names as Google writes them.
COPY38 = "WhatsApp Image 2019-07-04 at 10.15.00 from Anna(38).jpg"  # a numbered copy of a long name
REAL38 = "Screenshot_20190704-101500_Some Long App Name(38).jpg"  # "(38)" is part of the real name
EMOJI = "🎉🎂🥳 Birthday at the lake 🎈🎈🎈 with everyone.jpg"
EMOJIS = "😀😃😄😁😆😅😂🤣🥲😊😇🙂🙃😉😌😍🥰😘😗😙😚😋😛😜.jpg"  # 24 emoji: 48 units before ".jpg"
LONG = "PXL_20190704_101500123.NIGHT.LONG_EXPOSURE-01.COVER.jpg"


def takeout(root: Path) -> Path:
    gp = root / "Takeout" / "Google Photos"
    y = gp / "Photos from 2019"
    # EXIF local 10:00 without an offset; the sidecar's instant says 08:00 UTC: +02:00.
    put(y / "paris.jpg", jpeg(1, taken="2019:07:04 10:00:00"))
    put(y / "paris.jpg.supplemental-metadata.json", side("paris.jpg", "2019-07-04T08:00:00"))
    # 10:00 local, 16:58:20 UTC (a camera clock 100 s off): -07:00.
    put(y / "seattle.jpg", jpeg(2, taken="2019:07:04 10:00:00"))
    put(y / "seattle.jpg.json", side("seattle.jpg", "2019-07-04T16:58:20"))
    # No date and no location in the file: both from the sidecar.
    put(y / "placed.jpg", jpeg(3))
    put(y / "placed.jpg.supplemental-metadata.json",
        side("placed.jpg", "2019-07-05T12:00:00", lat=48.8584, lon=2.2945, exif_lat=1.0, exif_lon=1.0))
    put(y / "exif-gps.jpg", jpeg(4, taken="2019:07:06 09:00:00", gps=(10.0, 20.0)))  # EXIF's place wins
    put(y / "exif-gps.jpg.json", side("exif-gps.jpg", "2019-07-06T07:00:00", lat=48.0, lon=2.0))
    put(y / "nowhere.jpg", jpeg(5))
    put(y / "nowhere.jpg.json", side("nowhere.jpg", "2019-07-07T12:00:00"))  # 0.0/0.0 is no place
    put(y / "only-exif-geo.jpg", jpeg(6))
    put(y / "only-exif-geo.jpg.json", side("only-exif-geo.jpg", "2019-07-08T12:00:00", exif_lat=-33.8568,
                                           exif_lon=151.2153))
    # Names Google cut short.
    put(y / COPY38, jpeg(7))
    put(y / (cut16(COPY38.replace("(38)", "") + SUPP) + "(38).json"), side(COPY38, "2019-07-09T12:00:00"))
    put(y / REAL38, jpeg(8))
    put(y / (cut16(REAL38 + SUPP) + ".json"), side(REAL38, "2019-07-10T12:00:00"))
    put(y / EMOJI, jpeg(9))
    put(y / (cut16(EMOJI + SUPP) + ".json"), side(EMOJI, "2019-07-11T12:00:00"))
    put(y / EMOJIS, jpeg(10))
    put(y / (cut16(EMOJIS + SUPP) + ".json"), side(EMOJIS, "2019-07-12T12:00:00"))
    put(y / LONG, jpeg(11))
    put(y / (cut16(LONG + SUPP) + ".json"), side(LONG, "2019-07-13T12:00:00"))
    # Edited copies share the original's sidecar, whatever the language.
    put(y / "IMG_0100.jpg", jpeg(12))
    put(y / "IMG_0100-edited.jpg", jpeg(13))
    put(y / "IMG_0100.jpg.supplemental-metadata.json", side("IMG_0100.jpg", "2019-07-14T12:00:00", favorited=True))
    put(y / "IMG_0200-bearbeitet.jpg", jpeg(14))
    put(y / "IMG_0200.jpg.supplemental-metad.json", side("IMG_0200.jpg", "2019-07-15T12:00:00"))
    put(y / "IMG_0300-modifié.jpg", jpeg(15))
    put(y / "IMG_0300.jpg.suppl.json", side("IMG_0300.jpg", "2019-07-16T12:00:00"))
    # Flags: the bin stays out, archived photos come in and are counted.
    put(y / "thrown-away.jpg", jpeg(16))
    put(y / "thrown-away.jpg.json", side("thrown-away.jpg", "2019-07-17T12:00:00", trashed=True))
    put(y / "archived.jpg", jpeg(17))
    put(y / "archived.jpg.json", side("archived.jpg", "2019-07-18T12:00:00", archived=True))
    put(gp / "Corbeille" / "binned.jpg", jpeg(18))
    # Videos and a motion photo's parts, with their sidecars.
    put(y / "VID_1234.mp4", clip(tags=ANDROID_TAGS, seed=31).read_bytes())
    put(y / "VID_1234.mp4.supplemental-metadata.json", side("VID_1234.mp4", "2022-12-24T17:45:10", favorited=True))
    put(y / "PXL_20190704_101500000.MP.jpg", jpeg(19, taken="2019:07:04 10:15:00"))
    put(y / "PXL_20190704_101500000.MP", clip(seed=32).read_bytes())
    put(y / "PXL_20190704_101500000.MP.jpg.supplemental-metadata.json",
        side("PXL_20190704_101500000.MP.jpg", "2019-07-04T08:15:00", favorited=True))
    # Albums: the file's name is localized, its content says it is the album's.
    paris = gp / "Voyage à Paris"
    put(paris / "métadonnées.json", json.dumps({"title": "Paris ✨ 2019", "description": "", "access": "protected",
                                                "date": {"timestamp": "1562400000", "formatted": "…"}}))
    put(paris / "paris.jpg", (y / "paris.jpg").read_bytes())  # Takeout repeats album photos
    put(paris / "paris.jpg.supplemental-metadata.json", side("paris.jpg", "2019-07-04T08:00:00"))
    put(paris / "louvre.jpg", jpeg(20))
    put(paris / "louvre.jpg.json", side("louvre.jpg", "2019-07-04T13:00:00"))
    urlaub = gp / "Sommer"
    put(urlaub / "Metadaten.json", json.dumps({"albumData": {"title": "Urlaub am See", "description": "",
                                                             "access": "private", "location": ""}}))
    put(urlaub / "see.jpg", jpeg(21))
    put(urlaub / "see.jpg.json", side("see.jpg", "2019-08-01T12:00:00"))
    put(gp / "print-subscriptions.json", "[]")
    return root


PHOTOS = {"paris.jpg", "seattle.jpg", "placed.jpg", "exif-gps.jpg", "nowhere.jpg", "only-exif-geo.jpg", COPY38,
          REAL38, EMOJI, EMOJIS, LONG, "IMG_0100.jpg", "IMG_0100-edited.jpg", "IMG_0200-bearbeitet.jpg",
          "IMG_0300-modifié.jpg", "archived.jpg", "VID_1234.mp4", "PXL_20190704_101500000.MP.jpg",
          "PXL_20190704_101500000.MP", "louvre.jpg", "see.jpg"}


def cli(data: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OCTOPUS_STORAGE_DATA_DIR": str(data)}
    env.pop("OCTOPUS_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "octopus_events.cli", *args], input=stdin, capture_output=True,
                          text=True, env=env, timeout=180)


class Imported:
    def __init__(self, data: Path, export: Path, result: subprocess.CompletedProcess[str], octopus: Octopus,
                 owner: str) -> None:
        self.data, self.export, self.result = data, export, result
        self.octopus = octopus
        self.owner = owner
        conn = octopus.store.reader()
        ids = [r[0] for r in conn.execute("SELECT id FROM photo WHERE owner = ?", (owner,))]
        self.photos: dict[str, PhotoView] = {v.filename: v for v in (lib.get_photo(conn, owner, i) for i in ids)}


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Imported]:
    base = tmp_path_factory.mktemp("takeout")
    data = base / "data"
    assert cli(data, "users", "add", "mum", "--password-stdin", stdin="mum-password\n").returncode == 0
    export = takeout(base / "export")
    result = cli(data, "import", str(export), "--user", "mum", "--takeout")
    octopus = Octopus(Config(storage=StorageConfig(data_dir=str(data)))).open(background_rebuilds=False)
    try:
        user = users.find_by_name(octopus.store.reader(), "mum")
        assert user is not None
        yield Imported(data, export, result, octopus, user.id)
    finally:
        octopus.close()


def test_counts_and_summary(imported: Imported) -> None:
    r = imported.result
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and "warning" not in r.stderr, r.stderr
    # 21 distinct files, the album's paris.jpg again; the two in the bin are not imported.
    assert "import: 21 imported, 1 already there, 2 skipped (not photos), 0 failed, albums created: 2" in r.stdout
    assert "5 favourites" in r.stdout  # IMG_0100.jpg and its edit, the video, the motion photo's still and clip
    assert "2 located from sidecars" in r.stdout  # placed.jpg, only-exif-geo.jpg
    assert "2 in Takeout's bin not imported" in r.stdout
    assert "1 archived in Google Photos (new ones go to the Archive)" in r.stdout
    assert set(imported.photos) == PHOTOS


def test_offset_derived_from_the_sidecar_instant(imported: Imported) -> None:
    paris, seattle = imported.photos["paris.jpg"], imported.photos["seattle.jpg"]
    assert paris.taken_at == "2019-07-04T10:00:00+02:00"
    (local,) = imported.octopus.store.reader().execute("SELECT taken_local FROM photo WHERE id = ?", (paris.id,)).fetchone()
    assert local == "2019-07-04T10:00:00"  # the day and "on this day" keep the wall-clock time
    assert paris.taken_source == "DateTimeOriginal"
    assert seattle.taken_at == "2019-07-04T10:00:00-07:00"  # 100 s of clock drift rounded away
    # No date in the file: the sidecar's instant, in UTC.
    assert imported.photos["placed.jpg"].taken_at == "2019-07-05T12:00:00+00:00"


def test_gps_from_the_sidecar_only_when_the_file_has_none(imported: Imported) -> None:
    photos = imported.photos
    placed = photos["placed.jpg"].gps
    assert placed is not None and (placed.lat, placed.lon) == (48.8584, 2.2945)  # geoData before geoDataExif
    only_exif = photos["only-exif-geo.jpg"].gps
    assert only_exif is not None and (only_exif.lat, only_exif.lon) == (-33.8568, 151.2153)
    exif = photos["exif-gps.jpg"].gps
    assert exif is not None and (round(exif.lat, 4), round(exif.lon, 4)) == (10.0, 20.0)
    assert photos["nowhere.jpg"].gps is None  # 0.0/0.0 means none


def test_cut_names_copies_and_emoji_find_their_sidecars(imported: Imported) -> None:
    photos = imported.photos
    for name, day in [(COPY38, 9), (REAL38, 10), (EMOJI, 11), (EMOJIS, 12), (LONG, 13)]:
        assert photos[name].taken_at == f"2019-07-{day:02d}T12:00:00+00:00", name


def test_edited_copies_use_the_originals_sidecar(imported: Imported) -> None:
    photos = imported.photos
    assert photos["IMG_0100.jpg"].favourite and photos["IMG_0100-edited.jpg"].favourite
    assert photos["IMG_0100-edited.jpg"].taken_at == "2019-07-14T12:00:00+00:00"
    assert photos["IMG_0200-bearbeitet.jpg"].taken_at == "2019-07-15T12:00:00+00:00"
    assert photos["IMG_0300-modifié.jpg"].taken_at == "2019-07-16T12:00:00+00:00"


def test_trashed_stay_out_and_archived_come_in(imported: Imported) -> None:
    assert "thrown-away.jpg" not in imported.photos and "binned.jpg" not in imported.photos
    # Archived in Google Photos: in the Archive here, off the timeline, still in the library.
    archived = imported.photos["archived.jpg"]
    assert archived.state == "archived"
    conn = imported.octopus.store.reader()
    on_timeline = {p.id for d in lib.timeline(conn, imported.owner, limit=500).days for p in d.photos}
    assert archived.id not in on_timeline
    assert [p.id for p in lib.archive(conn, imported.owner).photos] == [archived.id]


def test_videos_and_motion_parts_are_imported_with_their_sidecars(imported: Imported) -> None:
    video = imported.photos["VID_1234.mp4"]
    assert video.kind == "video" and video.favourite
    assert video.taken_at == "2022-12-24T17:45:10+00:00"
    mp = imported.photos["PXL_20190704_101500000.MP"]
    assert mp.kind == "video" and mp.favourite  # the still's sidecar
    still = imported.photos["PXL_20190704_101500000.MP.jpg"]
    assert still.favourite and still.taken_at == "2019-07-04T10:15:00+02:00"


def test_albums_from_localized_album_files(imported: Imported) -> None:
    conn = imported.octopus.store.reader()
    found = {a.name: a for a in album_model.list_albums(conn, imported.owner)}
    assert set(found) == {"Paris ✨ 2019", "Urlaub am See"}
    members = {p.filename for p in album_model.get(conn, imported.owner, found["Paris ✨ 2019"].id).photos}
    assert members == {"paris.jpg", "louvre.jpg"}
    members = {p.filename for p in album_model.get(conn, imported.owner, found["Urlaub am See"].id).photos}
    assert members == {"see.jpg"}


# -- the matching rules on their own ---------------------------------------------------------------
def test_album_file_is_known_by_content() -> None:
    assert album_title(b'{"title": "Trip", "description": "", "access": "protected"}') == "Trip"
    assert album_title(b'{"albumData": {"title": "Old", "date": {"timestamp": "1"}}}') == "Old"
    assert album_title(side("IMG_1.jpg", "2019-01-01T00:00:00").encode()) is None  # a photo sidecar
    assert album_title(b'{"title": "IMG_1.jpg", "photoTakenTime": {"timestamp": "1"}, "description": ""}') is None
    assert album_title(b"[]") is None and album_title(b"{not json") is None and album_title(b'{"title": 3}') is None


def test_sidecar_index_names() -> None:
    long_copy = "A_rather_long_camera_file_name_from_an_old_phone.jpg"  # 52 characters
    names = [
        "PXL_1.MP.jpg.supplemental-metadata.json", "IMG_7.HEIC.json", "VID_2.mp4.json",
        cut16(long_copy) + "(2).json", cut16(long_copy + SUPP) + ".json",
        "IMG_5.jpg.json", "IMG_5.jpg(1).json", "IMG_9(1).jpg.json", "IMG_4.json", "IMG_6.supplemental-metadata.json",
    ]
    index = SidecarIndex(names)
    assert index.find("PXL_1.MP.jpg") == "PXL_1.MP.jpg.supplemental-metadata.json"
    assert index.find("PXL_1.MP") == "PXL_1.MP.jpg.supplemental-metadata.json"  # the motion photo's video
    assert index.find("IMG_7.MOV") == "IMG_7.HEIC.json"  # a Live Photo's video
    assert index.find("IMG_7.JPG") is None  # a still never takes another still's sidecar
    assert index.find("VID_2.mp4") == "VID_2.mp4.json"
    assert index.find(long_copy) == cut16(long_copy + SUPP) + ".json"
    assert index.find(long_copy.replace(".jpg", "(2).jpg")) == cut16(long_copy) + "(2).json"
    # A copy whose own sidecar is missing cannot be told from a real name the cut reached: it gets
    # the original's (so does immich-go); a short name is never matched by a prefix.
    assert index.find(long_copy.replace(".jpg", "(3).jpg")) == cut16(long_copy + SUPP) + ".json"
    assert index.find("IMG_5(1).jpg") == "IMG_5.jpg(1).json"
    assert index.find("IMG_5-edited(1).jpg") == "IMG_5.jpg(1).json"
    assert index.find("IMG_9(1).jpg") == "IMG_9(1).jpg.json"  # "(1)" in the real name
    assert index.find("IMG_4.jpg") == "IMG_4.json"
    assert index.find("IMG_6-edited.jpg") == "IMG_6.supplemental-metadata.json"
    assert index.find("IMG_6.jpg") == "IMG_6.supplemental-metadata.json"
    assert index.find("IMG_55.jpg") is None and index.find("IMG_5(2).jpg") is None
    # A Mac writes é as e + combining accent; Google wrote it composed.
    decomposed = SidecarIndex(["IMG_8.jpg.json"]).find("IMG_8-modifie\u0301.jpg")
    assert decomposed == "IMG_8.jpg.json"


def test_rerun_imports_nothing_twice(imported: Imported) -> None:
    again = cli(imported.data, "import", str(imported.export), "--user", "mum", "--takeout")
    assert again.returncode == 0, again.stderr
    assert "import: 0 imported, 22 already there, 2 skipped (not photos), 0 failed, albums created: 0" in again.stdout
    assert "0 favourites" in again.stdout and "located from sidecars" not in again.stdout
