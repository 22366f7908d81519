"""The UI's files go gzipped; the API does not (web/app.py `compression_config`).

A phone's first load of the app shell is what the issue budgets (≤ 200 KB compressed), and it
only holds when the server compresses. Originals, thumbnails and Range answers must not be.
"""

from __future__ import annotations

import gzip

import httpx

from http_support import Server, image_bytes
from octopus_events.resources import data_path

SHELL = ["/", "/app.js", "/style.css"]


def raw_get(server: Server, path: str, **headers: str) -> httpx.Response:
    # httpx decodes gzip by itself; read the bytes as they came over the wire.
    with httpx.Client(base_url=server.url, headers={"Accept-Encoding": "gzip", **headers}) as c:
        with c.stream("GET", path) as r:
            r.wire = b"".join(r.iter_raw())  # type: ignore[attr-defined]
            return r


def test_the_app_shell_is_sent_gzipped(server: Server) -> None:
    total_wire = total_plain = 0
    for path in SHELL:
        r = raw_get(server, path)
        assert r.status_code == 200
        assert r.headers.get("content-encoding") == "gzip", path
        plain = gzip.decompress(r.wire)  # type: ignore[attr-defined]
        name = "index.html" if path == "/" else path.lstrip("/")
        assert plain == (data_path("webroot") / name).read_bytes()
        assert "accept-encoding" in r.headers.get("vary", "").lower()
        total_wire += len(r.wire)  # type: ignore[attr-defined]
        total_plain += len(plain)
    assert total_wire < total_plain / 2
    # Without Accept-Encoding the same files come plain.
    with httpx.Client(base_url=server.url, headers={"Accept-Encoding": "identity"}) as c:
        assert "content-encoding" not in c.get("/app.js").headers


def test_the_api_and_originals_are_not_compressed(server: Server) -> None:
    user = server.new_user()
    data = image_bytes(7, size=(640, 480))
    photo_id = user.upload(data).json()["id"]
    auth = {"Authorization": f"Bearer {user.token}"}
    for path in ("/api/timeline", f"/api/photos/{photo_id}", f"/api/photos/{photo_id}/original"):
        r = raw_get(server, path, **auth)
        assert r.status_code == 200 and "content-encoding" not in r.headers, path
    r = raw_get(server, f"/api/photos/{photo_id}/original", Range="bytes=10-99", **auth)
    assert r.status_code == 206 and "content-encoding" not in r.headers
    assert r.wire == data[10:100]  # type: ignore[attr-defined]
