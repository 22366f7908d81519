"""Bulk import of a folder tree or a Google Takeout export into one user's library.

The importer walks PATH (sorted, so two runs see files in the same order), tells photos and
videos from everything else by their first bytes, and streams each through `PhotoLibrary.upload`,
a few at a time. Uploads are keyed by content, so a second run finds every photo already there
and imports nothing: re-running after an interruption simply finishes the job.

With a Takeout, the JSON sidecars Google writes beside each photo fill in what the library lacks
and never overwrite what it has: the date (only when the file has no EXIF date; an EXIF local
time without an offset gets the offset between it and the sidecar's instant), the location
(only when the file has none), the description (only when the photo has none), the favourite
mark (only set, never cleared), and album membership (album folders become albums, found again by
name on later runs). What is in Takeout's bin stays out. Sidecars are found by the names Google
gives them (cut at 46 UTF-16 units, numbered and edited copies), album files by their content. Because photos that
are already there get the same treatment, a Takeout imported after the phone app backed up the
same photos still brings their favourites and albums along. See docs/admin.md.
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import time
import unicodedata
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import msgspec

from .errors import InsufficientStorage, Invalid, NotFound, OctopusError, TooLarge
from .eventstore import Meta
from .media import ACCEPTED_MIMES, VIDEO_MIMES, MediaError, sniff_file
from .motion import HeldClip
from .photos import MAX_DESCRIPTION, Gps
from .readmodels.library import PhotoView

if TYPE_CHECKING:
    from .application import Octopus
    from .media import IncomingBlob

CHUNK = 1024 * 1024
MAX_REASONS = 20
ALBUM_BATCH = 1000  # albums.MAX_PHOTOS_PER_CALL

# -- the report ------------------------------------------------------------------------------------


class FileProblem(msgspec.Struct, frozen=True):
    """A file that failed (or whose sidecar could not be used), relative to PATH, and why."""

    path: str
    reason: str


class ImportProgress(msgspec.Struct, frozen=True):
    """Where a run is: sent after each file. `total` counts every file found under PATH."""

    total: int
    done: int
    imported: int
    duplicates: int
    skipped: int
    failed: int
    elapsed: float
    current: str


class ImportReport(msgspec.Struct, kw_only=True):
    """What a run did (or, with `dry_run`, would do). `files` = imported + duplicates + skipped +
    failed + live_clips, unless the run `stopped` early (disk full, quota reached)."""

    path: str
    user: str
    takeout: bool
    dry_run: bool
    files: int = 0
    imported: int = 0
    duplicates: int = 0
    skipped: int = 0
    failed: int = 0
    videos: int = 0  # of `imported`, how many are videos
    failures: list[FileProblem] = []  # the first MAX_REASONS
    warnings: list[FileProblem] = []  # unreadable sidecars, the first MAX_REASONS
    albums_created: list[str] = []
    album_photos_added: int = 0
    favourites_set: int = 0
    dated_from_sidecar: int = 0
    described_from_sidecar: int = 0
    located_from_sidecar: int = 0  # new photos without a location of their own, placed by the sidecar
    gps_not_imported: int = 0  # photos already there without a location: a sidecar's cannot be added to them
    archived: int = 0  # archived in Google Photos: imported into the Archive (a new photo) or left as it is
    trashed: int = 0  # in Takeout's bin (its folder or the sidecar's flag): not imported, counted as skipped
    live_clips: int = 0  # Live Photo MOVs: no items of their own, they joined (or wait for) their stills
    stopped: str | None = None
    seconds: float = 0.0


# -- Google Takeout --------------------------------------------------------------------------------


class _TakenTime(msgspec.Struct):
    timestamp: str | int = 0


class _Geo(msgspec.Struct):
    latitude: float = 0.0
    longitude: float = 0.0

    def gps(self) -> Gps | None:
        # 0.0/0.0 is how Takeout writes "no location"; a value out of range is a corrupt field.
        lat, lon = self.latitude, self.longitude
        if (lat == 0.0 and lon == 0.0) or not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            return None
        return Gps(lat=lat, lon=lon)


class Sidecar(msgspec.Struct):
    """The fields of a Takeout photo sidecar (`IMG_1234.jpg.json`) the importer uses."""

    title: str | None = ""
    description: str | None = ""
    photoTakenTime: _TakenTime | None = None
    favorited: bool = False
    archived: bool = False
    trashed: bool = False
    geoData: _Geo | None = None
    geoDataExif: _Geo | None = None

    def instant(self) -> datetime | None:
        """photoTakenTime (seconds since 1970, UTC: Takeout records no time zone), or None when unset."""
        if self.photoTakenTime is None:
            return None
        try:
            seconds = int(self.photoTakenTime.timestamp)
            moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
        except (ValueError, OverflowError, OSError):
            return None
        if seconds <= 0 or not 1800 <= moment.year <= 2200:
            return None
        return moment

    def taken_at(self) -> str | None:
        """photoTakenTime as RFC 3339 UTC, or None when unset."""
        moment = self.instant()
        return moment.isoformat(timespec="seconds") if moment else None

    def gps(self) -> Gps | None:
        """geoData first (the place Google Photos shows, maybe set by hand), else geoDataExif."""
        for geo in (self.geoData, self.geoDataExif):
            found = geo.gps() if geo is not None else None
            if found is not None:
                return found
        return None


# Takeout's own folders that are not albums, and the bin as Takeout names it in the account's
# language (en-US, en-GB, de, fr, es, it, nl, pt, pl).
TAKEOUT_CONTAINERS = {"takeout", "google photos", "google fotos"}
TAKEOUT_NOT_ALBUMS = {"archive", "failed videos", "locked folder"}
TAKEOUT_TRASH = {"trash", "bin", "papierkorb", "corbeille", "papelera", "cestino", "prullenbak", "lixeira", "lixo", "kosz"}
YEAR_FOLDER = re.compile(r"^(photos from|fotos von|photos de|fotos de|fotos do|foto del|foto dal) \d{4}$", re.IGNORECASE)

# An album's metadata file is named in the account's language (metadata.json, métadonnées.json,
# Metadaten.json, metadatos.json, metadades.json…), so it is known by its content: an object with a
# title and album keys, without the per-photo times every photo sidecar has.
_PHOTO_KEYS = frozenset({"photoTakenTime", "creationTime", "imageViews", "url", "googlePhotosOrigin"})
_ALBUM_KEYS = frozenset({"description", "access", "date", "location", "geoData", "enrichments", "sharedAlbumComments"})
_MAX_ALBUM_FILE = 4 * 1024 * 1024


def album_title(raw: bytes) -> str | None:
    """The title of a Takeout album metadata file, or None when the JSON is anything else."""
    try:
        obj = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None
    if isinstance(obj, dict) and isinstance(obj.get("albumData"), dict):
        obj = obj["albumData"]  # older exports wrap it
    if not isinstance(obj, dict) or not isinstance(obj.get("title"), str):
        return None
    if obj.keys() & _PHOTO_KEYS or not obj.keys() & _ALBUM_KEYS:
        return None
    return obj["title"]


# Google writes no sidecar for the copies it makes (an edit, an animation, a collage): they share
# the original's. The suffix is in the account's language (the list other Takeout importers use).
_EDITED = re.compile(
    r"^(?P<base>.+?)(?:-edited|-effects|-smile|-mix|-bearbeitet|-bewerkt|-modifié|-modificato|-editado|"
    r"-ha editado|-editat|-edytowane|-編集済み)(?P<ext>\.[^.]*)?$",
    re.IGNORECASE,
)
# "IMG_1234(1).jpg": Takeout's second IMG_1234.jpg in a folder, whose sidecar is IMG_1234.jpg(1).json.
_COPY_NAME = re.compile(r"^(?P<base>.*)(?P<copy>\(\d+\))(?P<ext>\.[^.]*)?$")
_COPY_KEY = re.compile(r"^(?P<key>.*)(?P<copy>\(\d+\))$")
_SUPPLEMENTAL = ".supplemental-metadata"
# Takeout cuts "<name>.supplemental-metadata" (or "<name>") to 46 UTF-16 units before "(n).json";
# an emoji is 2 units, so a cut inside one leaves 45. A key that short of the name must be that long.
_CUT_UNITS = 45
# A video Google pairs with a still shares the still's sidecar: PXL_1.MP with PXL_1.MP.jpg.json,
# a Live Photo's IMG_1.MOV with IMG_1.HEIC.json.
_VIDEO_EXTS = frozenset({".mp", ".mp4", ".mov", ".m4v", ".3gp", ".3g2", ".webm", ".mkv"})
_STILL_EXTS = (".jpg", ".JPG", ".jpeg", ".JPEG", ".heic", ".HEIC")


def _nfc(name: str) -> str:
    return unicodedata.normalize("NFC", name)  # a Mac may have written é as e + ◌́


def _units(text: str) -> int:
    """Length in UTF-16 code units, as Google counts."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _readings(name: str) -> list[tuple[str, str]]:
    """The (original name, copy suffix) pairs a photo name can stand for, most likely first:
    itself; a numbered copy; an edited copy of either."""
    out = [(name, "")]
    m = _COPY_NAME.match(name)
    if m is not None:
        out.append((m["base"] + (m["ext"] or ""), m["copy"]))
    for original, copy in list(out):
        e = _EDITED.match(original)
        if e is not None:
            out.append((e["base"] + (e["ext"] or ""), copy))
    return out


