"""The vault service over real SQLite and real files: what is encrypted, what is left, what breaks.

The central test moves a photo with distinctive bytes, filename, description, tag and GPS
position into the vault, locks it, and then reads every byte of every file in the data dir
looking for any of them.
"""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path
from typing import Any, Iterator

import pytest
from PIL import Image

from octopus_events import keystore
from octopus_events.application import Octopus
from octopus_events.config import AuthConfig, Config, StorageConfig
from octopus_events.errors import Conflict, Forbidden, NotFound, RateLimited
from octopus_events.eventstore import Meta
from octopus_events.readmodels import albums as albums_rm
from octopus_events.readmodels import duplicates, search
from octopus_events.readmodels import library as lib
from octopus_events.vault import VaultAccess, VaultDamaged, _context, vault_key_id
from octopus_events.vaultcrypto import VaultTampered, decrypt_bytes
from vault_v1 import encrypt_bytes_v1
from vault_support import (
    DESCRIPTION, FILENAME, LAT_DEGREES, PASSPHRASE, TAG, assert_findable, find_markers, flip, markers_of, noisy_jpeg,
    reencoded,
)


def config_for(data_dir: Path, **auth: Any) -> Config:
    return Config(storage=StorageConfig(data_dir=str(data_dir), min_free_mb=0), auth=AuthConfig(**auth))


class Library:
    """An open Octopus plus the helpers these tests need."""

    def __init__(self, data_dir: Path, **auth: Any) -> None:
        self.data_dir = data_dir
        self.auth = auth
        self.octopus = Octopus(config_for(data_dir, **auth)).open(background_rebuilds=False)

    def reopen(self) -> None:
        self.octopus.close()
        self.octopus = Octopus(config_for(self.data_dir, **self.auth)).open(background_rebuilds=False)

    async def user(self, name: str) -> str:
        user = await self.octopus.accounts.admin_create(name, "password123", admin=False, quota_bytes=None, meta=Meta())
        return user.id

    async def upload(self, owner: str, data: bytes, filename: str = "photo.jpg", **fields: Any) -> lib.PhotoView:
        incoming = self.octopus.photos.new_upload()
        incoming.write(data)
        view, created = await self.octopus.photos.upload(owner, incoming, filename=filename, meta=Meta(actor=owner), **fields)
        assert created
        return view

    def conn(self) -> Any:
        return self.octopus.store.reader()


@pytest.fixture
def library(tmp_path: Path) -> Iterator[Library]:
    lib_ = Library(tmp_path / "data", login_max_failures=3)
    try:
        yield lib_
    finally:
        lib_.octopus.close()


SESSION = "digest-of-alices-session"


async def unlock(octopus: Octopus, owner: str, passphrase: str = PASSPHRASE, *, session: str = SESSION) -> VaultAccess:
    """Unlock as the web layer does (bound to a session); the access that session then presents."""
    unlocked = await octopus.vault.unlock(owner, passphrase, session=session)
    return VaultAccess(unlocked.vault_token, session)


async def vaulted(library: Library, *, seed: int = 1) -> tuple[str, VaultAccess, bytes, lib.PhotoView]:
    """A user with an unlocked vault and one photo full of markers; returns (owner, token, bytes, photo)."""
    owner = await library.user(f"alice{seed}")
    data = noisy_jpeg(seed, gps=True)
    view = await library.upload(owner, data, FILENAME, description=DESCRIPTION, tags=[TAG, "summer"])
    await library.octopus.vault.create(owner, PASSPHRASE, Meta(actor=owner))
    return owner, await unlock(library.octopus, owner), data, view


async def read_original(octopus: Octopus, owner: str, photo_id: str, access: VaultAccess,
                        first: int = 0, length: int | None = None) -> tuple[int, bytes, lib.PhotoView]:
    """(size, the bytes asked for, the photo) as the /original route reads them."""
    original = await octopus.vault.open_original(owner, photo_id, access)
    return original.size, b"".join(await octopus.vault.read_original(original, first, length)), original.view


# -- the locked vault leaves no plaintext --------------------------------------------------------------


