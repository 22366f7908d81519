"""Benchmark of a video's media step (metadata + poster thumb) against bare PyAV in the same run.

Run: ``uv run python tests/benchmarks/bench_video.py [runs]``

Clips are made with PyAV here, a few seconds each: a 1080p H.264 MP4 (30 fps) and a 4K HEVC MP4
(25 fps), both with a keyframe every second as phones write them, and a display rotation on
the 1080p one (a portrait phone clip). The floor is what any poster step must do with PyAV:
open, read the container and stream metadata, seek to 1 s, decode one (key)frame, scale it to
the thumb in FFmpeg's scaler and encode the JPEG. Ours is ``analyse_video`` (the same plus
the container structure check, the tag parsing and the dhash). CPU is process CPU time
(FFmpeg's decoder threads included), median of ``runs``.

Targets (issue 8): ours / floor ≤ 1.2×; RSS after the first video ≤ +40 MB over the idle server
process (``octopus_events.web.app`` imported, one photo analysed), measured in a fresh process.
"""

from __future__ import annotations

import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image, ImageChops

from octopus_events.media import THUMB_PX
from octopus_events.media.video import analyse_video

CLIPS = {
    "1080p H.264": dict(codec="libx264", size=(1920, 1080), fps=30, seconds=3, rotation=90,
                        options={"preset": "veryfast"}),
    "4K HEVC": dict(codec="libx265", size=(3840, 2160), fps=25, seconds=2, rotation=0,
                    options={"preset": "ultrafast", "x265-params": "log-level=none"}),
}


def make_clip(path: Path, codec: str, size: tuple[int, int], fps: int, seconds: int, rotation: int,
              options: dict[str, str]) -> None:
    base = Image.effect_mandelbrot(size, (-2.2, -1.2, 1.0, 1.2), 60).convert("RGB")
    base = Image.merge("RGB", (base.getchannel(0), Image.linear_gradient("L").resize(size),
                               Image.linear_gradient("L").rotate(90).resize(size)))
    with av.open(str(path), "w", options={"movflags": "use_metadata_tags"}) as out:
        out.metadata.update({"creation_time": "2024-06-11T10:00:00.000000Z",
                             "com.apple.quicktime.creationdate": "2024-06-11T12:00:00+0200",
                             "com.apple.quicktime.location.ISO6709": "+48.8584+002.2945/",
                             "com.apple.quicktime.make": "Bench", "com.apple.quicktime.model": "Synthetic"})
        stream = out.add_stream(codec, rate=fps, options=options)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.codec_context.gop_size = fps
        if rotation:
            stream.set_display_rotation(rotation)
        for i in range(fps * seconds):
            frame = av.VideoFrame.from_image(ImageChops.offset(base, i * 16, i * 4))
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def floor(path: Path) -> bytes:
    """Bare PyAV: the least a poster-and-metadata step can do."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        dict(container.metadata), dict(stream.metadata), stream.average_rate, stream.duration
        stream.codec_context.skip_frame = "NONKEY"
        container.seek(int(1 / stream.time_base), stream=stream)
        frame = next(container.decode(stream))
        ratio = THUMB_PX / max(frame.width, frame.height)
        image = frame.to_image(width=round(frame.width * ratio), height=round(frame.height * ratio),
                               interpolation="AREA")
        _ = frame.rotation
    out = io.BytesIO()
    image.save(out, "JPEG", quality=82)
    return out.getvalue()


def cpu(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return statistics.median(times)


_RSS = """
import json, sys
from pathlib import Path
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
import octopus_events.web.app
from octopus_events.media import analyse
from PIL import Image
Image.new("RGB", (4000, 3000), (90, 120, 150)).save(Path({tmp!r}) / "p.jpg", quality=85)
analyse(Path({tmp!r}) / "p.jpg", max_pixels=10**9)
before = rss()
for clip in {clips!r}:
    analyse(clip, max_pixels=10**9)
print(json.dumps({{"before": before, "after": rss()}}))
"""


def rss_growth(clips: list[str], tmp: Path) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", _RSS.format(tmp=str(tmp), clips=clips)],
                         capture_output=True, text=True, check=True, timeout=300)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["before"], result["after"]


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        paths = {}
        for name, spec in CLIPS.items():
            path = tmp / (name.replace(" ", "_").replace(".", "") + ".mp4")
            started = time.perf_counter()
            make_clip(path, **spec)  # type: ignore[arg-type]
            paths[name] = path
            print(f"made {name}: {path.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s")
        print(f"\n{'clip':<14}{'ours ms':>9}{'floor ms':>10}{'ratio':>7}   (CPU, median of {runs}; target ≤ 1.20)")
        for name, path in paths.items():
            analyse_video(path)  # warm: PyAV loaded, page cache
            floor(path)
            ours_s = cpu(lambda: analyse_video(path), runs)
            floor_s = cpu(lambda: floor(path), runs)
            print(f"{name:<14}{ours_s * 1000:>9.1f}{floor_s * 1000:>10.1f}{ours_s / floor_s:>7.2f}")
        before, after = rss_growth([str(p) for p in paths.values()], tmp)
        print(f"\nRSS idle server process {before:.1f} MB → after both videos {after:.1f} MB: "
              f"+{after - before:.1f} MB (target ≤ +40 MB)")


if __name__ == "__main__":
    main()
