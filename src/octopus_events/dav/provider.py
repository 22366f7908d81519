"""The /dav/ tree: the root, each device's Uploads folder (real files) and the read-only views.

Locks and dead properties are keyed by a resource's ref URL; two devices both have
`/Uploads/x`, so an Uploads resource's ref URL carries its owner and device (`/~owner~device/...`):
one device can neither see nor break another's locks and properties.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from wsgidav import util
from wsgidav.dav_error import HTTP_FORBIDDEN, HTTP_INSUFFICIENT_STORAGE, DAVError
from wsgidav.dav_provider import DAVCollection
from wsgidav.fs_dav_provider import FileResource, FilesystemProvider, FolderResource

from ..errors import TooLarge
from .auth import ENVIRON_KEY, DavIdentity
from .store import UPLOADS, DavStore, TeeWriter, Tombstoned

TOP = ("Uploads", "Library", "Albums", "Favourites")


def identity_of(environ: dict[str, Any]) -> DavIdentity:
    found = environ.get(ENVIRON_KEY)
    if found is None:
        raise DAVError(HTTP_FORBIDDEN)
    return found


def _ref_prefix(identity: DavIdentity) -> str:
    return f"/~{identity.owner}~{identity.device}"


class OctopusProvider(FilesystemProvider):
    """Routes a path to its resource; Uploads paths map onto the caller's device folder."""

    def __init__(self, store: DavStore) -> None:
        super().__init__(str(store.root), readonly=False, fs_opts={"follow_symlinks": False})
        self.store = store

    def _loc_to_file_path(self, path: str, environ: dict[str, Any] | None = None) -> str:
        assert environ is not None
        parts = [p for p in path.strip("/").split("/") if p]
        if not parts or parts[0] != UPLOADS:
            raise DAVError(HTTP_FORBIDDEN)  # only Uploads is writable
        root = self.store.device_root(identity_of(environ))
        if any(p in (".", "..") or "\0" in p for p in parts[1:]):
            raise DAVError(HTTP_FORBIDDEN)
        file_path = os.path.abspath(os.path.join(root, *parts[1:]))
        if file_path != str(root) and not file_path.startswith(str(root) + os.sep):
            raise DAVError(HTTP_FORBIDDEN)
        return file_path

    def get_resource_inst(self, path: str, environ: dict[str, Any]) -> Any:
        self._count_get_resource_inst += 1
        parts = [p for p in path.strip("/").split("/") if p]
        if not parts:
            return RootCollection("/", environ)
        if parts[0] == UPLOADS:
            fp = self._loc_to_file_path(path, environ)
            try:
                st = os.lstat(fp)
            except (FileNotFoundError, NotADirectoryError):
                return None
            if stat.S_ISDIR(st.st_mode):
                return DeviceFolder(path, environ, fp)
            if stat.S_ISREG(st.st_mode):
                return DeviceFile(path, environ, fp)
            return None
        from . import views

        return views.resource(self, parts, path, environ)

    def ref_url_to_path(self, ref_url: str) -> str:
        if ref_url.startswith("/~"):
            ref_url = "/" + ref_url[2:].split("/", 1)[-1] if "/" in ref_url[2:] else "/"
        return super().ref_url_to_path(ref_url)


class RootCollection(DAVCollection):
    """/dav/: the four folders."""

    def get_member_names(self) -> list[str]:
        return list(TOP)

    def get_member(self, name: str) -> Any:
        return self.provider.get_resource_inst(util.join_uri(self.path, name), self.environ)

    def get_display_name(self) -> str:
        return "Octopus Photos"

    def get_last_modified(self) -> float | None:
        return None

    def create_empty_resource(self, name: str) -> Any:
        raise DAVError(HTTP_FORBIDDEN)

    def create_collection(self, name: str) -> None:
        raise DAVError(HTTP_FORBIDDEN)

    def delete(self) -> None:
        raise DAVError(HTTP_FORBIDDEN)

    def get_ref_url(self) -> str:
        return _ref_prefix(identity_of(self.environ)) + super().get_ref_url()


def _relpath(path: str) -> str:
    """The path below the device's Uploads folder, as index.db records it."""
    return path.strip("/").split("/", 1)[1] if "/" in path.strip("/") else ""


