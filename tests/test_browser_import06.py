"""What an Octopus Photos 0.6.1 user finds in the browser after `octopus import --from-octopus-0.6`
of the real 0.6.1 fixture: signed in with the old password, the albums with their descriptions
and members, the trash. Real Chromium at 1440x900 against a real `octopus serve`."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from desktop_support import chromium, desk, expect
from http_support import Server

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "octopus-0.6.1"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("import06-ui")
    source = root / "octopus-0.6"
    shutil.copytree(FIXTURE, source)
    data = root / "library"
    child = {k: v for k, v in os.environ.items() if not k.startswith("OCTOPUS_")}
    r = subprocess.run([sys.executable, "-m", "octopus_events.cli", "import", str(source), "--from-octopus-0.6"],
                       capture_output=True, text=True, env={**child, "OCTOPUS_STORAGE_DATA_DIR": str(data)}, timeout=180)
    assert "photos: 7 imported" in r.stdout, r.stdout + r.stderr
    with chromium() as browser:
        server = Server(data).start()
        try:
            yield {"browser": browser, "server": server, "db": data / "octopus.db"}
        finally:
            server.stop()


def read(db: Path, sql: str, *args: Any) -> list[tuple]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def test_albums_show_their_0_6_descriptions_and_members(env: dict[str, Any]) -> None:
    albums = {name: album_id for album_id, name in read(env["db"], "SELECT id, name FROM album")}
    [(ana_id,)] = read(env["db"], "SELECT id FROM app_user WHERE username = 'ana'")
    [(before,)] = read(env["db"], "SELECT material FROM keystore WHERE key_id = ?", f"password:{ana_id}")
    assert bytes(before).startswith(b"$2b$12$")
    with desk(env["browser"], env["server"], url=f"/#/albums/{albums['Summer 2008']}") as d:
        # Signed in through the form with the 0.6 password (its bcrypt hash, replaced at the first sign-in).
        expect(d.tid("login-form")).to_be_visible()
        d.tid("login-username").fill("ana")
        d.tid("login-password").fill("ana-old-password")
        d.tid("login-submit").click()
        expect(d.tid("album-description")).to_have_text("Lake and travel")
        expect(d.page.locator("h2")).to_have_text("Summer 2008")
        expect(d.tid("photo-tile")).to_have_count(2)  # the third member, blurry.jpg, is in the trash
        d.go(f"#/albums/{albums['Drawings']}")
        expect(d.page.locator("h2")).to_have_text("Drawings")
        expect(d.tid("photo-tile")).to_have_count(1)
        expect(d.tid("album-description")).to_be_hidden()  # it had none in 0.6
        d.go("#/settings")
        expect(d.tid("profile-email")).to_have_text("E-mail: ana@example.org")  # kept from 0.6
        assert d.errors(r"status of 401") == []  # how the page learnt it was signed out
    [(after,)] = read(env["db"], "SELECT material FROM keystore WHERE key_id = ?", f"password:{ana_id}")
    assert bytes(after).startswith(b"$argon2id$")
