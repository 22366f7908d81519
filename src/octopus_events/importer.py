"""Bulk import of a folder tree or a Google Takeout export into one user's library.

The importer walks PATH (sorted, so two runs see files in the same order), tells images from
everything else by their first bytes, and streams each image through `PhotoLibrary.upload`, a
few at a time. Uploads are keyed by content, so a second run finds every photo already there
and imports nothing: re-running after an interruption simply finishes the job.

With a Takeout, the JSON sidecars Google writes beside each photo fill in what the library lacks
and never overwrite what it has: the date (only when the file has no EXIF date), the description
(only when the photo has none), the favourite mark (only set, never cleared), and album
membership (album folders become albums, found again by name on later runs). Because photos that
are already there get the same treatment, a Takeout imported after the phone app backed up the
same photos still brings their favourites and albums along. See docs/admin.md.
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import msgspec

from .errors import InsufficientStorage, Invalid, NotFound, OctopusError, TooLarge
from .eventstore import Meta
from .media import ACCEPTED_MIMES, MediaError, sniff_file
from .motion import HeldClip
from .photos import MAX_DESCRIPTION
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
    failed, unless the run `stopped` early (disk full, quota reached)."""

    path: str
    user: str
    takeout: bool
    dry_run: bool
    files: int = 0
    imported: int = 0
    duplicates: int = 0
    skipped: int = 0
    failed: int = 0
    videos_skipped: int = 0
    failures: list[FileProblem] = []  # the first MAX_REASONS
    warnings: list[FileProblem] = []  # unreadable sidecars, the first MAX_REASONS
    albums_created: list[str] = []
    album_photos_added: int = 0
    favourites_set: int = 0
    dated_from_sidecar: int = 0
    described_from_sidecar: int = 0
    gps_not_imported: int = 0  # a location in the sidecar only: the library takes GPS from EXIF alone
    stopped: str | None = None
    seconds: float = 0.0


# -- Google Takeout --------------------------------------------------------------------------------


class _TakenTime(msgspec.Struct):
    timestamp: str | int = 0


class _Geo(msgspec.Struct):
    latitude: float = 0.0
    longitude: float = 0.0


class Sidecar(msgspec.Struct):
    """The fields of a Takeout photo sidecar (`IMG_1234.jpg.json`) the importer uses."""

    title: str = ""
    description: str = ""
    photoTakenTime: _TakenTime | None = None
    favorited: bool = False
    geoData: _Geo | None = None
    geoDataExif: _Geo | None = None

    def taken_at(self) -> str | None:
        """photoTakenTime as RFC 3339 UTC (Takeout records no time zone), or None when unset."""
        if self.photoTakenTime is None:
            return None
        try:
            seconds = int(self.photoTakenTime.timestamp)
            moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
        except (ValueError, OverflowError, OSError):
            return None
        if seconds <= 0 or not 1800 <= moment.year <= 2200:
            return None
        return moment.isoformat(timespec="seconds")

    def has_gps(self) -> bool:
        return any(g is not None and (g.latitude != 0.0 or g.longitude != 0.0) for g in (self.geoData, self.geoDataExif))


class _AlbumMetadata(msgspec.Struct):
    title: str = ""


# Takeout's own files and folders that are not photos or albums.
TAKEOUT_IGNORED_JSON = "metadata.json"
TAKEOUT_CONTAINERS = {"takeout", "google photos", "google fotos"}
TAKEOUT_NOT_ALBUMS = {"archive", "failed videos", "locked folder"}
# The bin, as Takeout names it in the account's language (en-US, en-GB, de, fr, es, it, nl, pt, pl).
TAKEOUT_TRASH = {"trash", "bin", "papierkorb", "corbeille", "papelera", "cestino", "prullenbak", "lixeira", "lixo", "kosz"}
YEAR_FOLDER = re.compile(r"^(photos from|fotos von|photos de|fotos de|fotos do|foto del|foto dal) \d{4}$", re.IGNORECASE)
# "IMG_1234-edited(1).jpg" → base "IMG_1234", copy "(1)", extension ".jpg".
_EDITED = r"(?:-edited|-bearbeitet|-modifié|-editado|-modificato|-bewerkt)"
_PHOTO_NAME = re.compile(rf"^(?P<base>.*?){_EDITED}?(?P<copy>\(\d+\))?(?P<ext>\.[^.]*)?$", re.IGNORECASE)
_SIDECAR_COPY = re.compile(r"^(?P<key>.*?)(?P<copy>\(\d+\))?$")
_SUPPLEMENTAL = ".supplemental-metadata"
# Takeout cuts a sidecar's name (without ".json") to 46 characters; shorter keys must match whole.
_TRUNCATED_KEY = 30


def _sidecar_index(json_names: list[str]) -> dict[str, list[tuple[str, str]]]:
    """copy suffix ("" or "(1)") → [(key, json file name)], key being the name without ".json" and the suffix."""
    index: dict[str, list[tuple[str, str]]] = {}
    for name in json_names:
        stem = name[: -len(".json")]
        m = _SIDECAR_COPY.match(stem)
        assert m is not None
        index.setdefault(m["copy"] or "", []).append((m["key"], name))
    return index


