"""Shared by the WebDAV tests: a server that lets DAV sign in, a DAV client, rclone set up."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from ci_support import require_or_skip
from http_support import PASSWORD, Server, User


@pytest.fixture(scope="module")
def dav_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("dav") / "data", env={
        "OCTOPUS_AUTH_REGISTRATION": "open", "OCTOPUS_AUTH_REGISTER_MAX_ATTEMPTS": "1000000",
        "OCTOPUS_AUTH_LOGIN_MAX_FAILURES": "100", "OCTOPUS_DAV_ALLOW_ACCOUNT_PASSWORD": "true",
    })
    server.start()
    server.admin = server.new_user("admin")
    try:
        yield server
    finally:
        server.stop()


def app_password(user: User, name: str = "phone") -> str:
    """A new device of `user` (POST /api/devices): its app password."""
    response = user.client().post("/api/devices", json={"name": name})
    assert response.status_code == 201, response.text
    return str(response.json()["app_password"])


def dav(server: Server, user: User | str, password: str = PASSWORD) -> httpx.Client:
    name = user if isinstance(user, str) else user.name
    return httpx.Client(base_url=f"{server.url}/dav", auth=(name, password), timeout=60)


def require_tool(name: str) -> str:
    found = shutil.which(name)
    require_or_skip(found, name, f"apt-get install {name} (the .ci/run script installs it)")
    assert found is not None
    return found


class Rclone:
    """rclone with a config file of its own: remote `oct:` is the server's /dav/ for one user."""

    def __init__(self, server: Server, user: str, password: str, tmp: Path) -> None:
        self.exe = require_tool("rclone")
        obscured = subprocess.run([self.exe, "obscure", password], capture_output=True, text=True, check=True).stdout.strip()
        self.config = tmp / "rclone.conf"
        self.config.write_text(
            f"[oct]\ntype = webdav\nurl = {server.url}/dav/\nvendor = other\nuser = {user}\npass = {obscured}\n")

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([self.exe, "--config", str(self.config), *args], capture_output=True, text=True, timeout=300)
        if check and done.returncode != 0:
            raise AssertionError(f"rclone {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done


def stats_transfers(output: str) -> dict[str, Any]:
    """rclone's final stats block (`--stats-one-line=false -v`): the counters that matter."""
    found: dict[str, Any] = {}
    for line in output.splitlines():
        line = line.strip()
        for key in ("Transferred:", "Checks:", "Errors:"):
            if line.startswith(key) and "/" in line and "Bytes" not in line and "B" not in line.split("/")[0][-2:]:
                found[key.rstrip(":")] = line
    return found
