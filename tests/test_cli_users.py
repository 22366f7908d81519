"""`octopus users` and `octopus gc` through real subprocesses on a real data dir."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def octopus(data: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OCTOPUS_STORAGE_DATA_DIR": str(data)}
    env.pop("OCTOPUS_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "octopus_events.cli", *args], input=stdin, capture_output=True,
                          text=True, env=env, timeout=60)


def test_users_lifecycle(tmp_path: Path) -> None:
    data = tmp_path / "data"
    added = octopus(data, "users", "add", "alice", "--admin", "--password-stdin", stdin="alice-password\n")
    assert added.returncode == 0, added.stderr
    assert "created alice (admin)" in added.stdout
    assert octopus(data, "users", "add", "bob", "--password-stdin", stdin="bob-password\n").returncode == 0
    taken = octopus(data, "users", "add", "BOB", "--password-stdin", stdin="bob-password\n")
    assert taken.returncode == 1 and "taken" in taken.stderr and len(taken.stderr.strip().splitlines()) == 1
    short = octopus(data, "users", "add", "carol", "--password-stdin", stdin="short\n")
    assert short.returncode == 1 and "password" in short.stderr and "Traceback" not in short.stderr
    listed = octopus(data, "users", "list")
    assert listed.returncode == 0
    lines = listed.stdout.splitlines()
    assert any(line.startswith("alice") and "admin" in line for line in lines)
    assert any(line.startswith("bob") and "user" in line for line in lines)
    assert octopus(data, "users", "passwd", "bob", "--password-stdin", stdin="another-password\n").returncode == 0
    refused = octopus(data, "users", "delete", "bob")
    assert refused.returncode == 1 and "--yes" in refused.stderr
    assert octopus(data, "users", "delete", "bob", "--yes").returncode == 0
    assert "bob" not in octopus(data, "users", "list").stdout
    missing = octopus(data, "users", "delete", "nobody", "--yes")
    assert missing.returncode == 1 and "no user named" in missing.stderr


def test_password_change_from_cli_works_for_login(tmp_path: Path) -> None:
    import asyncio

    from octopus_events.application import Octopus
    from octopus_events.config import Config, StorageConfig
    from octopus_events.errors import Unauthorized
    from octopus_events.eventstore import Meta

    data = tmp_path / "data"
    assert octopus(data, "users", "add", "dora", "--password-stdin", stdin="first-password\n").returncode == 0
    assert octopus(data, "users", "passwd", "dora", "--password-stdin", stdin="second-password\n").returncode == 0
    lib = Octopus(Config(storage=StorageConfig(data_dir=str(data)))).open()
    try:
        token, user = asyncio.run(lib.accounts.login("dora", "second-password", device="t", client="c", meta=Meta()))
        assert user.username == "dora" and token
        with pytest.raises(Unauthorized):
            asyncio.run(lib.accounts.login("dora", "first-password", device="t", client="c2", meta=Meta()))
    finally:
        lib.close()


def test_gc_reports_and_removes_orphans(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert octopus(data, "users", "add", "erin", "--password-stdin", stdin="erin-password\n").returncode == 0
    orphan = data / "blobs" / "originals" / "ab" / ("ab" + "0" * 62)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"left by a crash")
    os.utime(orphan, (1, 1))  # older than an hour
    fresh = data / "blobs" / "originals" / "cd" / ("cd" + "1" * 62)
    fresh.parent.mkdir(parents=True, exist_ok=True)
    fresh.write_bytes(b"an upload in flight")
    stale_tmp = data / "tmp" / "upload-x.part"
    stale_tmp.write_bytes(b"x")
    os.utime(stale_tmp, (1, 1))
    result = octopus(data, "gc")
    assert result.returncode == 0, result.stderr
    assert "removed 1 orphan blobs and 1 temp files" in result.stdout
    assert not orphan.exists() and fresh.exists() and not stale_tmp.exists()
