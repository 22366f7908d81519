"""The systemd unit, its readiness protocol and the Debian install script, for real.

`systemd-analyze verify` checks the unit as systemd would load it (with ExecStart pointed at this
checkout's program, since /opt/octopus-photos does not exist here), `systemd-analyze security`
rates its hardening, a real server started with $NOTIFY_SOCKET sends READY=1 on a real unix
datagram socket only once it answers, and packaging/install-debian.sh stages a working install
into a folder (everything but the user and systemctl, which need a machine of their own).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from ci_support import require_or_skip
from eventlog_support import child_env, free_port, octopus_cmd, stop

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "packaging" / "systemd" / "octopus-photos.service"
OCTOPUS = Path(sys.executable).with_name("octopus")


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    require_or_skip(found, "systemd-analyze", "apt-get install systemd (.ci/run does this)")
    return str(found)


def local_unit(tmp_path: Path) -> Path:
    unit = tmp_path / "octopus-photos.service"
    unit.write_text(UNIT.read_text().replace("/opt/octopus-photos/bin/octopus", str(OCTOPUS)))
    return unit


def test_the_unit_verifies_and_is_hardened(tmp_path: Path) -> None:
    analyze = systemd_analyze()
    text = UNIT.read_text()
    for line in ("Type=notify", "ProtectSystem=strict", "ReadWritePaths=/var/lib/octopus-photos", "NoNewPrivileges=true",
                 "PrivateTmp=true", "Restart=on-failure", "User=octopus"):
        assert re.search(rf"^{re.escape(line)}$", text, re.M), line
    unit = local_unit(tmp_path)
    verify = subprocess.run([analyze, "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0 and not verify.stdout.strip() and not verify.stderr.strip(), verify
    security = subprocess.run([analyze, "security", "--offline=true", str(unit)], capture_output=True, text=True, timeout=60)
    level = re.search(r"Overall exposure level for \S+: ([\d.]+)", security.stdout)
    assert level is not None, security.stdout[-2000:] + security.stderr
    assert float(level.group(1)) <= 2.0, security.stdout[-3000:]  # systemd calls < 2 "OK"


def test_serve_tells_systemd_it_is_ready_once_it_answers(tmp_path: Path) -> None:
    address = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(address)
    listener.settimeout(60)
    port = free_port()
    server = subprocess.Popen(
        octopus_cmd("serve", "--port", str(port)),
        env=child_env(OCTOPUS_STORAGE_DATA_DIR=str(tmp_path / "data"), NOTIFY_SOCKET=address),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        message = listener.recv(4096).decode()
        assert message.splitlines()[0] == "READY=1", message
        assert f"STATUS=serving http://127.0.0.1:{port}/" in message
        # Ready means answering: the first request after READY=1 succeeds without a retry.
        assert httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5).status_code == 200
        server.terminate()
        assert listener.recv(4096).decode() == "STOPPING=1"
    finally:
        code = stop(server)
        listener.close()
    assert code == 0, server.stderr.read()  # type: ignore[union-attr]


def test_sd_notify_is_silent_without_systemd_and_speaks_to_abstract_sockets() -> None:
    from octopus_events import sd_notify

    assert sd_notify.notify("READY=1", environ={}) is False
    assert sd_notify.notify("READY=1", environ={"NOTIFY_SOCKET": "/nonexistent/socket"}) is False
    name = f"octopus-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind("\0" + name)
        assert sd_notify.notify("READY=1", environ={"NOTIFY_SOCKET": "@" + name}) is True
        assert listener.recv(100) == b"READY=1"


def test_the_debian_script_stages_a_working_install(tmp_path: Path) -> None:
    require_or_skip(shutil.which("uv") or Path(sys.executable).with_name("uv").exists(), "uv",
                    "pip install uv; .ci/run does this")
    stage = tmp_path / "stage"
    env = {k: v for k, v in child_env().items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH", "OCTOPUS_"))}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    result = subprocess.run(["bash", str(ROOT / "packaging" / "install-debian.sh"), "--root", str(stage)],
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "staged into" in result.stderr
    assert (stage / "etc/systemd/system/octopus-photos.service").read_text() == UNIT.read_text()
    assert "OCTOPUS_SERVER_HOST" in (stage / "etc/octopus-photos/octopus.env").read_text()
    assert os.readlink(stage / "usr/local/bin/octopus") == "/opt/octopus-photos/bin/octopus"
    program = stage / "opt/octopus-photos/bin/octopus"
    port = free_port()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    server = subprocess.Popen([str(program), "serve", "--port", str(port)], cwd=elsewhere,
                              env={**env, "OCTOPUS_STORAGE_DATA_DIR": str(tmp_path / "data")},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, server.stderr.read()  # type: ignore[union-attr]
            time.sleep(0.1)
    finally:
        assert stop(server) == 0
    # Running it again upgrades in place and keeps the machine's settings.
    (stage / "etc/octopus-photos/octopus.env").write_text("OCTOPUS_SERVER_PORT=9000\n")
    again = subprocess.run(["bash", str(ROOT / "packaging" / "install-debian.sh"), "--root", str(stage)],
                           env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert (stage / "etc/octopus-photos/octopus.env").read_text() == "OCTOPUS_SERVER_PORT=9000\n"