async def test_locked_vault_leaves_no_plaintext_anywhere_in_the_data_dir(library: Library) -> None:
    octopus = library.octopus
    owner, token, data, view = await vaulted(library)
    assert view.gps is not None and abs(view.gps.lat - LAT_DEGREES) < 1e-6
    sha = view.sha256
    assert sha is not None
    preview_path, _ = await octopus.photos.derivative(owner, view.id, "preview")
    thumb = octopus.photos.blobs.derivative_path("thumb", sha).read_bytes()
    preview = preview_path.read_bytes()
    markers = markers_of(data, thumb, preview, sha, view.gps.lat, view.gps.lon)
    # The markers must be findable while the photo is in the library, or this test proves nothing.
    assert_findable(find_markers(library.data_dir, markers))

    moved = await octopus.vault.move_in(owner, view.id, token, Meta(actor=owner))
    assert moved.state == "vault" and moved.filename == FILENAME

    # Locked: every token has expired (the registry's clock is moved past their lifetime).
    real_clock = octopus.vault.tokens.clock
    octopus.vault.tokens.clock = lambda: real_clock() + 24 * 3600
    assert len(octopus.vault.tokens) == 0
    with pytest.raises(Forbidden):
        await octopus.vault.list(owner, token)
    assert find_markers(library.data_dir, markers) == []

    # And after a restart (nothing in memory at all, the WAL folded on close).
    library.reopen()
    assert find_markers(library.data_dir, markers) == []

    # The same photo comes back whole with the passphrase.
    token = await unlock(library.octopus, owner)
    back = await library.octopus.vault.restore(owner, view.id, token, Meta(actor=owner))
    assert back.state == "library"
    path, _ = await library.octopus.photos.original(owner, view.id)
    assert path.read_bytes() == data


async def test_move_out_keeps_every_field_and_uses_a_new_key(library: Library) -> None:
    octopus = library.octopus
    owner, token, data, view = await vaulted(library)
    await octopus.photos.favourite(owner, view.id, True, Meta(actor=owner))
    view = await octopus.read(lambda: lib.get_photo(library.conn(), owner, view.id))
    await octopus.vault.move_in(owner, view.id, token, Meta(actor=owner))
    assert keystore.get(library.conn(), f"photo:{view.id}:1") is None

    listed = await octopus.vault.list(owner, token)
    assert [p.id for p in listed.photos] == [view.id]
    inside = listed.photos[0]
    assert (inside.filename, inside.tags, inside.description, inside.gps, inside.taken_at, inside.favourite) == (
        view.filename, view.tags, view.description, view.gps, view.taken_at, True)

    back = await octopus.vault.restore(owner, view.id, token, Meta(actor=owner))
    for field in ("filename", "sha256", "bytes", "mime", "width", "height", "taken_at", "tags", "favourite",
                  "description", "camera", "exposure", "gps", "taken_source"):
        assert getattr(back, field) == getattr(view, field), field
    assert back.state == "library" and back.version > view.version
    assert keystore.get(library.conn(), f"photo:{view.id}:2") is not None
    assert not octopus.vault.photo_dir(owner, view.id).exists()
    # Derivatives work again: the thumb came back, the preview is rendered on demand.
    thumb_path, _ = await octopus.photos.derivative(owner, view.id, "thumb")
    preview_path, _ = await octopus.photos.derivative(owner, view.id, "preview")
    assert Image.open(thumb_path).format == "JPEG" and Image.open(preview_path).format == "JPEG"
    # Edits work on the restored photo (its new key opens and seals).
    edited = await octopus.photos.set_tags(owner, view.id, ["again"], Meta(actor=owner))
    assert edited.tags == ["again"]

    # A second round trip takes generation 3, never reusing a shredded key's id.
    await octopus.vault.move_in(owner, view.id, token, Meta(actor=owner))
    await octopus.vault.restore(owner, view.id, token, Meta(actor=owner))
    assert keystore.get(library.conn(), f"photo:{view.id}:3") is not None
    final = await octopus.read(lambda: lib.get_photo(library.conn(), owner, view.id))
    assert final.tags == ["again"] and final.filename == FILENAME


