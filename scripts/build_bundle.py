"""Build the portable bundle from packaging/windows/octopus.spec, and prove it works.

    uv run --group bundle python scripts/build_bundle.py [--zip] [--smoke] [--bench]

Builds `build/bundle/dist/OctopusPhotos/` (PyInstaller one-folder: `OctopusPhotos[.exe]`, the tray
launcher, and `octopus[.exe]`, the command line). `--zip` packs it as
`build/bundle/OctopusPhotos-<system>.zip`. `--smoke` copies the folder somewhere else and runs it
from there as a user would (the launcher with no arguments, a fresh data dir): it must serve, take
a JPEG, a HEIC (libheif) and an MP4 (FFmpeg) with their thumbnails, and stop cleanly on request.
`--bench` prints the bundle's size on disk, its start-up time to /api/health and idle RSS next to
`uv run octopus serve`'s (medians of 3 starts).

A build takes minutes on 2 cores, which is why this is a script and not part of `uv run pytest`;
tests/test_desktop.py and tests/test_oscompat.py cover the launcher's code in the suite.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "packaging" / "windows" / "octopus.spec"
BUILD = ROOT / "build" / "bundle"
DIST = BUILD / "dist" / "OctopusPhotos"
EXE = ".exe" if os.name == "nt" else ""


def build() -> Path:
    env = dict(os.environ)
    if os.name == "nt":
        from PIL import Image  # a .ico from the PWA's icon, for both programs

        ico = BUILD / "octopus.ico"
        ico.parent.mkdir(parents=True, exist_ok=True)
        Image.open(ROOT / "webroot" / "icons" / "icon-512.png").save(ico, sizes=[(16, 16), (32, 32), (48, 48), (256, 256)])
        env["OCTOPUS_BUNDLE_ICON"] = str(ico)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
                    "--distpath", str(BUILD / "dist"), "--workpath", str(BUILD / "work"), str(SPEC)],
                   check=True, env=env, cwd=ROOT)
    print(f"built {DIST} in {time.perf_counter() - started:.0f} s")
    return DIST


def pack(folder: Path) -> Path:
    system = "windows" if os.name == "nt" else sys.platform
    out = BUILD / f"OctopusPhotos-{system}.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, Path("OctopusPhotos") / path.relative_to(folder))
    print(f"packed {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def size_on_disk(folder: Path) -> int:
    """Bytes of the regular files (a symlink PyInstaller makes to a library is not counted twice)."""
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def rss_kb(pid: int) -> int:
    """Resident set of a process and all its descendants (Linux /proc), in kB: the launcher and its
    server for the bundle, uv and its Python for `uv run`."""
    parents: dict[int, int] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
            parents[int(status.parent.name)] = int(fields["PPid"])
        except (OSError, KeyError, ValueError):
            continue
    tree, grew = {pid}, True
    while grew:
        more = {child for child, parent in parents.items() if parent in tree} - tree
        grew = bool(more)
        tree |= more
    total = 0
    for p in tree:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def start(cmd: list[str], data: Path, port: int, cwd: Path) -> tuple[subprocess.Popen[str], float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OCTOPUS_", "VIRTUAL_ENV", "PYTHONPATH", "DISPLAY",
                                                                  "WAYLAND_DISPLAY"))}
    env.update(OCTOPUS_STORAGE_DATA_DIR=str(data), OCTOPUS_SERVER_PORT=str(port), BROWSER="true",
               OCTOPUSPHOTOS_TRAY="off", OCTOPUSPHOTOS_STOP_ON_STDIN_EOF="1")
    import httpx

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return proc, time.perf_counter() - t0
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"{cmd[0]} exited with {proc.returncode}: {proc.stderr.read()}")  # type: ignore[union-attr]
        if time.perf_counter() - t0 > 120:
            proc.kill()
            raise SystemExit(f"{cmd[0]} did not answer /api/health within 120 s")
        time.sleep(0.02)


def stop(proc: subprocess.Popen[str], *, launcher: bool = True) -> int:
    """The launcher stops when its stdin closes (Windows has no signal for a windowless process);
    `uv run octopus serve` on SIGTERM (terminate() on Windows)."""
    if launcher:
        assert proc.stdin is not None
        proc.stdin.close()
    else:
        proc.terminate()
    try:
        return proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        return -9


CORPUS = ROOT.parent / "shared" / "corpus" / "exif-samples"


def sample_jpeg() -> bytes:
    """A camera's JPEG from the corpus beside the checkout, else one made with Pillow (a CI runner)."""
    real = CORPUS / "jpg" / "Canon_PowerShot_S40.jpg"
    if real.is_file():
        return real.read_bytes()
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 90, 30)).save(out, "JPEG")
    return out.getvalue()


