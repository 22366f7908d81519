"""BlobStore on a real temp directory: streaming, content addressing, deletion, preview cap."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from octopus_events.media import BlobNotFound, BlobStore


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs", tmp_path / "tmp")


def _upload(store: BlobStore, *chunks: bytes) -> str:
    incoming = store.new_upload()
    for chunk in chunks:
        incoming.write(chunk)
    return store.put_original(incoming)


def test_streamed_upload_is_stored_under_its_hash(store: BlobStore) -> None:
    chunks = [os.urandom(1000), os.urandom(70_000), b"tail"]
    incoming = store.new_upload()
    assert incoming.path.parent == store.tmp_dir and incoming.path.exists()
    for chunk in chunks:
        incoming.write(chunk)
    assert incoming.size == sum(map(len, chunks))
    with pytest.raises(RuntimeError):
        _ = incoming.sha256  # not final while the body is still open
    incoming.close()
    expected = hashlib.sha256(b"".join(chunks)).hexdigest()
    assert incoming.sha256 == expected
    sha = store.put_original(incoming)
    assert sha == expected
    assert store.original_path(sha) == store.root / "originals" / sha[:2] / sha
    assert store.original_path(sha).read_bytes() == b"".join(chunks)
    assert store.has("original", sha)
    assert list(store.tmp_dir.iterdir()) == []
    with store.open_original(sha) as fp:
        assert fp.read(1000) == chunks[0]


def test_same_bytes_twice_keep_one_file(store: BlobStore) -> None:
    first = _upload(store, b"same photo")
    again = store.new_upload()
    again.write(b"same photo")
    assert store.put_original(again) == first
    assert not again.path.exists()
    assert list(store.iter_originals()) == [first]
    assert list(store.tmp_dir.iterdir()) == []


def test_context_manager_discards_on_error(store: BlobStore) -> None:
    with pytest.raises(ZeroDivisionError):
        with store.new_upload() as incoming:
            incoming.write(b"partial body")
            path = incoming.path
            1 / 0
    assert not path.exists()
    incoming.discard()  # idempotent
    with pytest.raises(ValueError):
        incoming.write(b"more")


def test_context_manager_keeps_a_good_upload(store: BlobStore) -> None:
    with store.new_upload() as incoming:
        incoming.write(b"ok")
    assert incoming.path.exists()
    assert store.put_original(incoming) == hashlib.sha256(b"ok").hexdigest()


def test_uploads_get_distinct_temp_files(store: BlobStore) -> None:
    a, b = store.new_upload(), store.new_upload()
    assert a.path != b.path
    a.discard()
    b.discard()


def test_derivatives_and_delete_all(store: BlobStore) -> None:
    sha = _upload(store, b"original bytes")
    thumb = store.put_derivative("thumb", sha, b"thumb jpeg")
    preview = store.put_derivative("preview", sha, b"preview jpeg")
    assert thumb == store.derivative_path("thumb", sha) == store.root / "derivatives" / "thumb" / sha[:2] / f"{sha}.jpg"
    assert preview.read_bytes() == b"preview jpeg"
    assert store.has("thumb", sha) and store.has("preview", sha)
    store.put_derivative("thumb", sha, b"re-rendered")  # derivatives are caches: replace freely
    with store.open_derivative("thumb", sha) as fp:
        assert fp.read() == b"re-rendered"
    other = _upload(store, b"another photo")
    store.put_derivative("thumb", other, b"other thumb")

    store.delete_all(sha)
    assert not store.has("original", sha) and not store.has("thumb", sha) and not store.has("preview", sha)
    store.delete_all(sha)  # idempotent
    assert list(store.iter_originals()) == [other]
    assert store.has("thumb", other)
    with pytest.raises(BlobNotFound):
        store.open_original(sha)
    with pytest.raises(FileNotFoundError):  # BlobNotFound is a FileNotFoundError
        store.open_derivative("preview", sha)
    assert list(store.tmp_dir.iterdir()) == []


@pytest.mark.parametrize("bad", ["../../etc/passwd", "ABC", "a" * 63, "g" * 64, "A" * 64])
def test_hashes_cannot_escape_the_root(store: BlobStore, bad: str) -> None:
    with pytest.raises(ValueError):
        store.original_path(bad)
    with pytest.raises(ValueError):
        store.put_derivative("thumb", bad, b"x")


@pytest.mark.parametrize("kind", ["../x", "", "original", "Thumb", "a/b"])
def test_kinds_are_checked(store: BlobStore, kind: str) -> None:
    with pytest.raises(ValueError):
        store.derivative_path(kind, "a" * 64)


def test_clean_tmp_spares_recent_files(store: BlobStore) -> None:
    old = store.tmp_dir / "upload-crashed.part"
    old.write_bytes(b"left by a crash")
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    live = store.new_upload()
    live.write(b"still streaming")
    assert store.clean_tmp(older_than_s=600) == 1
    assert not old.exists() and live.path.exists()
    live.discard()


def test_iter_originals_ignores_strays(store: BlobStore) -> None:
    sha = _upload(store, b"x")
    (store.root / "originals" / sha[:2] / "notes.txt").write_text("stray")
    assert list(store.iter_originals()) == [sha]
    assert list(BlobStore(store.root / "empty", store.tmp_dir).iter_originals()) == []


def _sha(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


def test_preview_cache_evicts_least_recently_used(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs", tmp_path / "tmp", preview_max_bytes=300)
    shas = [_sha(n) for n in range(4)]
    for sha in shas[:3]:
        store.put_derivative("preview", sha, b"p" * 100)
    assert store.previews is not None and store.previews.total_bytes == 300
    store.open_derivative("preview", shas[0]).close()  # 0 becomes the most recently used
    store.put_derivative("preview", shas[3], b"p" * 100)
    assert [store.has("preview", sha) for sha in shas] == [True, False, True, True]
    assert store.previews.total_bytes == 300
    store.put_derivative("thumb", shas[1], b"t" * 1000)  # thumbs are not capped
    assert store.has("thumb", shas[1]) and store.previews.total_bytes == 300
    store.delete_all(shas[2])
    assert store.previews.total_bytes == 200 and shas[2] not in store.previews


def test_preview_cache_seeds_from_mtimes(tmp_path: Path) -> None:
    first = BlobStore(tmp_path / "blobs", tmp_path / "tmp")
    shas = [_sha(n) for n in range(3)]
    for age, sha in zip((30, 10, 20), shas, strict=True):
        path = first.put_derivative("preview", sha, b"p" * 100)
        stamp = time.time() - age
        os.utime(path, (stamp, stamp))
    reopened = BlobStore(tmp_path / "blobs", tmp_path / "tmp", preview_max_bytes=200)
    assert reopened.previews is not None and len(reopened.previews) == 3
    reopened.put_derivative("preview", _sha(9), b"p" * 50)
    # Oldest by mtime first: shas[0] (30 s) then shas[2] (20 s) go; shas[1] (10 s) stays.
    assert [reopened.has("preview", sha) for sha in shas] == [False, True, False]
    assert reopened.previews.total_bytes == 150


def test_a_single_oversized_preview_is_kept(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs", tmp_path / "tmp", preview_max_bytes=10)
    store.put_derivative("preview", _sha(1), b"p" * 100)
    assert store.has("preview", _sha(1))
