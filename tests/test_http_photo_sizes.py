"""The hi-DPI derivative sizes over real HTTP (issue 11): `thumb2x` (~512 px, the grid's srcset 2x)
and `large` (~2560 px, the viewer on a screen with more device pixels than the preview) are made
on first request, cached like previews, never larger than the original, upright, someone else's
photo is 404, an unknown size is a clear 422, and a permanent deletion removes their files."""

from __future__ import annotations

import hashlib
import io

from PIL import Image

from http_support import Server, User, assert_problem, image_bytes
from orientation_support import assert_upright, oriented_jpeg


def _derivative_file(server: Server, kind: str, sha: str) -> object:
    return server.data_dir / "blobs" / "derivatives" / kind / sha[:2] / f"{sha}.jpg"


def test_thumb2x_and_large_are_made_on_first_request_and_cached(server: Server, alice: User, bob: User) -> None:
    data = image_bytes(901, "JPEG", size=(3000, 2000), quality=80)
    r = alice.upload(data, "wide.jpg")
    assert r.status_code == 201, r.text
    photo = r.json()
    sha = hashlib.sha256(data).hexdigest()
    url = f"/api/photos/{photo['id']}/thumbnail"
    with alice.client() as c:
        for size, longest in (("thumb", 256), ("thumb2x", 512), ("preview", 1440), ("large", 2560)):
            path = _derivative_file(server, size, sha)
            if size != "thumb":
                assert not path.exists(), f"{size} made before anyone asked"  # type: ignore[attr-defined]
            t = c.get(url, params={"size": size})
            assert t.status_code == 200, t.text
            assert t.headers["content-type"] == "image/jpeg"
            assert t.headers["cache-control"] == "private, max-age=31536000, immutable"
            img = Image.open(io.BytesIO(t.content))
            assert max(img.size) == longest, (size, img.size)
            assert abs(img.width / img.height - 1.5) < 0.01
            assert path.is_file()  # type: ignore[attr-defined]
            again = c.get(url, params={"size": size}, headers={"If-None-Match": t.headers["etag"]})
            assert again.status_code == 304
        problem = assert_problem(c.get(url, params={"size": "huge"}), 422)
        assert "thumb2x" in problem["detail"] and "large" in problem["detail"]
    with bob.client() as c:
        assert_problem(c.get(url, params={"size": "thumb2x"}), 404)
        assert_problem(c.get(url, params={"size": "large"}), 404)


def test_a_small_original_is_never_enlarged_and_comes_upright(alice: User) -> None:
    r = alice.upload(oriented_jpeg(6, (640, 480)), "turned.jpg")
    assert r.status_code == 201, r.text
    photo = r.json()
    with alice.client() as c:
        for size in ("thumb2x", "large"):
            t = c.get(f"/api/photos/{photo['id']}/thumbnail", params={"size": size})
            assert t.status_code == 200, t.text
            # The upright scene is 640×480 (stored turned, orientation 6); large stays that size.
            assert_upright(t.content, (512, 384) if size == "thumb2x" else (640, 480), size)


def test_deleting_a_photo_removes_its_hidpi_sizes(server: Server, alice: User) -> None:
    data = image_bytes(902, "JPEG", size=(1800, 1200), quality=80)
    photo = alice.upload(data, "gone.jpg").json()
    sha = hashlib.sha256(data).hexdigest()
    with alice.client() as c:
        for size in ("thumb2x", "large", "preview"):
            assert c.get(f"/api/photos/{photo['id']}/thumbnail", params={"size": size}).status_code == 200
        assert all(_derivative_file(server, k, sha).is_file() for k in ("thumb", "thumb2x", "large", "preview"))  # type: ignore[attr-defined]
        assert c.delete(f"/api/photos/{photo['id']}").status_code in (200, 204)
        for kind in ("thumb", "thumb2x", "large", "preview"):
            assert not _derivative_file(server, kind, sha).exists(), kind  # type: ignore[attr-defined]
        assert_problem(c.get(f"/api/photos/{photo['id']}/thumbnail", params={"size": "thumb2x"}), 404)


def test_the_hidpi_sizes_share_the_preview_cap(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from octopus_events.media.blobstore import BlobStore

    store = BlobStore(tmp_path / "blobs", tmp_path / "tmp", preview_max_bytes=300)
    shas = [hashlib.sha256(str(n).encode()).hexdigest() for n in range(3)]
    store.put_derivative("thumb2x", shas[0], b"g" * 100)
    store.put_derivative("large", shas[1], b"l" * 100)
    store.put_derivative("preview", shas[2], b"p" * 100)
    store.open_derivative("thumb2x", shas[0]).close()  # the hi-DPI thumb is the most recent now
    store.put_derivative("large", shas[2], b"l" * 100)
    assert [store.has("thumb2x", shas[0]), store.has("large", shas[1]), store.has("preview", shas[2])] == [True, False, True]
    assert store.previews is not None and store.previews.total_bytes == 300
    store.put_derivative("thumb", shas[1], b"t" * 1000)  # made at upload: never evicted, not counted
    assert store.previews.total_bytes == 300
    reopened = BlobStore(tmp_path / "blobs", tmp_path / "tmp", preview_max_bytes=300)
    assert reopened.previews is not None and reopened.previews.total_bytes == 300 and len(reopened.previews) == 3
    reopened.delete_all(shas[2])
    assert reopened.previews.total_bytes == 100 and ("large", shas[2]) not in reopened.previews