async def test_vault_photos_appear_in_no_read_model(library: Library) -> None:
    octopus = library.octopus
    owner, token, data, view = await vaulted(library)
    # A near-identical copy (re-encoded) so the pair shows up under duplicates.
    twin = await library.upload(owner, reencoded(data), "twin.jpg")
    await octopus.photos.favourite(owner, view.id, True, Meta(actor=owner))
    album = await octopus.albums.create(owner, "Holiday", Meta(actor=owner))
    await octopus.albums.add(owner, album.id, [view.id, twin.id], Meta(actor=owner))

    def visible() -> dict[str, set[str]]:
        conn = library.conn()
        page = lib.timeline(conn, owner)
        return {
            "timeline": {p.id for d in page.days for p in d.photos},
            "tags": {p.id for p in lib.tag_photos(conn, owner, TAG).photos},
            "tag counts": {t.tag for t in lib.tags(conn, owner)} & {TAG},
            "favourites": {p.id for p in lib.favourites(conn, owner).photos},
            "memories": {p.id for m in lib.memories(conn, owner, date(2024, 5, 4)) for p in m.photos},
            "search": {p.id for p in search.search(conn, owner, q="VaultDescMarkerK4W").photos},
            "search by name": {p.id for p in search.search(conn, owner, q="VaultFileMarkerQ7Z").photos},
            "duplicates": {p.id for g in duplicates.groups(conn, owner) for p in g.photos},
            "album": {p.id for p in albums_rm.get(conn, owner, album.id).photos},
            "trash": {p.id for p in lib.trash(conn, owner)},
        }

    seen = visible()
    for name in ("timeline", "tags", "favourites", "memories", "search", "search by name", "duplicates", "album"):
        assert view.id in seen[name], (name, seen)
    assert seen["tag counts"] == {TAG}

    await octopus.vault.move_in(owner, view.id, token, Meta(actor=owner))
    seen = visible()
    for name, ids in seen.items():
        assert view.id not in ids and TAG not in ids, (name, ids)
    assert twin.id in seen["timeline"] and twin.id in seen["album"]
    with pytest.raises(NotFound):
        await octopus.read(lambda: lib.get_photo(library.conn(), owner, view.id))
    with pytest.raises(NotFound):  # the library's own routes do not serve it either
        await octopus.photos.derivative(owner, view.id, "thumb")
    # Library commands do not know it (a Conflict would confirm the id); trash cannot take it.
    with pytest.raises(NotFound):
        await octopus.photos.trash(owner, view.id, Meta(actor=owner))
    album_after = await octopus.read(lambda: albums_rm.get(library.conn(), owner, album.id))
    assert album_after.count == 1

    await octopus.vault.restore(owner, view.id, token, Meta(actor=owner))
    seen = visible()
    for name in ("timeline", "tags", "favourites", "search", "duplicates", "album"):
        assert view.id in seen[name], (name, seen)


# -- keys, tokens and passphrases ---------------------------------------------------------------------


async def test_wrong_passphrase_is_forbidden_then_rate_limited(library: Library) -> None:
    octopus = library.octopus
    owner = await library.user("carol")
    with pytest.raises(NotFound):
        await unlock(octopus, owner)
    await octopus.vault.create(owner, PASSPHRASE, Meta(actor=owner))
    with pytest.raises(Conflict):
        await octopus.vault.create(owner, "another passphrase", Meta(actor=owner))
    for _ in range(3):
        with pytest.raises(Forbidden):
            await octopus.vault.unlock(owner, "not the passphrase", session=SESSION, client="10.0.0.1")
    with pytest.raises(RateLimited) as limited:
        await octopus.vault.unlock(owner, PASSPHRASE, session=SESSION, client="10.0.0.2")
    assert limited.value.retry_after >= 1
    # The stored record holds no passphrase and is not the vault key itself.
    material = keystore.get(library.conn(), vault_key_id(owner))
    assert material is not None and PASSPHRASE.encode() not in material