class SidecarIndex:
    """A folder's JSON files by the name each may stand for, to find a photo's sidecar.

    A sidecar's stem (its name without ".json") is `<name>[.supplemental-metadata]` cut short,
    then a copy suffix "(n)". A name ending in "(n)" is read both ways, since "(38)" may also be
    part of the photo's real name.
    """

    def __init__(self, json_names: list[str]) -> None:
        self.keys: dict[str, dict[str, str]] = {}  # copy suffix → key → json file name
        for name in json_names:
            stem = _nfc(name[: -len(".json")])
            self.keys.setdefault("", {}).setdefault(stem, name)
            m = _COPY_KEY.match(stem)
            if m is not None:
                self.keys.setdefault(m["copy"], {}).setdefault(m["key"], name)
        # Every key that matches is a prefix of a string built from the photo name: trying each
        # key length present keeps a lookup O(lengths), not O(sidecars in the folder).
        self.lengths = {copy: sorted({len(k) for k in keys}) for copy, keys in self.keys.items()}

    def _best(self, original: str, copy: str, rank: int) -> tuple[tuple[int, int, int], str] | None:
        keys = self.keys.get(copy)
        if not keys:
            return None
        full = original + _SUPPLEMENTAL
        stem = original.rpartition(".")[0] or original
        stem_full = stem + _SUPPLEMENTAL
        best: tuple[tuple[int, int, int], str] | None = None
        for length in self.lengths[copy]:
            quality = 0
            json_name = keys.get(full[:length]) if length <= len(full) else None
            if json_name is not None:
                if length in (len(original), len(full)):
                    quality = 4  # IMG.jpg.json, IMG.jpg.supplemental-metadata.json
                elif length > len(original):
                    quality = 3  # the suffix cut anywhere: IMG.jpg.supplemental-me.json, IMG.jpg.s.json
                elif _units(full[:length]) >= _CUT_UNITS - _units(copy):
                    quality = 2  # a long name cut at 46 UTF-16 units
            if not quality and stem != original and (length == len(stem) or len(stem) + 2 <= length <= len(stem_full)):
                # IMG.json, IMG.supplemental-metadata.json for IMG.jpg (exports that drop the extension)
                json_name = keys.get(stem_full[:length])
                quality = 1 if json_name is not None else 0
            # The longer the match (a matching copy suffix included), the likelier the reading.
            score = (quality, length + len(copy), -rank)
            if quality and json_name is not None and (best is None or score > best[0]):
                best = (score, json_name)
        return best

    def find(self, photo_name: str) -> str | None:
        """The sidecar file name for a file in the same folder, or None."""
        name = _nfc(photo_name)
        readings = _readings(name)
        found = [b for rank, (original, copy) in enumerate(readings) if (b := self._best(original, copy, rank))]
        if not found and os.path.splitext(name)[1].lower() in _VIDEO_EXTS:
            for rank, (original, copy) in enumerate(readings):
                stem = original.rpartition(".")[0] or original
                for base in dict.fromkeys((original, stem)):
                    found += [b for ext in _STILL_EXTS if (b := self._best(base + ext, copy, rank))]
        return max(found)[1] if found else None


