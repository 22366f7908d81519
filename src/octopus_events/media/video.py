"""Videos: what a clip is (codec, frame rate, duration, upright size) and its poster frame.

PyAV (FFmpeg inside its wheel) is imported on the first video, never at start-up: its libraries
cost tens of MB of RSS that a photo-only library never needs. Nothing here decodes more than a
keyframe or two, so analysing a 2 GB clip costs about what analysing a 2 MB one does; whether
the file is whole is judged from its container structure (:func:`check_container`), since
decoding every frame would take minutes on the upload path.
"""

from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta, timezone
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
from PIL import Image

from octopus_events.media.budget import PROCESS_BUDGET, DecodeBudget
from octopus_events.media.errors import BrokenVideo, ImageTooLarge, UnsupportedMediaType
from octopus_events.media.metadata import PhotoMetadata
from octopus_events.media.sniff import SNIFF_BYTES, VIDEO_MIMES, sniff

if TYPE_CHECKING:
    from octopus_events.media.derivatives import RenderedImage
    from octopus_events.media.ingest import Analysis


class VideoInfo(msgspec.Struct, frozen=True):
    """The video stream's facts a client needs to decide whether it can play the original."""

    #: FFmpeg's codec name: "h264", "hevc", "vp9", "av1"...
    codec: str
    #: Average frames per second, ``None`` when the container does not say.
    fps: float | None


class Poster(msgspec.Struct, frozen=True, kw_only=True):
    """What one open of a video yields: its facts and its upright poster, already reduced."""

    width: int
    height: int
    duration: float | None
    info: VideoInfo
    metadata: PhotoMetadata
    image: Image.Image


#: The poster is the first keyframe from this far in: the first frames of phone clips are often
#: dark or blurred while the camera settles.
POSTER_AT_SECONDS = 1.0

_av_lock = threading.Lock()
_av: Any = None


def _load_av() -> Any:
    """Import PyAV on the first video (see the module docstring) and keep FFmpeg quiet: its
    warnings about the broken files we are there to refuse would otherwise flood stderr."""
    global _av
    with _av_lock:
        if _av is None:
            import av
            import av.logging

            av.logging.set_level(av.logging.PANIC)
            _av = av
    return _av


def analyse_video(
    path: Path | str, *, budget: DecodeBudget | None = None, max_pixels: int | None = None, mime: str | None = None
) -> Analysis:
    """Analyse the video at ``path``: type, upright size, duration, codec, metadata, poster thumb.

    Raises :class:`UnsupportedMediaType` when the file is not a container we accept or holds no
    decodable video stream, :class:`BrokenVideo` when it is cut short or its poster frame does
    not decode, and :class:`ImageTooLarge` when its frames exceed ``max_pixels`` or the decode
    ``budget``. Blocking and CPU-bound: call it from a worker thread.
    """
    from octopus_events.media.derivatives import THUMB_PX, render_from
    from octopus_events.media.ingest import Analysis
    from octopus_events.media.phash import dhash64

    if mime is None:
        with open(path, "rb") as fp:
            mime = sniff(fp.read(SNIFF_BYTES))
    if mime not in VIDEO_MIMES:
        raise UnsupportedMediaType(mime)
    poster = read_poster(path, THUMB_PX, budget=budget, max_pixels=max_pixels)
    thumb = render_from(poster.image, 1)
    return Analysis(
        mime=mime,
        width=poster.width,
        height=poster.height,
        orientation=1,  # the poster is upright already; renders must not turn it again
        metadata=poster.metadata,
        thumb=thumb.data,
        thumb_width=thumb.width,
        thumb_height=thumb.height,
        phash=dhash64(poster.image),
        kind="video",
        duration=poster.duration,
        video=poster.info,
    )


def render_poster(path: Path | str, long_side: int, *, budget: DecodeBudget | None = None) -> RenderedImage:
    """The upright poster of the video at ``path`` as a JPEG of at most ``long_side`` (what
    :func:`~octopus_events.media.derivatives.render` answers for a video's thumb and preview)."""
    from octopus_events.media.derivatives import render_from

    return render_from(read_poster(path, long_side, budget=budget).image, 1)


