"""The `octopus` command: a thin shell over `Octopus`, `backup` and `verify`.

Each command group is added by one function `add_<group>(commands, common)` listed in
`COMMAND_GROUPS`; a new group (users, import, gc) writes its own function and appends it there.
A command's handler takes the parsed arguments and returns the exit code. Expected failures
(`OctopusError`, a file that cannot be read, a locked database) become one line on stderr,
`octopus: <message>`, and exit 1; usage mistakes exit 2. A traceback means a bug.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sqlite3
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, NoReturn, Sequence

import msgspec

from . import __version__, oscompat
from .application import DataPaths, Octopus
from .config import Config, load_config
from .errors import ConfigError, OctopusError
from .eventstore import RecordedEvent
from .events import Event

PROG = "octopus"


class UsageError(Exception):
    """A mistake in the command line itself (exit 2)."""


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage mistake as one line instead of usage text plus message."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog.removeprefix(PROG + ' ')}: {message} (see {self.prog} --help)")


def _common() -> argparse.ArgumentParser:
    common = Parser(add_help=False)
    # SUPPRESS: a subcommand's own default must not overwrite `--config` given before it.
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                        help="config file (default: $OCTOPUS_CONFIG, else <data_dir>/config.toml, else built-in)")
    return common


def _say(line: str) -> None:
    print(line, flush=True)


def _fail(message: str) -> int:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)
    return 1


def config_from(args: argparse.Namespace) -> Config:
    return load_config(getattr(args, "config", None))


def _existing_library(config: Config) -> DataPaths:
    """Commands that inspect a library refuse to create an empty one where none was."""
    paths = DataPaths(config.data_dir)
    if not paths.db.is_file():
        raise ConfigError(f"no library at {paths.root} (start it once with: octopus serve)")
    return paths


@contextmanager
def open_library(args: argparse.Namespace, *, start_projections: bool = True, create: bool = False) -> Iterator[Octopus]:
    """The library for a command. Without `start_projections` nothing is caught up or rebuilt, so
    inspecting commands (status, verify, export) see the library exactly as it is and write nothing.
    With `create`, a missing library is made (the first admin can be added before the first serve)."""
    config = config_from(args)
    if not create:
        _existing_library(config)
    else:
        from .import_octopus06 import refusal

        refused = refusal(config.data_dir)  # making a library inside an 0.6 data dir would mix files in
        if refused:
            raise ConfigError(refused)
    octopus = Octopus(config)
    try:
        if start_projections:
            octopus.open(background_rebuilds=False)
        else:
            octopus.store.open()
        yield octopus
    finally:
        octopus.close()


# -- serve ------------------------------------------------------------------------------------
class _Stop(BaseException):
    """Raised by our SIGINT/SIGTERM handler to unwind into the clean shutdown path."""


def _stop(signum: int, frame: Any) -> None:
    raise _Stop(signum)


def _listen(host: str, port: int) -> socket.socket:
    """Bind before opening the library, so a busy port fails fast with one line."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
    except socket.gaierror as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    # proto=IPPROTO_TCP matters: asyncio turns Nagle off (TCP_NODELAY) only for sockets that say
    # they are TCP, and socket.create_server makes proto-0 ones. With Nagle on, a response's body
    # waits for the client's delayed ACK (~40 ms) on every keep-alive request after the first.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        if oscompat.reuse_address():
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise ConfigError(f"cannot listen on {host}:{port}: {reason.lower()}") from None
    return sock


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from . import sd_notify
    from .logs import configure_logging
    from .web.app import create_app
    from .web.server import uvicorn_config

    config = config_from(args)
    host = args.host or config.server.host
    port = config.server.port if args.port is None else args.port
    if not 0 <= port < 65536:
        raise UsageError(f"serve: --port {port} is not a TCP port")
    from .import_octopus06 import refusal

    refused = refusal(config.data_dir)
    if refused:
        raise ConfigError(refused)  # both products default to ~/.OctopusPhotos (docs/admin.md)
    configure_logging(config.log.level)
    sock = _listen(host, port)
    actual_port = sock.getsockname()[1]
    previous = {sig: signal.signal(sig, _stop) for sig in oscompat.stop_signals()}
    octopus = Octopus(config)
    try:
        octopus.open()
        app = create_app(octopus, listen_host=host)
        server = uvicorn.Server(uvicorn_config(app, config))
        shown = f"[{host}]" if ":" in host else host
        url = f"http://{shown}:{actual_port}/"

        if getattr(args, "parent_pipe", False):
            _stop_when_stdin_closes(server)

        async def run() -> None:
            task = asyncio.create_task(server.serve(sockets=[sock]))
            while not server.started and not task.done():
                await asyncio.sleep(0.02)
            if server.started:
                _say(f"Octopus Photos is running at {url} (data: {octopus.paths.root})")
                sd_notify.ready(f"serving {url}")  # systemd Type=notify (packaging/systemd/)
            try:
                await task
            finally:
                sd_notify.stopping()

        try:
            asyncio.run(run())
        except SystemExit as exc:
            # uvicorn exits this way when the app's start-up fails; it has logged why.
            if exc.code not in (0, None):
                return _fail("the server failed to start (see the log above)")
        return 0
    except _Stop:
        # uvicorn re-raises the signal it handled once it has shut down; either way we land here.
        return 0
    finally:
        try:
            octopus.close()
        finally:
            sock.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def when_stdin_closes(callback: Any) -> None:
    """Call `callback` (on a daemon thread) once stdin reaches its end. How a parent process stops
    us where it has no signal to send: the desktop launcher holds `serve --parent-pipe`'s stdin and
    closes it (or dies, which closes it too); Windows cannot signal a process without a console,
    and killing one would skip the clean shutdown."""
    import threading

    def watch() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError, AttributeError):
            pass
        callback()

    threading.Thread(target=watch, name="stdin-eof", daemon=True).start()


