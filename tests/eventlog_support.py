"""Shared by the event-store, fault, CLI and packaging tests: probe events and child-process mains.

Child processes import this module (the tests put `tests/` on PYTHONPATH), so the probe event
types are known on both sides: the process that writes them and the one that reads them.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from octopus_events.errors import ConcurrencyConflict
from octopus_events.events import Event
from octopus_events.eventstore import EventStore, Meta

TESTS = Path(__file__).resolve().parent


class ProbeNoted(Event, frozen=True):
    """A small event that says which writer wrote it and its sequence number there."""

    text: str
    writer: str = ""
    seq: int = 0


class ProbeTagged(Event, frozen=True):
    tags: list[str]


def child_env(**extra: str) -> dict[str, str]:
    """Environment for a child Python that can import this module; no stray OCTOPUS_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCTOPUS_")}
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def octopus_cmd(*args: str) -> list[str]:
    """The `octopus` command run by this interpreter, with the probe events registered."""
    return [sys.executable, "-c", "import eventlog_support; from octopus_events.cli import main; main()", *args]


def child_cmd(call: str) -> list[str]:
    return [sys.executable, "-c", f"import eventlog_support as s; s.{call}"]


def flip_byte_of_marker(db: Path, marker: bytes) -> int:
    """Flip one bit inside the only occurrence of `marker` in the database file; returns the offset.

    The WAL is checkpointed into the main file first, so the bytes we change are the ones every
    reader sees. The caller must have closed its own connections.
    """
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    raw = bytearray(db.read_bytes())
    assert raw.count(marker) == 1, f"marker found {raw.count(marker)} times in {db}"
    offset = raw.index(marker) + len(marker) // 2
    raw[offset] ^= 0x01  # ASCII stays ASCII: the JSON still parses, only the hash can tell
    db.write_bytes(bytes(raw))
    return offset


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_health(proc: subprocess.Popen[Any], port: int, timeout: float = 30.0) -> dict[str, Any]:
    """Poll GET /api/health until it answers 200; fail early if the server process died."""
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{port}/api/health"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            err = proc.stderr.read() if proc.stderr else ""
            raise AssertionError(f"server exited with {proc.returncode}\nstdout: {out}\nstderr: {err}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return json.loads(resp.read())
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"no answer from {url} within {timeout} s")


@contextmanager
def watchdog(proc: subprocess.Popen[Any], seconds: float = 60.0) -> Iterator[None]:
    """Kill `proc` if the block takes longer than `seconds`, so a blocking readline cannot hang the run."""
    timer = threading.Timer(seconds, proc.kill)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def stop(proc: subprocess.Popen[Any], timeout: float = 10.0) -> int:
    """SIGTERM, then SIGKILL if it does not go; returns the exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait(timeout)


# -- child process mains --------------------------------------------------------------------------
def appender_main(data_dir: str, batch: int = 5, streams: int = 4) -> None:
    """Append batches to several streams through the whole library (inline projections included)
    until killed; print each acknowledged position, flushed, so the parent knows what was durable."""
    from octopus_events.application import Octopus
    from octopus_events.config import load_config

    octopus = Octopus(load_config(environ={"OCTOPUS_STORAGE_DATA_DIR": data_dir})).open()
    n = 0
    while True:
        n += 1
        stream = f"note-{n % streams}"
        events = [ProbeNoted(text=f"note {n}.{i}", writer=str(os.getpid()), seq=n) for i in range(batch)]
        result = octopus.store.append(stream, None, events, meta=Meta(actor="killer"))
        print(result.positions[-1], flush=True)


def contender_main(db: str, streams: int, appends: int, batch: int, writer: str) -> None:
    """Append `appends` batches to shared streams with expected versions, retrying on conflict.

    Waits for a line on stdin first so that every contender starts at once. Prints one JSON line:
    the sequence numbers it got acknowledged and how many conflicts it saw. Any other error is a
    traceback and a non-zero exit, which the parent treats as a failure.
    """
    store = EventStore(db).open()
    sys.stdin.readline()
    acked: list[int] = []
    conflicts = 0
    for seq in range(appends):
        stream = f"shared-{seq % streams}"
        version = store.stream_version(stream)
        events = [ProbeNoted(text=f"{writer}/{seq}/{i}", writer=writer, seq=seq) for i in range(batch)]
        while True:
            # Widen the read-then-write window a little, so that contenders really overlap even
            # when a loaded machine schedules the processes one after another.
            time.sleep(0.002)
            try:
                store.append(stream, version, events)
                break
            except ConcurrencyConflict as exc:
                conflicts += 1
                version = exc.actual
        acked.append(seq)
    store.close()
    print(json.dumps({"writer": writer, "acked": acked, "conflicts": conflicts}), flush=True)