def read_poster(
    path: Path | str, long_side: int, *, budget: DecodeBudget | None = None, max_pixels: int | None = None
) -> Poster:
    """Open the video at ``path`` once: check it is whole, read its facts, decode its poster
    frame and return it upright with its long side at most ``long_side``."""
    av = _load_av()
    size = Path(path).stat().st_size
    if size == 0:
        raise BrokenVideo("the video file is empty (0 bytes)")
    check_container(path, size)
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise BrokenVideo(f"cannot read the video container: {_reason(exc)}") from None
    with container:
        streams = [s for s in container.streams.video if s.codec_context is not None]
        # Cover art in a music file is a one-picture "video" stream: that is not a video.
        streams = [s for s in streams if not s.disposition & av.stream.Disposition.attached_pic]
        if not streams:
            raise UnsupportedMediaType("a file without a video stream")
        stream = streams[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if width <= 0 or height <= 0:
            raise BrokenVideo(f"the video stream declares an empty size {width}×{height}")
        if max_pixels is not None and width * height > max_pixels:
            raise ImageTooLarge(f"the video frames are {width}×{height}; the limit is {max_pixels} pixels")
        duration = _duration(container, stream)
        info = VideoInfo(codec=_codec_name(stream), fps=_fps(stream))
        metadata = video_metadata({**_text_tags(stream.metadata), **_text_tags(container.metadata)})
        with (budget or PROCESS_BUDGET).reserve(decode_cost(width, height), f"{width}×{height} video frame"):
            try:
                _decode_reduced(stream, max(width, height), long_side)
                frame = _poster_frame(av, container, stream, duration)
                rotation = _rotation(frame, stream)
                image = _scaled(frame, long_side, stream.sample_aspect_ratio)
                del frame
            finally:
                # The decoder's frame pools go with the container: free them before the
                # reservation ends, which hands freed pages back to the OS (budget.py).
                container.close()
    image = _upright(image, rotation)
    if rotation in (90, 270):
        width, height = height, width
    return Poster(width=width, height=height, duration=duration, info=info, metadata=metadata, image=image)


def decode_cost(width: int, height: int) -> int:
    """Peak bytes decoding one poster frame holds: the decoder's reference and output frames in
    YUV 4:2:0 (1.5 bytes a pixel, up to 10-bit samples stored in 2 bytes), the packet buffers
    and the scaler's RGB rows. A 4K frame is ~12 MB of YUV; a keyframe decode keeps a few."""
    pixels = width * height
    return _BASE_COST + pixels * _BYTES_PER_PIXEL


_BASE_COST = 4 * 1024 * 1024
_BYTES_PER_PIXEL = 8


def _decode_reduced(stream: Any, long_side_now: int, long_side: int) -> None:
    """Ask the decoder for a 1/2, 1/4 or 1/8 scale picture that still covers ``long_side``.

    Only the older intra-block codecs can (MPEG-4 Part 2, H.263, MJPEG: old cameras' MOV and
    3GP); H.264, HEVC and VP9 decoders ignore the option and decode whole frames.
    """
    level = 0
    while level < 3 and long_side_now >> (level + 1) >= long_side:
        level += 1
    if level:
        stream.codec_context.options = {"lowres": str(level)}


def _poster_frame(av: Any, container: Any, stream: Any, duration: float | None) -> Any:
    """The first keyframe at or after :data:`POSTER_AT_SECONDS` (or, for a shorter clip, the
    first frame), decoded.

    Seeking lands on the keyframe at or before the target by decoding timestamp, which with
    B-frames (x265 delays several) can be a keyframe shown at the target or one well before it;
    from there keyframes are decoded until one is shown at the target, within
    :data:`_POSTER_SEARCH_SECONDS` (a clip with one long GOP gets the keyframe it has).
    """
    # Only keyframes: the poster is one, and the decoder then skips all the work in between.
    stream.codec_context.skip_frame = "NONKEY"
    time_base = stream.time_base
    start = stream.start_time or 0
    if duration is None or duration <= POSTER_AT_SECONDS + 0.1 or not time_base:
        frame = next(_keyframes(av, container, stream), None)
    else:
        target = start + int(POSTER_AT_SECONDS / time_base)
        give_up = target + int(_POSTER_SEARCH_SECONDS / time_base)
        frame = None
        try:
            container.seek(target, backward=True, stream=stream)
        except av.FFmpegError:
            try:  # no keyframe before the target in the index: from the start, then
                container.seek(start, backward=True, stream=stream)
            except av.FFmpegError:
                raise BrokenVideo("the video's index has no keyframe to start from") from None
        for candidate in _keyframes(av, container, stream):
            if frame is None or candidate.pts is None or candidate.pts <= give_up:
                frame = candidate
            if candidate.pts is None or candidate.pts >= target - _EARLY or candidate.pts > give_up:
                break
    if frame is None:
        raise BrokenVideo("the video stream has no frame that decodes")
    return frame


_POSTER_SEARCH_SECONDS = 5.0
# A frame shown this close before the target (in time-base units) counts as at it.
_EARLY = 1


def _keyframes(av: Any, container: Any, stream: Any) -> Iterator[Any]:
    try:
        for packet in container.demux(stream):
            for frame in packet.decode():
                yield frame
    except av.EOFError:
        return
    except (av.FFmpegError, ValueError) as exc:
        raise BrokenVideo(f"the video does not decode: {_reason(exc)}") from None


def _rotation(frame: Any, stream: Any) -> int:
    """Degrees counter-clockwise that turn the decoded frame upright (0, 90, 180 or 270).

    The display matrix (MP4/MOV ``tkhd``, Matroska projection) arrives on the frame as side
    data; older files and some Android muxers say it with a ``rotate`` tag (clockwise) instead.
    """
    degrees = frame.rotation
    if not degrees:
        tag = stream.metadata.get("rotate")
        try:
            degrees = -int(float(tag)) if tag else 0
        except ValueError:
            degrees = 0
    return round(degrees / 90) % 4 * 90


def _scaled(frame: Any, long_side: int, sar: Any) -> Image.Image:
    """The frame as RGB, scaled by FFmpeg's scaler (in one pass from YUV, which is faster than
    converting the whole frame and resizing it in Pillow) to at most ``long_side``."""
    width, height = frame.width, frame.height
    if sar and sar != 1 and sar > 0:
        width = max(1, round(width * sar))  # anamorphic: square the pixels
    ratio = min(1.0, long_side / max(width, height))
    size = (max(1, round(width * ratio)), max(1, round(height * ratio)))
    try:
        return frame.to_image(width=size[0], height=size[1], interpolation="AREA")
    except (ValueError, MemoryError) as exc:
        raise BrokenVideo(f"cannot convert the poster frame: {exc}") from None


_UPRIGHT = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_270}


