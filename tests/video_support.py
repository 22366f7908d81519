"""Real video files for tests, made with PyAV (FFmpeg inside its wheel) once per test session.

`clip(...)` encodes a tiny clip (160×120, a couple of seconds) the first time a spec is asked
for and hands back the same file afterwards, so a suite that needs twenty clips encodes each
once. Every frame shows tests/orientation_support.py's upright scene (red top-left, blue
bottom-right, green strip top-right), stored turned so that the display rotation written into
the container turns it upright again: a poster that comes out upright proves the rotation was
applied, one that comes out turned proves it was not. The middle square is black for frames
before 1 s and white from 1 s on, so the poster tells which frame it was taken from.
"""

from __future__ import annotations

import atexit
import hashlib
import shutil
import tempfile
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image, ImageDraw

from orientation_support import upright_scene

H264, HEVC, VP9 = "libx264", "libx265", "libvpx-vp9"
#: Container name → (FFmpeg muxer, file suffix).
CONTAINERS = {
    "mp4": ("mp4", ".mp4"),
    "mov": ("mov", ".mov"),
    "m4v": ("ipod", ".m4v"),
    "3gp": ("3gp", ".3gp"),
    "webm": ("webm", ".webm"),
    "mkv": ("matroska", ".mkv"),
}

#: Apple's keys as an iPhone writes them (mdta keys in a MOV), local time with its offset.
APPLE_TAGS = {
    "creation_time": "2023-07-14T08:30:00.000000Z",
    "com.apple.quicktime.creationdate": "2023-07-14T10:30:00+0200",
    "com.apple.quicktime.location.ISO6709": "+48.8584+002.2945+035.000/",
    "com.apple.quicktime.make": "Apple",
    "com.apple.quicktime.model": "iPhone 13 Pro",
}
#: Android's: the instant in UTC, the location in ISO 6709, the maker in its own keys.
ANDROID_TAGS = {
    "creation_time": "2022-12-24T17:45:10.000000Z",
    "location": "-33.8568+151.2153/",
    "com.android.manufacturer": "Google",
    "com.android.model": "Pixel 7",
}

_SCENE_SIZE = (160, 120)
_dir: Path | None = None


def encoder_available(codec: str) -> bool:
    return codec in av.codecs_available


def clip(
    codec: str = H264,
    container: str = "mp4",
    *,
    size: tuple[int, int] = _SCENE_SIZE,
    seconds: float = 2.0,
    fps: int = 10,
    rotation: int = 0,
    audio: bool = False,
    video: bool = True,
    tags: dict[str, str] | None = None,
    faststart: bool = False,
    seed: int = 0,
) -> Path:
    """The path of a clip made to this spec (made once per session; do not modify it).

    ``size`` is the upright size; ``rotation`` (0/90/180/270, counter-clockwise, as PyAV and
    FFmpeg's display matrix mean it) is how far a player must turn the stored frames. ``seed``
    changes a few pixels, so two clips of one spec can differ in bytes but not in look.
    """
    spec = repr((codec, container, size, seconds, fps, rotation, audio, video, sorted((tags or {}).items()),
                 faststart, seed))
    muxer, suffix = CONTAINERS[container]
    path = _cache_dir() / (hashlib.sha1(spec.encode()).hexdigest()[:16] + suffix)
    if not path.exists():
        partial = path.with_suffix(".partial" + suffix)
        _encode(partial, muxer, codec, size, seconds, fps, rotation, audio, video, tags or {}, faststart, seed)
        partial.replace(path)
    return path


def clip_bytes(*args: object, **kwargs: object) -> bytes:
    return clip(*args, **kwargs).read_bytes()  # type: ignore[arg-type]


def cut(path: Path, fraction: float, out_dir: Path) -> Path:
    """A copy of ``path`` with only its first ``fraction`` of bytes: an interrupted transfer."""
    data = path.read_bytes()
    out = out_dir / f"cut-{int(fraction * 100)}-{path.name}"
    out.write_bytes(data[: int(len(data) * fraction)])
    return out


def poster_middle_is_white(img: Image.Image) -> bool:
    """True when the poster was taken at or after 1 s (see the module docstring)."""
    w, h = img.size
    return img.convert("L").getpixel((w // 2, h // 2)) > 128  # type: ignore[operator]


def _cache_dir() -> Path:
    global _dir
    if _dir is None:
        _dir = Path(tempfile.mkdtemp(prefix="octopus-clips-"))
        atexit.register(shutil.rmtree, _dir, True)
    return _dir


# The stored frame for a display rotation r is the upright scene turned r clockwise.
_STORED = {0: None, 90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_90}


def _frame_image(size: tuple[int, int], rotation: int, late: bool, index: int, seed: int) -> Image.Image:
    img = upright_scene(size)
    w, h = size
    draw = ImageDraw.Draw(img)
    draw.rectangle((int(w * 0.4), int(h * 0.4), int(w * 0.6), int(h * 0.6)), fill=(255, 255, 255) if late else (0, 0, 0))
    # A dot that moves (a real video, not one still repeated) inside the grey left middle.
    draw.rectangle((4 + index % 8, h // 2, 6 + index % 8, h // 2 + 2), fill=(120, 120, 120))
    for i in range(seed):
        img.putpixel((w // 2 + i, h // 3), (200, 200, 200))
    method = _STORED[rotation]
    return img if method is None else img.transpose(method)


def _encode(path: Path, muxer: str, codec: str, size: tuple[int, int], seconds: float, fps: int, rotation: int,
            audio: bool, video: bool, tags: dict[str, str], faststart: bool, seed: int) -> None:
    flags = ["use_metadata_tags"] if any(key.startswith("com.") for key in tags) else []
    if faststart:
        flags.append("faststart")
    options = {"movflags": "+".join(flags)} if flags and muxer in ("mp4", "mov", "ipod", "3gp") else {}
    with av.open(str(path), "w", format=muxer, options=options) as out:
        out.metadata.update(tags)
        vstream = None
        if video:
            vstream = out.add_stream(codec, rate=fps)
            stored = size if rotation in (0, 180) else (size[1], size[0])
            vstream.width, vstream.height = stored
            vstream.pix_fmt = "yuv420p"
            vstream.codec_context.gop_size = fps  # a keyframe every second, as phones write
            if codec == HEVC:
                vstream.codec_context.options = {"x265-params": "log-level=none"}
            if rotation:
                vstream.set_display_rotation(rotation)
        astream = None
        if audio:
            acodec = "libopus" if muxer in ("webm", "matroska") else "aac"
            astream = out.add_stream(acodec, rate=48000)
            astream.layout = "mono"
        frames = max(1, round(seconds * fps))
        if vstream is not None:
            for i in range(frames):
                image = _frame_image(size, rotation, i >= fps, i, seed)
                frame = av.VideoFrame.from_image(image)
                frame.pts = i
                frame.time_base = Fraction(1, fps)
                out.mux(vstream.encode(frame))
            out.mux(vstream.encode(None))
        if astream is not None:
            samples = 960
            total = int(seconds * 48000)
            fmt = astream.codec_context.format.name
            for start in range(0, total, samples):
                frame = av.AudioFrame(format=fmt, layout="mono", samples=samples)
                for plane in frame.planes:
                    plane.update(bytes(plane.buffer_size))
                frame.sample_rate = 48000
                frame.pts = start
                frame.time_base = Fraction(1, 48000)
                out.mux(astream.encode(frame))
            out.mux(astream.encode(None))