def _album_of(folder: Path, root: Path, unmatched_json: list[str]) -> str | None:
    """The album a Takeout folder stands for, or None for year folders and Takeout's own folders.
    `unmatched_json` are the folder's JSON files that are no file's sidecar."""
    for name in unmatched_json:
        path = folder / name
        try:
            if path.stat().st_size > _MAX_ALBUM_FILE:
                continue
            title = album_title(path.read_bytes())
        except OSError:
            continue
        if title is not None:
            title = " ".join(title.split())
            if title and not YEAR_FOLDER.match(title):
                return title
            break
    name = folder.name
    if folder == root or name.casefold() in TAKEOUT_CONTAINERS | TAKEOUT_NOT_ALBUMS | TAKEOUT_TRASH:
        return None
    if YEAR_FOLDER.match(name):
        return None
    return " ".join(name.split()) or None


# -- walking ---------------------------------------------------------------------------------------


class Candidate(msgspec.Struct, frozen=True):
    """A file the walk found: where, its sidecar and album (Takeout), its place in the order."""

    index: int
    path: str
    rel: str
    sidecar: str | None = None
    album: str | None = None
    trashed: bool = False


def walk(root: Path, *, takeout: bool) -> tuple[list[Candidate], list[FileProblem]]:
    """Every regular file under `root`, sorted by path, and the folders that could not be read.

    Hidden files and folders are left out; symlinked folders are followed once (a folder reached
    again, by a loop or a second link, is not walked twice). With `takeout`, JSON files are
    sidecars or Takeout's own metadata, never candidates.
    """
    found: list[Candidate] = []
    problems: list[FileProblem] = []
    seen: set[tuple[int, int]] = set()

    def rel(p: Path) -> str:
        return str(p.relative_to(root)) if p != root else "."

    def visit(folder: Path, trashed: bool) -> None:
        try:
            st = folder.stat()
            key = (st.st_dev, st.st_ino)
            if key in seen:
                return
            seen.add(key)
            with os.scandir(folder) as it:
                entries = sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)
        except OSError as exc:
            problems.append(FileProblem(rel(folder), f"cannot read the folder: {exc.strerror or exc}"))
            return
        files, folders = [], []
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=True):
                    folders.append(entry)
                    continue
            except OSError:
                pass
            files.append(entry.name)
        album = None
        sidecars: dict[str, str | None] = {}
        if takeout:
            json_names = [n for n in files if n.lower().endswith(".json")]
            files = [n for n in files if not n.lower().endswith(".json")]
            index = SidecarIndex(json_names)
            sidecars = {n: index.find(n) for n in files}
            used = set(sidecars.values())
            album = _album_of(folder, root, [n for n in json_names if n not in used])
            trashed = trashed or folder.name.casefold() in TAKEOUT_TRASH
        for name in files:
            sidecar = sidecars.get(name)
            path = folder / name
            found.append(Candidate(len(found), str(path), rel(path),
                                   str(folder / sidecar) if sidecar else None, album, trashed))
        for entry in folders:
            visit(folder / entry.name, trashed)

    visit(root, False)
    return found, problems