def _upright(image: Image.Image, rotation: int) -> Image.Image:
    method = _UPRIGHT.get(rotation)
    return image if method is None else image.transpose(method)


def _duration(container: Any, stream: Any) -> float | None:
    seconds = None
    if stream.duration and stream.time_base:
        seconds = float(stream.duration * stream.time_base)
    elif container.duration:
        seconds = container.duration / 1_000_000  # AV_TIME_BASE
    if seconds is None or not 0 < seconds < 10 * 24 * 3600:
        return None
    return round(seconds, 3)


def _fps(stream: Any) -> float | None:
    rate = stream.average_rate or stream.base_rate
    if not rate or not 0 < rate <= 10_000:
        return None
    return round(float(rate), 3)


def _codec_name(stream: Any) -> str:
    codec = stream.codec_context.codec
    # The format's name ("h264"), not the decoder's ("libdav1d" for AV1).
    return str(getattr(codec, "canonical_name", None) or codec.name)


def _text_tags(tags: Any) -> dict[str, str]:
    return {str(key).lower(): str(value) for key, value in dict(tags).items()}


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "strerror", None) or exc)


# -- metadata ----------------------------------------------------------------------------------


def video_metadata(tags: dict[str, str]) -> PhotoMetadata:
    """What a video's container tags (lower-cased keys) say about when, where and with what.

    Apple's ``com.apple.quicktime.creationdate`` carries the local time and its offset, so it
    wins over ``creation_time``, which muxers write in UTC (and Android phones write as the
    instant of recording): the taken source says which one was used.
    """
    taken_local, offset, source = None, None, "none"
    local = _local_time(tags.get("com.apple.quicktime.creationdate"))
    if local is not None:
        taken_local, offset = local
        source = "quicktime-local"
    else:
        utc = _utc_time(tags.get("creation_time"))
        if utc is not None:
            taken_local, offset, source = utc, 0, "container-utc"
    lat, lon = _iso6709(
        tags.get("com.apple.quicktime.location.iso6709") or tags.get("location") or tags.get("location-eng")
    )
    return PhotoMetadata(
        taken_local=taken_local,
        offset_minutes=offset,
        taken_source=source,
        make=_tag_text(tags, "com.apple.quicktime.make", "com.android.manufacturer", "make"),
        model=_tag_text(tags, "com.apple.quicktime.model", "com.android.model", "model"),
        gps_lat=lat,
        gps_lon=lon,
    )


