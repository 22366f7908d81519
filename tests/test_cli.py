"""The `octopus` command, run as a real subprocess against real data dirs."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from eventlog_support import (
    ProbeNoted, ProbeTagged, child_cmd, child_env, flip_byte_of_marker, octopus_cmd, stop, wait_for_health, watchdog,
)
from octopus_events.application import Octopus, all_projectors
from octopus_events.config import load_config
from octopus_events.eventstore import EventStore, Meta

HELP = [
    [], ["serve"], ["projections"], ["projections", "status"], ["projections", "rebuild"], ["events"],
    ["events", "tail"], ["events", "export"], ["verify"], ["backup"], ["users"], ["users", "add"],
    ["users", "list"], ["users", "passwd"], ["users", "delete"], ["import"], ["gc"], ["restore"],
]


def test_help_covers_every_command_of_the_parser() -> None:
    """A new command cannot be added without being listed above (and so without --help tested)."""
    from octopus_events.cli import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    listed = {tuple(h) for h in HELP}
    for name, sub in commands.items():
        assert (name,) in listed, name
        for action in sub._actions:
            if action.choices and isinstance(action.choices, dict):
                for child in action.choices:
                    assert (name, child) in listed, (name, child)


def octopus(data_dir: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        octopus_cmd(*args), env=child_env(OCTOPUS_STORAGE_DATA_DIR=str(data_dir), **(env or {})),
        capture_output=True, text=True, timeout=timeout,
    )


def assert_one_line_failure(result: subprocess.CompletedProcess[str], code: int, *needles: str) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("octopus: ")
    for needle in needles:
        assert needle in lines[0]
    return lines[0]


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """A data dir holding a small library: 6 events over 3 streams, projections built."""
    data_dir = tmp_path / "data"
    config = load_config(environ={"OCTOPUS_STORAGE_DATA_DIR": str(data_dir)})
    with Octopus(config) as lib:
        lib.store.append("photo-1", 0, [ProbeNoted(text="first"), ProbeTagged(tags=["sea"])],
                         meta=Meta(actor="alice", correlation_id="req-1"))
        lib.store.append("photo-2", 0, [ProbeNoted(text="MARKER-CLI-7f3e2")], meta=Meta(actor="bob"))
        lib.store.append("album-1", 0, [ProbeNoted(text=f"n{i}") for i in range(3)], meta=Meta(actor="alice", owner="carol"))
        lib.engine.wait_idle()  # asynchronous projectors too
    return data_dir


def test_every_command_has_help() -> None:
    # Through `python -m`, the module entry point; in parallel, since each start costs ~0.3 s.
    procs = [
        (args, subprocess.Popen([sys.executable, "-m", "octopus_events.cli", *args, "--help"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env()))
        for args in HELP
    ]
    for args, proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, (args, err)
        assert out.startswith("usage: octopus"), (args, out)
        assert "--config" in out, args


def test_bad_config_value_is_one_line_naming_the_key(tmp_path: Path) -> None:
    result = octopus(tmp_path, "serve", env={"OCTOPUS_SERVER_PORT": "abc"})
    assert_one_line_failure(result, 1, "server.port")
    bad_file = tmp_path / "bad.toml"
    bad_file.write_text("[server\nport = 1\n")
    assert_one_line_failure(octopus(tmp_path, "--config", str(bad_file), "verify"), 1, "bad.toml", "TOML")
    assert_one_line_failure(octopus(tmp_path, "verify", "--config", str(tmp_path / "nope.toml")), 1, "not found")


def test_usage_mistakes_and_missing_library(tmp_path: Path) -> None:
    assert_one_line_failure(octopus(tmp_path, "frobnicate"), 2, "invalid choice")
    assert_one_line_failure(octopus(tmp_path, "events", "export", "--after", "x"), 2, "--after")
    assert_one_line_failure(octopus(tmp_path, "projections", "rebuild"), 2, "--all")
    assert_one_line_failure(octopus(tmp_path / "empty", "verify"), 1, "no library at")
    assert not (tmp_path / "empty").exists(), "an inspecting command must not create a library"


def test_events_export_round_trips(library: Path) -> None:
    result = octopus(library, "events", "export")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    with EventStore(library / "octopus.db") as store:
        recorded = store.read_all()
    assert len(lines) == len(recorded) == 6
    for line, r in zip(lines, recorded):
        assert set(line) == {
            "position", "event_id", "stream", "stream_version", "type", "type_version", "recorded_at", "actor",
            "owner", "correlation_id", "causation_id", "data",
        }
        assert (line["position"], line["event_id"], line["stream"], line["stream_version"], line["type"]) == (
            r.position, r.event_id, r.stream, r.stream_version, r.type
        )
        assert (line["actor"], line["owner"], line["correlation_id"], line["causation_id"]) == (
            r.actor, r.owner, r.correlation_id, r.causation_id
        )
        assert line["recorded_at"].endswith("+00:00")
        # The data decodes back into the very event that was appended.
        from octopus_events.events import decode_event

        assert decode_event(line["type"], line["type_version"], json.dumps(line["data"]).encode()) == r.event
    assert lines[0]["data"] == {"type": "ProbeNoted", "text": "first", "writer": "", "seq": 0}
    after = octopus(library, "events", "export", "--after", "4")
    assert [json.loads(line)["position"] for line in after.stdout.splitlines()] == [5, 6]


def test_events_tail(library: Path) -> None:
    result = octopus(library, "events", "tail", "-n", "2")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    position, _date, _time, stream, type_, actor = lines[0].split()
    assert (position, stream, type_, actor) == ("5", "album-1", "ProbeNoted", "alice")
    assert len(octopus(library, "events", "tail", "--after", "0").stdout.splitlines()) == 6


def test_events_tail_follow_prints_new_events(library: Path) -> None:
    proc = subprocess.Popen(octopus_cmd("events", "tail", "--follow", "--after", "6"),
                            env=child_env(OCTOPUS_STORAGE_DATA_DIR=str(library)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)  # started or not, --after 6 makes it print position 7
        with EventStore(library / "octopus.db") as store:
            store.append("photo-3", 0, [ProbeNoted(text="late")], meta=Meta(actor="dave"))
        with watchdog(proc, 30):
            line = proc.stdout.readline()  # type: ignore[union-attr]
        assert line.split()[0] == "7" and line.split()[-1] == "dave"
    finally:
        proc.kill()
        proc.wait(10)


def test_verify_ok_then_failed_after_tampering(library: Path) -> None:
    result = octopus(library, "verify")
    assert result.returncode == 0, result.stderr
    n = len(all_projectors())
    assert result.stdout.strip() == f"ok: 6 events, head 6, {n} projections current"
    flip_byte_of_marker(library / "octopus.db", b"MARKER-CLI-7f3e2")
    result = octopus(library, "verify")
    assert result.returncode == 1
    assert result.stdout.strip() == "FAILED: position 3: the stored bytes of position 3 do not match its hash"
    assert "Traceback" not in result.stderr


def test_projections_status_and_rebuild(library: Path) -> None:
    names = [p.name for p in all_projectors()]
    status = octopus(library, "projections", "status")
    assert status.returncode == 0, status.stderr
    rows = status.stdout.splitlines()
    assert names, "no projector is registered: the library would have no read models"
    assert rows[0].split() == ["name", "mode", "version", "position", "lag", "state", "rebuilt_at", "progress"]
    assert sorted(r.split()[0] for r in rows[1:]) == sorted(names)
    assert all(r.split()[3:6] == ["6", "0", "live"] for r in rows[1:]), "\n".join(rows)
    assert_one_line_failure(octopus(library, "projections", "rebuild", "no-such-model"), 1, "no-such-model")
    rebuilt = octopus(library, "projections", "rebuild", "--all")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert sorted(line.split(":")[0] for line in rebuilt.stdout.splitlines()) == sorted(names)
    assert all("rebuilt to position 6" in line for line in rebuilt.stdout.splitlines())


def test_serve_refuses_a_busy_port_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = octopus(tmp_path / "data", "serve", "--port", str(port))
    assert_one_line_failure(result, 1, f"127.0.0.1:{port}", "in use")


def start_server(data_dir: Path) -> tuple[subprocess.Popen[str], int]:
    """`octopus serve --port 0`; the port is read from the line it prints once listening."""
    proc = subprocess.Popen(octopus_cmd("serve", "--port", "0"), env=child_env(OCTOPUS_STORAGE_DATA_DIR=str(data_dir)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with watchdog(proc, 60):
        line = proc.stdout.readline()  # type: ignore[union-attr]
    if not line.startswith("Octopus Photos is running at http://127.0.0.1:"):
        proc.kill()
        raise AssertionError(f"unexpected first line {line!r}: {proc.stderr.read()}")  # type: ignore[union-attr]
    assert line.rstrip().endswith(f"(data: {data_dir.resolve()})")
    port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
    return proc, port


@pytest.mark.slow
def test_backup_while_the_server_runs_and_appends(library: Path, tmp_path: Path) -> None:
    blob = library / "blobs" / "originals" / "ab" / "abcdef0123"
    blob.parent.mkdir(parents=True)
    blob.write_bytes(b"not really a photo")
    (library / "config.toml").write_text("[log]\nlevel = \"warning\"\n")
    server, port = start_server(library)
    appender = subprocess.Popen(child_cmd(f"appender_main({str(library)!r})"), env=child_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for_health(server, port)["status"] == "ok"
        for _ in range(10):  # the appender is well under way
            assert appender.stdout.readline()  # type: ignore[union-attr]
        dest = tmp_path / "backups" / "monday"
        result = octopus(library, "backup", str(dest))
        assert result.returncode == 0, result.stderr
        assert "backup: the copy verifies" in result.stdout
        appended_meanwhile = int(appender.stdout.readline())  # type: ignore[union-attr]
        assert appended_meanwhile > 6
        # /api/health shows the log position only to admins; /metrics shows it to a local tool.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            head = re.search(r"^octopus_log_head (\d+)$", resp.read().decode(), re.M)
        assert head is not None and int(head.group(1)) >= appended_meanwhile
    finally:
        appender.kill()
        appender.wait(10)
        code = stop(server)
    assert code == 0, server.stderr.read()  # type: ignore[union-attr]
    assert "Traceback" not in server.stderr.read()  # type: ignore[union-attr]

    with EventStore(dest / "octopus.db") as copy:
        report = copy.verify()
        assert report.ok and report.head >= 6
        assert [r.event for r in copy.read_stream("photo-2")] == [ProbeNoted(text="MARKER-CLI-7f3e2")]
        assert copy.reader().execute("SELECT count(*) FROM projection_checkpoints").fetchone()[0] == len(all_projectors())
    copied = dest / "blobs" / "originals" / "ab" / "abcdef0123"
    assert copied.read_bytes() == b"not really a photo"
    assert os.stat(copied).st_ino == os.stat(blob).st_ino  # same file system: hard-linked
    assert (dest / "config.toml").read_text() == (library / "config.toml").read_text()
    assert not (dest / "octopus.db-wal").exists()

    # A copy opens as a library of its own.
    restored = octopus(dest, "verify")
    assert restored.returncode == 0 and restored.stdout.startswith(f"ok: {report.head} events"), restored


def test_backup_refuses_unsafe_destinations(library: Path, tmp_path: Path) -> None:
    assert_one_line_failure(octopus(library, "backup", str(library / "inside")), 1, "inside the data dir")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "something").write_text("x")
    assert_one_line_failure(octopus(library, "backup", str(busy)), 1, "not empty")
    assert_one_line_failure(octopus(tmp_path / "nothing", "backup", str(tmp_path / "b")), 1, "no library")