# -- the importer ----------------------------------------------------------------------------------


class _Stop(Exception):
    """Nothing more can be imported (disk full, quota reached)."""


class Importer:
    """Imports a folder tree or a Takeout into one user's library (see the module docstring)."""

    def __init__(self, octopus: Octopus, *, max_reasons: int = MAX_REASONS) -> None:
        self.octopus = octopus
        self.max_reasons = max_reasons

    async def run(
        self,
        path: str | Path,
        user: str,
        *,
        takeout: bool = False,
        dry_run: bool = False,
        progress: Callable[[ImportProgress], None] | None = None,
    ) -> ImportReport:
        """Import the images under `path` for the user named `user`.

        Raises `NotFound` for an unknown user and `Invalid` when `path` is not a readable folder;
        a file that cannot be imported is counted and reported, and the run goes on.
        """
        from .readmodels import users

        root = Path(path).expanduser()
        found = await self.octopus.read(lambda: users.find_by_name(self.octopus.store.reader(), user))
        if found is None:
            raise NotFound(f"no user named {user!r}")
        if not root.exists():
            raise Invalid(f"{root}: no such folder")
        if not root.is_dir():
            raise Invalid(f"{root}: not a folder")
        if not os.access(root, os.R_OK | os.X_OK):
            raise Invalid(f"{root}: permission denied")
        run = _Run(self, root.resolve(), found.id, found.username, takeout=takeout, dry_run=dry_run, progress=progress)
        return await run.go()


