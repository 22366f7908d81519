"""`octopus backup` (incremental) and `octopus restore`, through the real CLI against a real server.

The drill: uploads keep running while a backup is taken; the backup is restored into a new data
dir, verified, served again, and every upload acknowledged before the backup began comes back
byte for byte.
"""

from __future__ import annotations

import hashlib
import subprocess
import threading
import time
from pathlib import Path

import pytest

from eventlog_support import child_env, octopus_cmd
from http_support import PASSWORD, Server, image_bytes


def octopus(data_dir: Path | None, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = child_env(**({"OCTOPUS_STORAGE_DATA_DIR": str(data_dir)} if data_dir else {}))
    return subprocess.run(octopus_cmd(*args), env=env, capture_output=True, text=True, timeout=timeout)


def one_line_failure(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith("restore: ")]
    assert len(lines) == 1 and lines[0].startswith("octopus: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def holds_bytes(root: Path, needle: bytes) -> bool:
    return any(needle in p.read_bytes() for p in files_under(root))


@pytest.fixture()
def server(tmp_path: Path):
    data = tmp_path / "library"
    data.mkdir()
    srv = Server(data).start()
    yield srv
    srv.stop()


def test_a_second_backup_copies_only_what_is_new_and_drops_what_was_deleted(server: Server, tmp_path: Path) -> None:
    user = server.new_user()
    kept = [user.upload(image_bytes(seed), f"kept{seed}.jpg").json()["id"] for seed in range(4)]
    doomed_bytes = image_bytes(99)
    doomed = user.upload(doomed_bytes, "doomed.jpg").json()["id"]
    dest = tmp_path / "usb" / "octopus"

    first = octopus(server.data_dir, "backup", str(dest))
    assert first.returncode == 0, first.stderr
    assert "backup (full)" in first.stdout and "the copy verifies" in first.stdout
    assert holds_bytes(dest / "blobs", doomed_bytes)

    with user.client() as c:
        assert c.delete(f"/api/photos/{doomed}").status_code == 204
    new = [user.upload(image_bytes(seed), f"new{seed}.jpg").json()["id"] for seed in (10, 11)]
    second = octopus(server.data_dir, "backup", str(dest))
    assert second.returncode == 0, second.stderr
    assert "backup (incremental)" in second.stdout
    # two new originals and their derivatives at most; the doomed photo's files removed
    copied = int(second.stdout.split("files: ")[1].split(" new")[0])
    assert 2 <= copied <= 8, second.stdout
    removed = int(second.stdout.split(" unchanged, ")[1].split(" removed")[0])
    assert removed >= 1, second.stdout
    assert not holds_bytes(dest, doomed_bytes)  # a backup refreshed after a deletion no longer holds it

    third = octopus(server.data_dir, "backup", str(dest))
    assert third.returncode == 0 and "files: 0 new" in third.stdout, third.stdout

    restored = tmp_path / "restored"
    result = octopus(None, "restore", str(dest), str(restored))
    assert result.returncode == 0, result.stderr
    assert "the library verifies" in result.stdout
    server.stop()
    again = Server(restored).start()
    try:
        with again.client() as c:
            token = c.post("/api/auth/login", json={"username": user.name, "password": PASSWORD})
        assert token.status_code == 200, token.text
        headers = {"Authorization": f"Bearer {token.json()['token']}"}
        with again.client(headers=headers) as c:
            for photo_id in kept + new:
                assert c.get(f"/api/photos/{photo_id}").status_code == 200
            assert c.get(f"/api/photos/{doomed}").status_code == 404
    finally:
        again.stop()


def test_a_backup_of_another_library_is_refused(server: Server, tmp_path: Path) -> None:
    server.new_user()
    other_data = tmp_path / "other"
    other_data.mkdir()
    other = Server(other_data).start()
    try:
        other.new_user()
    finally:
        other.stop()
    dest = tmp_path / "dest"
    assert octopus(other_data, "backup", str(dest)).returncode == 0
    one_line_failure(octopus(server.data_dir, "backup", str(dest)), "another library")


def test_restore_refuses_damaged_backups_and_leaves_nothing_behind(server: Server, tmp_path: Path) -> None:
    user = server.new_user()
    photo = user.upload(image_bytes(5), "five.jpg").json()
    with user.client() as c:
        assert c.get(f"/api/photos/{photo['id']}/thumbnail?size=thumb").status_code == 200
    dest = tmp_path / "backup"
    assert octopus(server.data_dir, "backup", str(dest)).returncode == 0

    target = tmp_path / "busy"
    target.mkdir()
    (target / "x").write_text("x")
    one_line_failure(octopus(None, "restore", str(dest), str(target)), "not empty")
    one_line_failure(octopus(None, "restore", str(tmp_path / "nowhere"), str(tmp_path / "r0")), "no backup")

    original = next(p for p in (dest / "blobs" / "originals").rglob("*") if p.is_file())
    saved = original.read_bytes()
    # The backup's file may be a hard link to the library's: replace it instead of writing into it.
    original.unlink()
    original.write_bytes(saved[:-1] + bytes([saved[-1] ^ 1]))
    one_line_failure(octopus(None, "restore", str(dest), str(tmp_path / "r1")), "damaged", original.name)
    assert not (tmp_path / "r1").exists() and not list(tmp_path.glob(".r1*"))
    original.unlink()
    original.write_bytes(saved)

    thumb = next(p for p in (dest / "blobs" / "derivatives").rglob("*") if p.is_file())
    data = thumb.read_bytes()
    thumb.unlink()
    thumb.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    one_line_failure(octopus(None, "restore", str(dest), str(tmp_path / "r2")), "damaged")
    assert not (tmp_path / "r2").exists()

    thumb.unlink()
    thumb.write_bytes(data)
    assert octopus(None, "restore", str(dest), str(tmp_path / "r3")).returncode == 0
    assert (tmp_path / "r3" / "blobs").is_dir()
    assert "ok:" in octopus(tmp_path / "r3", "verify").stdout
    assert original.read_bytes() == saved  # the library's own file was never touched through the link


def test_verify_names_a_missing_original(server: Server, tmp_path: Path) -> None:
    user = server.new_user()
    photo = user.upload(image_bytes(6), "six.jpg").json()
    server.stop()
    sha = photo["sha256"]
    (server.data_dir / "blobs" / "originals" / sha[:2] / sha).unlink()
    result = octopus(server.data_dir, "verify")
    assert result.returncode == 1
    assert f"photo {photo['id']}: its original" in result.stdout


@pytest.mark.slow
def test_drill_backup_while_uploads_run_then_restore_byte_exact(server: Server, tmp_path: Path) -> None:
    user = server.new_user()
    acknowledged: dict[str, bytes] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def uploader(start: int) -> None:
        seed = start
        with user.client() as c:
            while not stop.is_set():
                data = image_bytes(seed, size=(160, 120))
                r = c.post("/api/photos", files={"file": (f"d{seed}.jpg", data, "image/jpeg")})
                if r.status_code == 201:
                    with lock:
                        acknowledged[r.json()["id"]] = data
                seed += 2

    threads = [threading.Thread(target=uploader, args=(i,), daemon=True) for i in range(2)]
    for t in threads:
        t.start()
    while len(acknowledged) < 20:
        time.sleep(0.05)
    dest = tmp_path / "nightly"
    first = octopus(server.data_dir, "backup", str(dest))
    assert first.returncode == 0, first.stderr
    time.sleep(0.3)
    with lock:
        before_second = dict(acknowledged)
    second = octopus(server.data_dir, "backup", str(dest))  # incremental, uploads still running
    stop.set()
    for t in threads:
        t.join(30)
    assert second.returncode == 0 and "incremental" in second.stdout, second.stderr

    restored = tmp_path / "restored"
    result = octopus(None, "restore", str(dest), str(restored))
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "verified byte for byte" in result.stdout
    assert octopus(restored, "verify").returncode == 0
    server.stop()
    again = Server(restored).start()
    try:
        with again.client() as c:
            login = c.post("/api/auth/login", json={"username": user.name, "password": PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        with again.client(headers=headers) as c:
            for photo_id, data in before_second.items():
                r = c.get(f"/api/photos/{photo_id}/original")
                assert r.status_code == 200, photo_id
                assert hashlib.sha256(r.content).digest() == hashlib.sha256(data).digest()
    finally:
        again.stop()
    assert len(before_second) >= 20
