"""The built wheel is the product: installed into a fresh venv, it serves from any directory.

This proves the SQL under `eventstore/` and `projections/` and the UI under `webroot/` ship
inside the wheel (pyproject force-includes them as `octopus_events/_data/...`), since the
installed server starts far from the checkout and cannot fall back on it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest

from ci_support import require_or_skip
from eventlog_support import free_port, stop, wait_for_health

ROOT = Path(__file__).resolve().parents[1]


def _uv() -> str:
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    if not Path(uv).exists() and not shutil.which(uv):
        require_or_skip(False, "uv (it is how the project builds wheels)", "pip install uv; .ci/run does this")
    return uv


def _run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kwargs)  # type: ignore[call-overload]
    assert result.returncode == 0, f"{' '.join(cmd)}\n{result.stdout}\n{result.stderr}"
    return result


def _get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, resp.headers.get("content-type", ""), resp.read()


@pytest.mark.slow
def test_wheel_installs_and_serves_from_another_directory(tmp_path: Path) -> None:
    uv = _uv()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OCTOPUS_", "VIRTUAL_ENV", "PYTHONPATH"))}
    dist = tmp_path / "dist"
    _run([uv, "build", "--wheel", "-o", str(dist), str(ROOT)], env=env)
    (wheel,) = dist.glob("octopus_events-*.whl")

    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {
        f"octopus_events/_data/{p.relative_to(ROOT).as_posix()}"
        for folder in ("eventstore", "projections", "webroot")
        for p in (ROOT / folder).rglob("*") if p.is_file()
    }
    assert "octopus_events/_data/eventstore/schema.sql" in shipped
    assert shipped <= names, sorted(shipped - names)

    venv = tmp_path / "venv"
    _run([uv, "venv", "--python", sys.executable, str(venv)], env=env)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    _run([uv, "pip", "install", "--python", str(python), str(wheel)], env=env)
    octopus = venv / ("Scripts/octopus.exe" if os.name == "nt" else "bin/octopus")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # The installed package must not be able to see the checkout: no resource may come from there.
    where = _run([str(python), "-c", "import octopus_events.resources as r; print(r.data_path('eventstore'))"],
                 cwd=elsewhere, env=env)
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout

    port = free_port()
    data_dir = tmp_path / "data"
    server = subprocess.Popen(
        [str(octopus), "serve", "--port", str(port)], cwd=elsewhere,
        env={**env, "OCTOPUS_STORAGE_DATA_DIR": str(data_dir)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        health = wait_for_health(server, port, timeout=60)
        assert health["status"] == "ok" and "log_position" not in health  # an admin's only
        status, ctype, body = _get(f"http://127.0.0.1:{port}/")
        assert status == 200 and ctype.startswith("text/html") and b"<html" in body.lower()
        status, ctype, body = _get(f"http://127.0.0.1:{port}/schema/openapi.json")
        assert status == 200 and "/api/health" in json.loads(body)["paths"]
        # The API docs' Swagger UI comes from the wheel, not from a CDN.
        status, ctype, body = _get(f"http://127.0.0.1:{port}/vendor/swagger-ui-bundle-5.35.0.js")
        assert status == 200 and b"SwaggerUIBundle" in body
    finally:
        code = stop(server)
    out, err = server.communicate()
    assert code == 0, err
    assert f"Octopus Photos is running at http://127.0.0.1:{port}/ (data: {data_dir.resolve()})" in out
    assert (data_dir / "octopus.db").is_file()