async def test_tokens_are_per_user_and_expire(library: Library) -> None:
    octopus = library.octopus
    owner, token, _data, view = await vaulted(library)
    other = await library.user("bob")
    await octopus.vault.create(other, PASSPHRASE, Meta(actor=other))
    other_token = await unlock(octopus, other, session="bobs-session")
    await octopus.vault.move_in(owner, view.id, token, Meta(actor=owner))
    assert token.token is not None
    for bad in (None, VaultAccess(None, SESSION), VaultAccess("", SESSION), other_token,
                VaultAccess(token.token + "x", SESSION), VaultAccess(token.token, "another session"),
                VaultAccess(other_token.token, SESSION)):
        with pytest.raises(Forbidden):
            await octopus.vault.list(owner, bad)
    # Bob, even unlocked, cannot see Alice's vault photo: it is not his.
    with pytest.raises(NotFound):
        await octopus.vault.thumbnail(other, view.id, "thumb", other_token)
    assert (await octopus.vault.list(other, other_token)).photos == []
    thumb = await octopus.vault.thumbnail(owner, view.id, "thumb", token)
    assert Image.open(io.BytesIO(thumb)).format == "JPEG"
    real_clock = octopus.vault.tokens.clock
    octopus.vault.tokens.clock = lambda: real_clock() + octopus.config.auth.vault_token_minutes * 60 + 1
    with pytest.raises(Forbidden):
        await octopus.vault.thumbnail(owner, view.id, "thumb", token)


async def test_changing_the_passphrase_rewraps_only(library: Library) -> None:
    octopus = library.octopus
    owner, token, data, view = await vaulted(library)
    await octopus.vault.move_in(owner, view.id, token, Meta(actor=owner))
    sealed_before = (octopus.vault.photo_dir(owner, view.id) / "original").read_bytes()
    other_session = await unlock(octopus, owner, session="alices-phone")
    with pytest.raises(Forbidden):
        await octopus.vault.change_passphrase(owner, "wrong passphrase", "new passphrase 2", Meta(actor=owner))
    await octopus.vault.change_passphrase(owner, PASSPHRASE, "new passphrase 2", Meta(actor=owner), keep=token)
    # No photo was re-encrypted.
    assert (octopus.vault.photo_dir(owner, view.id) / "original").read_bytes() == sealed_before
    with pytest.raises(Forbidden):
        await unlock(octopus, owner)
    # The caller's own token survives; every other unlocked session ended.
    await octopus.vault.list(owner, token)
    with pytest.raises(Forbidden):
        await octopus.vault.list(owner, other_session)
    fresh = await unlock(octopus, owner, "new passphrase 2")
    size, plain, _ = await read_original(octopus, owner, view.id, fresh)
    assert size == len(data) and plain == data


# -- tampering -------------------------------------------------------------------------------------------


