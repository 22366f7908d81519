"""Albums: events and commands. Album names are sealed under the owner's user key."""

from __future__ import annotations

import secrets
from typing import ClassVar, Sequence, TYPE_CHECKING

import msgspec

from . import keystore
from .accounts import ACCOUNT_DELETE_HOOKS, seal_user, user_key_id
from .errors import ConcurrencyConflict, Forbidden, Invalid, NotFound
from .events import Event
from .eventstore import Meta, Transaction
from .members import wake as sharing_wake


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


class AlbumDescription(msgspec.Struct):
    description: str


class AlbumDescribed(Event):
    """The album's description ("" removes it), sealed under the owner's key like its name.
    Albums moving in from Octopus Photos 0.6 bring theirs."""

    album_id: str
    key_id: str
    sealed: bytes
    sealed_struct: ClassVar[type] = AlbumDescription


class AlbumDeleted(Event):
    album_id: str


class AlbumPhotosAdded(Event):
    album_id: str
    photo_ids: list[str]
    # Whose items these are when not the album owner's: a contributor's (members.py). The
    # event stays on the owner's album stream; the items stay the contributor's.
    by: str | None = None


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
MAX_ALBUM_DESCRIPTION = 2000


class Albums:
    def __init__(self, octopus: Octopus) -> None:
        self.octopus = octopus
        self.store = octopus.store

    def _load(self, tx: Transaction, owner: str, album_id: str) -> int:
        from .readmodels import members

        access = members.access(tx.conn, owner, album_id)
        if access is None:
            raise NotFound(f"no album {album_id}")
        if access != "owner":  # a member sees the album; only its owner changes it
            raise Forbidden("Only the album's owner may do that.", code="album_owner_only")
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

    async def describe(self, owner: str, album_id: str, description: str, meta: Meta) -> AlbumDetail:
        from .readmodels import albums

        text = str(description).strip()
        if len(text) > MAX_ALBUM_DESCRIPTION:
            raise Invalid(f"description: an album description may have at most {MAX_ALBUM_DESCRIPTION} characters")

        def command(tx: Transaction) -> AlbumDetail:
            current = self._load(tx, owner, album_id)
            key = keystore.get(tx.conn, user_key_id(owner))
            if key is None:
                raise NotFound("no such user")
            sealed = seal_user(key, album_id, "AlbumDescribed", AlbumDescription(text))
            tx.append(album_stream(album_id), current, [AlbumDescribed(album_id=album_id, key_id=user_key_id(owner), sealed=sealed)], meta=meta)
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
            # Members (docs/sharing.md): a contributor adds and removes their own items, a viewer
            # neither (403); anybody else finds no album (404).
            from . import members as sharing
            from .readmodels import members as member_read

            access = member_read.access(tx.conn, owner, album_id)
            if access is None:
                raise NotFound(f"no album {album_id}")
            if access == "viewer":
                raise Forbidden("Viewers of a shared album cannot change its items.", code="album_viewer_only")
            current = tx.stream_version(album_stream(album_id))
            album_meta = meta if access == "owner" else sharing.album_meta(tx, album_id, meta)
            if adding:
                visible = albums.visible_photos(tx.conn, owner, ids)
                missing = [p for p in ids if p not in visible]
                if missing:
                    raise NotFound(f"no photo {missing[0]}")
                members = albums.members(tx.conn, album_id, ids)
                new = [p for p in ids if p not in members]
                if new:
                    tx.append(album_stream(album_id), current, [AlbumPhotosAdded(
                        album_id=album_id, photo_ids=new, by=None if access == "owner" else owner)], meta=album_meta)
            else:
                members = albums.members(tx.conn, album_id, ids)
                gone = [p for p in ids if p in members]
                if access != "owner" and gone:
                    whose = member_read.item_owners(tx.conn, album_id, gone)
                    if any(whose.get(p) != owner for p in gone):
                        raise Forbidden("A contributor removes only their own items.", code="album_contributor_own")
                if gone:
                    tx.append(album_stream(album_id), current, [AlbumPhotosRemoved(album_id=album_id, photo_ids=gone)],
                              meta=album_meta)
            told.extend(u for u in [member_read.album_owner(tx.conn, album_id), *member_read.members_of(tx.conn, album_id)]
                        if u and u != owner)
            return albums.get(tx.conn, owner, album_id)

        told: list[str] = []
        detail = await self.store.transact_async(command)
        sharing_wake(self.store, self.octopus.sync_waiters, told)  # the owner's and members' feeds changed too (members.py)
        return detail



def _on_account_deleted(tx: Transaction, user_id: str, meta: Meta) -> None:
    from .readmodels import albums

    for album_id in albums.ids_of(tx.conn, user_id):
        tx.append(album_stream(album_id), None, [AlbumDeleted(album_id=album_id)],
                  meta=Meta(actor=meta.actor, owner=user_id, correlation_id=meta.correlation_id))


ACCOUNT_DELETE_HOOKS.append(_on_account_deleted)