_MAX_TEXT = 128
_LOCAL_RE = re.compile(
    r"\s*(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?\s*(?:(Z)|([+-])(\d{2}):?(\d{2}))?\s*$"
)
# Mp4 stores seconds since 1904 and MKV nanoseconds since 2001: a zero in either comes out as
# a date no phone recorded, so anything before 1971 is "unset", not a very old video.
_MIN_YEAR = 1971


def _local_time(raw: str | None) -> tuple[str, int | None] | None:
    """Apple's ISO 8601 local time with its offset: (wall-clock time, offset minutes)."""
    match = _LOCAL_RE.match(raw or "")
    if match is None:
        return None
    *parts, zulu, sign, hours, minutes = match.groups()
    try:
        when = datetime(*(int(p) for p in parts))
    except ValueError:
        return None
    if when.year < _MIN_YEAR:
        return None
    offset: int | None = None
    if zulu:
        offset = 0
    elif sign:
        total = int(hours) * 60 + int(minutes)
        if int(minutes) < 60 and total <= 14 * 60:
            offset = -total if sign == "-" else total
    return when.isoformat(), offset


def _utc_time(raw: str | None) -> str | None:
    """``creation_time`` as the UTC wall-clock time it names (an offset in it is honoured)."""
    match = _LOCAL_RE.match(raw or "")
    if match is None:
        return None
    *parts, _zulu, sign, hours, minutes = match.groups()
    try:
        when = datetime(*(int(p) for p in parts))
    except ValueError:
        return None
    if sign:
        shift = timedelta(hours=int(hours), minutes=int(minutes))
        when = when.replace(tzinfo=timezone(shift if sign == "+" else -shift)).astimezone(timezone.utc)
        when = when.replace(tzinfo=None)
    return when.isoformat() if when.year >= _MIN_YEAR else None


# ISO 6709: latitude then longitude, each signed, in degrees (±DD.D, ±DDD.D), degrees and minutes
# (±DDMM.M, ±DDDMM.M) or degrees, minutes and seconds (±DDMMSS.S, ±DDDMMSS.S); altitude may follow.
_ISO6709_RE = re.compile(r"\s*([+-])(\d+)(\.\d+)?([+-])(\d+)(\.\d+)?")


def _iso6709(raw: str | None) -> tuple[float | None, float | None]:
    match = _ISO6709_RE.match(raw or "")
    if match is None:
        return None, None
    lat_sign, lat_int, lat_frac, lon_sign, lon_int, lon_frac = match.groups()
    lat = _iso6709_part(lat_sign, lat_int, lat_frac or "", 2, 90.0)
    lon = _iso6709_part(lon_sign, lon_int, lon_frac or "", 3, 180.0)
    if lat is None or lon is None or (lat == 0.0 and lon == 0.0):
        return None, None  # no fix, not the Gulf of Guinea (as for EXIF)
    return lat, lon


def _iso6709_part(sign: str, whole: str, frac: str, degree_digits: int, limit: float) -> float | None:
    extra = len(whole) - degree_digits
    if extra not in (0, 2, 4):
        return None
    degrees = float(whole[:degree_digits])
    if extra == 0:
        degrees += float("0" + frac) if frac else 0.0
    else:
        minutes = float(whole[degree_digits : degree_digits + 2])
        seconds = float(whole[degree_digits + 2 :] or 0)
        tail = float("0" + frac) if frac else 0.0
        if extra == 2:
            minutes += tail
        else:
            seconds += tail
        if minutes >= 60 or seconds >= 60:
            return None
        degrees += minutes / 60 + seconds / 3600
    if degrees > limit:
        return None
    value = round(degrees, 7)
    return -value if sign == "-" else value


