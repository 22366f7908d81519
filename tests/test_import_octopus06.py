"""Moving in from Octopus Photos 0.6.1, through the real `octopus import DIR --from-octopus-0.6`.

The source is tests/fixtures/octopus-0.6.1: a data dir made by running 0.6.1's own code (its
README says how): two users with bcrypt hashes and e-mails, photos with EXIF, GPS, tags and
descriptions, one in the trash, one row whose file 0.6.1 itself lost, three albums, and a vault
photo per user (ana's salt stored as raw bytes, ben's as hex). Each module run imports a copy of
it once, serves the result with a real server, and checks what a user finds; the copy's bytes,
mtimes and listing must be exactly as before when everything is done.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest

from octopus_events.import_octopus06 import (
    Photo06, User06, assign_usernames, decrypt_vault_file, our_username, read_library, source_file, _tags,
)

from http_support import Server

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "octopus-0.6.1"
ANA_PASSWORD, BEN_PASSWORD = "ana-old-password", "ben-old-password"
ANA_VAULT, BEN_VAULT = "ana vault passphrase", "ben vault passphrase"


def cli(data: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCTOPUS_")}
    env["OCTOPUS_STORAGE_DATA_DIR"] = str(data)
    return subprocess.run([sys.executable, "-m", "octopus_events.cli", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def snapshot(root: Path) -> dict[str, tuple[str, int, int]]:
    """Every file and folder under root: content hash (folders: ''), size and mtime in ns."""
    out: dict[str, tuple[str, int, int]] = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        out[path.relative_to(root).as_posix()] = (digest, st.st_size if path.is_file() else 0, st.st_mtime_ns)
    return out


def copy_fixture(dest: Path) -> Path:
    shutil.copytree(FIXTURE, dest, copy_function=shutil.copy2)
    (dest / "README.md").unlink(missing_ok=True)  # ours, not 0.6's
    return dest


def rows(db: Path, sql: str, *args: Any) -> list[tuple]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def stored_hash(data: Path, user_id: str) -> str:
    [(material,)] = rows(data / "octopus.db", "SELECT material FROM keystore WHERE key_id = ?", f"password:{user_id}")
    return bytes(material).decode()


def photos_of(client: Any) -> list[dict]:
    """Every item of the signed-in user outside the vault: timeline pages, then the trash."""
    out: list[dict] = []
    cursor = None
    while True:
        body = client.get("/api/timeline", params={"limit": 200, **({"cursor": cursor} if cursor else {})}).json()
        out += [p for day in body["days"] for p in day["photos"]]
        cursor = body.get("cursor")
        if not cursor:
            break
    return out + client.get("/api/trash").json()["photos"]


class Moved:
    def __init__(self, root: Path) -> None:
        self.source = copy_fixture(root / "octopus-0.6")
        self.before = snapshot(self.source)
        self.library = read_library(self.source)
        self.data = root / "library"
        self.first = cli(self.data, "import", str(self.source), "--from-octopus-0.6",
                         "--vault-passphrase", f"ana={ANA_VAULT}")
        self.server = Server(self.data).start()
        self.users = {u.username: u for u in self.library.users}


@pytest.fixture(scope="module")
def moved(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moved]:
    m = Moved(tmp_path_factory.mktemp("octopus06"))
    try:
        yield m
    finally:
        m.server.stop()


def sign_in(server: Server, name: str, password: str) -> Any:
    r = server.login(name, password)
    assert r.status_code == 200, r.text
    return server.client(headers={"Authorization": f"Bearer {r.json()['token']}"}), r.json()


def test_the_run_says_what_it_did_and_what_it_could_not(moved: Moved) -> None:
    r = moved.first
    assert "Traceback" not in r.stderr
    assert r.returncode == 1, (r.stdout, r.stderr)  # one photo failed: 0.6.1 itself lost its file
    summary = r.stdout.strip().splitlines()[-1]
    assert summary.startswith("import from 0.6: users: 2 created;"), summary
    assert "photos: 7 imported, 0 already here, 1 failed" in summary
    assert "1 went into the trash" in summary and "albums created: 3" in summary
    assert "vault: 1 imported, 0 already there, 1 skipped" in summary
    assert "ghost.jpg" in r.stderr and "missing" in r.stderr
    assert "--vault-passphrase ben=" in r.stderr  # how to bring ben's vault photo
    assert ANA_VAULT not in r.stderr + r.stdout


def test_the_old_password_signs_in_once_as_bcrypt_then_as_argon2id(moved: Moved) -> None:
    data = moved.data
    [(ben_id,)] = rows(data / "octopus.db", "SELECT id FROM app_user WHERE username = 'ben'")
    assert stored_hash(data, ben_id) == moved.users["ben"].password_hash  # the 0.6 bcrypt hash, as it was
    assert moved.server.login("ben", "ben-wrong-password").status_code == 401
    assert stored_hash(data, ben_id).startswith("$2b$12$")
    client, body = sign_in(moved.server, "ben", BEN_PASSWORD)
    client.close()
    assert body["user"]["admin"] is False
    assert body["user"]["email"] == moved.users["ben"].email == "ben@example.org"  # kept as profile data
    assert stored_hash(data, ben_id).startswith("$argon2id$")
    sign_in(moved.server, "ben", BEN_PASSWORD)[0].close()  # and again, now with argon2id
    [(ana_id, admin)] = rows(data / "octopus.db", "SELECT id, admin FROM app_user WHERE username = 'ana'")
    assert admin == 1 and stored_hash(data, ana_id).startswith("$2b$12$")


def test_every_photo_byte_exact_with_its_tags_description_date_camera_and_place(moved: Moved) -> None:
    seen = 0
    for name, password in (("ana", ANA_PASSWORD), ("ben", BEN_PASSWORD)):
        client, _ = sign_in(moved.server, name, password)
        with client:
            ours = {p["sha256"]: p for p in photos_of(client)}
            theirs = [p for p in moved.library.photos
                      if p.user_id == moved.users[name].id and not p.encrypted and source_file(moved.source, p).is_file()]
            assert len(ours) == len(theirs)
            for p in theirs:
                data = source_file(moved.source, p).read_bytes()
                photo = ours[hashlib.sha256(data).hexdigest()]
                assert client.get(f"/api/photos/{photo['id']}/original").content == data
                assert photo["filename"] == p.file_name
                assert photo["tags"] == p.tags and photo["description"] == p.description
                assert photo["state"] == ("trash" if p.trashed else "library")
                if p.date_taken:
                    assert photo["taken_at"][:19] == p.date_taken
                else:  # no date in the file: 0.6's upload time, not the day of the move
                    assert p.storage_date is not None
                    assert photo["taken_at"] == p.storage_date.isoformat(timespec="seconds")
                assert (photo["camera"]["make"], photo["camera"]["model"]) == (p.camera_make, p.camera_model)
                if p.gps is None:
                    assert photo["gps"] is None
                else:
                    assert abs(photo["gps"]["lat"] - p.gps.lat) < 1e-6 and abs(photo["gps"]["lon"] - p.gps.lon) < 1e-6
                seen += 1
    assert seen == 7
    # The fixture has what the checks above need: tags set both ways, a place, a camera, no date.
    by_name = {p.file_name: p for p in moved.library.photos}
    assert by_name["ghost.jpg"].tags == ["ghost", "bug"]  # 0.6.1 stored "ghost,bug", a string
    assert by_name["DSCN0010.jpg"].gps is not None and by_name["drawing.png"].date_taken is None


def test_the_trash_keeps_its_deletion_time(moved: Moved) -> None:
    client, _ = sign_in(moved.server, "ana", ANA_PASSWORD)
    with client:
        [trashed] = client.get("/api/trash").json()["photos"]
    [row] = [p for p in moved.library.photos if p.trashed]
    assert trashed["filename"] == row.file_name == "blurry.jpg"
    assert row.deleted_at is not None
    expected = max(row.deleted_at + timedelta(days=30), datetime.now(timezone.utc) + timedelta(days=7))
    assert abs(datetime.fromisoformat(trashed["purge_at"]) - expected) < timedelta(minutes=5)
    [(trashed_at,)] = rows(moved.data / "octopus.db", "SELECT trashed_at FROM photo WHERE id = ?", trashed["id"])
    assert datetime.fromisoformat(trashed_at) == row.deleted_at


def test_albums_with_their_members(moved: Moved) -> None:
    expected = {"ana": {"Summer 2008": {"Canon_40D.jpg", "DSCN0010.jpg"}, "Drawings": {"drawing.png"}},
                "ben": {"Gear": {"Nikon_D70.jpg", "Canon_40D.jpg"}}}
    for name, password in (("ana", ANA_PASSWORD), ("ben", BEN_PASSWORD)):
        client, _ = sign_in(moved.server, name, password)
        with client:
            albums = {a["name"]: a for a in client.get("/api/albums").json() if not a.get("shared")}
            assert set(albums) == set(expected[name])
            for album_name, members in expected[name].items():
                detail = client.get(f"/api/albums/{albums[album_name]['id']}").json()
                # Summer 2008 also holds blurry.jpg, which is in the trash: back in it on restore.
                assert {p["filename"] for p in detail["photos"]} == members
                described = {a.name: a.description for a in moved.library.albums}[album_name]
                assert detail["description"] == described
        if name == "ana":
            with sign_in(moved.server, "ana", ANA_PASSWORD)[0] as c:
                [blurry] = c.get("/api/trash").json()["photos"]
                assert c.post(f"/api/photos/{blurry['id']}/restore").status_code == 200
                detail = c.get(f"/api/albums/{albums['Summer 2008']['id']}").json()
                assert "blurry.jpg" in {p["filename"] for p in detail["photos"]}
                assert c.post(f"/api/photos/{blurry['id']}/trash").status_code == 200


def test_the_vault_with_the_passphrase_and_without(moved: Moved) -> None:
    [secret] = [p for p in moved.library.photos if p.encrypted and p.user_id == moved.users["ana"].id]
    assert secret.salt is not None
    plain = decrypt_vault_file(source_file(moved.source, secret).read_bytes(), ANA_VAULT, secret.salt)
    client, _ = sign_in(moved.server, "ana", ANA_PASSWORD)
    with client:
        assert client.post("/api/vault/unlock", json={"passphrase": "not it"}).status_code == 403
        token = client.post("/api/vault/unlock", json={"passphrase": ANA_VAULT}).json()["vault_token"]
        [inside] = client.get("/api/vault/photos", headers={"X-Vault-Token": token}).json()["photos"]
        assert (inside["filename"], inside["description"], inside["tags"]) == ("secret.jpg", "vaulted", ["private"])
        original = client.get(f"/api/vault/photos/{inside['id']}/original", headers={"X-Vault-Token": token})
        assert original.content == plain
        assert inside["sha256"] not in {p["sha256"] for p in photos_of(client)}
    client, _ = sign_in(moved.server, "ben", BEN_PASSWORD)
    with client:
        assert client.get("/api/vault").json()["exists"] is False  # no passphrase given: nothing made
        assert "Pentax_K10D.jpg" not in {p["filename"] for p in photos_of(client)}


def test_a_dry_run_counts_and_changes_nothing(moved: Moved, tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    r = cli(fresh, "import", str(moved.source), "--from-octopus-0.6", "--dry-run", "--vault-passphrase", f"ben={BEN_VAULT}")
    assert "Traceback" not in r.stderr
    summary = r.stdout.strip().splitlines()[-1]
    assert summary.startswith("import from 0.6 (dry run): users: 2 to create;"), summary
    assert "photos: 7 would import, 0 already here, 1 failed" in summary
    assert "1 would go into the trash" in summary and "albums to create: 3" in summary
    assert "vault: 1 would import, 0 already there, 1 skipped" in summary
    assert rows(fresh / "octopus.db", "SELECT count(*) FROM photo") == [(0,)]
    assert rows(fresh / "octopus.db", "SELECT count(*) FROM app_user") == [(0,)]
    # Against the library it went into: everything is already there.
    r = cli(moved.data, "import", str(moved.source), "--from-octopus-0.6", "--dry-run")
    assert "photos: 0 would import, 7 already here, 1 failed" in r.stdout, r.stdout
    assert "users: 0 to create, 2 already here" in r.stdout


def test_a_wrong_vault_passphrase_creates_no_vault(moved: Moved) -> None:
    db = moved.data / "octopus.db"
    before = rows(db, "SELECT count(*) FROM events WHERE type = 'VaultCreated'")
    r = cli(moved.data, "import", str(moved.source), "--from-octopus-0.6", "--vault-passphrase", "ben=ben vault passphrasE")
    assert "vault: 0 imported, 0 already there, 2 skipped" in r.stdout, r.stdout  # ana's: no passphrase given
    assert "wrong vault passphrase" in r.stderr
    assert rows(db, "SELECT count(*) FROM events WHERE type = 'VaultCreated'") == before == [(1,)]  # ana's only
    r = cli(moved.data, "import", str(moved.source), "--from-octopus-0.6", "--vault-passphrase", "nobody=x")
    assert r.returncode == 1 and "no 0.6 user named 'nobody'" in r.stderr.strip().splitlines()[-1]


def test_a_second_run_imports_nothing_new_and_brings_what_was_skipped(moved: Moved, tmp_path: Path) -> None:
    before = rows(moved.data / "octopus.db", "SELECT count(*) FROM events")[0][0]
    passphrase_file = tmp_path / "ben.txt"
    passphrase_file.write_text(BEN_VAULT + "\n")
    r = cli(moved.data, "import", str(moved.source), "--from-octopus-0.6",
            "--vault-passphrase", f"ana={ANA_VAULT}", "--vault-passphrase-file", f"ben={passphrase_file}")
    assert "Traceback" not in r.stderr
    assert "users: 0 created, 2 already here; photos: 0 imported, 7 already here, 1 failed" in r.stdout, r.stdout
    assert "was already here" not in r.stderr  # made by the first run: nothing to point out
    assert "vault: 1 imported, 1 already there, 0 skipped; albums created: 0; 0 added to albums" in r.stdout
    r = cli(moved.data, "import", str(moved.source), "--from-octopus-0.6",
            "--vault-passphrase", f"ana={ANA_VAULT}", "--vault-passphrase", f"ben={BEN_VAULT}")
    assert "vault: 0 imported, 2 already there, 0 skipped" in r.stdout, r.stdout
    client, _ = sign_in(moved.server, "ben", BEN_PASSWORD)
    with client:
        token = client.post("/api/vault/unlock", json={"passphrase": BEN_VAULT}).json()["vault_token"]
        [inside] = client.get("/api/vault/photos", headers={"X-Vault-Token": token}).json()["photos"]
        assert inside["filename"] == "Pentax_K10D.jpg"  # its salt was hex text in 0.6's database
        assert len(photos_of(client)) == 3
    client, _ = sign_in(moved.server, "ana", ANA_PASSWORD)
    with client:
        assert len(photos_of(client)) == 4
        assert sum(a["count"] for a in client.get("/api/albums").json()) == 3  # blurry.jpg is in the trash
    # Only sign-ins and the vault of ben were added (no photo, album or tag event twice).
    types = rows(moved.data / "octopus.db", "SELECT type, count(*) FROM events WHERE position > ? GROUP BY type", before)
    assert {t for t, _ in types} <= {"UserSignedIn", "VaultCreated", "PhotoUploaded", "PhotoMovedToVault"}, types
    assert dict(types).get("PhotoUploaded") == 1


def test_the_source_is_left_exactly_as_it_was(moved: Moved) -> None:
    assert snapshot(moved.source) == moved.before


def one_line(r: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("octopus: "), r.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_bad_input_is_one_clear_line(tmp_path: Path) -> None:
    data = tmp_path / "lib"
    (tmp_path / "empty").mkdir()
    one_line(cli(data, "import", str(tmp_path / "empty"), "--from-octopus-0.6"), "not an Octopus Photos 0.6 data dir")
    one_line(cli(data, "import", str(tmp_path / "nowhere"), "--from-octopus-0.6"), "no such folder")
    junk = copy_fixture(tmp_path / "junk")
    (junk / "instance" / "OctopusPhotos.db").write_bytes(b"not a database at all" * 10)
    one_line(cli(data, "import", str(junk), "--from-octopus-0.6"), "not an SQLite database")
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE users (id)").connection.commit()
    shutil.copy(other, junk / "instance" / "OctopusPhotos.db")
    one_line(cli(data, "import", str(junk), "--from-octopus-0.6"), "not an Octopus Photos 0.6 database")
    r = cli(data, "import", str(tmp_path / "empty"), "--from-octopus-0.6", "--user", "ana")
    assert r.returncode == 2 and "leave out --user" in r.stderr


def test_a_locked_database_is_one_clear_line_and_stays_unchanged(tmp_path: Path) -> None:
    source = copy_fixture(tmp_path / "src")
    db = source / "instance" / "OctopusPhotos.db"
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # as 0.6 writing right now
    try:
        started = time.monotonic()
        one_line(cli(tmp_path / "lib", "import", str(source), "--from-octopus-0.6"),
                 "locked", "is Octopus Photos 0.6 still running")
        assert time.monotonic() - started < 30
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    journal = db.with_name(db.name + "-journal")
    journal.write_bytes(b"\x00" * 512)  # a hot journal: 0.6 stopped mid-write
    one_line(cli(tmp_path / "lib", "import", str(source), "--from-octopus-0.6"), "not closed cleanly")
    assert journal.read_bytes() == b"\x00" * 512


def test_a_missing_file_is_skipped_with_a_line_and_the_rest_comes_in(tmp_path: Path) -> None:
    source = copy_fixture(tmp_path / "src")
    library = read_library(source)
    [canon] = [p for p in library.photos if p.file_name == "DSCN0010.jpg"]
    source_file(source, canon).unlink()
    r = cli(tmp_path / "lib", "import", str(source), "--from-octopus-0.6")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "photos: 6 imported, 0 already here, 2 failed" in r.stdout
    assert "DSCN0010.jpg" in r.stderr and "ghost.jpg" in r.stderr


def test_serve_will_not_run_in_a_06_data_dir_and_says_the_one_command(tmp_path: Path) -> None:
    home = copy_fixture(tmp_path / ".OctopusPhotos")
    before = snapshot(home)
    started = time.monotonic()
    r = cli(home, "serve", "--port", "0", timeout=60)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert time.monotonic() - started < 30
    text = r.stderr
    assert f"{home} holds an Octopus Photos 0.6 library (2 users, 8 photos, 2 in vaults, 3 albums)" in text
    assert snapshot(home) == before and not (home / "octopus.db").exists()
    [command] = [line.strip() for line in text.splitlines() if "--from-octopus-0.6" in line]
    target = tmp_path / "OctopusPhotos"
    assert command == f"OCTOPUS_STORAGE_DATA_DIR={target} octopus import {home} --from-octopus-0.6"
    # The printed command does it, and then that library serves.
    r = cli(target, "import", str(home), "--from-octopus-0.6")
    assert "photos: 7 imported" in r.stdout, r.stdout + r.stderr
    server = Server(target).start()
    try:
        client, _ = sign_in(server, "ana", ANA_PASSWORD)
        with client:
            assert len(photos_of(client)) == 4
    finally:
        server.stop()
    assert snapshot(home) == before
    # An import into the 0.6 data dir itself is refused the same way, before anything is written,
    # and so is any command that would make a library there (users add before the first serve).
    r = cli(home, "import", str(home), "--from-octopus-0.6")
    assert r.returncode == 1 and "import into a data dir of its own" in r.stderr and snapshot(home) == before
    r = subprocess.run([sys.executable, "-m", "octopus_events.cli", "users", "add", "mum", "--password-stdin"],
                       input="correct horse battery\n", capture_output=True, text=True,
                       env={**{k: v for k, v in os.environ.items() if not k.startswith("OCTOPUS_")},
                            "OCTOPUS_STORAGE_DATA_DIR": str(home)}, timeout=60)
    assert r.returncode == 1 and "holds an Octopus Photos 0.6 library" in r.stderr and snapshot(home) == before


# -- the pieces, on their own ------------------------------------------------------------------------


def photo06(**fields: Any) -> Photo06:
    base = dict(id="0" * 32, user_id="9c8b07028c7a479a8b6de079a3c8e85f", storage_date=None, storage_path="",
                file_name="x.jpg", description="", tags=[], trashed=False, deleted_at=None, encrypted=False,
                salt=None, date_taken=None, camera_make=None, camera_model=None, gps=None)
    return Photo06(**{**base, **fields})  # type: ignore[arg-type]


def test_paths_0_6_wrote_elsewhere_are_found_under_the_data_dir_given(tmp_path: Path) -> None:
    user = "9c8b0702-8c7a-479a-8b6d-e079a3c8e85f"
    windows = photo06(storage_path=rf"C:\Users\Ana\.OctopusPhotos\data\storage\{user}\photos\a.jpg")
    assert source_file(tmp_path, windows) == tmp_path / "data" / "storage" / user / "photos" / "a.jpg"
    moved_home = photo06(storage_path=f"/home/old/.OctopusPhotos/data/storage/{user}/vault/photos/b.vault", encrypted=True)
    assert source_file(tmp_path, moved_home) == tmp_path / "data" / "storage" / user / "vault" / "photos" / "b.vault"
    escaping = photo06(storage_path=f"/x/data/storage/../../../etc/passwd")
    assert source_file(tmp_path, escaping) == tmp_path / "data" / "storage" / user / "photos" / "passwd"
    drive = photo06(storage_path=r"D:\data\storage\C:\Windows\win.ini")
    assert source_file(tmp_path, drive) == tmp_path / "data" / "storage" / user / "photos" / "win.ini"


def test_tags_as_0_6_stored_them() -> None:
    assert _tags('["a", "B", "b "]') == ["a", "B"]
    assert _tags('"lake,family"') == ["lake", "family"]  # its upload joined them with commas
    assert _tags("null") == [] and _tags(None) == [] and _tags("{not json") == ["{not json"]
    assert _tags(json.dumps(["ok", "x" * 65])) == ["ok"]  # one tag too long for us: only that one goes


def test_usernames_0_6_allowed_become_ones_we_allow() -> None:
    assert our_username("ana") == "ana"
    assert our_username("José García") == "Jose.Garcia"
    assert our_username("  ") == "user"
    # Two 0.6 accounts never become one here, and every run names them alike (0.6's creation order).
    people = [User06(id=f"{i}", username=name, email="", password_hash="", admin=False, active=True,
                     created_at=f"2026-01-0{i} 10:00:00") for i, name in enumerate(["José", "Jose", "ana", "Ana"], 1)]
    expected = {"1": "Jose", "2": "Jose-2", "3": "ana", "4": "Ana-2"}
    assert assign_usernames(people) == expected == assign_usernames(list(reversed(people)))


def test_a_run_stopped_before_its_trash_is_finished_by_the_next(tmp_path: Path) -> None:
    """What an interrupted import leaves (the photo uploaded, not yet trashed) is trashed by the
    next run; the same bytes backed up another way are left where their owner put them."""
    import asyncio

    from octopus_events.application import Octopus
    from octopus_events.config import Config, StorageConfig
    from octopus_events.eventstore import Meta

    source = copy_fixture(tmp_path / "src")
    library = read_library(source)
    [blurry] = [p for p in library.photos if p.trashed]
    for name, correlation, expected in (("left", "import-0.6-interrupted", "trash"), ("phone", "phone-backup", "library")):
        data = tmp_path / name
        octopus = Octopus(Config(storage=StorageConfig(data_dir=str(data)))).open(background_rebuilds=False)
        try:
            user = asyncio.run(octopus.accounts.admin_create("ana", ANA_PASSWORD, admin=True, quota_bytes=None,
                                                              meta=Meta(actor="test")))
            incoming = octopus.photos.new_upload()
            incoming.write(source_file(source, blurry).read_bytes())
            view, created = asyncio.run(octopus.photos.upload(
                user.id, incoming, filename="blurry.jpg", meta=Meta(actor=user.id, owner=user.id, correlation_id=correlation)))
            assert created
        finally:
            octopus.close()
        r = cli(data, "import", str(source), "--from-octopus-0.6")
        assert "photos: 6 imported, 1 already here" in r.stdout, r.stdout + r.stderr
        assert f"{1 if expected == 'trash' else 0} went into the trash" in r.stdout
        assert "user ana was already here: its 0.6 photos joined it, its password stays" in r.stderr
        [(state,)] = rows(data / "octopus.db", "SELECT state FROM photo WHERE id = ?", view.id)
        assert state == expected, name


def test_on_a_terminal_it_asks_for_each_vault_passphrase(moved: Moved, tmp_path: Path) -> None:
    import pty
    import select

    env = {k: v for k, v in os.environ.items() if not k.startswith("OCTOPUS_")}
    env["OCTOPUS_STORAGE_DATA_DIR"] = str(tmp_path / "lib")
    pid, fd = pty.fork()
    if pid == 0:  # the child: the pty is its controlling terminal, as a person's shell would be
        os.execve(sys.executable, [sys.executable, "-m", "octopus_events.cli", "import", str(moved.source),
                                   "--from-octopus-0.6", "--vault-passphrase", f"ana={ANA_VAULT}"], env)
    seen = b""

    def read_until(needle: bytes, timeout: float = 60) -> None:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while needle not in seen and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.5)[0]:
                try:
                    seen += os.read(fd, 4096)
                except OSError:
                    break

    read_until(b"Enter to skip them): ")
    assert b"0.6 vault passphrase of ben (1 photos" in seen and b"of ana" not in seen, seen
    os.write(fd, BEN_VAULT.encode() + b"\n")
    read_until(b"import from 0.6:")
    read_until(b" s\r\n", timeout=120)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    text = seen.decode(errors="replace")
    assert BEN_VAULT not in text  # not echoed
    assert "vault: 2 imported, 0 already there, 0 skipped" in text, text


def test_deleting_a_moved_in_account_leaves_no_email_or_album_description(tmp_path: Path) -> None:
    """True deletion reaches what moving in adds: the e-mail and the album descriptions."""
    source = copy_fixture(tmp_path / "src")
    data = tmp_path / "lib"
    r = cli(data, "import", str(source), "--from-octopus-0.6")
    assert "users: 2 created" in r.stdout, r.stdout + r.stderr
    db = data / "octopus.db"
    assert rows(db, "SELECT email FROM app_user WHERE username = 'ana'") == [("ana@example.org",)]
    assert ("Lake and travel",) in rows(db, "SELECT description FROM album_description")
    r = cli(data, "users", "delete", "ana", "--yes")
    assert r.returncode == 0, r.stderr
    markers = [b"ana@example.org", b"Lake and travel", "ana@example.org".encode("utf-16-le")]
    for path in data.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert not [m for m in markers if m in content], path
    assert rows(db, "SELECT email FROM app_user") == [("ben@example.org",)]  # ben's stays
    assert rows(db, "SELECT description FROM album_description") == [("What I shoot with",)]


def test_a_vault_made_here_before_the_move_is_opened_with_its_own_passphrase(moved: Moved, tmp_path: Path) -> None:
    import asyncio

    from octopus_events.application import Octopus
    from octopus_events.config import Config, StorageConfig
    from octopus_events.eventstore import Meta

    data = tmp_path / "lib"
    assert "users: 2 created" in cli(data, "import", str(moved.source), "--from-octopus-0.6").stdout
    octopus = Octopus(Config(storage=StorageConfig(data_dir=str(data)))).open(background_rebuilds=False)
    try:
        [(ben_id,)] = rows(data / "octopus.db", "SELECT id FROM app_user WHERE username = 'ben'")
        asyncio.run(octopus.vault.create(ben_id, "a vault made here", Meta(actor=ben_id, owner=ben_id)))
    finally:
        octopus.close()
    r = cli(data, "import", str(moved.source), "--from-octopus-0.6", "--vault-passphrase", f"ben={BEN_VAULT}")
    assert "vault: 0 imported, 0 already there, 2 skipped" in r.stdout, r.stdout
    assert "--vault-passphrase-here ben=" in r.stderr
    r = cli(data, "import", str(moved.source), "--from-octopus-0.6", "--vault-passphrase", f"ben={BEN_VAULT}",
            "--vault-passphrase-here", "ben=a vault made here")
    assert "vault: 1 imported, 0 already there, 1 skipped" in r.stdout, r.stdout + r.stderr
    assert "a vault made here" not in r.stdout + r.stderr