class _Run:
    """One import run: its counters, album bookkeeping and bounded worker tasks."""

    def __init__(self, importer: Importer, root: Path, owner: str, username: str, *, takeout: bool, dry_run: bool,
                 progress: Callable[[ImportProgress], None] | None) -> None:
        self.octopus = importer.octopus
        self.photos = importer.octopus.photos
        self.max_reasons = importer.max_reasons
        self.root = root
        self.owner = owner
        self.dry_run = dry_run
        self.progress = progress
        self.report = ImportReport(path=str(root), user=username, takeout=takeout, dry_run=dry_run)
        self.meta = Meta(actor=owner, owner=owner, correlation_id="import-" + os.urandom(6).hex())
        self.started = time.monotonic()
        self.total = 0
        self.done = 0
        self.seen_hashes: set[str] = set()  # dry run: identical files within the run
        self.albums: dict[str, str] = {}  # name → id, existing and created
        self.pending: dict[str, list[tuple[int, str]]] = {}  # album name → [(file index, photo id)]
        self.album_lock = asyncio.Lock()
        self.filled: set[str] = set()  # photos whose sidecar this run has applied

    # -- bookkeeping ---------------------------------------------------------------------------
    def _problem(self, into: list[FileProblem], rel: str, reason: str) -> None:
        if len(into) < self.max_reasons:
            into.append(FileProblem(rel, reason))

    def _fail(self, c: Candidate, reason: str) -> None:
        self.report.failed += 1
        self._problem(self.report.failures, c.rel, reason)

    def _tick(self, current: str) -> None:
        self.done += 1
        if self.progress is not None:
            r = self.report
            self.progress(ImportProgress(self.total, self.done, r.imported, r.duplicates, r.skipped, r.failed,
                                         time.monotonic() - self.started, current))

    # -- the run -------------------------------------------------------------------------------
    async def go(self) -> ImportReport:
        from .readmodels import albums

        candidates, problems = await asyncio.to_thread(walk, self.root, takeout=self.report.takeout)
        self.total = len(candidates)
        self.report.files = len(candidates) + len(problems)
        for p in problems:
            self.report.failed += 1
            self._problem(self.report.failures, p.path, p.reason)
        existing = await self.octopus.read(lambda: albums.list_albums(self.octopus.store.reader(), self.owner))
        for album in reversed(existing):  # listed newest first; the oldest album of a name wins
            self.albums.setdefault(album.name, album.id)
        # One task per slot, never one per file: a Takeout can hold a hundred thousand files.
        slots = asyncio.Semaphore(self.octopus.media_workers)
        tasks: set[asyncio.Task[None]] = set()
        try:
            for c in candidates:
                await slots.acquire()
                if self.report.stopped:
                    slots.release()
                    break
                task = asyncio.create_task(self._one(c))
                tasks.add(task)
                task.add_done_callback(lambda t: (tasks.discard(t), slots.release()))
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        await self._flush_albums(final=True)
        self.report.seconds = time.monotonic() - self.started
        if not self.dry_run:
            await self._finished()
        return self.report

    async def _finished(self) -> None:
        from .notifications import record_import_finished

        r = self.report
        # The notification knows imported / skipped / failed; "already there" is skipped to the user.
        await self.octopus.store.transact_async(
            lambda tx: record_import_finished(tx, self.owner, r.imported, r.skipped + r.duplicates, r.failed)
        )

    async def _one(self, c: Candidate) -> None:
        try:
            await self._import(c)
        except _Stop as exc:
            if not self.report.stopped:
                self.report.stopped = str(exc)
            return
        self._tick(c.rel)

    async def _import(self, c: Candidate) -> None:
        r = self.report
        path = Path(c.path)
        try:
            mime, size = await asyncio.to_thread(_sniff_and_size, path)
        except OSError as exc:
            self._fail(c, f"cannot read: {exc.strerror or exc}")
            return
        if mime not in ACCEPTED_MIMES:
            r.skipped += 1
            return
        sidecar = await self._sidecar(c)
        if c.trashed or (sidecar is not None and sidecar.trashed):
            # docs/admin.md: what the owner threw away in Google Photos stays out.
            r.skipped += 1
            r.trashed += 1
            return
        limit = self.photos.upload_limit(mime)  # videos have their own
        if size > limit:
            self._fail(c, f"larger than the upload limit of {limit // (1024 * 1024)} MB")
            return
        if self.dry_run:
            await self._classify(c, path, mime)
            return
        incoming = self.photos.new_upload()
        try:
            await asyncio.to_thread(_copy_into, path, incoming)
        except OSError as exc:
            incoming.discard()
            self._fail(c, f"cannot read: {exc.strerror or exc}")
            return
        except BaseException:
            incoming.discard()  # cancelled (Ctrl-C): leave no temp file behind
            raise
        description = (sidecar.description or "").strip()[:MAX_DESCRIPTION] if sidecar else ""
        gps = sidecar.gps() if sidecar else None
        try:
            view, created = await self.photos.upload(self.owner, incoming, filename=path.name,
                                                     description=description or None, gps=gps,
                                                     taken_instant=sidecar.instant() if sidecar else None,
                                                     meta=self.meta)
        except MediaError as exc:
            self._fail(c, exc.detail)
            return
        except (InsufficientStorage, TooLarge) as exc:
            raise _Stop(str(exc)) from None
        except OctopusError as exc:
            self._fail(c, str(exc))
            return
        if isinstance(view, HeldClip) or not (created or view.duplicate):
            # A Live Photo's MOV, no item of its own: it joined its still or waits (docs/motion.md).
            if view.duplicate:
                r.duplicates += 1
            else:
                r.live_clips += 1
            return
        if created:
            r.imported += 1
            r.videos += view.kind == "video"
        else:
            r.duplicates += 1
        if r.takeout:
            await self._apply_takeout(c, view, created, sidecar, description)

    async def _sidecar(self, c: Candidate) -> Sidecar | None:
        if c.sidecar is None:
            return None
        try:
            raw = await asyncio.to_thread(Path(c.sidecar).read_bytes)
            return msgspec.json.decode(raw, type=Sidecar)
        except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
            self._problem(self.report.warnings, str(Path(c.sidecar).relative_to(self.root)), f"sidecar not used: {exc}")
            return None

    async def _classify(self, c: Candidate, path: Path, mime: str) -> None:
        r = self.report
        max_pixels = self.octopus.config.media.max_megapixels * 1_000_000
        try:
            sha = await asyncio.to_thread(_sha256_of, path)
            # Headers only: a file cut short after them is found by the real import.
            await self.octopus.media(_check_header, path, mime, max_pixels)
        except OSError as exc:
            self._fail(c, f"cannot read: {exc.strerror or exc}")
            return
        except MediaError as exc:
            self._fail(c, exc.detail)
            return
        again = sha in self.seen_hashes
        self.seen_hashes.add(sha)  # before the next await: an identical file may be in flight
        if again or await self.photos.check(self.owner, [sha]):
            r.duplicates += 1
        else:
            r.imported += 1
        if c.album is not None and c.album not in self.albums and c.album not in r.albums_created:
            r.albums_created.append(c.album)

    async def _apply_takeout(self, c: Candidate, view: PhotoView, created: bool, sidecar: Sidecar | None,
                             description: str) -> None:
        """Queue the photo for its album; fill in what the library lacks from the sidecar, never
        overwriting what it has."""
        r = self.report
        if c.album is not None and view.state in ("library", "archived"):
            self.pending.setdefault(c.album, []).append((c.index, view.id))
            if len(self.pending[c.album]) >= ALBUM_BATCH:
                await self._flush_albums(final=False)
        if sidecar is None or view.state not in ("library", "archived", "trash") or view.id in self.filled:
            # In the vault nothing about it is visible or editable here. Filled in already: the
            # same bytes appear again (Takeout repeats album photos), maybe still being filled in.
            return
        self.filled.add(view.id)
        if created and description:
            r.described_from_sidecar += 1
        r.archived += sidecar.archived
        gps = sidecar.gps()
        if gps is not None and view.gps is not None and created and (view.gps.lat, view.gps.lon) == (gps.lat, gps.lon):
            r.located_from_sidecar += 1  # (or EXIF had exactly the same place: then it is the same)
        elif gps is not None and view.gps is None:
            r.gps_not_imported += 1
        taken_at = sidecar.taken_at() if view.taken_source == "upload" else None
        add_description = description if not created and description and not view.description else None
        if taken_at or add_description:
            await self.photos.edit(self.owner, view.id, description=add_description, taken_at=taken_at,
                                   version=None, meta=self.meta)
            r.dated_from_sidecar += taken_at is not None
            r.described_from_sidecar += add_description is not None
        if sidecar.archived and created and view.state == "library":
            # Only a photo this run created: one already here keeps whatever its owner chose.
            await self.photos.archive(self.owner, view.id, True, self.meta)
        if sidecar.favorited and not view.favourite:
            await self.photos.favourite(self.owner, view.id, True, self.meta)
            r.favourites_set += 1

    async def _flush_albums(self, *, final: bool) -> None:
        from .readmodels import albums

        async with self.album_lock:
            for name in list(self.pending):
                waiting = self.pending[name]
                if not final and len(waiting) < ALBUM_BATCH:
                    continue
                del self.pending[name]
                ids = [photo_id for _, photo_id in sorted(waiting)]
                if self.dry_run:
                    continue
                try:
                    album_id = self.albums.get(name)
                    if album_id is None:
                        album_id = (await self.octopus.albums.create(self.owner, name, self.meta)).id
                        self.albums[name] = album_id
                        self.report.albums_created.append(name)
                    before = len(await self.octopus.read(
                        lambda: albums.members(self.octopus.store.reader(), album_id, ids)))
                    for start in range(0, len(ids), ALBUM_BATCH):
                        await self.octopus.albums.add(self.owner, album_id, ids[start:start + ALBUM_BATCH], self.meta)
                    self.report.album_photos_added += len(ids) - before
                except OctopusError as exc:
                    # A photo trashed or an album deleted meanwhile: report it, keep the rest.
                    self._problem(self.report.warnings, name, f"album not updated: {exc}")


def _sniff_and_size(path: Path) -> tuple[str, int]:
    size = path.stat().st_size
    if not path.is_file():
        # Opening a FIFO blocks until something writes to it, a device may never end: only
        # regular files (or links to them) are read.
        raise OSError(errno.EINVAL, "not a regular file")
    return sniff_file(path), size


def _copy_into(path: Path, incoming: IncomingBlob) -> None:
    """Stream the file into the upload, a chunk at a time (never the whole file in memory)."""
    with open(path, "rb") as fp:
        while chunk := fp.read(CHUNK):
            incoming.write(chunk)


def _check_header(path: Path, mime: str, max_pixels: int) -> None:
    from .media.derivatives import check_pixels, open_image

    if mime in VIDEO_MIMES:
        from .media.video import check_container

        check_container(path, path.stat().st_size)  # its boxes, without loading FFmpeg
        return
    with open_image(path, mime) as img:
        check_pixels(img, max_pixels)


def _sha256_of(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fp:
        while chunk := fp.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