def _stop_when_stdin_closes(server: Any) -> None:
    when_stdin_closes(lambda: setattr(server, "should_exit", True))  # uvicorn looks every tick


def add_serve(commands: Any, common: argparse.ArgumentParser) -> None:
    p = commands.add_parser("serve", parents=[common], help="run the server (UI + API)",
                            description="Serve the UI and the API; creates the data dir on first start.")
    p.add_argument("--host", help="address to listen on (default: server.host)")
    p.add_argument("--port", type=int, help="port to listen on (default: server.port; 0 picks a free one)")
    p.add_argument("--parent-pipe", action="store_true", help=argparse.SUPPRESS)  # desktop.py: stop at stdin's end
    p.set_defaults(handler=cmd_serve)


# -- projections ------------------------------------------------------------------------------
def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def cmd_projections_status(args: argparse.Namespace) -> int:
    with open_library(args, start_projections=False) as octopus:
        statuses = octopus.engine.status()
    if not statuses:
        _say("no projections")
        return 0
    rows = [("name", "mode", "version", "position", "lag", "state", "rebuilt_at", "progress")]
    for s in statuses:
        progress = "-" if s.progress is None else f"{s.progress:.0%}"
        rows.append((s.name, s.mode, s.version, str(s.position), str(s.lag), s.state, s.rebuilt_at or "-", progress))
    _say(_table(rows))
    for s in statuses:
        if s.error:
            _say(f"{s.name}: {s.error}")
    return 0


