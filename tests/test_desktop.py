"""The portable build's launcher (desktop.py), run from source against a real server process.

The bundle runs the same code (scripts/build_bundle.py smoke-tests the built bundle); here it is
started as `python -m octopus_events.desktop`, headless as on a machine without a screen, with
$BROWSER pointed at a script that records what the launcher opened.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from eventlog_support import child_env, free_port
from http_support import image_bytes
from octopus_events import desktop


def browser_script(tmp_path: Path) -> tuple[Path, Path]:
    opened = tmp_path / "opened.txt"
    script = tmp_path / "browser.sh"
    script.write_text(f'#!/bin/sh\necho "$1" >> {opened}\n')
    script.chmod(0o755)
    return script, opened


def launch(tmp_path: Path, port: int, script: Path) -> subprocess.Popen[str]:
    env = child_env(HOME=str(tmp_path / "home"), OCTOPUS_SERVER_PORT=str(port), BROWSER=str(script))
    for key in ("DISPLAY", "WAYLAND_DISPLAY", "OCTOPUS_STORAGE_DATA_DIR"):
        env.pop(key, None)
    return subprocess.Popen([sys.executable, "-m", "octopus_events.desktop"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_line(proc: subprocess.Popen[str]) -> str:
    line = proc.stdout.readline()  # type: ignore[union-attr]
    assert line.startswith("Octopus Photos is running at"), (line, proc.stderr.read() if proc.poll() is not None else "")  # type: ignore[union-attr]
    return line


def test_double_click_serves_from_the_portable_data_dir_and_opens_the_browser_once(tmp_path: Path) -> None:
    script, opened = browser_script(tmp_path)
    port = free_port()
    launcher = launch(tmp_path, port, script)
    try:
        line = wait_line(launcher)
        data = tmp_path / "home" / ".OctopusPhotos"  # oscompat.portable_data_dir on POSIX
        assert f"(data: {data})" in line
        deadline = time.monotonic() + 10
        while not opened.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert opened.read_text().split() == [f"http://127.0.0.1:{port}/"]  # first start: the browser opens
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
            assert c.post("/api/auth/register", json={"username": "ana", "password": "una contraseña"}).status_code == 201
            token = c.post("/api/auth/login", json={"username": "ana", "password": "una contraseña"}).json()["token"]
            r = c.post("/api/photos", headers={"Authorization": f"Bearer {token}"},
                       files={"file": ("a.jpg", image_bytes(3), "image/jpeg")})
            assert r.status_code == 201
        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(30) == 0, launcher.stderr.read()  # type: ignore[union-attr]
    finally:
        if launcher.poll() is None:
            launcher.kill()
    # The server went with it (it stops when the launcher's pipe closes) ...
    try:
        httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1)
        raise AssertionError("the server outlived its launcher")
    except httpx.TransportError:
        pass
    assert (data / "octopus.db").is_file() and (data / "logs" / "server.log").is_file()
    # ... and the second start does not open the browser again.
    again = launch(tmp_path, port, script)
    try:
        wait_line(again)
        again.send_signal(signal.SIGTERM)
        assert again.wait(30) == 0
    finally:
        if again.poll() is None:
            again.kill()
    assert len(opened.read_text().split()) == 1


def test_pause_stops_the_server_and_resume_starts_it_again(tmp_path: Path) -> None:
    port = free_port()
    opened: list[str] = []
    env = child_env(OCTOPUS_STORAGE_DATA_DIR=str(tmp_path / "data"), OCTOPUS_SERVER_PORT=str(port))
    app = desktop.Desktop(env, home=tmp_path, open_browser=opened.append)
    try:
        assert app.start()
        assert opened == [f"http://127.0.0.1:{port}/"]
        assert httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5).status_code == 200
        app.toggle_pause()
        assert app.paused and not app.server.running
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1)
            raise AssertionError("still serving while paused")
        except httpx.TransportError:
            pass
        app.open()
        assert opened == [f"http://127.0.0.1:{port}/"]  # nothing to open while paused
        app.toggle_pause()
        assert not app.paused and httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5).status_code == 200
        assert opened == [f"http://127.0.0.1:{port}/"]  # not a first start any more
    finally:
        app.quit()
    assert not app.server.running and app.done.is_set()


def test_a_busy_port_says_why_in_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        env = child_env(OCTOPUS_STORAGE_DATA_DIR=str(tmp_path / "data"), OCTOPUS_SERVER_PORT=str(port))
        app = desktop.Desktop(env, home=tmp_path, open_browser=lambda _u: None)
        assert not app.start()
        assert "cannot listen on 127.0.0.1" in (app.server.failure or "")


def test_pieces() -> None:
    assert desktop.browser_url("Octopus Photos is running at http://0.0.0.0:8000/ (data: x)") == "http://127.0.0.1:8000/"
    assert desktop.browser_url("Octopus Photos is running at http://[::]:8000/ (data: x)") == "http://127.0.0.1:8000/"
    assert desktop.browser_url("octopus: error") is None
    env = desktop.launcher_environment({"LOCALAPPDATA": r"C:\Users\ana\AppData\Local"}, Path("/h"), system="nt")
    assert env["OCTOPUS_STORAGE_DATA_DIR"] == str(Path(r"C:\Users\ana\AppData\Local") / "OctopusPhotos")
    kept = desktop.launcher_environment({"OCTOPUS_STORAGE_DATA_DIR": "/srv/photos"}, Path("/h"), system="nt")
    assert kept["OCTOPUS_STORAGE_DATA_DIR"] == "/srv/photos"  # configured: left alone
    assert desktop.tray_language({"LANG": "es_MX.UTF-8"}) == "es"
    assert desktop.tray_language({"LANG": "en_GB.UTF-8"}, "es_ES") == "es"
    assert desktop.tray_language({}) == "en"
    assert set(desktop.TRAY_TEXT["es"]) == set(desktop.TRAY_TEXT["en"])
    assert desktop.has_screen({}, system="nt") and not desktop.has_screen({}, system="posix", platform="linux")
    assert desktop.has_screen({"DISPLAY": ":0"}, system="posix", platform="linux")