class DeviceFolder(FolderResource):
    """A folder in a device's Uploads (the Uploads folder itself included)."""

    def get_ref_url(self) -> str:
        return _ref_prefix(identity_of(self.environ)) + super().get_ref_url()

    def delete(self) -> None:
        if not _relpath(self.path):
            raise DAVError(HTTP_FORBIDDEN)  # the device's Uploads folder itself stays
        super().delete()
        self.provider.store.forget_path(identity_of(self.environ), _relpath(self.path), recursive=True)

    def move_recursive(self, dest_path: str) -> None:
        super().move_recursive(dest_path)
        self.provider.store.moved(identity_of(self.environ), _relpath(self.path), _relpath(dest_path))

    def copy_move_single(self, dest_path: str, *, is_move: bool) -> None:
        if not _relpath(self.path):
            raise DAVError(HTTP_FORBIDDEN)
        super().copy_move_single(dest_path, is_move=is_move)


class DeviceFile(FileResource):
    """A file a device put: kept byte for byte; media also go into the library."""

    def __init__(self, path: str, environ: dict[str, Any], file_path: str) -> None:
        super().__init__(path, environ, file_path)
        self._tee: TeeWriter | None = None
        self._gone = False  # removed again at the end of its PUT (a photo deleted for good)
        self._reserved = 0

    def get_ref_url(self) -> str:
        return _ref_prefix(identity_of(self.environ)) + super().get_ref_url()

    def get_etag(self) -> str | None:  # type: ignore[override]
        return None if self._gone else super().get_etag()

    def begin_write(self, *, content_type: str | None = None) -> Any:
        store = self.provider.store
        identity = identity_of(self.environ)
        # The file's bytes count against the quota while it streams (quota.py): held as a
        # reservation, the file itself left out of the device file walk until the PUT ends.
        try:
            size = max(0, int(self.environ.get("CONTENT_LENGTH") or 0))
        except ValueError:
            size = 0
        try:
            self._reserved = store.octopus.photos.quota.reserve(store.octopus.store.reader(), identity.owner, size)
        except TooLarge as exc:
            # WsgiDAV created the new file empty before asking for its writer: it goes again
            # (an existing file has not been truncated yet: it stays as it was).
            if os.path.getsize(self._file_path) == 0:
                os.unlink(self._file_path)
            raise DAVError(HTTP_INSUFFICIENT_STORAGE, str(exc)) from None
        store.in_flight.add(Path(self._file_path))
        store.file_changed(identity.owner, identity.device, _relpath(self.path))
        self._tee = TeeWriter(super().begin_write(content_type=content_type), store)
        return self._tee

    def end_write(self, *, with_errors: bool) -> None:
        try:
            self._end_write(with_errors=with_errors)
        finally:
            store = self.provider.store
            identity = identity_of(self.environ)
            store.in_flight.discard(Path(self._file_path))
            store.octopus.photos.quota.release(identity.owner, self._reserved)
            self._reserved = 0
            store.file_changed(identity.owner, identity.device, _relpath(self.path))

    def _end_write(self, *, with_errors: bool) -> None:
        tee, self._tee = self._tee, None
        identity = identity_of(self.environ)
        relpath = _relpath(self.path)
        # New bytes under this name: whatever the old ones became is not this file any more.
        self.provider.store.forget_path(identity, relpath)
        if tee is None:
            return
        if with_errors or tee.incoming is None:
            tee.discard()
            return
        # The pipeline reserves the bytes itself (the file is still left out of the walk).
        self.provider.store.octopus.photos.quota.release(identity.owner, self._reserved)
        self._reserved = 0
        try:
            photo_id = self.provider.store.ingest(identity, relpath, Path(self._file_path), tee.incoming)
        except Tombstoned:
            self._gone = True
            return
        if photo_id is not None:
            self.environ["octopus.dav.photo_id"] = photo_id
        self.file_stat = os.stat(self._file_path)

    def delete(self) -> None:
        super().delete()
        self.provider.store.forget_path(identity_of(self.environ), _relpath(self.path))

    def move_recursive(self, dest_path: str) -> None:
        super().move_recursive(dest_path)
        self.provider.store.moved(identity_of(self.environ), _relpath(self.path), _relpath(dest_path))

    def set_last_modified(self, dest_path: str, time_stamp: Any, *, dry_run: bool) -> bool:
        if self._gone:
            return False  # nothing left to date
        return bool(super().set_last_modified(dest_path, time_stamp, dry_run=dry_run))