def _tag_text(tags: dict[str, str], *keys: str) -> str | None:
    for key in keys:
        raw = tags.get(key)
        if raw:
            text = "".join(ch for ch in raw.split("\x00", 1)[0] if ch.isprintable()).strip()
            if text:
                return text[:_MAX_TEXT]
    return None


# -- is the file whole? ------------------------------------------------------------------------


def check_container(path: Path | str, size: int) -> None:
    """Refuse a container whose own structure says bytes are missing from its end.

    FFmpeg opens a cut MP4 whose index (``moov``) comes first and a cut Matroska file without
    complaint, and its first frames decode; the library would then keep a video that stops
    half way. MP4/MOV: every top-level box must end inside the file. Matroska/WebM: the
    Segment's declared size must fit (a live recording of unknown size cannot be checked).
    """
    with open(path, "rb") as fp:
        head = fp.read(SNIFF_BYTES)
        if head.startswith(_EBML_MAGIC):
            _check_matroska(fp, size)
        elif head[4:8] in _TOP_LEVEL_BOXES:
            _check_boxes(fp, size)


_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_SEGMENT_ID = b"\x18\x53\x80\x67"
# Top-level ISO BMFF / QuickTime boxes: a truncated file shows one whose size runs past the end.
_TOP_LEVEL_BOXES = frozenset(
    {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid", b"moof", b"mfra", b"meta",
     b"sidx", b"styp", b"pdin", b"prft", b"emsg", b"junk"}
)
_MAX_BOXES = 100_000


def _check_boxes(fp: Any, size: int) -> None:
    offset = 0
    for _ in range(_MAX_BOXES):
        if size - offset < 8:
            return  # the end, or a few padding bytes some cameras leave
        fp.seek(offset)
        header = fp.read(16)
        length = int.from_bytes(header[0:4], "big")
        kind = header[4:8]
        if not (kind.isascii() and all(0x20 <= b < 0x7F for b in kind)):
            return  # trailing bytes that are not a box: not ours to judge
        if length == 1:
            if len(header) < 16:
                raise BrokenVideo("the video file is cut short (inside a box header)")
            length = int.from_bytes(header[8:16], "big")
        elif length == 0:
            return  # "to the end of the file"
        if length < 8:
            raise BrokenVideo(f"the video file is corrupt: a {kind.decode()} box of {length} bytes")
        if offset + length > size:
            missing = offset + length - size
            raise BrokenVideo(f"the video file is cut short: its {kind.decode()} box needs {missing} more bytes")
        offset += length


def _check_matroska(fp: Any, size: int) -> None:
    fp.seek(0)
    data = fp.read(4096)
    # The EBML header element, then the Segment that holds everything else.
    pos = 4
    header_size, pos, _unknown = _vint(data, pos)
    if header_size is None:
        raise BrokenVideo("the video file is cut short (inside its EBML header)")
    pos += header_size
    if data[pos : pos + 4] != _SEGMENT_ID:
        if pos + 4 > len(data) and pos + 4 > size:
            raise BrokenVideo("the video file is cut short (no Segment)")
        return  # something we do not know how to walk; FFmpeg will judge it
    segment_size, body, unknown = _vint(data, pos + 4)
    if segment_size is None:
        raise BrokenVideo("the video file is cut short (inside the Segment header)")
    if not unknown and body + segment_size > size:
        missing = body + segment_size - size
        raise BrokenVideo(f"the video file is cut short: its Segment needs {missing} more bytes")


def _vint(data: bytes, pos: int) -> tuple[int | None, int, bool]:
    """An EBML variable-size integer at ``pos``: (value, position after it, all-ones "unknown")."""
    if pos >= len(data) or data[pos] == 0:
        return None, pos, False
    first = data[pos]
    length = 8 - first.bit_length() + 1
    if pos + length > len(data):
        return None, pos, False
    value = first & (0xFF >> length)
    for b in data[pos + 1 : pos + length]:
        value = (value << 8) | b
    return value, pos + length, value == (1 << (7 * length)) - 1