def sample_heic() -> bytes:
    """A phone's HEIC from the corpus, else one encoded with pillow-heif: either way libheif decodes it."""
    found = sorted(p for p in (CORPUS / "heic").glob("*") if p.suffix.lower() in (".heic", ".heif")) if CORPUS.is_dir() else []
    if found:
        return found[0].read_bytes()
    import io

    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (30, 90, 200)).save(out, "HEIF")
    return out.getvalue()


def smoke(folder: Path) -> None:
    import httpx

    sys.path.insert(0, str(ROOT / "tests"))
    from video_support import clip_bytes  # PyAV

    work = Path(tempfile.mkdtemp(prefix="octopus-bundle-"))
    try:
        elsewhere = work / "unzipped" / "OctopusPhotos"
        shutil.copytree(folder, elsewhere, symlinks=True)
        port = free_port()
        proc, seconds = start([str(elsewhere / f"OctopusPhotos{EXE}")], work / "data", port, work)
        print(f"smoke: the bundle serves after {seconds:.1f} s")
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=120) as c:
            creds = {"username": "ana", "password": "una contraseña larga"}
            assert c.post("/api/auth/register", json=creds).status_code == 201
            c.headers["Authorization"] = f"Bearer {c.post('/api/auth/login', json=creds).json()['token']}"
            files = [sample_jpeg(), sample_heic(), clip_bytes(seconds=1.0)]
            for name, data in zip(("photo.jpg", "photo.heic", "video.mp4"), files):
                r = c.post("/api/photos", files={"file": (name, data, "application/octet-stream")})
                assert r.status_code == 201, (name, r.status_code, r.text)
                item = r.json()
                thumb = c.get(f"/api/photos/{item['id']}/thumbnail", params={"size": "thumb"})
                assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8", (name, thumb.status_code)
                print(f"smoke: {name}: {item['kind']} {item['width']}x{item['height']}, thumbnail {len(thumb.content)} B")
            assert c.get("/").status_code == 200 and b"<html" in c.get("/").content.lower()
        code = stop(proc)
        assert code == 0, (code, proc.stderr.read())  # type: ignore[union-attr]
        print("smoke: stopped cleanly; ok")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bench(folder: Path) -> None:
    uv = shutil.which("uv") or "uv"
    rows = []
    for label, cmd in (("bundle (OctopusPhotos, launcher + server)", [str(folder / f"OctopusPhotos{EXE}")]),
                       ("uv run octopus serve", [uv, "run", "--project", str(ROOT), "octopus", "serve"])):
        starts, rss = [], []
        for _ in range(3):
            work = Path(tempfile.mkdtemp(prefix="octopus-bench-"))
            try:
                port = free_port()
                proc, seconds = start(cmd, work / "data", port, work)
                time.sleep(3)  # idle: start-up work done
                rss.append(rss_kb(proc.pid) / 1024)
                starts.append(seconds)
                stop(proc, launcher=cmd[0] != uv)
            finally:
                shutil.rmtree(work, ignore_errors=True)
        rows.append((label, statistics.median(starts), statistics.median(rss)))
    venv = ROOT / ".venv"
    print()
    print("| measure | bundle | uv run | ratio |")
    print("|---|---:|---:|---:|")
    print(f"| size on disk | {size_on_disk(folder) / 1e6:.0f} MB | {size_on_disk(venv) / 1e6:.0f} MB (.venv, with dev tools) | "
          f"{size_on_disk(folder) / size_on_disk(venv):.2f} |")
    print(f"| start-up to /api/health (median of 3) | {rows[0][1]:.2f} s | {rows[1][1]:.2f} s | {rows[0][1] / rows[1][1]:.2f} |")
    if rows[1][2]:  # /proc: Linux only
        print(f"| idle RSS (process tree) | {rows[0][2]:.0f} MB | {rows[1][2]:.0f} MB | {rows[0][2] / rows[1][2]:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zip", action="store_true")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--bench", action="store_true")
    parser.add_argument("--no-build", action="store_true", help="use the folder an earlier run built")
    args = parser.parse_args()
    folder = DIST if args.no_build else build()
    if args.zip:
        pack(folder)
    if args.smoke:
        smoke(folder)
    if args.bench:
        bench(folder)


if __name__ == "__main__":
    main()
