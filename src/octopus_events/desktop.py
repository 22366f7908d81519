"""`OctopusPhotos.exe`: the portable build's program, a server with a tray icon.

Double-clicked (no arguments) it starts `octopus serve` as a child process, keeps the library in
%LOCALAPPDATA%\\OctopusPhotos unless one is configured (oscompat.portable_data_dir), opens the
browser the first time (when no library existed yet), and shows a tray icon: Open Octopus
Photos, Pause (stops the server until Resume), Start at login, Quit. Where there is no screen to
show an icon on (a Linux server, a test; or with OCTOPUSPHOTOS_TRAY=off) it runs the same
without one and stops on Ctrl-C or SIGTERM (or, with OCTOPUSPHOTOS_STOP_ON_STDIN_EOF=1, when its
stdin closes: how a script stops it on Windows). With arguments it is the `octopus` command itself (`OctopusPhotos.exe backup E:\\b`),
which the bundle's console `octopus.exe` is too.

The server is a child process, not a thread: the command line's `serve` is then the one code path
(signals, logging, clean shutdown), and a crash in it cannot take the icon with it. It is told to
stop by closing its stdin (`serve --parent-pipe`): Windows cannot send SIGTERM to a process
without a console, and killing it would skip the clean shutdown. If the launcher dies, the pipe
closes too, so no server is left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import webbrowser
from pathlib import Path
from typing import IO, Any, Callable, Sequence

from . import oscompat

PREFIX = "Octopus Photos is running at "


def frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def server_command() -> list[str]:
    """How to run `octopus serve` from here: the bundle's own program, or this Python."""
    if frozen():
        return [sys.executable, "serve", "--parent-pipe"]
    return [sys.executable, "-m", "octopus_events.cli", "serve", "--parent-pipe"]


def launcher_environment(environ: dict[str, str], home: Path, *, system: str = os.name) -> dict[str, str]:
    """The server's environment: the portable data dir unless a data dir or config is given."""
    env = {k: v for k, v in environ.items() if not k.startswith("OCTOPUSPHOTOS_")}  # the launcher's own
    if not env.get("OCTOPUS_STORAGE_DATA_DIR") and not env.get("OCTOPUS_CONFIG"):
        env["OCTOPUS_STORAGE_DATA_DIR"] = str(oscompat.portable_data_dir(environ, home, system=system))
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def browser_url(line: str) -> str | None:
    """The URL to open from serve's first line; a wildcard address becomes loopback."""
    if not line.startswith(PREFIX):
        return None
    url = line[len(PREFIX):].split(" ", 1)[0]
    for wildcard in ("//0.0.0.0:", "//[::]:"):
        url = url.replace(wildcard, "//127.0.0.1:")
    return url