def cmd_projections_rebuild(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor, TimeoutError as Pending

    from .application import all_projectors

    known = [p.name for p in all_projectors()]
    if args.all == bool(args.names):
        raise UsageError("projections rebuild: name one or more projections, or pass --all")
    names = known if args.all else args.names
    unknown = [n for n in names if n not in known]
    if unknown:
        return _fail(f"no projection named {unknown[0]!r} (known: {', '.join(known) or 'none'})")
    # Opening catches every projector up first, so the ones not named are current as well.
    with open_library(args) as octopus, ThreadPoolExecutor(1) as pool:
        engine = octopus.engine
        for name in names:
            started = time.perf_counter()
            done = pool.submit(engine.rebuild, name, wait=True)
            shown = -1.0
            while True:
                try:
                    done.result(timeout=0.5)  # re-raises a failed rebuild (Unavailable: one line)
                    break
                except Pending:
                    progress = next(s.progress for s in engine.status() if s.name == name)
                    if progress is not None and progress - shown >= 0.05:
                        shown = progress
                        print(f"{name}: {progress:.0%}", file=sys.stderr, flush=True)
            status = next(s for s in engine.status() if s.name == name)
            _say(f"{name}: rebuilt to position {status.position} in {time.perf_counter() - started:.1f} s")
    return 0


def add_projections(commands: Any, common: argparse.ArgumentParser) -> None:
    p = commands.add_parser("projections", parents=[common], help="read models: status and rebuilds",
                            description="Inspect and rebuild the read models built from the log.")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=Parser)
    s = sub.add_parser("status", parents=[common], help="one line per projection",
                       description="name, mode, version, position, lag, state, rebuilt_at, progress")
    s.set_defaults(handler=cmd_projections_status)
    r = sub.add_parser("rebuild", parents=[common], help="rebuild from the log (waits, shows progress)",
                       description="Rebuild read models from the log; reads and writes keep working meanwhile.")
    r.add_argument("names", nargs="*", metavar="NAME", help="projections to rebuild")
    r.add_argument("--all", action="store_true", help="rebuild every projection")
    r.set_defaults(handler=cmd_projections_rebuild)


# -- events -----------------------------------------------------------------------------------
class ExportedEvent(msgspec.Struct, frozen=True):
    """One line of `octopus events export`. `data` is the event in its current shape (upcast when
    it was stored by an older version); `type_version` is the version of that shape."""

    position: int
    event_id: str
    stream: str
    stream_version: int
    type: str
    type_version: int
    recorded_at: str
    actor: str | None
    owner: str | None
    correlation_id: str | None
    causation_id: str | None
    data: Event


def rfc3339(recorded_us: int) -> str:
    return datetime.fromtimestamp(recorded_us / 1_000_000, tz=timezone.utc).isoformat(timespec="microseconds")


def exported(r: RecordedEvent) -> ExportedEvent:
    return ExportedEvent(
        r.position, r.event_id, r.stream, r.stream_version, r.type, type(r.event).version, rfc3339(r.recorded_us),
        r.actor, r.owner, r.correlation_id, r.causation_id, r.event,
    )


def cmd_events_export(args: argparse.Namespace) -> int:
    encoder = msgspec.json.Encoder()
    out = sys.stdout.buffer
    buf = bytearray()
    with open_library(args, start_projections=False) as octopus:
        for batch in octopus.store.iter_all(args.after):
            for r in batch:
                encoder.encode_into(exported(r), buf, -1)
                buf += b"\n"
            out.write(buf)
            buf.clear()
    out.flush()
    return 0


def _tail_line(r: RecordedEvent) -> str:
    when = datetime.fromtimestamp(r.recorded_us / 1_000_000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return f"{r.position:>8}  {when}  {r.stream}  {r.type}  {r.actor or '-'}"


def cmd_events_tail(args: argparse.Namespace) -> int:
    with open_library(args, start_projections=False) as octopus:
        store = octopus.store
        after = args.after if args.after is not None else max(0, store.head() - args.lines)
        try:
            while True:
                for batch in store.iter_all(after):
                    for r in batch:
                        print(_tail_line(r))
                    after = batch[-1].position
                sys.stdout.flush()
                if not args.follow:
                    return 0
                time.sleep(0.5)
        except KeyboardInterrupt:
            return 0


def add_events(commands: Any, common: argparse.ArgumentParser) -> None:
    p = commands.add_parser("events", parents=[common], help="read the event log",
                            description="Read the event log: follow it, or export it as NDJSON.")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=Parser)
    t = sub.add_parser("tail", parents=[common], help="recent events, one line each",
                       description="Print events as: position, time (UTC), stream, type, actor.")
    t.add_argument("--after", type=int, metavar="N", help="start after position N (default: the last --lines)")
    t.add_argument("-n", "--lines", type=int, default=20, metavar="K", help="how many recent events (default 20)")
    t.add_argument("-f", "--follow", action="store_true", help="keep printing new events until Ctrl-C")
    t.set_defaults(handler=cmd_events_tail)
    e = sub.add_parser("export", parents=[common], help="NDJSON to stdout, one event a line",
                       description="Write the log as NDJSON: one JSON object per event, in log order.")
    e.add_argument("--after", type=int, default=0, metavar="N", help="start after position N (default 0)")
    e.set_defaults(handler=cmd_events_export)


