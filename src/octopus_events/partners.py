"""Partner sharing: one account shows its whole library (optionally only what was taken since a
date) to another, read-only (docs/sharing.md).

Recorded on the sharer's user stream by user id (usernames are sealed personal data). The
partner sees the sharer's items in the library state only: never the trash, the vault or the
archive. Whether a user's own timeline mixes in their partners' items is their own setting
(`PartnerTimelineMerged`).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from .accounts import user_stream
from .errors import Invalid, NotFound
from .events import Event
from .eventstore import EventStore, Meta, Transaction

if TYPE_CHECKING:
    from .readmodels.partners import Partners as PartnerLists

MAX_PARTNERS = 20


class PartnerShareStarted(Event):
    """`user_id` shares their library with `partner_id` (items taken on or after `since`, a
    YYYY-MM-DD local date, or all). Appended again, it changes `since`."""

    user_id: str
    partner_id: str
    since: str | None = None


class PartnerShareEnded(Event):
    """`partner_id` no longer sees `user_id`'s library (ended by either of them)."""

    user_id: str
    partner_id: str


class PartnerTimelineMerged(Event):
    """`user_id`'s own timeline shows their partners' items beside theirs (or stops to)."""

    user_id: str
    merge: bool


def check_since(since: object) -> str | None:
    """A YYYY-MM-DD day (an RFC 3339 time counts by its date), or None for the whole library."""
    if since is None or since == "":
        return None
    if not isinstance(since, str) or len(since) < 10 or (len(since) > 10 and since[10] not in "T "):
        raise Invalid("since: expected a date, YYYY-MM-DD")
    try:
        return date.fromisoformat(since[:10]).isoformat()
    except ValueError:
        raise Invalid("since: expected a date, YYYY-MM-DD") from None


class Partners:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    async def share(self, user_id: str, username: str, since: object, meta: Meta) -> PartnerLists:
        from .readmodels import partners, users

        day = check_since(since)

        def command(tx: Transaction) -> PartnerLists:
            partner = users.find_by_name(tx.conn, str(username).strip())
            if partner is None:
                raise NotFound(f"no user {str(username).strip()!r} on this server")
            if partner.id == user_id:
                raise Invalid("Your library is yours already: name another account.", code="partner_is_you")
            current = partners.share_of(tx.conn, user_id, partner.id)
            if current is None and partners.count_shared(tx.conn, user_id) >= MAX_PARTNERS:
                raise Invalid(f"A library may be shared with at most {MAX_PARTNERS} partners.", code="too_many_partners",
                              params={"max": MAX_PARTNERS})
            if current is None or current.since != day:
                tx.append(user_stream(user_id), None, [PartnerShareStarted(user_id=user_id, partner_id=partner.id, since=day)],
                          meta=meta)
            return partners.lists(tx.conn, user_id)

        return await self.store.transact_async(command)

    async def stop(self, user_id: str, username: str, meta: Meta) -> None:
        """Stop sharing with `username` (the sharer), or stop seeing theirs (the partner)."""
        from .readmodels import partners, users

        def command(tx: Transaction) -> None:
            other = users.find_by_name(tx.conn, str(username).strip())
            if other is not None and partners.share_of(tx.conn, user_id, other.id) is not None:
                tx.append(user_stream(user_id), None, [PartnerShareEnded(user_id=user_id, partner_id=other.id)], meta=meta)
            elif other is not None and partners.share_of(tx.conn, other.id, user_id) is not None:
                # The partner may end a share they no longer want; it is recorded on the sharer's
                # stream (their data), by the partner.
                tx.append(user_stream(other.id), None, [PartnerShareEnded(user_id=other.id, partner_id=user_id)],
                          meta=Meta(actor=meta.actor, owner=other.id, correlation_id=meta.correlation_id))
            else:
                raise NotFound(f"no partner share with {str(username).strip()!r}")

        await self.store.transact_async(command)

    async def set_merge(self, user_id: str, merge: bool, meta: Meta) -> bool:
        from .readmodels import partners

        if not isinstance(merge, bool):
            raise Invalid("merge_partners: true or false")

        def command(tx: Transaction) -> bool:
            if partners.merges(tx.conn, user_id) != merge:
                tx.append(user_stream(user_id), None, [PartnerTimelineMerged(user_id=user_id, merge=merge)], meta=meta)
            return merge

        return await self.store.transact_async(command)
