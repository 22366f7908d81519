"""Upgrades without migrations: data dirs written by earlier releases open, rebuild what changed,
and serve the same items.

Each `tests/fixtures/datadir-<version>/` holds a data dir exactly as that release left it and
`expected.json`, what its API answered (made by scripts/make_upgrade_fixture.py with that
release's code). The current code is started on a copy, must bring every projection up to date
by itself (changed projections rebuild from the log), and must answer every field the old release
answered with the same value; fields added since are allowed. Originals come back byte for byte.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from eventlog_support import child_env, octopus_cmd
from http_support import Server

FIXTURES = sorted((Path(__file__).parent / "fixtures").glob("datadir-*"))
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "make_upgrade_fixture.py"


def _recorder() -> Any:
    spec = importlib.util.spec_from_file_location("make_upgrade_fixture", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def same_or_more(expected: Any, actual: Any, where: str) -> None:
    """`actual` says everything `expected` said (dicts may have gained keys)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: {actual!r} is no object"
        for key, value in expected.items():
            assert key in actual, f"{where}.{key} is gone"
            same_or_more(value, actual[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{where}: {actual!r} != {expected!r}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            same_or_more(e, a, f"{where}[{i}]")
    else:
        assert actual == expected, f"{where}: {actual!r}, was {expected!r}"


def test_there_is_a_fixture_of_a_release() -> None:
    assert FIXTURES, "tests/fixtures/datadir-<version>/ is missing"


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.name for f in FIXTURES])
def test_a_data_dir_of_an_earlier_release_opens_and_serves_the_same_items(fixture: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(fixture / "data", data)
    expected = json.loads((fixture / "expected.json").read_text())
    recorder = _recorder()
    server = Server(data).start()
    try:
        admin = httpx.post(f"{server.url}/api/auth/login", timeout=30,
                           json={"username": "ana", "password": expected["passwords"]["ana"]}).json()["token"]
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {admin}"}, timeout=30) as c:
            deadline = time.monotonic() + 60
            while True:  # changed projections rebuild in the background: wait until all are current
                status = c.get("/api/admin/projections").json()
                if all(p["lag"] == 0 and p["state"] not in ("rebuilding", "missing", "failed") for p in status):
                    break
                assert time.monotonic() < deadline, status
                time.sleep(0.2)
        now = datetime.now(timezone.utc)
        for name, was in expected["users"].items():
            token = httpx.post(f"{server.url}/api/auth/login", timeout=30,
                               json={"username": name, "password": expected["passwords"][name]}).json()["token"]
            client = recorder.Client(server.url, token)
            vault_token = None
            if "vault" in was:
                vault_token = client.ok("POST", "/api/vault/unlock",
                                        json={"passphrase": expected["vault_passphrase"]}).json()["vault_token"]
            # A trashed photo whose retention ran out since the fixture was made is purged on open.
            for photo_id in list(was["trash"]):
                purge_at = datetime.fromisoformat(was["photos"][photo_id]["purge_at"])
                if purge_at <= now:
                    assert client.http.get(f"/api/photos/{photo_id}").status_code == 404
                    was["trash"].remove(photo_id)
                    del was["photos"][photo_id]
                    was["storage"] = {}
            now_is = recorder.record(client, vault_token)
            was_devices, now_devices = set(was.pop("devices")), set(now_is.pop("devices"))
            assert was_devices <= now_devices, (was_devices, now_devices)
            same_or_more(was, now_is, name)
            for photo in was["photos"].values():
                assert photo["original_sha256"] == photo["sha256"]
                assert client.http.get(f"/api/photos/{photo['id']}/thumbnail", params={"size": "thumb"}).status_code == 200
    finally:
        server.stop()
    verify = subprocess.run(octopus_cmd("verify"), env=child_env(OCTOPUS_STORAGE_DATA_DIR=str(data)),
                            capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    # The fixture itself is never written: a copy is what ran.
    assert not list((fixture / "data").glob("octopus.db-*"))
