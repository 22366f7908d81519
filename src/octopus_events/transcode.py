"""Playable copies: a background queue that re-encodes videos browsers cannot play.

Phones record HEVC, old cameras MPEG-2 or MPEG-4 Part 2, editors ProRes; Chromium on Linux
plays none of them. With ``media.transcode = true`` one worker thread, below the media pool's
priority, makes a copy of each such video: H.264 (libx264) at most 720p, upright, AAC audio when
the source has sound, ``moov`` first so a browser starts playing before the end arrives.

The copy is a derivative (a cache, not a fact): no event records it. It lives in the blob
store's derivative area as kind ``playable`` beside the poster's thumb and preview, so every
path that removes a video's derivatives (permanent delete, trash expiry, account deletion, a
move into the vault) removes it too (``BlobStore.delete_all``). The queue is the read model
itself: videos in the library or trash whose codec needs a copy and that have none yet. So it
survives restarts with no state of its own; only failures are remembered, in memory, so a file
FFmpeg cannot re-encode is tried once per process and not in a loop.

Never on the upload path: the worker wakes on commits (the event store's commit listener) and
looks for work on its own thread.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import msgspec

from .durable import fsync_dir
from .media.budget import PROCESS_BUDGET
from .media.errors import BrokenVideo, ImageTooLarge
from .priority import lower_this_thread

if TYPE_CHECKING:
    from .application import Octopus

log = logging.getLogger(__name__)

#: The derivative kind the copy is stored under.
PLAYABLE = "playable"
#: Codecs every current browser plays in MP4 or WebM: no copy for these.
BROWSER_CODECS = frozenset({"h264", "vp8", "vp9", "av1"})
#: The copy's long side at most (720p for landscape, 720 wide for portrait).
MAX_SHORT_SIDE = 720
MAX_LONG_SIDE = 1280
#: x264 settings: quick to encode on a small box, good enough to watch on a phone or laptop.
PRESET = "veryfast"
CRF = "26"
#: Encoder and decoder threads: the worker is one background job, not the machine's owner.
CODEC_THREADS = 2
#: The worker's nice value on Linux, below the media pool's (priority.MEDIA_NICE = 10).
TRANSCODE_NICE = 15
#: Without a commit, look for work this often anyway (a copy deleted by hand is made again).
IDLE_RESCAN_S = 300.0
#: How often progress is published (seconds of source video encoded between updates).
_PROGRESS_EVERY = 0.5


def needs_copy(kind: str, codec: str | None) -> bool:
    """Whether a browser needs a playable copy of this item (decided from the stored codec)."""
    return kind == "video" and bool(codec) and codec not in BROWSER_CODECS


def encoder() -> str | None:
    """The H.264 encoder PyAV's FFmpeg offers ("libx264"), or None when it has none."""
    from .media.video import _load_av

    av = _load_av()
    try:
        av.codec.Codec("libx264", "w")
    except (av.FFmpegError, ValueError):
        return None
    return "libx264"


class Current(msgspec.Struct):
    photo_id: str
    #: 0.0 … 1.0 of the source's duration encoded so far.
    progress: float


class TranscodeStatus(msgspec.Struct):
    """GET /api/admin/transcode."""

    enabled: bool
    #: "libx264" when copies can be made, null when transcoding is off or no encoder exists.
    encoder: str | None
    #: Videos that need a copy and have none yet (not counting failed ones).
    pending: int
    #: Videos with a copy.
    done: int
    #: Videos whose copy failed in this process's life (tried again after a restart).
    failed: int
    current: Current | None


class _Job(msgspec.Struct, frozen=True):
    photo_id: str
    sha256: str
    duration: float | None


# Videos the library shows that need a copy. A vault item never: its plaintext is gone, and a
# plaintext copy of it would be a leak (the state filter and the re-check after writing).
_CANDIDATES = (
    "SELECT id, sha256, video_codec, duration FROM photo "
    "WHERE kind = 'video' AND state IN ('library', 'trash') AND sha256 IS NOT NULL "
    "ORDER BY uploaded_at DESC, id"
)


