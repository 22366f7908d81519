"""Shared by the HTTP tests: a real server process, signed-in users, and images made by Pillow."""

from __future__ import annotations

import pytest

import io
import itertools
import os
import random
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from ci_support import requires

TESTS = Path(__file__).resolve().parent
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "exif-samples"
needs_corpus = requires(CORPUS.is_dir(), f"the shared image corpus ({CORPUS})",
                        "clone the shared/ repository beside this one")
PASSWORD = "correct horse battery"
_names = itertools.count(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """`octopus serve` in a child process on 127.0.0.1 with its own data dir."""

    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    admin: User | None = None
    host: str = "127.0.0.1"  # the address it listens on; clients always use 127.0.0.1

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def origin(self) -> str:
        return self.url

    def start(self) -> Server:
        return self.launch().wait_ready()

    def launch(self) -> Server:
        """Start the process without waiting (several servers can boot side by side)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("OCTOPUS_")}
        env.update({"OCTOPUS_STORAGE_DATA_DIR": str(self.data_dir), "OCTOPUS_LOG_LEVEL": "warning", **self.env})
        self.port = free_port()
        log = open(self.data_dir.parent / f"server-{self.port}.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "octopus_events.cli", "serve", "--host", self.host, "--port", str(self.port)],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        return self

    def wait_ready(self) -> Server:
        assert self.proc is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log_text()}")
            try:
                if httpx.get(f"{self.url}/api/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not answer /api/health in time: {self.log_text()}")

    def log_text(self) -> str:
        path = self.data_dir.parent / f"server-{self.port}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)

    def tmp_files(self) -> list[str]:
        tmp = self.data_dir / "tmp"
        return sorted(p.name for p in tmp.iterdir()) if tmp.is_dir() else []

    def register(self, name: str | None = None, password: str = PASSWORD, **extra: Any) -> httpx.Response:
        body = {"username": name or fresh_name(), "password": password, **extra}
        with self.client() as c:
            return c.post("/api/auth/register", json=body)

    def login(self, name: str, password: str = PASSWORD, **headers: str) -> httpx.Response:
        with self.client() as c:
            return c.post("/api/auth/login", json={"username": name, "password": password}, headers=headers)

    def new_user(self, name: str | None = None) -> User:
        """Register (registration is open on the shared server) and sign in a fresh user."""
        name = name or fresh_name()
        r = self.register(name)
        assert r.status_code == 201, r.text
        return self.sign_in(name)

    def seed_library(self, name: str, count: int, *, batch: int = 1000) -> tuple[User, list[str]]:
        """Register `name` and give it `count` photos appended straight to the event store (no
        image work: `factories.seed_photos`) while the server is stopped, so big libraries take
        seconds. The server runs again on return; gives the signed-in user and the photo ids."""
        import factories
        from octopus_events.application import Octopus
        from octopus_events.config import Config, StorageConfig

        assert self.register(name).status_code == 201
        owner = self.sign_in(name).id
        self.stop()
        octopus = Octopus(Config(storage=StorageConfig(data_dir=str(self.data_dir)))).open()
        try:
            ids = factories.seed_photos(octopus.store, owner, count, batch=batch)
        finally:
            octopus.close()
        self.start()
        return self.sign_in(name), ids

    def sign_in(self, name: str, password: str = PASSWORD) -> User:
        r = self.login(name, password)
        assert r.status_code == 200, r.text
        body = r.json()
        return User(self, name, body["user"]["id"], body["token"], body["user"])


@dataclass
class User:
    server: Server
    name: str
    id: str
    token: str
    info: dict[str, Any]

    def client(self) -> httpx.Client:
        return self.server.client(headers={"Authorization": f"Bearer {self.token}"})

    def upload(self, data: bytes, filename: str = "photo.jpg", **fields: Any) -> httpx.Response:
        with self.client() as c:
            return upload(c, data, filename, **fields)


def upload(client: httpx.Client, data: bytes, filename: str = "photo.jpg", **fields: Any) -> httpx.Response:
    """POST /api/photos as a browser form would (list values become repeated fields)."""
    return client.post("/api/photos", files={"file": (filename, data, "application/octet-stream")}, data=fields)


def fresh_name(prefix: str = "user") -> str:
    return f"{prefix}{os.getpid()}x{next(_names)}"


# -- images ------------------------------------------------------------------------------------


def picture(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A smooth random picture: a 16x12 noise field scaled up, so its perceptual hash survives
    re-encoding but differs between seeds."""
    rng = random.Random(seed)
    small = Image.frombytes("RGB", (16, 12), rng.randbytes(16 * 12 * 3))
    return small.resize(size, Image.Resampling.BICUBIC)


def image_bytes(seed: int, fmt: str = "JPEG", size: tuple[int, int] = (320, 240), **save: Any) -> bytes:
    img = picture(seed, size)
    if fmt == "GIF":
        img = img.convert("P")
    buf = io.BytesIO()
    img.save(buf, fmt, **save)
    return buf.getvalue()


def jpeg_with_exif(seed: int, make: str, model: str, taken: str | None = None) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = make
    exif[0x0110] = model
    if taken:
        exif.get_ifd(0x8769)[0x9003] = taken  # DateTimeOriginal "YYYY:MM:DD HH:MM:SS"
    return image_bytes(seed, exif=exif)


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    for key in ("type", "title", "status", "detail", "code"):
        assert key in body, body
    assert body["status"] == status
    # The stable machine code clients translate (docs/errors.md): snake_case, never a 5xx's inner name.
    assert re.fullmatch(r"[a-z][a-z0-9_]*", body["code"]), body
    if status >= 500 and status not in (503, 507):
        assert body["code"] == "internal", body
    return body
