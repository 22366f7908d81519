"""Crypto-shredding, checked at the keys: after every way a photo leaves for good (DELETE over
HTTP, trash retention running out, account deletion, a move into the vault) no key of it is left
in the keystore, and its sealed fields, read raw from the immutable log, open under no key the
keystore still holds.

The data-dir scans in test_true_deletion.py cannot see this: read models drop the plaintext
whether or not the key went, and the sealed bytes look random either way. Every check here is
first shown to succeed on live data (the fields open, the keys are there), so it can fail.
Real SQLite files, real JPEGs made by Pillow, the real server for DELETE."""

from __future__ import annotations

import asyncio
import io
import sqlite3
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator

import httpx
import msgspec
import pytest
from PIL import Image

from http_support import Server, User, image_bytes, upload
from octopus_events import sealing
from octopus_events.application import Octopus
from octopus_events.config import Config, StorageConfig
from octopus_events.eventstore import Meta
from octopus_events.photos import key_prefix

PASSWORD = "correct horse battery"
PASSPHRASE = "a long vault passphrase"


# -- reading the log and the keystore as an attacker with the data dir would ----------------------


def _connect(db: Path) -> sqlite3.Connection:
    # A connection of our own, read-only, beside the server's: what is committed is what we see.
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True)


def sealed_in_log(db: Path, *, stream: str | None = None, owner: str | None = None) -> list[tuple[str, str, bytes]]:
    """(stream, context, sealed bytes) of every event carrying a sealed field, decoded straight
    from the stored JSON of the `events` table (not through the product's decoders)."""
    where, args = ("stream = ?", (stream,)) if stream is not None else ("owner = ?", (owner,))
    with closing(_connect(db)) as conn:
        rows = conn.execute(f"SELECT stream, type, data FROM events WHERE {where} ORDER BY position", args).fetchall()
    out = []
    for stream_name, type_, data in rows:
        payload = msgspec.json.decode(data)
        if "sealed" not in payload:
            continue
        entity = payload.get("photo_id") or payload.get("album_id") or payload.get("user_id")
        sealed = msgspec.json.decode(msgspec.json.encode(payload["sealed"]), type=bytes)  # base64 in the JSON
        out.append((stream_name, f"{entity}|{type_}", sealed))
    return out


def keystore_rows(db: Path) -> list[tuple[str, str | None, bytes]]:
    with closing(_connect(db)) as conn:
        return conn.execute("SELECT key_id, owner, material FROM keystore").fetchall()


def opened(db: Path, sealed: list[tuple[str, str, bytes]]) -> list[str]:
    """The contexts of those sealed fields that open under *any* key still in the keystore (not
    only the key id the event names: a key kept under another name would open them too)."""
    keys = [material for _, _, material in keystore_rows(db) if len(material) == sealing.DATA_KEY_BYTES]
    found = []
    for _, context, value in sealed:
        for key in keys:
            try:
                sealing.unseal(key, value, context=context.encode())
            except sealing.SealError:
                continue
            found.append(context)
            break
    return found


def photo_keys(db: Path, photo_id: str) -> list[str]:
    return sorted(k for k, _, _ in keystore_rows(db) if k.startswith(key_prefix(photo_id)))


def assert_live(db: Path, photo_id: str) -> list[tuple[str, str, bytes]]:
    """Before the deletion: the photo has a key and every sealed field of it opens."""
    sealed = sealed_in_log(db, stream=f"photo-{photo_id}")
    assert len(sealed) >= 3, sealed  # upload, description, tags
    assert photo_keys(db, photo_id), "the photo has no key before its deletion"
    assert opened(db, sealed) == [c for _, c, _ in sealed]
    return sealed


def assert_shredded(db: Path, photo_id: str, before: list[tuple[str, str, bytes]]) -> None:
    assert photo_keys(db, photo_id) == []
    after = sealed_in_log(db, stream=f"photo-{photo_id}")
    assert after[: len(before)] == before  # the log is immutable: the ciphertext is all still there ...
    assert opened(db, after) == []  # ... and no key left opens any of it


# -- in-process library over a fresh data dir -------------------------------------------------------


def jpeg(seed: int) -> bytes:
    img = Image.effect_noise((64, 48), 40 + seed).convert("RGB")
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue()


@pytest.fixture
def octopus(tmp_path: Path) -> Iterator[Octopus]:
    app = Octopus(Config(storage=StorageConfig(data_dir=str(tmp_path / "data")))).open()
    try:
        yield app
    finally:
        app.close()


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(scenario())


async def marked_photo(octopus: Octopus, owner: str, seed: int) -> str:
    """A photo with sealed fields in three events: the upload, a description, a tag set."""
    meta = Meta(actor=owner, owner=owner)
    incoming = octopus.photos.new_upload()
    incoming.write(jpeg(seed))
    view, created = await octopus.photos.upload(owner, incoming, filename=f"SHRED{seed}.jpg", tags=["first"],
                                                description="at first", meta=meta)
    assert created
    await octopus.photos.edit(owner, view.id, description=f"secret words {seed}", taken_at=None, version=None, meta=meta)
    await octopus.photos.set_tags(owner, view.id, ["secret", f"tag{seed}"], meta)
    return view.id


