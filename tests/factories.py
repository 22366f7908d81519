"""Seeding the library through the event store, exactly as the commands write it, without the
image work: for property tests and benchmarks that need thousands of photos quickly."""

from __future__ import annotations

import secrets
from typing import Sequence

from octopus_events import keystore, sealing
from octopus_events.accounts import EmailSeal, UserEmailSet, UserNames, UserRegistered, seal_user, user_key_id, user_stream
from octopus_events.albums import (
    AlbumCreated, AlbumDeleted, AlbumDescribed, AlbumDescription, AlbumName, AlbumPhotosAdded, AlbumPhotosRemoved,
    AlbumRenamed, album_stream,
)
from octopus_events.eventstore import EventStore, Meta, Transaction
from octopus_events.library import PhotoLibrary
from octopus_events.photos import (
    Camera, DescriptionSeal, Exposure, Gps, PhotoArchived, PhotoDate, PhotoDescribed, PhotoDetails, PhotoFavourited,
    PhotoLeftVault, PhotoUnarchived,
    PhotoRedated, PhotoRestored, PhotoTagsSet, PhotoTrashed, PhotoUnfavourited, PhotoUploaded, TagsSeal, key_prefix,
    load_photo, photo_stream, seal_for,
)
from octopus_events.vault import record_move_in


def add_user(tx: Transaction, user_id: str, username: str, *, admin: bool = False) -> None:
    key = sealing.new_data_key()
    keystore.put(tx.conn, user_key_id(user_id), "user", user_id, key)
    tx.append(user_stream(user_id), 0, [UserRegistered(
        user_id=user_id, key_id=user_key_id(user_id), admin=admin, quota_bytes=0,
        sealed=seal_user(key, user_id, "UserRegistered", UserNames(username, username)),
    )], meta=Meta(actor=user_id, owner=user_id))


def set_email(tx: Transaction, user_id: str, email: str) -> None:
    """The profile e-mail an account brought from Octopus Photos 0.6 (UserEmailSet)."""
    key = keystore.get(tx.conn, user_key_id(user_id))
    assert key is not None
    tx.append(user_stream(user_id), None, [UserEmailSet(
        user_id=user_id, key_id=user_key_id(user_id), sealed=seal_user(key, user_id, "UserEmailSet", EmailSeal(email)),
    )], meta=Meta(actor=user_id, owner=user_id))


def details(*, sha256: str | None = None, filename: str = "IMG_0001.JPG", taken_local: str = "2020-06-01T12:00:00",
            offset_minutes: int = 120, tags: Sequence[str] = (), description: str = "", phash: int = 0,
            make: str | None = "Canon", model: str | None = "EOS 40D", gps: tuple[float, float] | None = None) -> PhotoDetails:
    sign = "+" if offset_minutes >= 0 else "-"
    hh, mm = divmod(abs(offset_minutes), 60)
    return PhotoDetails(
        sha256=sha256 or secrets.token_hex(32),
        filename=filename,
        description=description,
        tags=list(tags),
        date=PhotoDate(taken_at=f"{taken_local}{sign}{hh:02d}:{mm:02d}", taken_local=taken_local, source="DateTimeOriginal"),
        camera=Camera(make=make, model=model),
        exposure=Exposure(iso=100, f_number=2.8, exposure_time="1/125", focal_length=35.0),
        gps=Gps(lat=gps[0], lon=gps[1]) if gps else None,
        phash=phash,
    )


def upload(tx: Transaction, owner: str, photo_id: str, d: PhotoDetails, *, size: int = 3_000_000,
           duration: float | None = None) -> None:
    """A photo upload; with `duration`, a video's (H.264 in MP4 at 30 fps)."""
    key_id = key_prefix(photo_id) + "1"
    key = sealing.new_data_key()
    keystore.put(tx.conn, key_id, "photo", owner, key)
    media = (dict(mime="video/mp4", kind="video", duration=duration, video_codec="h264", fps=30.0)
             if duration is not None else dict(mime="image/jpeg"))
    tx.append(photo_stream(photo_id), 0, [PhotoUploaded(
        photo_id=photo_id, key_id=key_id, size=size, width=4000, height=3000, orientation=1,
        sealed=seal_for(key, photo_id, "PhotoUploaded", d), **media,  # type: ignore[arg-type]
    )], meta=Meta(actor=owner, owner=owner))


def _key(tx: Transaction, photo_id: str) -> tuple[str, bytes]:
    row = tx.conn.execute(
        "SELECT key_id, material FROM keystore WHERE key_id >= ? AND key_id < ? ORDER BY length(key_id) DESC, key_id DESC LIMIT 1",
        (key_prefix(photo_id), key_prefix(photo_id) + "\uffff"),
    ).fetchone()
    assert row is not None, f"no key for {photo_id}"
    return row[0], row[1]


