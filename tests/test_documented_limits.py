"""What docs/admin.md and config.example.toml promise, each against a real `octopus serve` or the
real CLI: the disk reserve (507), the default quota, a private data dir, tmp/ cleaned at start,
/metrics in Prometheus text format, and Takeout's bin left out of an import."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from PIL import Image

from http_support import PASSWORD, Server, User, assert_problem, image_bytes

MiB = 1024 * 1024


def poll(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what}: not met within {timeout} s")


def noisy_jpeg(seed: int, size: tuple[int, int]) -> bytes:
    """A JPEG of random noise: incompressible, so its size is roughly known in advance."""
    rng = random.Random(seed)
    img = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


# -- servers: one on a fresh data dir, one on a data dir a crash left behind -----------------------

STALE, FRESH = "upload-crashed.part", "upload-streaming.part"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    # A: the data dir does not exist yet; new accounts get a 1 MB quota.
    fresh = Server(tmp_path_factory.mktemp("fresh") / "data", env={
        "OCTOPUS_AUTH_REGISTRATION": "open", "OCTOPUS_STORAGE_DEFAULT_QUOTA_MB": "1",
    })
    # B: a data dir with two temp files in tmp/, and a disk reserve larger than the free space.
    crashed = Server(tmp_path_factory.mktemp("crashed") / "data")
    tmp = crashed.data_dir / "tmp"
    tmp.mkdir(parents=True)
    (tmp / STALE).write_bytes(b"half a photo from before the crash")
    two_hours_ago = time.time() - 7200
    os.utime(tmp / STALE, (two_hours_ago, two_hours_ago))
    (tmp / FRESH).write_bytes(b"an upload that is still arriving")  # e.g. `octopus import` running meanwhile
    free_mb = shutil.disk_usage(tmp).free // MiB
    crashed.env["OCTOPUS_STORAGE_MIN_FREE_MB"] = str(free_mb + 1024)  # the disk is "full": a real check
    umask = os.umask(0o022)  # the usual one, under which a plain mkdir makes 0755
    try:
        fresh.launch()
        crashed.launch()
        os.umask(umask)
        fresh.wait_ready()
        crashed.wait_ready()
        yield fresh, crashed
    finally:
        os.umask(umask)
        fresh.stop()
        crashed.stop()


def storage(user: User) -> dict[str, int]:
    with user.client() as c:
        r = c.get("/api/users/me/storage")
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]


def test_the_data_dir_is_created_private(servers: tuple[Server, Server]) -> None:
    fresh, _ = servers
    # "On POSIX the directory is created with mode 0700", although the server started under umask 022.
    assert stat.S_IMODE(fresh.data_dir.stat().st_mode) == 0o700
    assert {p.name for p in fresh.data_dir.iterdir()} >= {"octopus.db", "blobs", "tmp", "logs"}


def test_stale_temp_files_are_removed_at_start_and_live_ones_kept(servers: tuple[Server, Server]) -> None:
    _, crashed = servers
    # "tmp/: uploads while they stream; cleaned at start": one left for two hours is abandoned,
    # one written a moment ago may still be streaming.
    poll(lambda: STALE not in crashed.tmp_files(), what="the stale temp file removed")
    assert crashed.tmp_files() == [FRESH]


def test_an_upload_beyond_the_disk_reserve_is_refused_with_507(servers: tuple[Server, Server]) -> None:
    _, crashed = servers
    assert crashed.register("owner").status_code == 201
    owner = crashed.sign_in("owner")
    body = assert_problem(owner.upload(image_bytes(1)), 507)
    assert "disk" in body["detail"]
    assert storage(owner)["photos"] == 0
    assert STALE not in crashed.tmp_files() and crashed.tmp_files() == [FRESH]  # nothing half-stored


def test_the_default_quota_applies_to_every_new_account_and_is_enforced(servers: tuple[Server, Server]) -> None:
    fresh, _ = servers
    assert fresh.register("founder").status_code == 201  # the first account: the admin
    founder = fresh.sign_in("founder")
    assert founder.info["admin"] is True
    assert fresh.register("cousin").status_code == 201  # registration is open here
    with founder.client() as c:
        r = c.post("/api/admin/users", json={"username": "grandma", "password": PASSWORD})
        assert r.status_code == 201, r.text
        r = c.post("/api/admin/users", json={"username": "uncle", "password": PASSWORD, "quota_bytes": 5 * MiB})
        assert r.status_code == 201, r.text
    cousin, grandma, uncle = (fresh.sign_in(n) for n in ("cousin", "grandma", "uncle"))
    for user in (founder, cousin, grandma):
        assert storage(user)["quota_bytes"] == 1 * MiB, user.name
    assert storage(uncle)["quota_bytes"] == 5 * MiB  # an explicit quota wins over the default

    first, second = noisy_jpeg(1, (1000, 750)), noisy_jpeg(2, (1000, 750))
    assert 0.4 * MiB < len(first) and len(first) + len(second) > MiB > len(first), (len(first), len(second))
    assert grandma.upload(first).status_code == 201
    body = assert_problem(grandma.upload(second), 413)
    assert "quota" in body["detail"]
    assert storage(grandma)["bytes"] == len(first)
    assert uncle.upload(first).status_code == 201 and uncle.upload(second).status_code == 201


# -- /metrics -------------------------------------------------------------------------------------

# Prometheus text exposition format 0.0.4: comment lines, then `name{label="value",...} value`.
_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
_SAMPLE = re.compile(rf"^({_NAME})(\{{{_LABEL}(?:,{_LABEL})*\}})? (-?[0-9.e+-]+|NaN|[+-]Inf)$")
_HELP = re.compile(rf"^# HELP ({_NAME}) \S.*$")
_TYPE = re.compile(rf"^# TYPE ({_NAME}) (counter|gauge|histogram|summary|untyped)$")


def scrape(server: Server) -> dict[str, float]:
    """GET /metrics as a local Prometheus would (no credentials); checks the format strictly and
    returns every sample by its name and labels."""
    with server.client() as c:
        r = c.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert r.text.endswith("\n")
    typed: dict[str, str] = {}
    samples: dict[str, float] = {}
    for line in r.text.splitlines():
        if m := _TYPE.match(line):
            assert m.group(1) not in typed, f"TYPE given twice: {line}"
            typed[m.group(1)] = m.group(2)
        elif line.startswith("#"):
            assert _HELP.match(line), f"not a HELP or TYPE line: {line!r}"
        else:
            m = _SAMPLE.match(line)
            assert m, f"not a sample line: {line!r}"
            assert m.group(1) in typed, f"sample before its TYPE: {line!r}"
            key = m.group(1) + (m.group(2) or "")
            assert key not in samples, f"sample given twice: {line!r}"
            samples[key] = float(m.group(3))
    return samples


def test_metrics_are_prometheus_text_and_move_with_an_upload(servers: tuple[Server, Server]) -> None:
    fresh, _ = servers
    before = scrape(fresh)
    # docs/admin.md: the log head, projection lag, photo counts and process RSS.
    assert {"octopus_log_head", 'octopus_photos{state="library"}', 'octopus_photos{state="trash"}',
            'octopus_photos{state="vault"}', "process_resident_memory_bytes"} <= set(before)
    lags = {k: v for k, v in before.items() if k.startswith("octopus_projection_lag{")}
    assert any('name="timeline"' in k or 'name="library"' in k for k in lags), lags
    assert all(v >= 0 for v in lags.values())
    assert before["process_resident_memory_bytes"] > 10 * MiB

    assert fresh.register("metered").status_code == 201
    metered = fresh.sign_in("metered")
    assert metered.upload(image_bytes(77)).status_code == 201
    after = poll(lambda: (s := scrape(fresh))['octopus_photos{state="library"}']
                 > before['octopus_photos{state="library"}'] and s, what="the photo count to move")
    assert after['octopus_photos{state="library"}'] == before['octopus_photos{state="library"}'] + 1
    assert after["octopus_log_head"] > before["octopus_log_head"]


# -- Takeout's bin ----------------------------------------------------------------------------------


def cli(data: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCTOPUS_")}
    env["OCTOPUS_STORAGE_DATA_DIR"] = str(data)
    return subprocess.run([sys.executable, "-m", "octopus_events.cli", *args], input=stdin, capture_output=True,
                          text=True, env=env, timeout=120)


def put(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def sidecar(title: str) -> str:
    return json.dumps({"title": title, "photoTakenTime": {"timestamp": "1590000000"}, "favorited": True})


def test_takeout_import_leaves_out_the_bin_in_any_language(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert cli(data, "users", "add", "mum", "--password-stdin", stdin="a long password\n").returncode == 0
    root = tmp_path / "export"
    kept = put(root / "Takeout" / "Google Photos" / "Photos from 2020" / "IMG_0001.jpg", image_bytes(1))
    put(kept.with_name("IMG_0001.jpg.json"), sidecar("IMG_0001.jpg"))
    binned = []
    # An English (US and UK), German, French, Spanish, Italian and Dutch account's bin.
    for n, (container, folder) in enumerate([
        ("Google Photos", "Trash"), ("Google Photos", "Bin"), ("Google Fotos", "Papierkorb"),
        ("Google Photos", "Corbeille"), ("Google Fotos", "Papelera"), ("Google Foto", "Cestino"),
        ("Google Foto's", "Prullenbak"),
    ], 2):
        photo = put(root / f"Takeout-{n}" / container / folder / f"IMG_{n:04d}.jpg", image_bytes(n))
        put(photo.with_name(f"IMG_{n:04d}.jpg.json"), sidecar(photo.name))
        put(photo.with_name("metadata.json"), json.dumps({"title": folder}))
        binned.append(photo)

    done = cli(data, "import", str(root), "--user", "mum", "--takeout")
    assert done.returncode == 0, done.stderr
    assert f"1 imported, 0 already there, {len(binned)} skipped (not photos), 0 failed" in done.stdout, done.stdout
    assert "albums created: 0" in done.stdout or "albums created" not in done.stdout, done.stdout

    conn = sqlite3.connect(data / "octopus.db")
    try:
        stored = {row[0] for row in conn.execute("SELECT sha256 FROM photo")}
        albums = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'album'").fetchone()[0]
        album_count = conn.execute("SELECT count(*) FROM album").fetchone()[0] if albums else 0
    finally:
        conn.close()
    assert stored == {hashlib.sha256(kept.read_bytes()).hexdigest()}
    assert album_count == 0  # a bin is not an album, whatever its metadata.json calls it
