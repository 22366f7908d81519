"""What differs between Windows and the POSIX systems, in one place.

Every function takes the system (`os.name`: "nt" or "posix") as a keyword with the running one as
its default, so both behaviours run and are tested on any machine (tests/test_oscompat.py). The
rest of the code asks here instead of testing `os.name` itself.

- Replacing a file: on Windows `os.replace` fails with PermissionError while another process (a
  virus scanner, the search indexer, a reader of ours) has the target open; it succeeds a moment
  later, so it is retried briefly. POSIX renames over open files atomically.
- Directory fsync: POSIX makes a rename durable by fsyncing the directory; Windows has no
  directory handles to fsync and NTFS journals renames itself.
- Private folders: POSIX gets mode 0700; on Windows a folder under the user's profile
  (%LOCALAPPDATA%) is already readable only by that user and SYSTEM, and chmod could not say more.
- Stop signals: SIGINT and SIGTERM on POSIX (systemd, docker stop, Ctrl-C); on Windows SIGTERM is
  never delivered, Ctrl-C is SIGINT and Ctrl-Break (and a console closing) SIGBREAK.
- Listening sockets: SO_REUSEADDR lets a restarted server bind at once on POSIX, but on Windows
  it lets a second process steal a port in use, so it is not set there.
- Where the portable build keeps its data and how it starts at login.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Callable, Mapping

NT = "nt"

# Windows gives up a sharing violation within milliseconds once the other handle closes; a
# scanner holding a fresh file rarely takes longer than a few hundred.
REPLACE_ATTEMPTS = 20
REPLACE_WAIT_S = 0.025


def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str], *, system: str = os.name,
            _replace: Callable[..., None] = os.replace, _sleep: Callable[[float], None] = time.sleep) -> None:
    """`os.replace`, retried on Windows while the target is held open by someone else."""
    if system != NT:
        _replace(src, dst)
        return
    for attempt in range(REPLACE_ATTEMPTS):
        try:
            _replace(src, dst)
            return
        except PermissionError:
            if attempt == REPLACE_ATTEMPTS - 1:
                raise
            _sleep(REPLACE_WAIT_S * (attempt + 1))


def fsync_dir(directory: str | os.PathLike[str], *, system: str = os.name) -> bool:
    """Make renames in `directory` durable; False where there is nothing to do (Windows)."""
    if system == NT:
        return False
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return True


def make_private(path: str | os.PathLike[str], *, system: str = os.name) -> bool:
    """Let only the owner into `path`; False where the system's defaults already do (Windows)."""
    if system == NT:
        return False
    os.chmod(path, 0o700)
    return True


def stop_signals(*, system: str = os.name) -> tuple[int, ...]:
    """The signals that ask the server to shut down cleanly."""
    if system == NT:
        return (signal.SIGINT, getattr(signal, "SIGBREAK", 21))
    return (signal.SIGINT, signal.SIGTERM)


def reuse_address(*, system: str = os.name) -> bool:
    """Whether a listening socket should set SO_REUSEADDR."""
    return system != NT


def portable_data_dir(environ: Mapping[str, str], home: Path, *, system: str = os.name) -> Path:
    """The portable build's data dir: %LOCALAPPDATA%\\OctopusPhotos on Windows (a per-user,
    not-roaming folder: a library must not sync to every PC of a school network), else the
    product's default ~/.OctopusPhotos."""
    if system == NT:
        local = environ.get("LOCALAPPDATA") or str(home / "AppData" / "Local")
        return Path(local) / "OctopusPhotos"
    return home / ".OctopusPhotos"


RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
AUTOSTART_NAME = "OctopusPhotos"


def autostart_entry(program: str, home: Path, environ: Mapping[str, str], *, system: str = os.name) -> tuple[str, str, str]:
    """How the program starts at login: (kind, where, what).

    Windows: a value under HKCU\\...\\Run (kind "registry", where the value's name). Elsewhere a
    freedesktop autostart file (kind "file", where its path, what its content)."""
    if system == NT:
        return "registry", AUTOSTART_NAME, f'"{program}"'
    config = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    content = (
        "[Desktop Entry]\nType=Application\nName=Octopus Photos\n"
        f"Exec={program}\nX-GNOME-Autostart-enabled=true\n"
    )
    return "file", str(config / "autostart" / "octopus-photos.desktop"), content


def set_autostart(enabled: bool, program: str, *, home: Path | None = None, environ: Mapping[str, str] | None = None,
                  system: str = os.name) -> None:
    """Turn start-at-login on or off for `program`."""
    kind, where, what = autostart_entry(program, home or Path.home(), environ if environ is not None else os.environ,
                                        system=system)
    if kind == "registry":  # pragma: no cover - Windows only; the entry itself is tested
        import winreg  # type: ignore[import-not-found]

        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
            if enabled:
                winreg.SetValueEx(key, where, 0, winreg.REG_SZ, what)
            else:
                try:
                    winreg.DeleteValue(key, where)
                except FileNotFoundError:
                    pass
        return
    path = Path(where)
    if enabled:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(what)
    else:
        path.unlink(missing_ok=True)


def autostart_enabled(program: str, *, home: Path | None = None, environ: Mapping[str, str] | None = None,
                      system: str = os.name) -> bool:
    kind, where, what = autostart_entry(program, home or Path.home(), environ if environ is not None else os.environ,
                                        system=system)
    if kind == "registry":  # pragma: no cover - Windows only
        import winreg  # type: ignore[import-not-found]

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
                return winreg.QueryValueEx(key, where)[0] == what
        except FileNotFoundError:
            return False
    return Path(where).is_file()


def shell_with_env(name: str, value: str, command: str, *, system: str = os.name) -> str:
    """How to type `command` with the environment variable set, in the system's usual shell:
    POSIX shells take a `NAME=value command` prefix; cmd.exe has none, so it is `set` first."""
    if system == NT:
        return f"set {name}={value}\n  {command}"
    return f"{name}={value} {command}"