def photo_event(tx: Transaction, owner: str, photo_id: str, kind: str, value: object = None) -> None:
    """Append one photo event of `kind` as the matching command would."""
    meta = Meta(actor=owner, owner=owner)
    stream = photo_stream(photo_id)
    if kind == "describe":
        key_id, key = _key(tx, photo_id)
        event = PhotoDescribed(photo_id=photo_id, key_id=key_id, sealed=seal_for(key, photo_id, "PhotoDescribed", DescriptionSeal(str(value))))
    elif kind == "redate":
        key_id, key = _key(tx, photo_id)
        local = str(value)
        event = PhotoRedated(photo_id=photo_id, key_id=key_id, sealed=seal_for(
            key, photo_id, "PhotoRedated", PhotoDate(taken_at=local + "+00:00", taken_local=local, source="user")))
    elif kind == "tags":
        key_id, key = _key(tx, photo_id)
        event = PhotoTagsSet(photo_id=photo_id, key_id=key_id, sealed=seal_for(key, photo_id, "PhotoTagsSet", TagsSeal(list(value))))  # type: ignore[arg-type]
    elif kind == "favourite":
        event = PhotoFavourited(photo_id=photo_id)
    elif kind == "unfavourite":
        event = PhotoUnfavourited(photo_id=photo_id)
    elif kind == "trash":
        event = PhotoTrashed(photo_id=photo_id, purge_at=str(value or "2030-01-01T00:00:00+00:00"))
    elif kind == "trash_dated":  # trashed before it came in (moving in from Octopus Photos 0.6)
        event = PhotoTrashed(photo_id=photo_id, purge_at="2030-01-01T00:00:00+00:00", trashed_at=str(value))
    elif kind == "restore":
        event = PhotoRestored(photo_id=photo_id)
    elif kind == "archive":
        event = PhotoArchived(photo_id=photo_id)
    elif kind == "unarchive":
        event = PhotoUnarchived(photo_id=photo_id)
    elif kind == "purge":
        # Through the product's own purge: the tombstone, the key destruction and the hooks. A
        # factory that destroyed the key itself would hide a purge that forgets to.
        PhotoLibrary.purge_in(tx, owner, photo_id, "deleted", meta)
        return
    elif kind == "vault":
        record_move_in(tx, load_photo(tx, photo_id, owner), meta)  # the product's move, key shredding included
        return
    elif kind == "unvault":
        assert isinstance(value, PhotoDetails)
        n = tx.stream_version(stream) + 1
        key_id = key_prefix(photo_id) + str(n)
        key = sealing.new_data_key()
        keystore.put(tx.conn, key_id, "photo", owner, key)
        event = PhotoLeftVault(photo_id=photo_id, key_id=key_id, sealed=seal_for(key, photo_id, "PhotoLeftVault", value))
    else:
        raise ValueError(kind)
    tx.append(stream, None, [event], meta=meta)


def album_event(tx: Transaction, owner: str, album_id: str, kind: str, value: object = None) -> None:
    meta = Meta(actor=owner, owner=owner)
    stream = album_stream(album_id)
    if kind in ("create", "rename"):
        key = keystore.get(tx.conn, user_key_id(owner))
        assert key is not None
        cls = AlbumCreated if kind == "create" else AlbumRenamed
        tag = cls.__name__
        event: object = cls(album_id=album_id, key_id=user_key_id(owner),
                            sealed=seal_user(key, album_id, tag, AlbumName(str(value))))
    elif kind == "add":
        event = AlbumPhotosAdded(album_id=album_id, photo_ids=list(value))  # type: ignore[arg-type]
    elif kind == "remove":
        event = AlbumPhotosRemoved(album_id=album_id, photo_ids=list(value))  # type: ignore[arg-type]
    elif kind == "delete":
        event = AlbumDeleted(album_id=album_id)
    elif kind == "describe":
        key = keystore.get(tx.conn, user_key_id(owner))
        assert key is not None
        event = AlbumDescribed(album_id=album_id, key_id=user_key_id(owner),
                               sealed=seal_user(key, album_id, "AlbumDescribed", AlbumDescription(str(value))))
    else:
        raise ValueError(kind)
    tx.append(stream, None, [event], meta=meta)  # type: ignore[list-item]


def seed_photos(store: EventStore, owner: str, n: int, *, batch: int = 1000, start_year: int = 2005,
                tags: Sequence[str] = ("family", "beach", "cat", "hike", "birthday"), seed: int = 7) -> list[str]:
    """Append `n` uploads for `owner` (dates spread over years, a few tags, near-duplicates now
    and then), `batch` per transaction. Returns the photo ids."""
    import random

    rng = random.Random(seed)
    ids: list[str] = []
    for start in range(0, n, batch):
        def job(tx: Transaction, start: int = start) -> None:
            for i in range(start, min(n, start + batch)):
                photo_id = f"p{seed:02d}{i:09d}"
                year = start_year + rng.randrange(20)
                local = f"{year}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00"
                phash = rng.getrandbits(64) - (1 << 63) if i % 50 else (ids_hash[-1] ^ 1 if ids_hash else 0)
                ids_hash.append(phash)
                upload(tx, owner, photo_id, details(
                    filename=f"IMG_{i:06d}.JPG", taken_local=local,
                    tags=rng.sample(list(tags), rng.randrange(3)), description=f"photo number {i}",
                    phash=phash, gps=(48.1 + rng.random(), 11.5 + rng.random()) if i % 3 == 0 else None,
                ))
                ids.append(photo_id)

        ids_hash: list[int] = []
        store.transact(job)
    return ids