class ServerProcess:
    """`octopus serve` as a child: start, learn its URL, stop cleanly."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.url: str | None = None
        self.failure: str | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 120.0) -> bool:
        """Start and wait until it serves; False (with `failure`) when it could not."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        flags = getattr(subprocess, "CREATE_NO_WINDOW", 0)  # no console window on Windows
        self.proc = subprocess.Popen(server_command(), env=self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=log, creationflags=flags)
        log.close()
        assert self.proc.stdout is not None
        first = _readline(self.proc.stdout, timeout)
        url = browser_url(first)
        if url is None:
            self.proc.wait(30)
            self.failure = _last_line(self.log_path) or first or "the server stopped"
            self.proc = None
            return False
        self.url = url
        threading.Thread(target=_drain, args=(self.proc.stdout, self.log_path), daemon=True).start()
        return True

    def stop(self, timeout: float = 30.0) -> int | None:
        """Close its stdin (a clean shutdown), then wait; kill only if it does not go."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        try:
            if proc.stdin is not None:
                proc.stdin.close()
        except OSError:
            pass
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait(10)


def _readline(stream: IO[bytes], timeout: float) -> str:
    found: list[bytes] = []
    reader = threading.Thread(target=lambda: found.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return found[0].decode(errors="replace").strip() if found else ""


def _drain(stream: IO[bytes], log_path: Path) -> None:
    with open(log_path, "ab") as log:
        for line in stream:
            log.write(line)
            log.flush()


def _last_line(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except FileNotFoundError:
        return ""
    return lines[-1] if lines else ""


class Desktop:
    """The launcher: a server process and, where there is a screen, a tray icon."""

    def __init__(self, environ: dict[str, str] | None = None, *, home: Path | None = None,
                 open_browser: Callable[[str], Any] = webbrowser.open) -> None:
        self.env = launcher_environment(dict(os.environ if environ is None else environ), home or Path.home())
        self.data_dir = Path(os.path.expanduser(self.env.get("OCTOPUS_STORAGE_DATA_DIR", "~/.OctopusPhotos")))
        self.first_start = not (self.data_dir / "octopus.db").exists()
        self.server = ServerProcess(self.env, self.data_dir / "logs" / "server.log")
        self.open_browser = open_browser
        self.paused = False
        self.done = threading.Event()
        self.program = sys.executable if frozen() else f"{sys.executable} -m octopus_events.desktop"

    def start(self) -> bool:
        if not self.server.start():
            print(f"Octopus Photos could not start: {self.server.failure}", file=sys.stderr)
            return False
        print(f"Octopus Photos is running at {self.server.url} (data: {self.data_dir})", flush=True)
        if self.first_start and self.server.url:
            self.first_start = False
            self.open_browser(self.server.url)
        return True

    # -- menu actions -------------------------------------------------------------------------------
    def open(self) -> None:
        if self.server.url and not self.paused:
            self.open_browser(self.server.url)

    def toggle_pause(self) -> None:
        if self.paused:
            self.paused = not self.start()
        else:
            self.server.stop()
            self.paused = True

    def toggle_autostart(self) -> None:
        oscompat.set_autostart(not oscompat.autostart_enabled(self.program), self.program)

    def quit(self) -> None:
        self.server.stop()
        self.done.set()

    # -- running ------------------------------------------------------------------------------------
    def run(self) -> int:
        icon = _tray(self)
        if icon is None:
            # Before the server starts: a stop asked for while it starts must not kill us halfway.
            for sig in oscompat.stop_signals():
                signal.signal(sig, lambda *_: self.done.set())
        if not self.start():
            return 1
        if icon is not None:
            icon.run()  # returns when Quit stops it
            self.quit()
            return 0
        return self.run_headless()

    def run_headless(self) -> int:
        """No screen: serve until Ctrl-C or SIGTERM (or the server ends by itself)."""
        if os.environ.get("OCTOPUSPHOTOS_STOP_ON_STDIN_EOF") == "1" and sys.stdin is not None:
            # A script's way to stop us on Windows, where a process without a console gets no
            # signal (scripts/build_bundle.py --smoke): close our stdin.
            from .cli import when_stdin_closes

            when_stdin_closes(self.done.set)
        while not self.done.wait(0.5):
            if not self.server.running and not self.paused:
                print(f"Octopus Photos stopped: {_last_line(self.server.log_path)}", file=sys.stderr)
                return 1
        code = self.server.stop()
        return 0 if code in (0, None) else code


# The tray's own words. The web UI's catalogue (webroot/js/messages/) is JavaScript; these few live
# here, chosen from the desktop's language like the UI's are from the browser's.
TRAY_TEXT = {
    "en": {"open": "Open Octopus Photos", "pause": "Pause", "resume": "Resume", "login": "Start at login",
           "quit": "Quit"},
    "es": {"open": "Abrir Octopus Photos", "pause": "Pausar", "resume": "Reanudar", "login": "Iniciar al entrar",
           "quit": "Salir"},
}


def tray_language(environ: dict[str, str], windows_ui_language: str | None = None) -> str:
    """"es" for a Spanish desktop (LANG/LC_ALL/LANGUAGE, or Windows' UI language), else "en"."""
    for value in (windows_ui_language, environ.get("LC_ALL"), environ.get("LC_MESSAGES"), environ.get("LANG"),
                  environ.get("LANGUAGE")):
        if value:
            return "es" if value.lower().startswith("es") else "en"
    return "en"


def _windows_ui_language() -> str | None:
    """Windows' display language as a locale name ("es_ES"), None elsewhere."""
    try:
        import ctypes
        import locale

        windll = getattr(ctypes, "windll", None)  # only on Windows
        if windll is None:
            return None
        return locale.windows_locale.get(windll.kernel32.GetUserDefaultUILanguage())  # pragma: no cover
    except Exception:  # noqa: BLE001 - a language we cannot read is English
        return None


def has_screen(environ: dict[str, str], *, system: str = os.name, platform: str = sys.platform) -> bool:
    if system == oscompat.NT or platform == "darwin":
        return True
    return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))


def _tray(desktop: Desktop) -> Any:
    """The tray icon, or None where there is no screen or no tray library."""
    if not has_screen(dict(os.environ)) or os.environ.get("OCTOPUSPHOTOS_TRAY") == "off":
        return None
    try:
        import pystray  # the bundle's dependency group; not in the server's install
        from PIL import Image
    except Exception:  # noqa: BLE001 - any failure to load a tray backend means: no tray
        return None
    from .resources import data_path

    image = Image.open(data_path("webroot", "icons", "icon-192.png"))
    text = TRAY_TEXT[tray_language(dict(os.environ), _windows_ui_language())]

    def pause_text(_item: Any) -> str:
        return text["resume"] if desktop.paused else text["pause"]

    def stop(icon: Any) -> None:
        desktop.quit()
        icon.stop()

    menu = pystray.Menu(
        pystray.MenuItem(text["open"], lambda: desktop.open(), default=True),
        pystray.MenuItem(pause_text, lambda: desktop.toggle_pause()),
        pystray.MenuItem(text["login"], lambda: desktop.toggle_autostart(),
                         checked=lambda _item: oscompat.autostart_enabled(desktop.program)),
        pystray.MenuItem(text["quit"], stop),
    )
    try:
        return pystray.Icon("octopus-photos", image, "Octopus Photos", menu)
    except Exception:  # noqa: BLE001
        return None


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args:
        from .cli import run

        return run(args)
    return Desktop().run()


if __name__ == "__main__":
    sys.exit(main())