# -- verify -----------------------------------------------------------------------------------
def cmd_verify(args: argparse.Namespace) -> int:
    from .verify import check_library

    with open_library(args, start_projections=False) as octopus:
        report = check_library(octopus)
    if report.ok:
        _say(f"ok: {report.events} events, head {report.head}, {report.projections_current} projections current")
        return 0
    for problem in report.problems:
        _say(f"FAILED: {problem}")
    return 1


def add_verify(commands: Any, common: argparse.ArgumentParser) -> None:
    p = commands.add_parser("verify", parents=[common], help="check the log and what is built from it",
                            description="Check the log's hash chain and positions and every projection's "
                                        "checkpoint and version; exit 1 on the first problem.")
    p.set_defaults(handler=cmd_verify)


# -- backup -----------------------------------------------------------------------------------
def cmd_backup(args: argparse.Namespace) -> int:
    from .backup import backup

    config = config_from(args)
    paths = _existing_library(config)
    config_file = Path(args.config) if getattr(args, "config", None) else None
    report = backup(paths.root, Path(args.dest), config_file=config_file,
                    progress=lambda step: print(f"backup: {step}", file=sys.stderr, flush=True))
    if not report.verified:
        return _fail(f"the backup in {report.dest} does not verify: {report.problem}")
    how = "hard-linked or copied" if report.blobs_linked else "copied"
    kind = "incremental" if report.incremental else "full"
    _say(f"backup ({kind}): {report.events} events (head {report.head}), database {report.db_bytes} bytes; "
         f"files: {report.copied} new {how} ({report.copied_bytes} bytes), {report.unchanged} unchanged, "
         f"{report.removed} removed; {report.blobs} in all ({report.blob_bytes} bytes)"
         f"{', config.toml' if report.config_copied else ''} -> {report.dest} in {report.seconds:.1f} s")
    _say("backup: the copy verifies")
    return 0


def add_backup(commands: Any, common: argparse.ArgumentParser) -> None:
    p = commands.add_parser("backup", parents=[common], help="consistent, incremental copy, also while the server runs",
                            description="Copy the database (SQLite online backup), the files and config.toml "
                                        "into DEST, then verify the copy. DEST is a new or empty directory, or "
                                        "an earlier backup of this library: then only new and changed files "
                                        "are copied and files the library no longer has are removed.")
    p.add_argument("dest", metavar="DEST", help="directory to create, an empty one, or an earlier backup")
    p.set_defaults(handler=cmd_backup)


# -- restore ----------------------------------------------------------------------------------
def cmd_restore(args: argparse.Namespace) -> int:
    from .config import load_config
    from .restore import restore
    from .verify import check_library

    report = restore(Path(args.src), Path(args.data_dir),
                     progress=lambda step: print(f"restore: {step}", file=sys.stderr, flush=True))
    _say(f"restore: {report.events} events (head {report.head}), {report.files} files ({report.file_bytes} bytes; "
         f"{report.verified_files} verified byte for byte"
         f"{f', {report.unverified_files} without a checksum in the backup' if report.unverified_files else ''})"
         f" -> {report.data_dir} in {report.seconds:.1f} s")
    config = load_config(None, environ={**os.environ, "OCTOPUS_STORAGE_DATA_DIR": report.data_dir})
    from .application import Octopus

    octopus = Octopus(config)
    try:
        octopus.store.open()  # as `verify` does: look, write nothing
        library = check_library(octopus)
    finally:
        octopus.close()
    if not library.ok:
        for problem in library.problems:
            _say(f"FAILED: {problem}")
        return _fail(f"the restored library in {report.data_dir} does not verify")
    _say(f"restore: the library verifies ({library.projections_current} projections current); "
         f"start it with OCTOPUS_STORAGE_DATA_DIR={report.data_dir} octopus serve")
    return 0


