"""Shared albums: the owner invites other accounts of the server as viewers or contributors.

Membership is recorded on the album's own stream (`AlbumMemberAdded` / `AlbumMemberRemoved`),
by user id: usernames are sealed personal data, ids are not. A contributor adds their own items
with the ordinary `AlbumPhotosAdded`, which then names them in `by`; the items stay theirs
(their storage, their deletion). Who may do what (docs/sharing.md):

| | owner | contributor | viewer | anybody else |
|---|---|---|---|---|
| see the album and its items | yes | yes | yes | 404 |
| add items | own | own | 403 | 404 |
| remove items | any | own (others' 403) | 403 | 404 |
| rename, delete, invite, remove members | yes | 403 | 403 | 404 |
| leave (remove themself) | - | yes | yes | 404 |

Leaving, or being removed, takes the member's own items out of the album in the same transaction,
so nothing of a former member stays visible to the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Awaitable, Callable, Literal

from .errors import Forbidden, Invalid, NotFound
from .events import Event
from .eventstore import EventStore, Meta, Transaction

if TYPE_CHECKING:
    from .readmodels.members import Member
    from .sync import Waiters

Role = Literal["viewer", "contributor"]
ROLES = ("viewer", "contributor")
MAX_MEMBERS = 100
"""Members an album may have: a family, a trip, a class; not a mailing list."""


class AlbumMemberAdded(Event):
    """`user_id` may now see the album (`viewer`) or also add their items (`contributor`).
    Appended again with another role, it changes the role."""

    album_id: str
    user_id: str
    role: str


class AlbumMemberRemoved(Event):
    """`user_id` is no longer a member: `left` when they removed themself, else the owner did."""

    album_id: str
    user_id: str
    left: bool = False


def wake(store: EventStore, waiters: Waiters, user_ids: list[str]) -> None:
    """Long-polling sync requests wait for their owner's own events (sync.Waiters); a shared
    album's change puts rows in other people's feeds, so their waits are woken too."""
    if user_ids:
        waiters.committed(store.head_cached(), user_ids)


def check_role(role: object) -> str:
    if role not in ROLES:
        raise Invalid("role: must be viewer or contributor")
    return str(role)


class AlbumMembers:
    """Invite, change, remove and list the members of an album."""

    def __init__(self, store: EventStore, read: Callable[..., Awaitable[Any]], waiters: Waiters) -> None:
        # Only the parts it uses (docs/architecture.md): the store, the reader pool, the waiters.
        self.store, self.read, self.waiters = store, read, waiters

    async def invite(self, caller: str, album_id: str, username: str, role: str, meta: Meta) -> list[Member]:
        from .albums import AlbumPhotosRemoved, album_stream
        from .readmodels import members, users

        role = check_role(role)
        if not isinstance(username, str) or not username.strip():
            raise Invalid("username: give the username of the account to share with")

        def command(tx: Transaction) -> list[Member]:
            access = members.access(tx.conn, caller, album_id)
            if access is None:
                raise NotFound(f"no album {album_id}")
            if access != "owner":
                raise Forbidden("only the album's owner may invite members", code="album_owner_only")
            user = users.find_by_name(tx.conn, username.strip())
            if user is None:
                raise NotFound(f"no user {username.strip()!r} on this server")
            if user.id == caller:
                raise Invalid("You own this album already.", code="member_is_owner")
            current = members.role_of(tx.conn, album_id, user.id)
            if current == role:
                return members.list_members(tx.conn, album_id)
            if current is None and members.count(tx.conn, album_id) >= MAX_MEMBERS:
                raise Invalid(f"An album may have at most {MAX_MEMBERS} members.", code="too_many_members",
                              params={"max": MAX_MEMBERS})
            version = tx.stream_version(album_stream(album_id))
            events: list[Event] = [AlbumMemberAdded(album_id=album_id, user_id=user.id, role=role)]
            if current == "contributor" and role == "viewer":
                # A viewer has no items in the album: what they contributed goes out with the role.
                theirs = members.items_of(tx.conn, album_id, user.id)
                if theirs:
                    events.append(AlbumPhotosRemoved(album_id=album_id, photo_ids=theirs))
            tx.append(album_stream(album_id), version, events, meta=album_meta(tx, album_id, meta))
            told.append(user.id)
            return members.list_members(tx.conn, album_id)

        told: list[str] = []
        listed = await self.store.transact_async(command)
        wake(self.store, self.waiters, told)
        return listed

    async def remove(self, caller: str, album_id: str, username: str, meta: Meta) -> None:
        """The owner removes anyone; a member may remove themself (leave)."""
        from .readmodels import members, users

        def command(tx: Transaction) -> None:
            access = members.access(tx.conn, caller, album_id)
            if access is None:
                raise NotFound(f"no album {album_id}")
            user = users.find_by_name(tx.conn, str(username).strip())
            if access != "owner" and (user is None or user.id != caller):
                raise Forbidden("only the album's owner may remove other members", code="album_owner_only")
            if user is None or members.role_of(tx.conn, album_id, user.id) is None:
                raise NotFound(f"{str(username).strip()!r} is not a member of this album")
            leave_in(tx, album_id, user.id, left=user.id == caller, meta=meta)
            told.append(user.id)

        told: list[str] = []
        await self.store.transact_async(command)
        wake(self.store, self.waiters, told)

    async def list(self, caller: str, album_id: str) -> list[Member]:
        from .readmodels import members

        def query() -> list[Member]:
            conn = self.store.reader()
            if members.access(conn, caller, album_id) is None:
                raise NotFound(f"no album {album_id}")
            return members.list_members(conn, album_id)

        return await self.read(query)


def leave_in(tx: Transaction, album_id: str, user_id: str, *, left: bool, meta: Meta) -> None:
    """End a membership inside a transaction: the member's items leave the album with them."""
    from .albums import AlbumPhotosRemoved, album_stream
    from .readmodels import members

    events: list[Event] = []
    theirs = members.items_of(tx.conn, album_id, user_id)
    if theirs:
        events.append(AlbumPhotosRemoved(album_id=album_id, photo_ids=theirs))
    events.append(AlbumMemberRemoved(album_id=album_id, user_id=user_id, left=left))
    tx.append(album_stream(album_id), None, events, meta=album_meta(tx, album_id, meta))


def album_meta(tx: Transaction, album_id: str, meta: Meta) -> Meta:
    """Album events belong to the album's owner (their sync feed, their deletion) whoever acts."""
    from .readmodels import members

    owner = members.album_owner(tx.conn, album_id)
    return Meta(actor=meta.actor, owner=owner, correlation_id=meta.correlation_id, causation_id=meta.causation_id)


def _on_account_deleted(tx: Transaction, user_id: str, meta: Meta) -> None:
    # The deleted account's own items are purged before this runs (they leave every album);
    # its memberships end as recorded events, so every other member's feed says so.
    from .readmodels import members

    for album_id in members.albums_of_member(tx.conn, user_id):
        tx.append(album_stream_of(album_id), None, [AlbumMemberRemoved(album_id=album_id, user_id=user_id, left=True)],
                  meta=album_meta(tx, album_id, meta))


def album_stream_of(album_id: str) -> str:
    from .albums import album_stream

    return album_stream(album_id)


from .accounts import ACCOUNT_DELETE_HOOKS  # noqa: E402  (after the events: accounts imports nothing of ours)

ACCOUNT_DELETE_HOOKS.append(_on_account_deleted)