def test_trash_expiry_destroys_the_photos_keys(octopus: Octopus) -> None:
    db = octopus.paths.db

    async def scenario() -> None:
        user = await octopus.accounts.register("alice", PASSWORD, meta=Meta())
        meta = Meta(actor=user.id, owner=user.id)
        doomed = await marked_photo(octopus, user.id, 1)
        kept = await marked_photo(octopus, user.id, 2)
        before = assert_live(db, doomed)
        await octopus.photos.trash(user.id, doomed, meta)
        await octopus.photos.trash(user.id, kept, meta)
        await octopus.photos.restore(user.id, kept, meta)
        assert assert_live(db, doomed)  # in the trash the photo is still whole
        later = datetime.now(timezone.utc) + timedelta(days=octopus.config.trash.retention_days + 1)
        assert await octopus.photos.purge_expired(later) == 1
        assert_shredded(db, doomed, before)
        assert_live(db, kept)  # the shredding is the purged photo's only

    run(scenario)


def test_account_deletion_destroys_every_key_the_user_owned(octopus: Octopus) -> None:
    db = octopus.paths.db

    async def scenario() -> None:
        admin = await octopus.accounts.register("admin", PASSWORD, meta=Meta())
        bob = await octopus.accounts.admin_create("bob", "another good password", admin=False, quota_bytes=None,
                                                  meta=Meta(actor=admin.id))
        photos = [await marked_photo(octopus, bob.id, seed) for seed in (3, 4)]
        admins_photo = await marked_photo(octopus, admin.id, 5)
        await octopus.albums.create(bob.id, "Bob's album", Meta(actor=bob.id, owner=bob.id))
        token, _ = await octopus.accounts.login("bob", "another good password", device="phone", client="127.0.0.1",
                                                meta=Meta())
        before = {p: assert_live(db, p) for p in photos}
        # The user's own sealed fields (names, device, album name) open before, too.
        bobs = sealed_in_log(db, owner=bob.id)
        assert {c.split("|")[1] for c in opened(db, bobs)} >= {"UserRegistered", "UserSignedIn", "AlbumCreated",
                                                                "PhotoUploaded"}
        assert {o for _, o, _ in keystore_rows(db)} >= {bob.id, admin.id}

        who = await octopus.read(octopus.accounts.authenticate, token)
        await octopus.accounts.delete_account(who, "another good password", Meta(actor=bob.id, owner=bob.id))

        for photo_id in photos:
            assert_shredded(db, photo_id, before[photo_id])
        assert [k for k, o, _ in keystore_rows(db) if o == bob.id] == []  # user key, password, session
        assert opened(db, sealed_in_log(db, owner=bob.id)) == []
        assert_live(db, admins_photo)

    run(scenario)


# -- over HTTP, on the real server ----------------------------------------------------------------


def marked_upload(c: httpx.Client, seed: int) -> str:
    r = upload(c, image_bytes(seed), f"HTTPSHRED{seed}.jpg", tags="first", description="at first")
    assert r.status_code == 201, r.text
    photo_id = r.json()["id"]
    assert c.patch(f"/api/photos/{photo_id}", json={"description": f"secret {seed}"}).status_code == 200
    assert c.put(f"/api/photos/{photo_id}/tags", json={"tags": ["secret", f"tag{seed}"]}).status_code == 200
    return photo_id


def test_delete_over_http_destroys_the_photos_keys(server: Server, alice: User) -> None:
    db = server.data_dir / "octopus.db"
    with alice.client() as c:
        doomed, kept = marked_upload(c, 11), marked_upload(c, 12)
        before = assert_live(db, doomed)
        assert c.delete(f"/api/photos/{doomed}").status_code == 204
    assert_shredded(db, doomed, before)
    assert_live(db, kept)


def test_vault_move_destroys_the_library_key_and_a_round_trip_gets_a_new_one(server: Server, alice: User) -> None:
    db = server.data_dir / "octopus.db"
    with alice.client() as c:
        photo_id = marked_upload(c, 13)
        before = assert_live(db, photo_id)
        assert photo_keys(db, photo_id) == [f"photo:{photo_id}:1"]
        assert c.post("/api/vault", json={"passphrase": PASSPHRASE}).status_code == 201
        r = c.post("/api/vault/unlock", json={"passphrase": PASSPHRASE})
        assert r.status_code == 200, r.text
        vault = {"X-Vault-Token": r.json()["vault_token"]}

        r = c.post(f"/api/photos/{photo_id}/vault", headers=vault)
        assert r.status_code == 200, r.text
        assert_shredded(db, photo_id, before)
        # Not lost: with the passphrase the vault still has every field.
        inside = c.get("/api/vault/photos", headers=vault).json()["photos"]
        assert [(p["id"], p["description"], p["tags"]) for p in inside] == [(photo_id, "secret 13", ["secret", "tag13"])]

        r = c.post(f"/api/vault/photos/{photo_id}/restore", headers=vault)
        assert r.status_code == 200, r.text
        (new_key,) = photo_keys(db, photo_id)
        assert new_key != f"photo:{photo_id}:1"
        after = sealed_in_log(db, stream=f"photo-{photo_id}")
        # Only what was sealed again under the new key opens; the fields of its first life stay shredded.
        assert opened(db, after) == [ctx for _, ctx, _ in after[len(before):]] == [f"{photo_id}|PhotoLeftVault"]

        assert c.delete(f"/api/photos/{photo_id}").status_code == 204
    assert photo_keys(db, photo_id) == []
    assert opened(db, sealed_in_log(db, stream=f"photo-{photo_id}")) == []