def add_restore(commands: Any, common: argparse.ArgumentParser) -> None:
    p = commands.add_parser("restore", parents=[common], help="restore a backup into a new data dir, verified",
                            description="Copy the backup in SRC into DATA_DIR (new or empty), checking the "
                                        "database, the log's hash chain and every file's SHA-256 as it goes; "
                                        "then open the restored library and run verify's checks on it.")
    p.add_argument("src", metavar="SRC", help="a directory made by octopus backup")
    p.add_argument("data_dir", metavar="DATA_DIR", help="the new data dir (must not exist, or be empty)")
    p.set_defaults(handler=cmd_restore)


# -- users ------------------------------------------------------------------------------------
def _read_password(args: argparse.Namespace, prompt: str) -> str:
    """From stdin with --password-stdin (scripts), else asked twice without echo."""
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        import getpass

        if not sys.stdin.isatty():
            raise UsageError("users: no terminal to ask for the password; use --password-stdin")
        password = getpass.getpass(prompt)
        if getpass.getpass("again: ") != password:
            raise OctopusError("the two passwords differ")
    from .accounts import check_password

    return check_password(password)


def cmd_users(args: argparse.Namespace) -> int:
    from .eventstore import Meta
    from .readmodels import users

    with open_library(args, create=args.action == "add") as octopus:
        accounts = octopus.accounts
        meta = Meta(actor="cli", correlation_id="cli")
        if args.action == "list":
            rows = users.all_users(octopus.store.reader())
            _say(f"{'username':<24}{'role':<8}{'quota':>14}  created")
            for user in rows:
                quota = f"{user.quota_bytes // (1024 * 1024)} MB" if user.quota_bytes else "unlimited"
                _say(f"{user.username:<24}{'admin' if user.admin else 'user':<8}{quota:>14}  {user.created_at}")
            return 0
        name = args.name
        if args.action == "add":
            password = _read_password(args, f"password for {name}: ")
            user = asyncio.run(accounts.admin_create(name, password, admin=args.admin, quota_bytes=None, meta=meta))
            _say(f"users: created {user.username}{' (admin)' if user.admin else ''}")
            return 0
        found = users.find_by_name(octopus.store.reader(), name)
        if found is None:
            return _fail(f"users: no user named {name!r}")
        if args.action == "passwd":
            password = _read_password(args, f"new password for {name}: ")
            hashed = asyncio.run(accounts.hash_password(password))
            octopus.store.transact(lambda tx: accounts.set_password_in(tx, found.id, hashed, keep=None, meta=meta))
            _say(f"users: password of {found.username} changed; every session of theirs was ended")
            return 0
        if not args.yes:
            return _fail(f"users: deleting {found.username} erases every photo of theirs for good; add --yes to confirm")
        asyncio.run(accounts.delete_user(found.id, meta))
        _say(f"users: deleted {found.username} and every photo, album and key of theirs")
        return 0


def add_users(commands: Any, common: argparse.ArgumentParser) -> None:
    p = commands.add_parser("users", parents=[common], help="add, list, change or delete accounts",
                            description="Manage accounts on the same data the server uses (it may be running).")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=Parser)
    add = actions.add_parser("add", parents=[common], help="create an account")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--admin", action="store_true", help="make the account an admin")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    actions.add_parser("list", parents=[common], help="list accounts")
    passwd = actions.add_parser("passwd", parents=[common], help="set a new password (ends their sessions)")
    passwd.add_argument("name", metavar="NAME")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    delete = actions.add_parser("delete", parents=[common], help="delete an account and all its photos for good")
    delete.add_argument("name", metavar="NAME")
    delete.add_argument("--yes", action="store_true", help="confirm: this cannot be undone")
    p.set_defaults(handler=cmd_users)