class Transcoder:
    """The playable-copy queue of one library. ``start()`` after the library opened."""

    def __init__(self, octopus: Octopus) -> None:
        self.octopus = octopus
        self.enabled = octopus.config.media.transcode
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._current: Current | None = None
        self._failed: set[str] = set()  # sha256 of sources that did not re-encode
        self._encoder: str | None = None
        self._encoder_known = False
        self._listening = False

    @property
    def blobs(self) -> Any:
        return self.octopus.photos.blobs

    # -- life cycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the worker thread (only when ``media.transcode`` is on)."""
        if not self.enabled or self._thread is not None:
            return
        if not self._listening:
            self.octopus.store.add_commit_listener(self._committed)
            self._listening = True
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="octopus-transcode", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the worker; an encode in progress stops at its next frame (its temp file removed)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _committed(self, _head: int, _owners: frozenset[str]) -> None:
        # On the writer thread: only a flag, the worker does the looking.
        self._wake.set()

    # -- status -------------------------------------------------------------------------------------
    def encoder_name(self) -> str | None:
        if not self.enabled:
            return None
        if not self._encoder_known:
            self._encoder = encoder()  # imports PyAV: asked only once transcoding is on
            self._encoder_known = True
        return self._encoder

    def status(self) -> TranscodeStatus:
        """Counts from the read model and the blob store (blocking: call on a reader thread)."""
        pending = done = failed = 0
        for _photo_id, sha, codec, _duration in self.octopus.store.reader().execute(_CANDIDATES):
            if not needs_copy("video", codec):
                continue
            if self.blobs.has(PLAYABLE, sha):
                done += 1
            elif sha in self._failed:
                failed += 1
            else:
                pending += 1
        with self._lock:
            current = self._current
        return TranscodeStatus(enabled=self.enabled, encoder=self.encoder_name(), pending=pending, done=done,
                               failed=failed, current=current)

    # -- the worker -----------------------------------------------------------------------------------
    def _run(self) -> None:
        lower_this_thread()
        _nice_lower(TRANSCODE_NICE)
        if self.encoder_name() is None:
            log.warning("media.transcode is on but this FFmpeg has no H.264 encoder (libx264): no playable copies")
            return
        while not self._stop.is_set():
            self._wake.clear()
            job = self._next_job()
            if job is None:
                self._wake.wait(IDLE_RESCAN_S)
                continue
            self._make(job)

    def _next_job(self) -> _Job | None:
        for photo_id, sha, codec, duration in self.octopus.store.reader().execute(_CANDIDATES):
            if needs_copy("video", codec) and sha not in self._failed and not self.blobs.has(PLAYABLE, sha):
                return _Job(photo_id, sha, duration)
        return None

    def _make(self, job: _Job) -> None:
        source = self.blobs.original_path(job.sha256)
        dest = self.blobs.derivative_path(PLAYABLE, job.sha256)
        with self._lock:
            self._current = Current(job.photo_id, 0.0)

        def progress(fraction: float) -> None:
            with self._lock:
                self._current = Current(job.photo_id, round(min(1.0, max(0.0, fraction)), 3))

        started = time.perf_counter()
        try:
            if not source.is_file():
                raise FileNotFoundError(source)
            write_playable(source, dest, self.blobs.tmp_dir, duration=job.duration, progress=progress,
                           cancelled=self._stop.is_set)
        except _Cancelled:
            return
        except (BrokenVideo, ImageTooLarge, OSError, ValueError) as exc:
            # A file whose bytes went away meanwhile (deleted, vaulted) is no failure: it is
            # simply no longer a candidate. Anything else is remembered so it is not retried.
            if self._still_wanted(job):
                log.warning("no playable copy of photo %s: %s", job.photo_id, exc)
                self._failed.add(job.sha256)
            return
        finally:
            with self._lock:
                self._current = None
        # Written after a delete or a vault move committed, the copy would outlive its video:
        # deletions commit first and remove derivatives after, so a check after the rename sees
        # every deletion whose removal could have run before it.
        if not self._still_wanted(job):
            dest.unlink(missing_ok=True)
            return
        log.info("playable copy of photo %s made in %.1f s", job.photo_id, time.perf_counter() - started)

    def _still_wanted(self, job: _Job) -> bool:
        row = self.octopus.store.reader().execute(
            "SELECT 1 FROM photo WHERE sha256 = ? AND kind = 'video' AND state IN ('library', 'trash') LIMIT 1",
            (job.sha256,),
        ).fetchone()
        return row is not None and self.blobs.original_path(job.sha256).is_file()


