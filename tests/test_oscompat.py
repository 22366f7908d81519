"""Both behaviours of every Windows/POSIX difference (oscompat.py), run on this machine.

The Windows branch of each function runs here too: the system is a parameter. Where the branch
calls the operating system (a rename that Windows refuses while a file is open), the refusal is
produced by a stand-in for `os.replace`, since Linux never refuses that rename.
"""

from __future__ import annotations

import os
import signal
import stat
from pathlib import Path

import pytest

from octopus_events import oscompat


def test_replace_renames_over_the_target_on_both_systems(tmp_path: Path) -> None:
    for system in ("posix", "nt"):
        src, dst = tmp_path / f"new-{system}", tmp_path / f"old-{system}"
        src.write_text("new")
        dst.write_text("old")
        oscompat.replace(src, dst, system=system)
        assert dst.read_text() == "new" and not src.exists()


def test_on_windows_a_target_held_open_is_retried_until_it_is_free(tmp_path: Path) -> None:
    calls: list[int] = []
    waits: list[float] = []

    def held_twice(src: object, dst: object) -> None:
        calls.append(1)
        if len(calls) <= 2:
            raise PermissionError(13, "The process cannot access the file because it is being used by another process")
        os.replace(src, dst)  # type: ignore[arg-type]

    src, dst = tmp_path / "a", tmp_path / "b"
    src.write_text("x")
    oscompat.replace(src, dst, system="nt", _replace=held_twice, _sleep=waits.append)
    assert len(calls) == 3 and dst.read_text() == "x"
    assert waits == [oscompat.REPLACE_WAIT_S, 2 * oscompat.REPLACE_WAIT_S]


def test_on_windows_a_target_held_for_good_fails_and_posix_never_retries(tmp_path: Path) -> None:
    def always_held(src: object, dst: object) -> None:
        raise PermissionError(13, "in use")

    with pytest.raises(PermissionError):
        oscompat.replace("a", "b", system="nt", _replace=always_held, _sleep=lambda _s: None)
    calls: list[int] = []

    def held(src: object, dst: object) -> None:
        calls.append(1)
        raise PermissionError(13, "denied")

    with pytest.raises(PermissionError):
        oscompat.replace("a", "b", system="posix", _replace=held)
    assert calls == [1]  # on POSIX a PermissionError is real: no retry


def test_directory_fsync_and_private_folders(tmp_path: Path) -> None:
    folder = tmp_path / "lib"
    folder.mkdir(mode=0o755)
    assert oscompat.fsync_dir(folder, system="posix") is True
    assert oscompat.fsync_dir(folder, system="nt") is False
    assert oscompat.make_private(folder, system="nt") is False
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755  # untouched on Windows
    assert oscompat.make_private(folder, system="posix") is True
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_stop_signals_and_address_reuse() -> None:
    assert oscompat.stop_signals(system="posix") == (signal.SIGINT, signal.SIGTERM)
    nt = oscompat.stop_signals(system="nt")
    assert nt[0] == signal.SIGINT and nt[1] == getattr(signal, "SIGBREAK", 21) and signal.SIGTERM not in nt
    assert oscompat.reuse_address(system="posix") is True
    assert oscompat.reuse_address(system="nt") is False


def test_the_portable_data_dir() -> None:
    home = Path("/home/ana")
    assert oscompat.portable_data_dir({}, home, system="posix") == home / ".OctopusPhotos"
    assert oscompat.portable_data_dir({"LOCALAPPDATA": r"C:\Users\ana\AppData\Local"}, home, system="nt") == \
        Path(r"C:\Users\ana\AppData\Local") / "OctopusPhotos"
    assert oscompat.portable_data_dir({}, home, system="nt") == home / "AppData" / "Local" / "OctopusPhotos"


def test_start_at_login(tmp_path: Path) -> None:
    kind, where, what = oscompat.autostart_entry(r"C:\OctopusPhotos\OctopusPhotos.exe", tmp_path, {}, system="nt")
    assert (kind, where, what) == ("registry", "OctopusPhotos", '"C:\\OctopusPhotos\\OctopusPhotos.exe"')
    env = {"XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    program = "/opt/OctopusPhotos/OctopusPhotos"
    assert not oscompat.autostart_enabled(program, home=tmp_path, environ=env, system="posix")
    oscompat.set_autostart(True, program, home=tmp_path, environ=env, system="posix")
    entry = tmp_path / "cfg" / "autostart" / "octopus-photos.desktop"
    assert f"Exec={program}" in entry.read_text()
    assert oscompat.autostart_enabled(program, home=tmp_path, environ=env, system="posix")
    oscompat.set_autostart(False, program, home=tmp_path, environ=env, system="posix")
    assert not entry.exists()


def test_no_other_module_asks_which_system_it_is_on() -> None:
    """The differences live in oscompat (and priority/budget, which ask about Linux features)."""
    src = Path(oscompat.__file__).parent
    allowed = {"oscompat.py", "priority.py", "budget.py"}
    offenders = [str(p.relative_to(src)) for p in src.rglob("*.py")
                 if p.name not in allowed and ('os.name ==' in p.read_text() or 'os.name !=' in p.read_text())]
    assert offenders == []


def test_a_command_with_a_variable_in_each_shell() -> None:
    assert oscompat.shell_with_env("A", "/x y", "octopus serve", system="posix") == "A=/x y octopus serve"
    assert oscompat.shell_with_env("A", r"C:\x", "octopus serve", system="nt") == "set A=C:\\x\n  octopus serve"
