"""Videos through the media layer: real clips made with PyAV (tests/video_support.py), analysed
and rendered as uploads and previews are."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from ci_support import require_or_skip
from http_support import Server, User, assert_problem
from orientation_support import assert_upright, upright_scene
from octopus_events.media import (
    THUMB_PX,
    BrokenVideo,
    ImageTooLarge,
    UnsupportedMediaType,
    VideoInfo,
    analyse,
    dhash64,
    hamming,
    render,
)
from octopus_events.media.budget import DecodeBudget
from octopus_events.media.video import video_metadata
from video_support import ANDROID_TAGS, APPLE_TAGS, H264, HEVC, VP9, clip, cut, encoder_available, poster_middle_is_white

MAX_PIXELS = 100_000_000


def _need(codec: str) -> None:
    require_or_skip(encoder_available(codec), f"the {codec} encoder in PyAV's FFmpeg", "install PyAV's own wheel (uv sync)")


def _thumb(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "JPEG"
        return img.convert("RGB")


@pytest.mark.parametrize(
    ("codec", "container", "mime", "codec_name"),
    [
        (H264, "mp4", "video/mp4", "h264"),
        (H264, "mov", "video/quicktime", "h264"),
        (H264, "m4v", "video/x-m4v", "h264"),
        (H264, "3gp", "video/3gpp", "h264"),
        (H264, "mkv", "video/x-matroska", "h264"),
        (HEVC, "mp4", "video/mp4", "hevc"),
        (HEVC, "mov", "video/quicktime", "hevc"),
        (VP9, "webm", "video/webm", "vp9"),
        (VP9, "mkv", "video/x-matroska", "vp9"),
    ],
)
def test_codecs_and_containers(codec: str, container: str, mime: str, codec_name: str) -> None:
    _need(codec)
    a = analyse(clip(codec, container), max_pixels=MAX_PIXELS)
    assert (a.mime, a.kind, a.width, a.height, a.orientation) == (mime, "video", 160, 120, 1)
    assert a.video == VideoInfo(codec=codec_name, fps=10.0)
    assert a.duration == pytest.approx(2.0, abs=0.05)
    assert (a.thumb_width, a.thumb_height) == (160, 120)  # never scaled up past the frame
    assert_upright(a.thumb, (160, 120), f"{codec} in {container}")
    thumb = _thumb(a.thumb)
    assert poster_middle_is_white(thumb), "the poster is the keyframe at 1 s, not the first frame"
    # The duplicate finder compares posters as it compares photos: the hash is the poster's.
    assert hamming(a.phash, dhash64(thumb)) <= 4


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
@pytest.mark.parametrize(("codec", "container"), [(H264, "mp4"), (HEVC, "mov"), (VP9, "webm")])
def test_rotation_gives_an_upright_poster_and_size(codec: str, container: str, rotation: int) -> None:
    _need(codec)
    # A landscape scene filmed with the phone turned: stored turned, with a display rotation.
    a = analyse(clip(codec, container, size=(160, 96), rotation=rotation), max_pixels=MAX_PIXELS)
    assert (a.width, a.height) == (160, 96), rotation
    assert_upright(a.thumb, (160, 96), f"{codec}/{container} rotated {rotation}")
    # The preview made later from the original is the same upright poster.
    preview = render(clip(codec, container, size=(160, 96), rotation=rotation), "preview", a.orientation, a.mime)
    assert (preview.width, preview.height) == (160, 96)
    assert_upright(preview.data, (160, 96), f"preview rotated {rotation}")


def test_portrait_clip_is_taller_than_wide() -> None:
    a = analyse(clip(size=(96, 160), rotation=270), max_pixels=MAX_PIXELS)
    assert (a.width, a.height) == (96, 160)
    assert_upright(a.thumb, (96, 160))


def test_large_frame_thumb_and_preview_sizes(tmp_path: Path) -> None:
    path = clip(size=(1920, 1080), seconds=1.5, fps=4)
    a = analyse(path, max_pixels=MAX_PIXELS)
    assert (a.width, a.height) == (1920, 1080)
    assert max(a.thumb_width, a.thumb_height) == THUMB_PX
    assert_upright(a.thumb, (a.thumb_width, a.thumb_height))
    preview = render(path, "preview", 1, a.mime)
    assert (preview.width, preview.height) == (1440, 810)
    assert_upright(preview.data, (1440, 810))
    thumb = render(path, "thumb", 1, a.mime)
    assert (thumb.width, thumb.height) == (a.thumb_width, a.thumb_height)


def test_old_camera_codec_decodes_at_reduced_size() -> None:
    # MPEG-4 Part 2 in a MOV, as compact cameras wrote: its decoder can skip to 1/4 scale.
    a = analyse(clip("mpeg4", "mov", size=(1280, 720), seconds=1.5, fps=4, rotation=90), max_pixels=MAX_PIXELS)
    assert (a.width, a.height, a.video.codec if a.video else None) == (1280, 720, "mpeg4")
    assert_upright(a.thumb, (256, 144))


@pytest.mark.parametrize(("codec", "container"), [(H264, "mp4"), (H264, "mov"), (VP9, "webm"), (H264, "mkv")])
def test_with_audio(codec: str, container: str) -> None:
    _need(codec)
    a = analyse(clip(codec, container, audio=True), max_pixels=MAX_PIXELS)
    assert a.kind == "video" and a.video is not None and a.video.codec in ("h264", "vp9")
    assert a.duration == pytest.approx(2.0, abs=0.05)
    assert_upright(a.thumb, (160, 120))


def test_a_clip_shorter_than_a_second_gets_its_first_frame() -> None:
    a = analyse(clip(seconds=0.5), max_pixels=MAX_PIXELS)
    assert a.duration == pytest.approx(0.5, abs=0.05)
    assert_upright(a.thumb, (160, 120))
    assert not poster_middle_is_white(_thumb(a.thumb))


def test_apple_metadata_keeps_the_local_time_and_offset() -> None:
    md = analyse(clip(container="mov", tags=APPLE_TAGS), max_pixels=MAX_PIXELS).metadata
    assert (md.taken_local, md.offset_minutes, md.taken_source) == ("2023-07-14T10:30:00", 120, "quicktime-local")
    assert (md.gps_lat, md.gps_lon) == (48.8584, 2.2945)
    assert (md.make, md.model) == ("Apple", "iPhone 13 Pro")


def test_android_metadata_is_the_utc_instant() -> None:
    md = analyse(clip(tags=ANDROID_TAGS), max_pixels=MAX_PIXELS).metadata
    assert (md.taken_local, md.offset_minutes, md.taken_source) == ("2022-12-24T17:45:10", 0, "container-utc")
    assert (md.gps_lat, md.gps_lon) == (-33.8568, 151.2153)
    assert (md.make, md.model) == ("Google", "Pixel 7")


def test_a_clip_without_tags_has_no_date_or_place() -> None:
    md = analyse(clip(), max_pixels=MAX_PIXELS).metadata
    assert (md.taken_local, md.taken_source, md.gps_lat, md.make) == (None, "none", None, None)


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        # ISO 6709 in degrees and minutes, and degrees, minutes and seconds.
        ({"location": "+4851.5040+00217.6700/"}, (48.8584, 2.2945)),
        ({"location": "+485130.24+0021740.2/"}, (48.8584, 2.2945)),
        ({"location": "+00.0000+000.0000/"}, (None, None)),  # no fix
        ({"location": "+91.0000+000.0000/"}, (None, None)),
        ({"location": "somewhere nice"}, (None, None)),
    ],
)
def test_iso6709_forms(tags: dict[str, str], expected: tuple[float | None, float | None]) -> None:
    md = video_metadata(tags)
    assert md.gps_lat == pytest.approx(expected[0], abs=1e-4) if expected[0] is not None else md.gps_lat is None
    assert md.gps_lon == pytest.approx(expected[1], abs=1e-4) if expected[1] is not None else md.gps_lon is None


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"creation_time": "1904-01-01T00:00:00.000000Z"}, (None, None, "none")),  # mp4's zero
        ({"creation_time": "2021-03-04T05:06:07+01:00"}, ("2021-03-04T04:06:07", 0, "container-utc")),
        ({"com.apple.quicktime.creationdate": "2021-03-04T05:06:07-0700", "creation_time": "2021-03-04T12:06:07Z"},
         ("2021-03-04T05:06:07", -420, "quicktime-local")),
        ({"com.apple.quicktime.creationdate": "not a date", "creation_time": "2021-03-04T12:06:07Z"},
         ("2021-03-04T12:06:07", 0, "container-utc")),
    ],
)
def test_taken_time_sources(tags: dict[str, str], expected: tuple[str | None, int | None, str]) -> None:
    md = video_metadata(tags)
    assert (md.taken_local, md.offset_minutes, md.taken_source) == expected


@pytest.mark.parametrize(
    "spec",
    [
        {},
        {"faststart": True},  # the index first: FFmpeg opens the cut file and decodes its start
        {"container": "mov", "audio": True},
        {"codec": VP9, "container": "webm"},
        {"container": "mkv", "audio": True},
        {"codec": HEVC, "faststart": True},
    ],
    ids=lambda spec: "-".join(f"{k}={v}" for k, v in spec.items()) or "mp4",
)
def test_a_cut_video_is_broken(tmp_path: Path, spec: dict) -> None:
    _need(spec.get("codec", H264))
    whole = clip(**spec)
    analyse(whole, max_pixels=MAX_PIXELS)  # the whole file is fine
    for fraction in (0.1, 0.5, 0.9, 0.99):
        with pytest.raises(BrokenVideo):
            analyse(cut(whole, fraction, tmp_path), max_pixels=MAX_PIXELS)
    short = tmp_path / ("short-" + whole.name)
    short.write_bytes(whole.read_bytes()[:-1])
    with pytest.raises(BrokenVideo):
        analyse(short, max_pixels=MAX_PIXELS)
    with pytest.raises(BrokenVideo):
        render(cut(whole, 0.5, tmp_path), "preview", 1, analyse(whole, max_pixels=MAX_PIXELS).mime)


@pytest.mark.parametrize("spec", [{}, {"codec": VP9, "container": "webm"}, {"container": "mkv"}])
def test_scrambled_video_data_is_broken(tmp_path: Path, spec: dict) -> None:
    data = bytearray(clip(**spec).read_bytes())
    # The container's start and end stay; the middle, where the coded frames are, is noise.
    for i in range(len(data) // 4, len(data) * 3 // 4):
        data[i] = (i * 7919 + 13) % 256
    path = tmp_path / "scrambled"
    path.write_bytes(bytes(data))
    with pytest.raises(BrokenVideo):
        analyse(path, max_pixels=MAX_PIXELS)


def test_audio_only_is_unsupported() -> None:
    with pytest.raises(UnsupportedMediaType, match="without a video stream"):
        analyse(clip(video=False, audio=True), max_pixels=MAX_PIXELS)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(UnsupportedMediaType, match="empty"):
        analyse(path, max_pixels=MAX_PIXELS)


def test_frames_beyond_max_pixels_or_the_budget_are_refused() -> None:
    path = clip(size=(640, 480), seconds=1, fps=2)
    with pytest.raises(ImageTooLarge):
        analyse(path, max_pixels=640 * 480 - 1)
    with pytest.raises(ImageTooLarge, match="budget"):
        analyse(path, max_pixels=MAX_PIXELS, budget=DecodeBudget(limit_mb=1))
    budget = DecodeBudget(limit_mb=64)
    analyse(path, max_pixels=MAX_PIXELS, budget=budget)
    assert budget.in_use_bytes == 0  # given back


def test_different_clips_have_different_posters() -> None:
    a = analyse(clip(), max_pixels=MAX_PIXELS).phash
    b = analyse(clip(seed=3), max_pixels=MAX_PIXELS).phash
    other = Image.new("RGB", (160, 120), (10, 10, 10))
    other.paste(upright_scene((80, 60)).transpose(Image.Transpose.ROTATE_180), (40, 30))
    assert hamming(a, b) <= 6  # same look, other bytes: near-identical
    assert hamming(a, dhash64(other)) > 10


_LAZY = """
import json, sys
sys.path.insert(0, {tests!r})
import octopus_events.web.app  # the whole server
from octopus_events.media import analyse, render
from orientation_support import oriented_jpeg
from pathlib import Path
photo = Path({tmp!r}) / "p.jpg"
photo.write_bytes(oriented_jpeg(6))
a = analyse(photo, max_pixels=10**8)
render(photo, "preview", a.orientation, a.mime)
before = "av" in sys.modules
v = analyse({video!r}, max_pixels=10**8)
print(json.dumps({{"before": before, "after": "av" in sys.modules, "kind": v.kind}}))
"""


def test_pyav_is_imported_on_the_first_video_only(tmp_path: Path) -> None:
    tests = str(Path(__file__).parent)
    code = _LAZY.format(tests=tests, tmp=str(tmp_path), video=str(clip()))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"before": False, "after": True, "kind": "video"}


def test_http_refusals_are_problems_and_store_nothing(server: Server, alice: User, tmp_path: Path) -> None:
    whole = clip(faststart=True)
    body = assert_problem(alice.upload(cut(whole, 0.5, tmp_path).read_bytes(), "cut.mp4"), 422)
    assert "cut short" in body["detail"] and body["title"] == "Broken video"
    body = assert_problem(alice.upload(clip(video=False, audio=True).read_bytes(), "voice.m4a"), 415)
    assert "video stream" in body["detail"]
    # An empty body never reaches the media layer (analyse refuses one too: test_empty_file).
    body = assert_problem(alice.upload(b"", "empty.mp4"), 422)
    assert "empty" in body["detail"]
    with alice.client() as c:
        assert c.get("/api/users/me/storage").json()["photos"] == 0
        assert c.get("/api/timeline").json()["days"] == []