class _Cancelled(Exception):
    """The server is stopping: the encode ends and leaves nothing behind."""


def _nice_lower(nice: int) -> None:
    """Below the media pool: a copy may take minutes, an upload's poster should not wait for it."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), nice))
    except (AttributeError, OSError):
        pass  # not Linux, or not allowed: lower_this_thread() already did what it could


# -- encoding --------------------------------------------------------------------------------------


def copy_size(width: int, height: int) -> tuple[int, int]:
    """The copy's size for an upright ``width`` × ``height``: at most 1280×720 (or 720×1280),
    never larger than the source, aspect kept, both sides even (4:2:0 needs it)."""
    landscape = width >= height
    long_side, short_side = (width, height) if landscape else (height, width)
    ratio = min(1.0, MAX_LONG_SIDE / long_side, MAX_SHORT_SIDE / short_side)
    w, h = max(2, round(width * ratio / 2) * 2), max(2, round(height * ratio / 2) * 2)
    return w, h


def transcode_cost(src_w: int, src_h: int, out_w: int, out_h: int) -> int:
    """Peak bytes a re-encode holds, reserved from the decode budget: the decoder's reference
    frames (HEVC keeps up to 16, 1.5 bytes a pixel each) and x264's lookahead and frame threads
    for the copy. Measured: 1080p HEVC → 720p peaks ~110 MB over the idle process; this says 98."""
    return _BASE_COST + src_w * src_h * _SOURCE_BYTES_PER_PIXEL + out_w * out_h * _COPY_BYTES_PER_PIXEL


_BASE_COST = 4 * 1024 * 1024
_SOURCE_BYTES_PER_PIXEL = 24
_COPY_BYTES_PER_PIXEL = 48


def write_playable(source: Path, dest: Path, tmp_dir: Path, *, duration: float | None = None,
                   progress: Callable[[float], None] | None = None,
                   cancelled: Callable[[], bool] | None = None) -> None:
    """Encode ``source`` into an H.264/AAC MP4 at ``dest``: temp file, fsync, rename.

    Frames stream through (demux, decode, scale and turn upright, encode, mux), so memory is a
    few frames whatever the clip's length. Raises :class:`BrokenVideo` when the source does not
    decode. Blocking and CPU-bound: the worker thread calls it.
    """
    fd, name = tempfile.mkstemp(prefix="playable-", suffix=".mp4", dir=tmp_dir)
    os.close(fd)
    tmp = Path(name)
    try:
        _encode(source, tmp, duration, progress or (lambda _f: None), cancelled or (lambda: False))
        with open(tmp, "rb+") as fp:
            os.fsync(fp.fileno())
        created = not dest.parent.is_dir()
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, dest)
        fsync_dir(dest.parent)
        if created:
            fsync_dir(dest.parent.parent)
    finally:
        tmp.unlink(missing_ok=True)


def _encode(source: Path, out_path: Path, duration: float | None, progress: Callable[[float], None],
            cancelled: Callable[[], bool]) -> None:
    from .media.video import _load_av

    av = _load_av()
    try:
        inp = av.open(str(source), metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise BrokenVideo(f"cannot read the video container: {exc}") from None
    with inp:
        videos = [s for s in inp.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
        if not videos:
            raise BrokenVideo("the file has no video stream")
        vin = videos[0]
        vin.thread_type = "AUTO"
        vin.codec_context.thread_count = CODEC_THREADS
        ain = inp.streams.audio[0] if inp.streams.audio else None
        src_w, src_h = vin.codec_context.width, vin.codec_context.height
        if src_w <= 0 or src_h <= 0:
            raise BrokenVideo("the video stream declares no size")
        rotation = _stream_rotation(av, inp, vin)
        upright = (src_h, src_w) if rotation in (90, 270) else (src_w, src_h)
        sar = vin.sample_aspect_ratio
        if sar and sar > 0 and sar != 1:
            upright = (max(2, round(upright[0] * sar)), upright[1]) if rotation in (0, 180) else \
                (upright[0], max(2, round(upright[1] * sar)))
        out_w, out_h = copy_size(*upright)
        cost = transcode_cost(src_w, src_h, out_w, out_h)
        with PROCESS_BUDGET.reserve(cost, f"{src_w}×{src_h} video re-encode"):
            with av.open(str(out_path), "w", format="mp4", options={"movflags": "+faststart"}) as out:
                from fractions import Fraction

                rate = vin.average_rate or vin.guessed_rate or Fraction(30)
                vout = out.add_stream("libx264", rate=rate)
                vout.width, vout.height = out_w, out_h
                vout.pix_fmt = "yuv420p"
                vout.codec_context.thread_count = CODEC_THREADS
                vout.options = {"preset": PRESET, "crf": CRF, "profile": "high", "level": "4.0"}
                vout.time_base = vin.time_base
                vout.codec_context.time_base = vin.time_base
                aout = None
                if ain is not None and ain.codec_context is not None:
                    rate_hz = ain.codec_context.sample_rate or 48000
                    aout = out.add_stream("aac", rate=rate_hz if rate_hz in _AAC_RATES else 48000)
                    aout.layout = "stereo" if (ain.codec_context.channels or 1) >= 2 else "mono"
                graph = _video_graph(av, vin, rotation, out_w, out_h)
                streams = [vin] + ([ain] if aout is not None else [])
                total = duration or 0.0
                last_report = -1.0
                try:
                    for packet in inp.demux(*streams):
                        if cancelled():
                            raise _Cancelled
                        for frame in packet.decode():
                            if packet.stream is vin:
                                graph.push(frame)
                                _drain_graph(av, graph, vout, out)
                                if total and frame.time is not None and frame.time - last_report >= _PROGRESS_EVERY:
                                    last_report = frame.time
                                    progress(frame.time / total)
                            else:
                                frame.pts = None  # the encoder counts samples itself
                                out.mux(aout.encode(frame))
                except (av.FFmpegError, ValueError) as exc:
                    if isinstance(exc, av.EOFError):
                        pass
                    else:
                        raise BrokenVideo(f"the video does not decode: {exc}") from None
                graph.push(None)
                _drain_graph(av, graph, vout, out)
                out.mux(vout.encode(None))
                if aout is not None:
                    out.mux(aout.encode(None))
                progress(1.0)


_AAC_RATES = frozenset({8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000})


def _stream_rotation(av: Any, inp: Any, vin: Any) -> int:
    """The rotation (degrees counter-clockwise) from the first decoded frame, as posters get it."""
    from .media.video import _rotation

    try:
        for packet in inp.demux(vin):
            for frame in packet.decode():
                rotation = _rotation(frame, vin)
                inp.seek(0, backward=True, stream=vin) if vin.start_time is None else \
                    inp.seek(vin.start_time, backward=True, stream=vin)
                return rotation
    except (av.FFmpegError, ValueError) as exc:
        raise BrokenVideo(f"the video does not decode: {exc}") from None
    raise BrokenVideo("the video stream has no frame that decodes")


# FFmpeg's transpose filter: 1 = 90° clockwise, 2 = 90° counter-clockwise.
_TURN = {90: ["transpose=2"], 180: ["hflip", "vflip"], 270: ["transpose=1"]}


def _video_graph(av: Any, vin: Any, rotation: int, width: int, height: int) -> Any:
    """buffer → turn upright → scale to the copy's size (square pixels) → yuv420p → sink."""
    graph = av.filter.Graph()
    node = graph.add_buffer(template=vin)
    for spec in [*_TURN.get(rotation, []), f"scale={width}:{height}:flags=bicubic", "setsar=1", "format=yuv420p"]:
        name, _, args = spec.partition("=")
        nxt = graph.add(name, args or None)
        node.link_to(nxt)
        node = nxt
    sink = graph.add("buffersink")
    node.link_to(sink)
    graph.configure()
    return graph


def _drain_graph(av: Any, graph: Any, vout: Any, out: Any) -> None:
    while True:
        try:
            frame = graph.pull()
        except (av.BlockingIOError, av.EOFError):
            return
        # The decoded frame carries the source's display matrix; the copy is upright already.
        frame.pict_type = av.video.frame.PictureType.NONE
        out.mux(vout.encode(frame))
