"""Benchmark of the media hot paths against the bare-Pillow floor.

Run: ``uv run python tests/benchmarks/bench_media.py [iterations]``

Targets (2-core box, 3 MB 12 MP JPEG): ``analyse`` ≤ ~50 ms CPU and within ~1.2× of the floor
(open + 1/8 draft decode + thumbnail + JPEG save + SHA-256 + getexif); a 1440 px preview within
~1.2× of the floor (1/2 draft decode + thumbnail + JPEG save). Decoding dominates: about 40–45 ms
at 1/8 scale, 55 ms at 1/2, 96–114 ms full size.
"""

from __future__ import annotations

import hashlib
import io
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from octopus_events.media import PREVIEW_PX, THUMB_PX, analyse, render

SEED = 20240611
SIZE = (4000, 3000)  # 12 MP


def make_photo(path: Path) -> None:
    """Write a deterministic ~3 MB 12 MP JPEG: a smooth scene plus seeded sensor-like noise."""
    rng = random.Random(SEED)
    scene = Image.effect_mandelbrot(SIZE, (-2.2, -1.2, 1.0, 1.2), 80).convert("RGB")
    tint = Image.linear_gradient("L").resize(SIZE)
    scene = Image.merge("RGB", (scene.getchannel(0), tint, Image.linear_gradient("L").rotate(90).resize(SIZE)))
    small = (SIZE[0] // 2, SIZE[1] // 2)
    noise = Image.frombytes("RGB", small, rng.randbytes(small[0] * small[1] * 3)).resize(SIZE)
    photo = Image.blend(scene, noise, 0.18)
    exif = Image.Exif()
    exif[0x010F] = "Bench"
    exif[0x0110] = "Synthetic 12MP"
    exif[0x0112] = 1
    exif.get_ifd(0x8769).update({0x9003: "2024:06:11 12:00:00", 0x9011: "+02:00", 0x829A: IFDRational(1, 125)})
    degrees = IFDRational
    exif.get_ifd(0x8825).update(
        {1: "N", 2: (degrees(48), degrees(51), degrees(30)), 3: "E", 4: (degrees(2), degrees(17), degrees(40))}
    )
    photo.save(path, "JPEG", quality=88, exif=exif)


def floor_analyse(path: Path) -> None:
    """The least any thumbnailing upload step can do with Pillow."""
    hashlib.sha256(path.read_bytes()).hexdigest()
    with Image.open(path) as img:
        img.getexif()
        img.draft("RGB", (THUMB_PX, THUMB_PX * SIZE[1] // SIZE[0]))
        img.load()
        img.thumbnail((THUMB_PX, THUMB_PX))
        img.save(io.BytesIO(), "JPEG", quality=82)


def ours_analyse(path: Path) -> None:
    analyse(path, max_pixels=100_000_000)


def ours_analyse_and_hash(path: Path) -> None:
    # The upload pipeline hashes while streaming the body to disk, then analyses it.
    hashlib.sha256(path.read_bytes()).hexdigest()
    analyse(path, max_pixels=100_000_000)


def floor_preview(path: Path) -> None:
    with Image.open(path) as img:
        img.draft("RGB", (PREVIEW_PX, PREVIEW_PX * SIZE[1] // SIZE[0]))
        img.thumbnail((PREVIEW_PX, PREVIEW_PX))
        img.save(io.BytesIO(), "JPEG", quality=82)


def ours_preview(path: Path) -> None:
    render(path, "preview", 1, "image/jpeg")


def full_decode(path: Path) -> None:
    with Image.open(path) as img:
        img.load()


def paired_median_ms(
    ours: Callable[[Path], None], floor: Callable[[Path], None], path: Path, iterations: int
) -> tuple[float, float, float, float]:
    """Median wall and CPU ms of ``ours`` and ``floor``, interleaved so CPU-clock drift hits both."""
    ours(path)
    floor(path)
    samples: dict[str, list[float]] = {"ow": [], "oc": [], "fw": [], "fc": []}
    for _ in range(iterations):
        for fn, wall_key, cpu_key in ((ours, "ow", "oc"), (floor, "fw", "fc")):
            w0, c0 = time.perf_counter(), time.process_time()
            fn(path)
            samples[wall_key].append((time.perf_counter() - w0) * 1000)
            samples[cpu_key].append((time.process_time() - c0) * 1000)
    ow, oc, fw, fc = (statistics.median(samples[key]) for key in ("ow", "oc", "fw", "fc"))
    return ow, oc, fw, fc


def main() -> None:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench-12mp.jpg"
        make_photo(path)
        print(f"photo: {SIZE[0]}x{SIZE[1]} JPEG, {path.stat().st_size / 1e6:.2f} MB, {iterations} iterations\n")
        rows = [
            ("analyse (thumb+meta+dhash)", ours_analyse, floor_analyse),
            ("analyse + sha256 of body", ours_analyse_and_hash, floor_analyse),
            ("preview 1440 px", ours_preview, floor_preview),
        ]
        print(f"{'step':30} {'ours ms':>9} {'(cpu)':>7} {'floor ms':>9} {'(cpu)':>7} {'ratio':>6}")
        for name, ours, floor in rows:
            ours_wall, ours_cpu, floor_wall, floor_cpu = paired_median_ms(ours, floor, path, iterations)
            print(
                f"{name:30} {ours_wall:9.1f} {ours_cpu:7.1f} {floor_wall:9.1f} {floor_cpu:7.1f} "
                f"{ours_wall / floor_wall:6.2f}"
            )
        full_wall, full_cpu, _, _ = paired_median_ms(full_decode, full_decode, path, iterations)
        print(f"{'(reference) full decode':30} {full_wall:9.1f} {full_cpu:7.1f}")


if __name__ == "__main__":
    main()
