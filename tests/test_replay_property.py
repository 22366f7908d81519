"""Replay equals incremental: for random histories, the tables that inline projection built one
append at a time equal the tables a rebuild replays from the log (in one chunk and in many)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import factories as f
from octopus_events.application import Octopus
from octopus_events.config import Config, StorageConfig
from octopus_events.projection import dump_tables
from octopus_events.readmodels import PROJECTORS
from octopus_events.shares import ShareLinkChanged, ShareLinkCreated, ShareLinkRevoked, share_stream
from octopus_events.accounts import user_stream
from octopus_events.albums import AlbumPhotosAdded, AlbumPhotosRemoved, album_stream
from octopus_events.eventstore import EventStore, Meta
from octopus_events.members import AlbumMemberAdded, AlbumMemberRemoved
from octopus_events.partners import PartnerShareEnded, PartnerShareStarted, PartnerTimelineMerged

USERS = ["u1", "u2"]
TAGS = ["Beach", "beach ", "Cat", "Ünïcode", "hike"]
# Photos with and without GPS; two close together share the map's coarser cells, not the finer.
GPS = [None, (40.4168, -3.7038), (-34.6037, -58.3816), (40.4169, -3.7040), None, (1.5, 2.5)]

op = st.one_of(
    st.tuples(st.just("upload"), st.sampled_from(USERS), st.integers(0, 5), st.lists(st.sampled_from(TAGS), max_size=3),
              st.sampled_from(["2019-06-01T10:00:00", "2021-06-01T23:59:00", "2020-12-31T00:00:00"]),
              st.integers(0, 3), st.sampled_from([None, None, 2.0, 2.6, 9.0])),
    st.tuples(st.sampled_from(["describe", "redate", "tags", "favourite", "unfavourite", "trash", "restore",
                               "purge", "vault", "unvault", "archive", "unarchive", "trash_dated"]), st.integers(0, 5), st.sampled_from(TAGS)),
    st.tuples(st.sampled_from(["album_create", "album_rename", "album_add", "album_remove", "album_delete",
                               "album_describe"]),
              st.sampled_from(USERS), st.integers(0, 2), st.integers(0, 5)),
    # Share links (docs/sharing.md): to album a{n} or to photos p{k}...; changed; revoked.
    st.tuples(st.sampled_from(["link_album", "link_photos", "link_change", "link_revoke"]), st.sampled_from(USERS),
              st.integers(0, 2), st.integers(0, 5)),
    # Sharing (docs/sharing.md): the other user's album a{n} gains and loses this user as a member,
    # who contributes photo p{k} of theirs; partner shares and the merged-timeline setting.
    st.tuples(st.sampled_from(["member_add", "member_remove", "member_leave", "contribute"]), st.sampled_from(USERS),
              st.integers(0, 2), st.sampled_from(["viewer", "contributor"]), st.integers(0, 5)),
    st.tuples(st.sampled_from(["partner_share", "partner_end", "merge"]), st.sampled_from(USERS),
              st.sampled_from([None, "2020-01-01"]), st.booleans()),
)


class Model:
    """Which photos and albums exist and in what state, so generated commands are valid ones."""

    def __init__(self) -> None:
        self.photos: dict[str, tuple[str, str, bool]] = {}  # id -> (owner, state, favourite)
        self.albums: dict[str, tuple[str, set[str]]] = {}
        self.used: set[str] = set()  # ids are never reused, as with real random ids
        self.members: dict[str, dict[str, str]] = {}  # album id -> {member: role}


def run(octopus: Octopus, ops: list[tuple]) -> None:
    model = Model()
    store = octopus.store
    for item in ops:
        kind = item[0]
        if kind == "upload":
            _, owner, n, tags, local, ph, duration = item  # a duration: the upload is a video
            photo_id = f"p{n}{owner}"
            if photo_id in model.used:
                continue
            model.used.add(photo_id)
            d = f.details(filename=f"f{n}.jpg", taken_local=local, tags=list(dict.fromkeys(t.strip() for t in tags)),
                          phash=ph, description="d", gps=GPS[n])
            store.transact(lambda tx: f.upload(tx, owner, photo_id, d, duration=duration))
            model.photos[photo_id] = (owner, "library", False)
        elif kind.startswith("album_"):
            _, owner, n, p = item
            album_id = f"a{n}{owner}"
            action = kind[6:]
            exists = album_id in model.albums
            photo_id = f"p{p}{owner}"
            if action == "create" and album_id not in model.used:
                model.used.add(album_id)
                store.transact(lambda tx: f.album_event(tx, owner, album_id, "create", f"Album {n}"))
                model.albums[album_id] = (owner, set())
            elif action == "rename" and exists:
                store.transact(lambda tx: f.album_event(tx, owner, album_id, "rename", f"Renamed {n}"))
            elif action == "describe" and exists:
                store.transact(lambda tx: f.album_event(tx, owner, album_id, "describe", "" if p == 0 else f"About {p}"))
            elif action == "delete" and exists:
                store.transact(lambda tx: f.album_event(tx, owner, album_id, "delete"))
                del model.albums[album_id]
            elif action == "add" and exists and model.photos.get(photo_id, ("", ""))[1] == "library":
                store.transact(lambda tx: f.album_event(tx, owner, album_id, "add", [photo_id]))
                model.albums[album_id][1].add(photo_id)
            elif action == "remove" and exists and photo_id in model.albums[album_id][1]:
                store.transact(lambda tx: f.album_event(tx, owner, album_id, "remove", [photo_id]))
                model.albums[album_id][1].discard(photo_id)
        elif kind.startswith("member_") or kind == "contribute":
            share_album(store, model, item)
        elif kind.startswith("partner_") or kind == "merge":
            _, user, since, flag = item
            other = USERS[1 - USERS.index(user)]
            event = {"partner_share": PartnerShareStarted(user_id=user, partner_id=other, since=since),
                     "partner_end": PartnerShareEnded(user_id=user, partner_id=other),
                     "merge": PartnerTimelineMerged(user_id=user, merge=flag)}[kind]
            store.transact(lambda tx: tx.append(user_stream(user), None, [event], meta=Meta(actor=user, owner=user)))
        elif kind.startswith("link_"):
            share_link(store, model, item)
        else:
            _, n, tag = item
            candidates = sorted(p for p in model.photos if p.startswith(f"p{n}"))
            if not candidates:
                continue
            photo_id = candidates[0]
            owner, state, fav = model.photos[photo_id]
            allowed = {
                "library": {"describe", "redate", "tags", "favourite", "unfavourite", "trash", "purge", "vault",
                            "archive", "unarchive", "trash_dated"},
                "trash": {"describe", "tags", "restore", "purge", "favourite", "unfavourite"},
                "vault": {"unvault", "purge"},
            }[state]
            if kind not in allowed:
                continue
            value: object = {"describe": f"about {tag}", "redate": "2018-02-03T04:05:06", "tags": [tag.strip(), "x"],
                             "unvault": f.details(filename="back.jpg", tags=[tag.strip()], gps=(51.5, -0.12)),
                             "trash_dated": "2025-01-02T03:04:05.000000+00:00"}.get(kind)
            store.transact(lambda tx: f.photo_event(tx, owner, photo_id, kind, value))
            new_state = {"trash": "trash", "trash_dated": "trash", "restore": "library", "vault": "vault", "unvault": "library"}.get(kind, state)
            if kind == "purge":
                del model.photos[photo_id]
                for _, members in model.albums.values():
                    members.discard(photo_id)
            else:
                model.photos[photo_id] = (owner, new_state, fav)


def share_album(store: EventStore, model: Model, item: tuple) -> None:
    kind, user, n, role, p = item
    other = USERS[1 - USERS.index(user)]
    album_id = f"a{n}{other}"
    if album_id not in model.albums:
        return
    members = model.members.setdefault(album_id, {})
    items = model.albums[album_id][1]
    mine = sorted(q for q in items if model.photos.get(q, ("",))[0] == user)
    events: list = []
    if kind == "member_add":
        events = [AlbumMemberAdded(album_id=album_id, user_id=user, role=role)]
        if members.get(user) == "contributor" and role == "viewer" and mine:
            events.append(AlbumPhotosRemoved(album_id=album_id, photo_ids=mine))
            items.difference_update(mine)
        members[user] = role
    elif kind in ("member_remove", "member_leave") and user in members:
        if mine:
            events.append(AlbumPhotosRemoved(album_id=album_id, photo_ids=mine))
            items.difference_update(mine)
        events.append(AlbumMemberRemoved(album_id=album_id, user_id=user, left=kind == "member_leave"))
        del members[user]
    elif kind == "contribute" and members.get(user) == "contributor":
        photo_id = f"p{p}{user}"
        if model.photos.get(photo_id, ("", ""))[1] == "library" and photo_id not in items:
            events = [AlbumPhotosAdded(album_id=album_id, photo_ids=[photo_id], by=user)]
            items.add(photo_id)
    if events:
        store.transact(lambda tx: tx.append(album_stream(album_id), None, events, meta=Meta(actor=user, owner=other)))



def share_link(store: EventStore, model: Model, item: tuple) -> None:
    kind, owner, n, p = item
    links = model.__dict__.setdefault("links", {})  # link id -> owner
    event: object = None
    link_id = f"s{len(links)}{owner}"
    if kind == "link_album" and f"a{n}{owner}" in model.albums:
        event = ShareLinkCreated(share_id=link_id, token_digest=f"{len(links):064x}", album_id=f"a{n}{owner}",
                                 expires_at="2030-01-01T00:00:00+00:00")
    elif kind == "link_photos":
        ids = sorted(q for q, (o, state, _) in model.photos.items() if o == owner and state == "library" and q >= f"p{p}")
        if ids:
            event = ShareLinkCreated(share_id=link_id, token_digest=f"{len(links):064x}", photo_ids=ids,
                                     has_password=bool(n), show_location=p % 2 == 0)
    else:
        mine = sorted(s for s, o in links.items() if o == owner)
        if not mine:
            return
        link_id = mine[n % len(mine)]
        event = (ShareLinkChanged(share_id=link_id, expires_at=None, allow_download=bool(p % 2), show_location=True,
                                  has_password=False) if kind == "link_change" else ShareLinkRevoked(share_id=link_id))
    if event is None or links.get(link_id) == "revoked":
        return
    links[link_id] = "revoked" if kind == "link_revoke" else owner
    store.transact(lambda tx: tx.append(share_stream(link_id), None, [event], meta=Meta(actor=owner, owner=owner)))

def dump_all(octopus: Octopus) -> dict[str, dict]:
    octopus.engine.wait_idle()  # asynchronous projectors catch up on their own thread
    conn = octopus.store.reader()
    return {cls.name: dump_tables(conn, cls()) for cls in PROJECTORS}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(ops=st.lists(op, min_size=1, max_size=40))
def test_replay_equals_incremental(ops: list[tuple], monkeypatch: pytest.MonkeyPatch) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        octopus = Octopus(Config(storage=StorageConfig(data_dir=str(Path(tmp) / "data")))).open()
        try:
            store = octopus.store
            store.transact(lambda tx: (f.add_user(tx, "u1", "one"), f.add_user(tx, "u2", "two"),
                                       f.set_email(tx, "u1", "one@example.org")))
            run(octopus, ops)
            incremental = dump_all(octopus)
            # One chunk: the whole log folded at once.
            for cls in PROJECTORS:
                octopus.engine.rebuild(cls.name, wait=True)
            assert dump_all(octopus) == incremental
            # Many chunks of three events: folds that cross chunk boundaries.
            for cls in PROJECTORS:
                monkeypatch.setattr(cls, "rebuild_chunk", 3)
                octopus.engine.rebuild(cls.name, wait=True)
            assert dump_all(octopus) == incremental
            assert all(s.state == "live" and s.lag == 0 for s in octopus.engine.status())
        finally:
            octopus.close()
