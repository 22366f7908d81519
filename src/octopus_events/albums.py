"""Albums: events and commands. Album names are sealed under the owner's user key."""

from __future__ import annotations

import secrets
from typing import ClassVar, Sequence, TYPE_CHECKING

import msgspec

from . import keystore
from .accounts import ACCOUNT_DELETE_HOOKS, seal_user, user_key_id
from .errors import ConcurrencyConflict, Invalid, NotFound
from .events import Event
from .eventstore import Meta, Transaction


if TYPE_CHECKING:
    from .application import Octopus
    from .readmodels.albums import AlbumDetail


class AlbumName(msgspec.Struct):
    name: str


class AlbumCreated(Event):
    album_id: str
    key_id: str
    sealed: bytes
    sealed_struct: ClassVar[type] = AlbumName


class AlbumRenamed(Event):
    album_id: str
    key_id: str
    sealed: bytes
    sealed_struct: ClassVar[type] = AlbumName


class AlbumDeleted(Event):
    album_id: str


class AlbumPhotosAdded(Event):
    album_id: str
    photo_ids: list[str]


class AlbumPhotosRemoved(Event):
    album_id: str
    photo_ids: list[str]


def album_stream(album_id: str) -> str:
    return f"album-{album_id}"


def check_name(name: str) -> str:
    text = " ".join(str(name).split())
    if not 1 <= len(text) <= 200:
        raise Invalid("An album name must have 1 to 200 characters.", code="album_name_length",
                      params={"min": 1, "max": 200})
    return text


MAX_PHOTOS_PER_CALL = 1000


class Albums:
    def __init__(self, octopus: Octopus) -> None:
        self.octopus = octopus
        self.store = octopus.store

    def _load(self, tx: Transaction, owner: str, album_id: str) -> int:
        from .readmodels import albums

        if not albums.owned(tx.conn, owner, album_id):
            raise NotFound(f"no album {album_id}")
        return tx.stream_version(album_stream(album_id))

    def _seal(self, tx: Transaction, owner: str, album_id: str, event_type: str, name: str) -> bytes:
        key = keystore.get(tx.conn, user_key_id(owner))
        if key is None:
            raise NotFound("no such user")
        return seal_user(key, album_id, event_type, AlbumName(name))

    async def create(self, owner: str, name: str, meta: Meta) -> AlbumDetail:
        from .readmodels import albums

        text = check_name(name)
        album_id = "a" + secrets.token_hex(8)

        def command(tx: Transaction) -> AlbumDetail:
            sealed = self._seal(tx, owner, album_id, "AlbumCreated", text)
            tx.append(album_stream(album_id), 0, [AlbumCreated(album_id=album_id, key_id=user_key_id(owner), sealed=sealed)], meta=meta)
            return albums.get(tx.conn, owner, album_id)

        return await self.store.transact_async(command)

    async def rename(self, owner: str, album_id: str, name: str, meta: Meta, version: int | None = None) -> AlbumDetail:
        from .readmodels import albums

        text = check_name(name)

        def command(tx: Transaction) -> AlbumDetail:
            current = self._load(tx, owner, album_id)
            if version is not None and version != current:
                raise ConcurrencyConflict(f"album {album_id} is at version {current}, not {version}")
            sealed = self._seal(tx, owner, album_id, "AlbumRenamed", text)
            tx.append(album_stream(album_id), current, [AlbumRenamed(album_id=album_id, key_id=user_key_id(owner), sealed=sealed)], meta=meta)
            return albums.get(tx.conn, owner, album_id)

        return await self.store.transact_async(command)

    async def delete(self, owner: str, album_id: str, meta: Meta) -> None:
        def command(tx: Transaction) -> None:
            current = self._load(tx, owner, album_id)
            tx.append(album_stream(album_id), current, [AlbumDeleted(album_id=album_id)], meta=meta)

        await self.store.transact_async(command)

    async def add(self, owner: str, album_id: str, photo_ids: Sequence[str], meta: Meta) -> AlbumDetail:
        return await self._change(owner, album_id, photo_ids, meta, adding=True)

    async def remove(self, owner: str, album_id: str, photo_ids: Sequence[str], meta: Meta) -> AlbumDetail:
        return await self._change(owner, album_id, photo_ids, meta, adding=False)

    async def _change(self, owner: str, album_id: str, photo_ids: Sequence[str], meta: Meta, *, adding: bool) -> AlbumDetail:
        from .readmodels import albums

        ids = list(dict.fromkeys(photo_ids))
        if not ids:
            raise Invalid("photo_ids: give at least one photo id")
        if len(ids) > MAX_PHOTOS_PER_CALL:
            raise Invalid(f"photo_ids: at most {MAX_PHOTOS_PER_CALL} per request")

        def command(tx: Transaction) -> AlbumDetail:
            current = self._load(tx, owner, album_id)
            if adding:
                visible = albums.visible_photos(tx.conn, owner, ids)
                missing = [p for p in ids if p not in visible]
                if missing:
                    raise NotFound(f"no photo {missing[0]}")
                members = albums.members(tx.conn, album_id, ids)
                new = [p for p in ids if p not in members]
                if new:
                    tx.append(album_stream(album_id), current, [AlbumPhotosAdded(album_id=album_id, photo_ids=new)], meta=meta)
            else:
                members = albums.members(tx.conn, album_id, ids)
                gone = [p for p in ids if p in members]
                if gone:
                    tx.append(album_stream(album_id), current, [AlbumPhotosRemoved(album_id=album_id, photo_ids=gone)], meta=meta)
            return albums.get(tx.conn, owner, album_id)

        return await self.store.transact_async(command)



def _on_account_deleted(tx: Transaction, user_id: str, meta: Meta) -> None:
    from .readmodels import albums

    for album_id in albums.ids_of(tx.conn, user_id):
        tx.append(album_stream(album_id), None, [AlbumDeleted(album_id=album_id)],
                  meta=Meta(actor=meta.actor, owner=user_id, correlation_id=meta.correlation_id))


ACCOUNT_DELETE_HOOKS.append(_on_account_deleted)
