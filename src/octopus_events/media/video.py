"""Videos: what a clip is (codec, frame rate, duration, upright size) and its poster frame."""

from __future__ import annotations

import msgspec


class VideoInfo(msgspec.Struct, frozen=True):
    """The video stream's facts a client needs to decide whether it can play the original."""

    #: FFmpeg's codec name: "h264", "hevc", "vp9", "av1"...
    codec: str
    #: Average frames per second, ``None`` when the container does not say.
    fps: float | None