def find_sidecar(photo_name: str, index: dict[str, list[tuple[str, str]]]) -> str | None:
    """The sidecar file name for a photo in the same folder, or None.

    Handles `IMG.jpg.json`, `IMG.jpg.supplemental-metadata.json` (and its truncations),
    names cut to 46 characters, edited copies (`IMG-edited.jpg` shares `IMG.jpg.json`) and
    numbered copies (`IMG(1).jpg` ↔ `IMG.jpg(1).json`). The longest matching key wins.
    """
    exact = {key: name for key, name in index.get("", [])}
    for full in (photo_name, photo_name + _SUPPLEMENTAL):
        if full in exact:
            return exact[full]
    m = _PHOTO_NAME.match(photo_name)
    if m is None:
        return None
    original = m["base"] + (m["ext"] or "")
    stem = m["base"]
    best: tuple[int, str] | None = None
    for key, name in index.get(m["copy"] or "", []):
        whole = original + _SUPPLEMENTAL
        matches = (
            (whole.startswith(key) and len(key) >= len(original))  # IMG.jpg, IMG.jpg.supplemental-me…
            or key == stem  # IMG.json for IMG.jpg (older exports drop the extension)
            or (len(key) >= _TRUNCATED_KEY and original.startswith(key))  # a long name cut short
        )
        if matches and (best is None or len(key) > best[0]):
            best = (len(key), name)
    return best[1] if best else None


def _album_of(folder: Path, root: Path, names: list[str]) -> str | None:
    """The album a Takeout folder stands for, or None for year folders and Takeout's own folders."""
    if TAKEOUT_IGNORED_JSON in names:
        try:
            title = msgspec.json.decode((folder / TAKEOUT_IGNORED_JSON).read_bytes(), type=_AlbumMetadata).title
        except (OSError, msgspec.ValidationError, msgspec.DecodeError):
            title = ""
        if title.strip() and not YEAR_FOLDER.match(title.strip()):
            return " ".join(title.split())
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
        index: dict[str, list[tuple[str, str]]] = {}
        if takeout:
            names = [e.name for e in entries]
            album = _album_of(folder, root, names)
            index = _sidecar_index([n for n in files if n.lower().endswith(".json") and n != TAKEOUT_IGNORED_JSON])
            trashed = trashed or folder.name.casefold() in TAKEOUT_TRASH
        for name in files:
            if takeout and name.lower().endswith(".json"):
                continue
            sidecar = find_sidecar(name, index) if takeout else None
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
        if mime not in ACCEPTED_MIMES or c.trashed:
            r.skipped += 1
            r.videos_skipped += mime.startswith("video/")
            return
        if size > self.photos.max_upload_bytes:
            self._fail(c, f"larger than the upload limit of {self.photos.max_upload_bytes // (1024 * 1024)} MB")
            return
        sidecar = await self._sidecar(c)
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
        description = sidecar.description.strip()[:MAX_DESCRIPTION] if sidecar else ""
        try:
            view, created = await self.photos.upload(self.owner, incoming, filename=path.name,
                                                     description=description or None, meta=self.meta)
        except MediaError as exc:
            self._fail(c, exc.detail)
            return
        except (InsufficientStorage, TooLarge) as exc:
            raise _Stop(str(exc)) from None
        except OctopusError as exc:
            self._fail(c, str(exc))
            return
        if isinstance(view, HeldClip):
            return  # a Live Photo's MOV before its still: it joins the still (docs/motion.md)
        if created:
            r.imported += 1
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
        if c.album is not None and view.state == "library":
            self.pending.setdefault(c.album, []).append((c.index, view.id))
            if len(self.pending[c.album]) >= ALBUM_BATCH:
                await self._flush_albums(final=False)
        if sidecar is None or view.state not in ("library", "trash") or view.id in self.filled:
            # In the vault nothing about it is visible or editable here. Filled in already: the
            # same bytes appear again (Takeout repeats album photos), maybe still being filled in.
            return
        self.filled.add(view.id)
        if created and description:
            r.described_from_sidecar += 1
        taken_at = sidecar.taken_at() if view.taken_source == "upload" else None
        add_description = description if not created and description and not view.description else None
        if taken_at or add_description:
            await self.photos.edit(self.owner, view.id, description=add_description, taken_at=taken_at,
                                   version=None, meta=self.meta)
            r.dated_from_sidecar += taken_at is not None
            r.described_from_sidecar += add_description is not None
        if sidecar.favorited and not view.favourite:
            await self.photos.favourite(self.owner, view.id, True, self.meta)
            r.favourites_set += 1
        if sidecar.has_gps() and view.gps is None:
            r.gps_not_imported += 1

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

    with open_image(path, mime) as img:
        check_pixels(img, max_pixels)


def _sha256_of(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fp:
        while chunk := fp.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
