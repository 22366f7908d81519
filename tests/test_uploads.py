"""The resumable-upload core (uploads.py) without HTTP: a real library in a tmp dir, a clock of
the test's own for expiry (the core takes one), checksums and the metadata format."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from http_support import image_bytes
from octopus_events.application import Octopus
from octopus_events.config import Config, StorageConfig
from octopus_events.errors import BadRequest, Conflict, NotFound
from octopus_events.eventstore import Meta
from octopus_events.readmodels import users
from octopus_events.uploads import ChecksumMismatch, Uploads, UploadState, parse_checksum, parse_metadata


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def octopus(tmp_path: Path) -> Iterator[Octopus]:
    lib_ = Octopus(Config(storage=StorageConfig(data_dir=str(tmp_path / "data")))).open(background_rebuilds=False)
    try:
        asyncio.run(lib_.accounts.admin_create("alice", "alice-password", admin=False, quota_bytes=None, meta=Meta()))
        yield lib_
    finally:
        lib_.close()


def owner(octopus: Octopus) -> str:
    found = users.find_by_name(octopus.store.reader(), "alice")
    assert found is not None
    return found.id


async def body(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def test_metadata_and_checksum_headers() -> None:
    enc = base64.b64encode(b"caf\xc3\xa9.jpg").decode()
    assert parse_metadata(f"filename {enc},flag") == {"filename": "café.jpg", "flag": ""}
    for bad in ("filename a b", "x !!", f"a {enc},a {enc}", "bad:key abc="):
        with pytest.raises(BadRequest):
            parse_metadata(bad)
    digest = hashlib.sha1(b"x").digest()
    assert parse_checksum("sha1 " + base64.b64encode(digest).decode()) == ("sha1", digest)
    with pytest.raises(BadRequest):
        parse_checksum("md5 AAAA")
    with pytest.raises(BadRequest):
        parse_checksum("sha256 " + base64.b64encode(digest).decode())  # a sha1-sized digest


def test_append_resume_checksum_and_expiry_with_an_injected_clock(octopus: Octopus) -> None:
    clock = Clock()
    uploads = Uploads(octopus, clock=clock)
    who = owner(octopus)
    photo = image_bytes(31)
    meta = Meta(actor=who, owner=who)

    async def scenario() -> None:
        state = await uploads.create(who, len(photo), {"filename": "a.jpg"})
        assert isinstance(state, UploadState)
        await uploads.append(who, state.id, 0, body(photo[:100]), declared=100, checksum=None, meta=meta)
        with pytest.raises(Conflict):
            await uploads.append(who, state.id, 0, body(photo[:100]), declared=100, checksum=None, meta=meta)
        bad = ("sha256", hashlib.sha256(b"nope").digest())
        with pytest.raises(ChecksumMismatch):
            await uploads.append(who, state.id, 100, body(photo[100:200]), declared=100, checksum=bad, meta=meta)
        assert (await uploads.get(who, state.id)).offset == 100
        # A fresh core (a restarted server) rebuilds the running hash from disk and finishes.
        again = Uploads(octopus, clock=clock)
        done_state, done = await again.append(who, state.id, 100, body(photo[100:]), declared=len(photo) - 100,
                                              checksum=None, meta=meta)
        assert done is not None and done_state.offset == len(photo)
        with octopus.photos.blobs.open_original(hashlib.sha256(photo).hexdigest()) as fp:
            assert fp.read() == photo
        with pytest.raises(NotFound):
            await again.get(who, state.id)

        # Expiry follows the clock, and every append moves it on.
        late = await again.create(who, 5000, {})
        assert isinstance(late, UploadState)
        clock.now += again.expire_seconds - 1
        assert await again.remove_expired() == 0
        await again.append(who, late.id, 0, body(b"\xff\xd8\xff"), declared=3, checksum=None, meta=meta)
        clock.now += again.expire_seconds - 1
        assert await again.remove_expired() == 0
        clock.now += 2
        assert await again.remove_expired() == 1
        assert not (again.root / late.id).exists()
        with pytest.raises(NotFound):
            await again.get(who, late.id)

    asyncio.run(scenario())