async def test_tampered_original_is_a_clear_error_never_bytes(library: Library) -> None:
    octopus = library.octopus
    owner, token, data, view = await vaulted(library)
    await octopus.vault.move_in(owner, view.id, token, Meta(actor=owner))
    original = octopus.vault.photo_dir(owner, view.id) / "original"
    flip(original, original.stat().st_size // 2)
    with pytest.raises(VaultDamaged) as damaged:
        await read_original(octopus, owner, view.id, token)
    assert "failed authentication" in damaged.value.detail
    with pytest.raises(VaultDamaged):
        await octopus.vault.restore(owner, view.id, token, Meta(actor=owner))
    # The failed restore left the photo where it was and wrote no plaintext anywhere.
    assert view.sha256 is not None
    assert not octopus.photos.blobs.original_path(view.sha256).exists()
    row = lib.photo_row(library.conn(), owner, view.id)
    assert row is not None and row[2] == "vault"
    assert [p.id for p in (await octopus.vault.list(owner, token)).photos] == [view.id]
    # Undo the flip: everything works again (the error was about the bytes, nothing else).
    flip(original, original.stat().st_size // 2)
    back = await octopus.vault.restore(owner, view.id, token, Meta(actor=owner))
    assert back.filename == FILENAME


async def test_tampered_thumbnail_and_metadata(library: Library) -> None:
    octopus = library.octopus
    owner, token, _data, view = await vaulted(library)
    await octopus.vault.move_in(owner, view.id, token, Meta(actor=owner))
    directory = octopus.vault.photo_dir(owner, view.id)
    flip(directory / "thumb", 40)
    with pytest.raises(VaultDamaged):
        await octopus.vault.thumbnail(owner, view.id, "thumb", token)
    flip(directory / "meta", (directory / "meta").stat().st_size - 3)
    with pytest.raises(VaultDamaged):
        await octopus.vault.photo(owner, view.id, token)
    # A damaged record does not hide the photo from its owner, who can still delete it.
    listed = await octopus.vault.list(owner, token)
    assert [(p.id, p.filename) for p in listed.photos] == [(view.id, None)]
    # Files swapped between photos fail too (each is bound to its photo id).
    second = await library.upload(owner, noisy_jpeg(99), "second.jpg")
    await octopus.vault.move_in(owner, second.id, token, Meta(actor=owner))
    other_dir = octopus.vault.photo_dir(owner, second.id)
    (other_dir / "preview").write_bytes((directory / "preview").read_bytes())
    with pytest.raises(VaultDamaged):
        await octopus.vault.thumbnail(owner, second.id, "preview", token)


# -- states and deletion ------------------------------------------------------------------------------------


async def test_only_library_photos_move_in(library: Library) -> None:
    octopus = library.octopus
    owner, token, _data, view = await vaulted(library)
    await octopus.photos.trash(owner, view.id, Meta(actor=owner))
    with pytest.raises(Conflict):
        await octopus.vault.move_in(owner, view.id, token, Meta(actor=owner))
    await octopus.photos.restore(owner, view.id, Meta(actor=owner))
    await octopus.vault.move_in(owner, view.id, token, Meta(actor=owner))
    with pytest.raises(Conflict):
        await octopus.vault.move_in(owner, view.id, token, Meta(actor=owner))
    with pytest.raises(NotFound):
        await octopus.vault.move_in(owner, "pdoesnotexist", token, Meta(actor=owner))
    other = await library.user("mallory")
    mine = await library.upload(other, noisy_jpeg(5), "m.jpg")
    with pytest.raises(NotFound):  # someone else's photo is unknown, whatever the token
        await octopus.vault.move_in(owner, mine.id, token, Meta(actor=owner))
    with pytest.raises(Forbidden):  # and without a live token nothing moves
        await octopus.vault.move_in(other, mine.id, None, Meta(actor=other))


async def test_shared_bytes_stay_for_the_other_photo(library: Library) -> None:
    octopus = library.octopus
    owner, token, data, view = await vaulted(library)
    other = await library.user("dave")
    theirs = await library.upload(other, data, "theirs.jpg")
    await octopus.vault.move_in(owner, view.id, token, Meta(actor=owner))
    path, _ = await octopus.photos.original(other, theirs.id)
    assert path.read_bytes() == data


async def test_purging_a_vault_photo_and_deleting_the_account_remove_vault_files(library: Library) -> None:
    octopus = library.octopus
    owner, token, _data, view = await vaulted(library)
    second = await library.upload(owner, noisy_jpeg(7), "second.jpg")
    await octopus.vault.move_in(owner, view.id, token, Meta(actor=owner))
    await octopus.vault.move_in(owner, second.id, token, Meta(actor=owner))
    assert octopus.vault.photo_dir(owner, view.id).is_dir()

    # Without the vault unlocked, a vault photo is unknown: deleting it needs its token.
    with pytest.raises(NotFound):
        await octopus.photos.purge(owner, view.id, Meta(actor=owner))
    with pytest.raises(Forbidden):
        await octopus.vault.purge(owner, view.id, VaultAccess(token.token, "another session"), Meta(actor=owner))
    assert octopus.vault.photo_dir(owner, view.id).is_dir()
    await octopus.vault.purge(owner, view.id, token, Meta(actor=owner))
    assert not octopus.vault.photo_dir(owner, view.id).exists()
    assert [p.id for p in (await octopus.vault.list(owner, token)).photos] == [second.id]

    await octopus.accounts.delete_user(owner, Meta(actor=owner))
    assert not (octopus.vault.root / owner).exists()
    assert keystore.get(library.conn(), vault_key_id(owner)) is None


async def test_listing_pages(library: Library) -> None:
    octopus = library.octopus
    owner, token, _data, view = await vaulted(library)
    ids = [view.id]
    for seed in range(20, 24):
        ids.append((await library.upload(owner, noisy_jpeg(seed, size=(64, 48)), f"p{seed}.jpg")).id)
    for photo_id in ids:
        await octopus.vault.move_in(owner, photo_id, token, Meta(actor=owner))
    seen: list[str] = []
    cursor = None
    while True:
        page = await octopus.vault.list(owner, token, cursor=cursor, limit=2)
        seen += [p.id for p in page.photos]
        assert len(page.photos) <= 2
        cursor = page.cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == len(ids)


async def test_orphaned_vault_folders_are_cleaned_but_live_ones_kept(library: Library) -> None:
    octopus = library.octopus
    owner, token, _data, view = await vaulted(library)
    await octopus.vault.move_in(owner, view.id, token, Meta(actor=owner))
    # As a crash between encrypting and committing would leave it: files, no vault photo.
    orphan = octopus.vault.photo_dir(owner, "pnotinthevault")
    orphan.mkdir(parents=True)
    (orphan / "original").write_bytes(b"ciphertext")
    assert octopus.vault.clean_orphans(older_than_s=3600) == 0  # too young: may be a move in progress
    assert octopus.vault.clean_orphans(older_than_s=-1) == 1
    assert not orphan.exists() and octopus.vault.photo_dir(owner, view.id).is_dir()


# -- without the token a vault photo does not exist; a token ends with its session -------------------


async def test_every_library_command_treats_a_vault_photo_as_unknown(library: Library) -> None:
    octopus = library.octopus
    owner, token, data, view = await vaulted(library)
    await octopus.vault.move_in(owner, view.id, token, Meta(actor=owner))
    meta = Meta(actor=owner)
    photos = octopus.photos
    commands = {
        "edit": lambda pid: photos.edit(owner, pid, description="x", taken_at=None, version=None, meta=meta),
        "redate": lambda pid: photos.edit(owner, pid, description=None, taken_at="2020-01-01", version=None, meta=meta),
        "tags": lambda pid: photos.set_tags(owner, pid, ["x"], meta),
        "favourite": lambda pid: photos.favourite(owner, pid, True, meta),
        "unfavourite": lambda pid: photos.favourite(owner, pid, False, meta),
        "trash": lambda pid: photos.trash(owner, pid, meta),
        "restore": lambda pid: photos.restore(owner, pid, meta),
        "purge": lambda pid: photos.purge(owner, pid, meta),
        "original": lambda pid: photos.original(owner, pid),
        "thumb": lambda pid: photos.derivative(owner, pid, "thumb"),
    }
    for name, command in commands.items():
        with pytest.raises(NotFound) as vaulted_error:
            await command(view.id)
        with pytest.raises(NotFound) as unknown_error:
            await command("p" + "0" * 20)
        assert vaulted_error.value.detail.replace(view.id, "ID") == unknown_error.value.detail.replace("p" + "0" * 20, "ID"), name
    # Untouched: still in the vault, whole.
    size, plain, inside = await read_original(octopus, owner, view.id, token)
    assert plain == data and inside.description == DESCRIPTION and inside.favourite is False


async def test_vault_tokens_end_with_lock_sign_out_password_change_and_account_deletion(library: Library) -> None:
    octopus = library.octopus
    owner, _token, _data, _view = await vaulted(library)
    accounts = octopus.accounts

    async def session() -> Any:
        token, _ = await accounts.login("alice1", password, device=None, client="127.0.0.1", meta=Meta())
        return await octopus.read(accounts.authenticate, token)

    password = "password123"
    a, b = await session(), await session()
    in_a = await unlock(octopus, owner, session=a.token_digest)
    in_b = await unlock(octopus, owner, session=b.token_digest)
    with pytest.raises(Forbidden):  # a token shown by the other session is no token
        await octopus.vault.list(owner, VaultAccess(in_a.token, b.token_digest))

    octopus.vault.lock(owner, a.token_digest)
    with pytest.raises(Forbidden):
        await octopus.vault.list(owner, in_a)
    await octopus.vault.list(owner, in_b)  # only the session that locked

    in_a = await unlock(octopus, owner, session=a.token_digest)
    await accounts.logout(b)
    with pytest.raises(Forbidden):
        await octopus.vault.list(owner, in_b)
    await octopus.vault.list(owner, in_a)

    await accounts.change_password(a, password, "another password", Meta(actor=owner))
    with pytest.raises(Forbidden):  # even the session that changed it
        await octopus.vault.list(owner, in_a)

    password = "another password"
    c = await session()
    await unlock(octopus, owner, session=c.token_digest)
    assert len(octopus.vault.tokens) == 1
    await accounts.delete_user(owner, Meta(actor=owner))
    assert len(octopus.vault.tokens) == 0


# -- ranges and the chunked format -------------------------------------------------------------------


async def test_a_range_of_a_vault_original_decrypts_only_what_it_covers(library: Library) -> None:
    octopus = library.octopus
    owner = await library.user("ranger")
    data = noisy_jpeg(5, size=(1600, 1200))
    view = await library.upload(owner, data, "big.jpg")
    await octopus.vault.create(owner, PASSPHRASE, Meta(actor=owner))
    token = await unlock(octopus, owner)
    await octopus.vault.move_in(owner, view.id, token, Meta(actor=owner))
    sealed = (octopus.vault.photo_dir(owner, view.id) / "original").read_bytes()
    assert sealed[:5] == b"OCTV\x02" and len(data) > 10 * 64 * 1024
    for first, length in [(0, len(data)), (len(data) // 2, 100_000), (len(data) - 1, 1), (70_000, 0)]:
        size, got, inside = await read_original(octopus, owner, view.id, token, first, length)
        assert size == len(data) and got == data[first:first + length] and inside.filename == "big.jpg"
    # A flipped byte far from the range does not stop it (chunks stand alone), but a flip
    # inside it is caught before any byte of the range is handed out.
    original = octopus.vault.photo_dir(owner, view.id) / "original"
    flip(original, 33 + 3 * (64 * 1024 + 16) + 5)  # in chunk 3
    _, tail, _ = await read_original(octopus, owner, view.id, token, 8 * 64 * 1024, 1000)
    assert tail == data[8 * 64 * 1024:8 * 64 * 1024 + 1000]
    with pytest.raises(VaultDamaged, match="chunk 3 failed authentication"):
        await read_original(octopus, owner, view.id, token, 3 * 64 * 1024 + 10, 10)
    # Past the all-or-nothing window a long span streams: genuine chunks, then a stop at the bad one.
    octopus.vault.all_or_nothing_bytes = 64 * 1024
    opened = await octopus.vault.open_original(owner, view.id, token)
    chunks = await octopus.vault.read_original(opened, 0, len(data))
    received = []
    with pytest.raises(VaultTampered, match="chunk 3"):
        for chunk in chunks:
            received.append(chunk)
    assert b"".join(received) == data[: 3 * 64 * 1024]


async def test_vault_photos_sealed_before_chunked_sealing_keep_opening(library: Library) -> None:
    """Vault files in format 1 (one secretstream each, as every vault held before) are read,
    served in ranges and restored; only new sealings use the chunked format."""
    octopus = library.octopus
    owner, token, data, view = await vaulted(library)
    await octopus.vault.move_in(owner, view.id, token, Meta(actor=owner))
    key = octopus.vault.key_for(owner, token)
    directory = octopus.vault.photo_dir(owner, view.id)
    for part in ("original", "thumb", "preview", "meta"):
        context = _context(owner, view.id, part)
        plain = decrypt_bytes((directory / part).read_bytes(), key, context=context)
        (directory / part).write_bytes(encrypt_bytes_v1(plain, key, context=context))
        assert (directory / part).read_bytes()[:5] == b"OCTV\x01"
    thumb = await octopus.vault.thumbnail(owner, view.id, "thumb", token)
    assert Image.open(io.BytesIO(thumb)).size[0] > 0
    assert (await octopus.vault.photo(owner, view.id, token)).description == DESCRIPTION
    size, whole, _ = await read_original(octopus, owner, view.id, token)
    assert size == len(data) and whole == data
    _, middle, _ = await read_original(octopus, owner, view.id, token, len(data) // 2, 5000)
    assert middle == data[len(data) // 2:len(data) // 2 + 5000]
    flip(directory / "original", (directory / "original").stat().st_size - 5)
    with pytest.raises(VaultDamaged, match="failed authentication"):
        await octopus.vault.open_original(owner, view.id, token)
    flip(directory / "original", (directory / "original").stat().st_size - 5)
    back = await octopus.vault.restore(owner, view.id, token, Meta(actor=owner))
    assert back.state == "library" and back.description == DESCRIPTION
    path, _ = await octopus.photos.original(owner, view.id)
    assert path.read_bytes() == data