# -- import -----------------------------------------------------------------------------------
class _ImportProgressLine:
    """Progress on stderr: an in-place bar on a terminal, a plain line every few seconds otherwise."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.every = 0.1 if self.tty else 5.0
        self.last = time.monotonic()
        self.drawn = False

    def __call__(self, p: Any) -> None:
        now = time.monotonic()
        if now - self.last < self.every and p.done != p.total:
            return
        self.last = now
        rate = p.done / p.elapsed if p.elapsed > 0 else 0.0
        counts = (f"{p.done}/{p.total}  imported {p.imported}, already there {p.duplicates}, "
                  f"skipped {p.skipped}, failed {p.failed}  {rate:.1f} files/s")
        if self.tty:
            width = 24
            filled = width * p.done // p.total if p.total else width
            self.stream.write(f"\r\x1b[K[{'#' * filled}{'.' * (width - filled)}] {counts}")
            self.drawn = True
        else:
            self.stream.write(f"import: {counts}\n")
        self.stream.flush()

    def end(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False


def _import_summary(report: Any) -> str:
    r = report
    if r.dry_run:
        parts = [f"would import {r.imported}", f"{r.duplicates} already there", f"{r.skipped} skipped (not photos)"]
    else:
        parts = [f"{r.imported} imported", f"{r.duplicates} already there", f"{r.skipped} skipped (not photos)"]
    parts.append(f"{r.failed} failed")
    if r.live_clips:
        parts.append(f"{r.live_clips} Live Photo videos joined their photos")
    if r.takeout:
        verb = "would create" if r.dry_run else "created"
        parts.append(f"albums {verb}: {len(r.albums_created)}")
        if not r.dry_run:
            parts += [f"{r.album_photos_added} added to albums", f"{r.favourites_set} favourites",
                      f"{r.dated_from_sidecar} dated from sidecars"]
            if r.located_from_sidecar:
                parts.append(f"{r.located_from_sidecar} located from sidecars")
            if r.gps_not_imported:
                parts.append(f"{r.gps_not_imported} sidecar locations not added to photos already there")
        if r.trashed:
            parts.append(f"{r.trashed} in Takeout's bin not imported")
        if r.archived:
            parts.append(f"{r.archived} archived in Google Photos (new ones go to the Archive)")
    head = "import (dry run)" if r.dry_run else "import"
    return f"{head}: {', '.join(parts)} in {r.seconds:.1f} s"


def _octopus06_summary(r: Any) -> str:
    verb = "would import" if r.dry_run else "imported"
    here = len(r.users_existing) + len(r.users_from_earlier_run)
    parts = [f"users: {len(r.users_created)} {'to create' if r.dry_run else 'created'}"
             + (f", {here} already here" if here else ""),
             f"photos: {r.imported} {verb}, {r.duplicates} already here, {r.failed} failed",
             f"{r.trashed} {'would go' if r.dry_run else 'went'} into the trash",
             f"vault: {r.vault_imported} {verb}, {r.vault_duplicates} already there, {r.vault_skipped} skipped",
             f"albums {'to create' if r.dry_run else 'created'}: {len(r.albums_created)}"]
    if not r.dry_run:
        parts.append(f"{r.album_photos_added} added to albums")
        if r.tags_filled or r.descriptions_filled:
            parts.append(f"{r.tags_filled} tags and {r.descriptions_filled} descriptions filled in")
    head = "import from 0.6 (dry run)" if r.dry_run else "import from 0.6"
    return f"{head}: {'; '.join(parts)} in {r.seconds:.1f} s"


def _ask_vault_passphrases(source: Path, given: dict[str, str]) -> dict[str, str]:
    """On a terminal, ask for the 0.6 vault passphrase of each user with vault photos not given
    one (Enter skips them); in a script nothing is asked and they are listed as skipped."""
    if not sys.stdin.isatty():
        return {}
    import getpass

    from .import_octopus06 import read_library

    library = read_library(source)  # a bad source fails here, in one line, before any question
    vaulted: dict[str, int] = {}
    for photo in library.photos:
        if photo.encrypted:
            vaulted[photo.user_id] = vaulted.get(photo.user_id, 0) + 1
    out: dict[str, str] = {}
    for user in library.users:
        if user.id in vaulted and user.username not in given:
            answer = getpass.getpass(f"0.6 vault passphrase of {user.username} ({vaulted[user.id]} photos; "
                                     f"Enter to skip them): ")
            if answer:
                out[user.username] = answer
    return out


def cmd_import_octopus06(args: argparse.Namespace) -> int:
    """`octopus import DIR --from-octopus-0.6`: every user, photo, album and (with passphrases)
    vault photo of an Octopus Photos 0.6.1 data dir, which is only read (import_octopus06.py)."""
    from .import_octopus06 import MoveIn, parse_passphrases, refusal

    if args.user or args.takeout:
        raise UsageError("import: --from-octopus-0.6 brings every 0.6 user; leave out --user and --takeout")
    passphrases = parse_passphrases(args.vault_passphrase or [], args.vault_passphrase_file or [])
    here = parse_passphrases(args.vault_passphrase_here or [], [], option="--vault-passphrase-here")
    config = config_from(args)
    source = Path(args.path).expanduser().resolve()
    if config.data_dir == source or source in config.data_dir.parents:
        message = refusal(source) or ""
        raise ConfigError(f"the data dir {config.data_dir} is the 0.6 one (or inside it); import into a data dir "
                          f"of its own.\n{message}".rstrip())
    elsewhere = refusal(config.data_dir)  # the target is another 0.6 data dir
    if elsewhere:
        raise ConfigError(elsewhere)
    passphrases.update(_ask_vault_passphrases(source, passphrases))
    progress = _ImportProgressLine(sys.stderr)
    with open_library(args, create=True) as octopus:
        try:
            report = asyncio.run(MoveIn(octopus, source, vault_passphrases=passphrases, vault_passphrases_here=here,
                                        dry_run=args.dry_run,
                                        progress=progress).run())
        finally:
            progress.end()
    for problem in report.failures:
        print(f"{PROG}: import: {problem.path}: {problem.reason}", file=sys.stderr)
    if report.failed > len(report.failures):
        print(f"{PROG}: import: … and {report.failed - len(report.failures)} more failed", file=sys.stderr)
    for problem in report.skipped:
        print(f"{PROG}: import: skipped: {problem.path}: {problem.reason}", file=sys.stderr)
    for problem in report.warnings:
        print(f"{PROG}: import: warning: {problem.path}: {problem.reason}", file=sys.stderr)
    for renamed in report.users_renamed:
        print(f"{PROG}: import: user {renamed} (names here are letters, digits and . _ @ -)", file=sys.stderr)
    for name in report.users_without_password:
        print(f"{PROG}: import: user {name} was inactive in 0.6: it cannot sign in until an admin runs "
              f"octopus users passwd {name}", file=sys.stderr)
    for name in report.users_existing:
        print(f"{PROG}: import: user {name} was already here: its 0.6 photos joined it, its password stays",
              file=sys.stderr)
    _say(_octopus06_summary(report))
    if report.stopped:
        return _fail(f"import stopped early: {report.stopped}; free space or raise the quota, then run it again")
    return 1 if report.failed else 0


def cmd_import(args: argparse.Namespace) -> int:
    from .importer import Importer

    if args.from_octopus_06:
        return cmd_import_octopus06(args)
    if not args.user:
        raise UsageError("import: the following arguments are required: --user")
    progress = _ImportProgressLine(sys.stderr)
    with open_library(args) as octopus:
        try:
            report = asyncio.run(Importer(octopus).run(args.path, args.user, takeout=args.takeout,
                                                       dry_run=args.dry_run, progress=progress))
        finally:
            progress.end()
    for problem in report.failures:
        print(f"{PROG}: import: {problem.path}: {problem.reason}", file=sys.stderr)
    if report.failed > len(report.failures):
        print(f"{PROG}: import: … and {report.failed - len(report.failures)} more failed", file=sys.stderr)
    for problem in report.warnings:
        print(f"{PROG}: import: warning: {problem.path}: {problem.reason}", file=sys.stderr)
    _say(_import_summary(report))
    if report.stopped:
        return _fail(f"import stopped early: {report.stopped}; free space or raise the quota, then run it again")
    return 1 if report.failed else 0


def add_import(commands: Any, common: argparse.ArgumentParser) -> None:
    p = commands.add_parser("import", parents=[common], help="import a folder of photos or a Google Takeout",
                            description="Import every image under PATH into a user's library, several at a time. "
                                        "Files that are not images are skipped; broken ones are reported and the "
                                        "rest still imported. Running it again imports nothing twice. Exit 1 when "
                                        "some files failed.")
    p.add_argument("path", metavar="PATH", help="folder to import (searched recursively; hidden folders skipped)")
    p.add_argument("--user", metavar="NAME", help="the account the photos go to (required, except with "
                                                   "--from-octopus-0.6)")
    p.add_argument("--takeout", action="store_true",
                   help="PATH is a Google Takeout: use its JSON sidecars (dates, descriptions, favourites) "
                        "and turn album folders into albums")
    p.add_argument("--from-octopus-0.6", dest="from_octopus_06", action="store_true",
                   help="PATH is an Octopus Photos 0.6 data dir (~/.OctopusPhotos of 0.6.1): bring every user, "
                        "photo, tag, album and the trash; it is only read, never changed")
    p.add_argument("--vault-passphrase", action="append", metavar="USER=PASSPHRASE",
                   help="with --from-octopus-0.6: USER's 0.6 vault passphrase, to bring their vault photos "
                        "(repeat per user; without it they are listed as skipped)")
    p.add_argument("--vault-passphrase-file", action="append", metavar="USER=PATH",
                   help="the same, read from the first line of a file (kept out of the shell history)")
    p.add_argument("--vault-passphrase-here", action="append", metavar="USER=PASSPHRASE",
                   help="the passphrase of USER's vault here, when it is not the 0.6 one (default: the 0.6 "
                        "one, which also creates the vault if there is none)")
    p.add_argument("--dry-run", action="store_true", help="only count what would be imported; change nothing")
    p.set_defaults(handler=cmd_import)


# -- gc ---------------------------------------------------------------------------------------
def cmd_gc(args: argparse.Namespace) -> int:
    with open_library(args) as octopus:
        report = asyncio.run(octopus.photos.collect_garbage())
        from .uploads import uploads_of

        expired = asyncio.run(uploads_of(octopus).remove_expired())
    _say(f"gc: purged {report.purged} expired trash photos, removed {report.orphans} orphan blobs "
         f"and {report.temp_files} temp files, and {expired} expired uploads")
    return 0


def add_gc(commands: Any, common: argparse.ArgumentParser) -> None:
    p = commands.add_parser("gc", parents=[common], help="purge expired trash, orphan blobs and temp files",
                            description="Purge trashed photos past their retention, blobs no photo references "
                                        "(older than an hour, so uploads in flight are safe) and stale temp files.")
    p.set_defaults(handler=cmd_gc)


# -- entry point ------------------------------------------------------------------------------
COMMAND_GROUPS: list[Callable[[Any, argparse.ArgumentParser], None]] = [
    add_serve, add_projections, add_events, add_verify, add_backup, add_restore, add_users, add_import, add_gc,
]
"""One function per command group; each adds its subcommands with `common` as a parent parser."""


def build_parser() -> Parser:
    common = _common()
    parser = Parser(prog=PROG, parents=[common], description="Octopus Photos: a self-hosted photo library.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=Parser)
    for add_group in COMMAND_GROUPS:
        add_group(commands, common)
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    """Parse `argv`, run the command, and turn expected failures into one line. Returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
        code = args.handler(args)
        sys.stdout.flush()  # inside the try, so a closed pipe is handled below
        return code
    except UsageError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr, flush=True)
        return 2
    except OctopusError as exc:
        return _fail(str(exc))
    except BrokenPipeError:
        # `octopus events export | head`: the reader left; that is not our failure. Point stdout
        # at /dev/null so the interpreter's final flush does not complain either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except sqlite3.Error as exc:
        return _fail(f"database: {exc}")
    except OSError as exc:
        # Report the path involved when there is one: "permission denied: /srv/photos/octopus.db".
        where = exc.filename or ""
        return _fail(f"{exc.strerror or exc}{': ' + str(where) if where else ''}")
    except KeyboardInterrupt:
        return 130


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Console entry point (`octopus`)."""
    sys.exit(run(argv))


if __name__ == "__main__":
    main()
