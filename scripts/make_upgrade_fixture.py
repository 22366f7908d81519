"""Make the upgrade fixture: a small data dir written by a release, and what its API answered.

    uv run python scripts/make_upgrade_fixture.py tests/fixtures/datadir-<version>

Run it with the code of the release the fixture stands for (for example from
`git archive <tag> | tar -x -C /tmp/release`, then `uv run python scripts/make_upgrade_fixture.py
OUT` there). It starts that release's `octopus serve` on 127.0.0.1 with a new data dir, fills it
over HTTP as a family would (two accounts, photos from the corpus and generated ones, a video,
tags, favourites, a description, an album, trash, a vault with a photo in it, a device), records
what the API answered in `expected.json`, stops the server and keeps the data dir, without its
logs and temp files. `tests/test_upgrade_fixture.py` then checks that the current code opens it,
rebuilds what changed and answers the same. Only HTTP is used, so the script runs against any
release.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "exif-samples" / "jpg"
PASSWORD = "contraseña segura 1"
VAULT_PASSPHRASE = "frase del baúl secreta"
CORPUS_FILES = ["Nikon_D70.jpg", "Canon_PowerShot_S40.jpg", "Kodak_CX7530.jpg"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def generated_jpeg(seed: int, taken: str) -> bytes:
    """A small JPEG with an EXIF date, made with Pillow."""
    import io

    from PIL import Image

    img = Image.new("RGB", (240, 160), (40 + seed * 30 % 200, 90, 160 - seed * 20 % 150))
    for x in range(0, 240, 12):
        for y in range(0, 160, 12):
            if (x // 12 + y // 12 + seed) % 3 == 0:
                img.putpixel((x, y), (255, 255, 255))
    exif = Image.Exif()
    exif[0x0132] = taken  # DateTime
    exif.get_ifd(0x8769)[0x9003] = taken  # DateTimeOriginal
    out = io.BytesIO()
    img.save(out, "JPEG", quality=80, exif=exif.tobytes())
    return out.getvalue()


def small_video() -> bytes:
    sys.path.insert(0, str(ROOT / "tests"))
    from video_support import clip_bytes  # PyAV

    return clip_bytes(seconds=1.0, fps=5, size=(160, 96))


class Client:
    def __init__(self, base: str, token: str) -> None:
        self.http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60)

    def ok(self, method: str, path: str, **kw: object) -> httpx.Response:
        r = self.http.request(method, path, **kw)  # type: ignore[arg-type]
        if r.status_code >= 400:
            raise SystemExit(f"{method} {path}: {r.status_code} {r.text}")
        return r

    def upload(self, data: bytes, name: str) -> dict:
        return self.ok("POST", "/api/photos", files={"file": (name, data, "application/octet-stream")}).json()

    def pages(self, path: str, key: str) -> list:
        items: list = []
        cursor = None
        while True:
            params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            body = self.ok("GET", path, params=params).json()
            items.extend(body[key])
            cursor = body.get("cursor")
            if not cursor:
                return items


def record(c: Client, vault_token: str | None) -> dict:
    """What the API answers for one user: the shapes a client relies on."""
    days = c.pages("/api/timeline", "days")
    photo_ids = [p["id"] for day in days for p in day["photos"]]
    trash = c.ok("GET", "/api/trash").json()
    trash_items = trash["photos"] if isinstance(trash, dict) else trash
    photos = {}
    for pid in photo_ids + [p["id"] for p in trash_items]:
        photo = c.ok("GET", f"/api/photos/{pid}").json()
        original = c.ok("GET", f"/api/photos/{pid}/original").content
        photo["original_sha256"] = hashlib.sha256(original).hexdigest()
        photos[pid] = photo
    albums = c.ok("GET", "/api/albums").json()
    album_list = albums["albums"] if isinstance(albums, dict) else albums
    out = {
        "timeline_ids": photo_ids,
        "months": c.ok("GET", "/api/timeline/months").json(),
        "tags": c.ok("GET", "/api/tags").json(),
        "favourites": [p["id"] for p in _items(c.ok("GET", "/api/favourites").json())],
        "trash": [p["id"] for p in trash_items],
        "albums": {a["id"]: c.ok("GET", f"/api/albums/{a['id']}").json() for a in album_list},
        "photos": photos,
        "storage": c.ok("GET", "/api/users/me/storage").json(),
        "devices": [d["name"] for d in c.ok("GET", "/api/devices").json()],
    }
    if vault_token:
        vault = c.ok("GET", "/api/vault/photos", headers={"X-Vault-Token": vault_token}).json()
        out["vault"] = [p["id"] for p in _items(vault)]
    return out


def _items(body: object) -> list:
    if isinstance(body, list):
        return body
    assert isinstance(body, dict)
    for key in ("photos", "items"):
        if key in body:
            return body[key]
    raise SystemExit(f"no list in {body}")


def main(out: Path) -> None:
    if out.exists():
        raise SystemExit(f"{out} exists; remove it first")
    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"upgrade-fixture-{os.getpid()}"
    data = work / "data"
    data.mkdir(parents=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCTOPUS_")}
    env.update(OCTOPUS_STORAGE_DATA_DIR=str(data), OCTOPUS_LOG_LEVEL="warning")
    server = subprocess.Popen([sys.executable, "-m", "octopus_events.cli", "serve", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        version = httpx.get(f"{base}/api/health").json()["version"]
        r = httpx.post(f"{base}/api/auth/register", json={"username": "ana", "password": PASSWORD})
        assert r.status_code == 201, r.text
        token = httpx.post(f"{base}/api/auth/login", json={"username": "ana", "password": PASSWORD}).json()["token"]
        ana = Client(base, token)
        ana.ok("POST", "/api/admin/users", json={"username": "beto", "password": PASSWORD})
        beto_token = httpx.post(f"{base}/api/auth/login", json={"username": "beto", "password": PASSWORD}).json()["token"]
        beto = Client(base, beto_token)
        ana.ok("PATCH", "/api/users/me", json={"display_name": "Ana García"})

        ids = [ana.upload((CORPUS / name).read_bytes(), name)["id"] for name in CORPUS_FILES]
        ids += [ana.upload(generated_jpeg(i, f"20{10 + i}:0{1 + i}:15 10:30:00"), f"IMG_{i:04}.JPG")["id"]
                for i in range(4)]
        video = ana.upload(small_video(), "VID_0001.MP4")
        ids.append(video["id"])
        ana.ok("PUT", f"/api/photos/{ids[0]}/tags", json={"tags": ["Playa", "familia"]})
        ana.ok("PUT", f"/api/photos/{ids[3]}/tags", json={"tags": ["familia"]})
        ana.ok("PUT", f"/api/photos/{ids[1]}/favourite")
        version_of = ana.ok("GET", f"/api/photos/{ids[2]}").json()["version"]
        ana.ok("PATCH", f"/api/photos/{ids[2]}", json={"description": "Cumpleaños de la abuela", "version": version_of})
        album = ana.ok("POST", "/api/albums", json={"name": "Vacaciones 2012"}).json()
        ana.ok("POST", f"/api/albums/{album['id']}/photos", json={"photo_ids": [ids[3], ids[4], ids[7]]})
        ana.ok("POST", f"/api/photos/{ids[5]}/trash")
        ana.ok("POST", "/api/vault", json={"passphrase": VAULT_PASSPHRASE})
        vault_token = ana.ok("POST", "/api/vault/unlock", json={"passphrase": VAULT_PASSPHRASE}).json()["vault_token"]
        ana.ok("POST", f"/api/photos/{ids[6]}/vault", headers={"X-Vault-Token": vault_token})
        ana.ok("POST", "/api/devices", json={"name": "Teléfono de Ana"})
        beto.upload(generated_jpeg(9, "2019:12:24 21:00:00"), "nochebuena.jpg")
        for pid in ids:  # derivatives as a browser would have asked for them
            ana.http.get(f"/api/photos/{pid}/thumbnail", params={"size": "thumb"})

        expected = {
            "made_by": version,
            "passwords": {"ana": PASSWORD, "beto": PASSWORD},
            "vault_passphrase": VAULT_PASSPHRASE,
            "users": {"ana": record(ana, vault_token), "beto": record(beto, None)},
        }
    finally:
        server.terminate()
        server.wait(30)
    for leftover in ("logs", "tmp"):
        shutil.rmtree(data / leftover, ignore_errors=True)
    for side in data.glob("octopus.db-*"):
        raise SystemExit(f"{side} left beside the database: the server did not stop cleanly")
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(data, out / "data")
    (out / "expected.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    shutil.rmtree(work)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"upgrade fixture of {version} in {out}: {size / 1024:.0f} KiB")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]))
