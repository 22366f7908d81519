"""Decoding is bounded by the memory it needs: estimated from the header, reserved from a budget,
reduced where the codec allows, refused before decoding when it can never fit.

The memory claims are measured, not assumed: peaks come from a child process's VmHWM, and the
HTTP test watches a real `octopus serve`. The bomb is written chunk by chunk, so the test
process never holds the pixels it declares.
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pillow_heif
import pytest
from PIL import Image

from http_support import Server, assert_problem, image_bytes
from orientation_support import BLUE, GREEN, RED, upright_scene
from octopus_events.media import PREVIEW_PX, THUMB_PX, ImageTooLarge, analyse, read_metadata, render
from octopus_events.media.budget import MB, DecodeBudget
from octopus_events.media.derivatives import decode_reduced, open_image, reduced_decode_cost

MAX_PIXELS = 200_000_000  # the default media.max_megapixels: the bomb is under it
# Pillow warns on opening anything above 89 MP; these files are meant to be that large.
pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")


# -- a PNG that declares many pixels and costs almost nothing to make ------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _zero_rows(row_bytes: int, rows: int) -> bytes:
    """A zlib stream of ``rows`` all-zero rows, made by repeating one deflated block.

    A raw deflate block ended by a full flush refers to nothing before it, so the same bytes can
    be repeated; only the Adler-32 of the whole stream has to be computed, block by block.
    """
    per = max(1, min(rows, (4 << 20) // row_bytes))
    full, rest = divmod(rows, per)

    def deflated(data: bytes) -> bytes:
        raw = zlib.compressobj(9, zlib.DEFLATED, -15)
        return raw.compress(data) + raw.flush(zlib.Z_FULL_FLUSH)

    block = bytes(row_bytes * per)
    body = deflated(block) * full
    adler = 1
    for _ in range(full):
        adler = zlib.adler32(block, adler)
    if rest:
        tail = bytes(row_bytes * rest)
        body += deflated(tail)
        adler = zlib.adler32(tail, adler)
    end = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)
    return b"\x78\xda" + body + end + struct.pack(">I", adler)


def bomb_png(width: int, height: int, *, after_pixels: bytes = b"") -> bytes:
    """An 8-bit RGBA PNG of transparent black; ``after_pixels`` are chunks placed after IDAT."""
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    idat = _zero_rows(1 + 4 * width, height)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + after_pixels + _chunk(b"IEND", b"")


def test_the_bomb_is_what_the_issue_describes(tmp_path: Path) -> None:
    data = bomb_png(13_000, 13_000)
    assert len(data) < 700_000
    path = tmp_path / "bomb.png"
    path.write_bytes(data)
    with open_image(path, "image/png") as img:
        assert (img.size, img.mode) == ((13_000, 13_000), "RGBA")
    small = bomb_png(300, 7)  # the same writer makes a PNG that really decodes
    with Image.open(io.BytesIO(small)) as img:
        img.load()
        assert img.size == (300, 7) and img.getextrema() == ((0, 0),) * 4


# -- the estimate ----------------------------------------------------------------------------------


def test_estimate_counts_the_header_pixels_at_the_modes_bytes(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb_png(13_000, 13_000))
    with open_image(path, "image/png") as img:
        cost = reduced_decode_cost(img, THUMB_PX)
    # PNG has no reduced decode: all 169 MP at 4 bytes, plus a little for the reduced copies.
    assert 169_000_000 * 4 <= cost < 169_000_000 * 4 + 32 * MB


def test_estimate_of_a_jpeg_is_of_its_reduced_decode(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    _upright((4000, 3000)).save(path, "JPEG", quality=85)
    full = 4000 * 3000 * 4
    with open_image(path, "image/jpeg") as img:
        thumb = reduced_decode_cost(img, THUMB_PX)
        assert img.size == (500, 375)  # libjpeg is asked for 1/8 scale
    with open_image(path, "image/jpeg") as img:
        preview = reduced_decode_cost(img, PREVIEW_PX)
        assert img.size == (2000, 1500)  # 1/2 still covers 1440 px
    assert thumb < 4 * MB < preview < full
    path_prog = tmp_path / "progressive.jpg"
    _upright((4000, 3000)).save(path_prog, "JPEG", quality=85, progressive=True)
    with open_image(path_prog, "image/jpeg") as img:
        # A progressive file keeps every coefficient of the full image, whatever the scale:
        # 2 bytes × (1 + ¼ + ¼) a pixel with 4:2:0 chroma.
        assert reduced_decode_cost(img, THUMB_PX) >= thumb + 4000 * 3000 * 3


# -- the budget ------------------------------------------------------------------------------------


def _poll(predicate, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


class _Holder:
    """A thread that holds a reservation until told to let go."""

    def __init__(self, budget: DecodeBudget, need: int) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(budget, need), daemon=True)
        self.thread.start()

    def _run(self, budget: DecodeBudget, need: int) -> None:
        try:
            with budget.reserve(need, "test"):
                self.entered.set()
                self.release.wait(30)
        except BaseException as exc:  # handed to the test thread, which re-raises it
            self.error = exc
            self.entered.set()

    def finish(self) -> None:
        self.release.set()
        self.thread.join(10)
        assert not self.thread.is_alive()
        if self.error is not None:
            raise self.error


def test_a_decode_that_can_never_fit_is_refused_at_once_even_when_the_budget_is_busy() -> None:
    budget = DecodeBudget(64)
    holder = _Holder(budget, 60 * MB)
    assert holder.entered.wait(10)
    with pytest.raises(ImageTooLarge) as info:
        with budget.reserve(65 * MB, "13000×13000 RGBA"):
            pass
    assert "too large to decode within the server's memory budget" in info.value.detail
    assert "13000×13000 RGBA needs about 65 MB, the budget is 64 MB" in info.value.detail
    assert budget.waiting == 0
    holder.finish()
    assert budget.in_use_bytes == 0


def test_large_decodes_run_one_at_a_time() -> None:
    budget = DecodeBudget(100)
    first = _Holder(budget, 60 * MB)
    assert first.entered.wait(10)
    second = _Holder(budget, 60 * MB)
    _poll(lambda: budget.waiting == 1, "the second large decode to queue")
    assert not second.entered.is_set()
    assert budget.in_use_bytes == 60 * MB
    first.finish()
    assert second.entered.wait(10)
    assert budget.in_use_bytes == 60 * MB
    second.finish()
    assert budget.in_use_bytes == 0


def test_small_decodes_share_the_budget_but_do_not_overtake_a_waiting_large_one() -> None:
    budget = DecodeBudget(100)
    small = [_Holder(budget, 30 * MB) for _ in range(3)]  # three fit side by side
    for holder in small:
        assert holder.entered.wait(10)
    large = _Holder(budget, 60 * MB)
    _poll(lambda: budget.waiting == 1, "the large decode to queue")
    late = _Holder(budget, 5 * MB)  # would fit beside the three, but the large one came first
    _poll(lambda: budget.waiting == 2, "the late small decode to queue behind it")
    small[0].finish()
    small[1].finish()
    assert large.entered.wait(10)
    # Now 30 + 60 are held: the late one fits beside them and goes next.
    assert late.entered.wait(10)
    for holder in (small[2], large, late):
        holder.finish()
    assert (budget.in_use_bytes, budget.waiting) == (0, 0)


def test_a_lowered_limit_refuses_a_waiter_that_no_longer_fits() -> None:
    budget = DecodeBudget(100)
    first = _Holder(budget, 60 * MB)
    assert first.entered.wait(10)
    waiter = _Holder(budget, 60 * MB)
    _poll(lambda: budget.waiting == 1, "the waiter to queue")
    budget.set_limit(50)
    assert waiter.entered.wait(10)
    with pytest.raises(ImageTooLarge):
        waiter.finish()
    first.finish()


# -- decoding through the budget -------------------------------------------------------------------

_upright = upright_scene  # red top-left, blue bottom-right, green top-right: any turn or mirror shows


def _near(pixel: tuple, colour: tuple, tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


def _assert_upright(jpeg: bytes, size: tuple[int, int]) -> None:
    with Image.open(io.BytesIO(jpeg)) as img:
        assert img.size == size
        rgb = img.convert("RGB")
        w, h = rgb.size
        assert _near(rgb.getpixel((w // 8, h // 8)), RED)
        assert _near(rgb.getpixel((w - w // 8, h - h // 8)), BLUE)
        assert _near(rgb.getpixel((w - w // 8, h // 20)), GREEN)
        assert _near(rgb.getpixel((w // 8, h - h // 8)), (240, 240, 240))


def test_a_large_jpeg_decodes_reduced_within_a_budget_its_full_decode_would_not_fit(tmp_path: Path) -> None:
    # Stored turned (EXIF orientation 6 = rotate 90° clockwise to view); upright it is 3000×4000.
    path = tmp_path / "big.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    _upright((3000, 4000)).transpose(Image.Transpose.ROTATE_90).save(path, "JPEG", quality=85, exif=exif)
    budget = DecodeBudget(32)  # the full 4000×3000 decode alone is 46 MB
    result = analyse(path, max_pixels=MAX_PIXELS, budget=budget)
    assert (result.width, result.height, result.orientation) == (3000, 4000, 6)
    _assert_upright(result.thumb, (192, 256))
    preview = render(path, "preview", 6, "image/jpeg", budget=budget)
    _assert_upright(preview.data, (1080, 1440))
    assert budget.in_use_bytes == 0
    # A PNG of the same size has no reduced decode, so the same budget refuses it, undecoded.
    png = tmp_path / "big.png"
    Image.new("RGB", (4000, 3000)).save(png, compress_level=1)
    with pytest.raises(ImageTooLarge, match="memory budget"):
        analyse(png, max_pixels=MAX_PIXELS, budget=budget)


@pytest.mark.parametrize("long_side", [THUMB_PX, PREVIEW_PX])
def test_strip_by_strip_reduction_equals_converting_the_whole_image(tmp_path: Path, long_side: int) -> None:
    # RGBA and palette images are converted a strip at a time; the result must be exactly what
    # converting the whole image and resizing it (the way it was done before) gives.
    size = (2400, 1800)
    rgba = _upright(size).convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(size))
    palette = _upright(size).convert("P")
    palette_alpha = palette.copy()
    palette_alpha.info["transparency"] = 0
    target = (long_side, long_side * 3 // 4)
    for name, img in (("rgba.png", rgba), ("palette.png", palette), ("palette-alpha.png", palette_alpha)):
        path = tmp_path / name
        img.save(path, compress_level=1, **({"transparency": 0} if "transparency" in img.info else {}))
        with Image.open(path) as stored:
            rgba_whole = stored.convert("RGBA")
        whole = Image.new("RGB", size, (255, 255, 255))
        whole.paste(rgba_whole, mask=rgba_whole.getchannel("A"))
        expected = whole.resize(target, Image.Resampling.BICUBIC, reducing_gap=2.0)
        got = decode_reduced(open_image(path, "image/png"), long_side, DecodeBudget(256))
        assert (got.mode, got.size) == ("RGB", target)
        assert got.tobytes() == expected.tobytes(), name


def test_metadata_after_the_pixels_is_read_without_decoding(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    exif.get_ifd(0x8769)[0x9003] = "2021:06:05 04:03:02"
    path = tmp_path / "late-exif.png"
    path.write_bytes(bomb_png(13_000, 13_000, after_pixels=_chunk(b"eXIf", exif.tobytes())))
    with open(path, "rb") as fp, open_image(fp, "image/png") as img:
        where = fp.tell()
        metadata = read_metadata(img)
        assert img.tile  # the decode is still pending: not a pixel decoded
        assert fp.tell() == where  # the decoder finds its place again
    assert (metadata.orientation, metadata.taken_local) == (6, "2021-06-05T04:03:02")
    budget = DecodeBudget(256)
    started = time.perf_counter()
    with pytest.raises(ImageTooLarge, match="memory budget"):
        analyse(path, max_pixels=MAX_PIXELS, budget=budget)
    assert time.perf_counter() - started < 5  # decoding it takes ~10 s and 2 GB


# -- measured peaks --------------------------------------------------------------------------------

# Runs in a fresh interpreter: each case is decoded once to warm the codec, then again with the
# peak reset (clear_refs 5), so VmHWM − VmRSS is that decode's own peak. Large blocks are mmapped
# (fixed threshold) so freed pixels leave RSS and do not hide the next peak.
_MEASURE = r"""
import json, sys
from octopus_events.media import analyse, render
from octopus_events.media.budget import DecodeBudget
from octopus_events.media.derivatives import SIZES, open_image, reduced_decode_cost

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024

budget = DecodeBudget(4096)
out = []
for case in json.loads(sys.stdin.read()):
    path, mime, kind = case["path"], case["mime"], case["kind"]
    with open_image(path, mime) as img:
        estimate = reduced_decode_cost(img, SIZES[kind])
    def run():
        if kind == "thumb":
            analyse(path, max_pixels=10**9, budget=budget)
        else:
            render(path, kind, 1, mime, budget=budget)
    run()
    with open("/proc/self/clear_refs", "w") as fp:
        fp.write("5")
    before = status("VmRSS")
    run()
    out.append({"name": case["name"], "peak": status("VmHWM") - before, "estimate": estimate})
print(json.dumps(out))
"""


def _measure(cases: list[dict[str, str]]) -> dict[str, dict[str, int]]:
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_TRIM_THRESHOLD_": "131072"}
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE], input=json.dumps(cases), capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return {row["name"]: row for row in json.loads(done.stdout)}


def test_measured_peaks_stay_within_the_estimates(tmp_path: Path) -> None:
    size = (2000, 1500)
    rgb = _upright(size)
    rgba = rgb.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(size))
    palette = rgb.convert("P")
    pillow_heif.register_heif_opener()
    files = {
        "baseline.jpg": (rgb, "JPEG", {"quality": 85}, "image/jpeg"),
        "progressive.jpg": (rgb, "JPEG", {"quality": 85, "progressive": True, "subsampling": 0}, "image/jpeg"),
        "rgb.png": (rgb, "PNG", {"compress_level": 1}, "image/png"),
        "rgba.png": (rgba, "PNG", {"compress_level": 1}, "image/png"),
        "palette-alpha.png": (palette, "PNG", {"transparency": 0}, "image/png"),
        "grey16.png": (rgb.convert("L").convert("I").point(lambda v: v * 256).convert("I;16"), "PNG", {}, "image/png"),
        "rgba.webp": (rgba, "WEBP", {"quality": 80}, "image/webp"),
        "palette.gif": (palette, "GIF", {}, "image/gif"),
        "lzw.tif": (rgb, "TIFF", {"compression": "tiff_lzw"}, "image/tiff"),
        "rgb.heic": (rgb, "HEIF", {"quality": 60}, "image/heic"),
    }
    cases = []
    for name, (img, fmt, save, mime) in files.items():
        img.save(tmp_path / name, fmt, **save)
        for kind in ("thumb", "preview"):
            cases.append({"name": f"{name} {kind}", "path": str(tmp_path / name), "mime": mime, "kind": kind})
    measured = _measure(cases)
    for name, row in measured.items():
        print(f"{name:24} peak {row['peak'] / MB:6.1f} MB, estimate {row['estimate'] / MB:6.1f} MB")
    under = {name: row for name, row in measured.items() if row["peak"] > row["estimate"]}
    assert not under, under
    # And the JPEG thumb really decodes reduced: its peak is a fraction of the full 11 MB decode.
    full = size[0] * size[1] * 4
    assert measured["baseline.jpg thumb"]["peak"] < full / 4, measured["baseline.jpg thumb"]


# -- through a real server -------------------------------------------------------------------------


def _kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {key} for {pid}")


@pytest.fixture(scope="module")
def lean_server(tmp_path_factory: pytest.TempPathFactory):
    """A server of its own, so its high-water mark is this test's alone; default media limits."""
    server = Server(tmp_path_factory.mktemp("memory") / "data").start()
    try:
        yield server
    finally:
        server.stop()


def test_bomb_uploads_are_refused_without_the_server_growing(lean_server: Server, tmp_path: Path) -> None:
    assert lean_server.register("owner").status_code == 201
    owner = lean_server.sign_in("owner")
    # Warm up: the first upload loads the codecs and fills the pools, which is not the bomb's doing.
    assert owner.upload(image_bytes(1, size=(1600, 1200)), "warm.jpg").status_code == 201
    pid = lean_server.proc.pid
    rss_before = _kb(pid, "VmRSS")
    bombs = [bomb_png(13_000, 13_000), bomb_png(13_000, 12_999), bomb_png(12_999, 13_000)]

    def send(data: bytes) -> httpx.Response:
        return owner.upload(data, "bomb.png")

    body = assert_problem(send(bombs[0]), 422)
    assert body["title"] == "Image too large"
    assert "too large to decode within the server's memory budget" in body["detail"]
    with ThreadPoolExecutor(2) as pool:  # two at once, as in the report
        for response in pool.map(send, bombs[1:]):
            assert_problem(response, 422)
    grown_mb = (_kb(pid, "VmHWM") - rss_before) / 1024
    # Before the budget one bomb took the server up by 2 GB; refused undecoded it costs a
    # request's buffers. (VmHWM is the high-water mark: no peak between the reads is missed.)
    assert grown_mb < 100, f"the server's peak grew by {grown_mb:.0f} MB"
    with owner.client() as c:
        assert c.get("/api/users/me/storage").json()["photos"] == 1  # only the warm-up photo
    assert lean_server.tmp_files() == []
    # A normal photo still goes in, thumbnail and all.
    photo = owner.upload(image_bytes(2, size=(4000, 3000), quality=90), "after.jpg")
    assert photo.status_code == 201, photo.text
    with owner.client() as c:
        thumb = c.get(f"/api/photos/{photo.json()['id']}/thumbnail", params={"size": "preview"})
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"


def test_large_images_that_fit_wait_their_turn_instead_of_failing(tmp_path: Path) -> None:
    # With a 160 MB budget two of these (~100 MB each) cannot decode side by side: both must be
    # stored, one after the other, and the peak must show only one at a time.
    server = Server(tmp_path / "data", env={"OCTOPUS_MEDIA_DECODE_BUDGET_MB": "160"}).start()
    try:
        assert server.register("owner").status_code == 201
        owner = server.sign_in("owner")
        assert owner.upload(image_bytes(3, size=(1600, 1200)), "warm.jpg").status_code == 201
        pid = server.proc.pid
        rss_before = _kb(pid, "VmRSS")
        images = [bomb_png(4600, 4600), bomb_png(4600, 4599)]  # 21 MP RGBA: ~85 MB decoded
        with ThreadPoolExecutor(2) as pool:
            responses = list(pool.map(lambda data: owner.upload(data, "big.png"), images))
        assert [r.status_code for r in responses] == [201, 201], [r.text for r in responses]
        grown_mb = (_kb(pid, "VmHWM") - rss_before) / 1024
        assert grown_mb < 160, f"the server's peak grew by {grown_mb:.0f} MB"
        # And the memory goes back: without a trim glibc kept the whole peak (~100 MB more).
        kept_mb = (_kb(pid, "VmRSS") - rss_before) / 1024
        assert kept_mb < 40, f"the server kept {kept_mb:.0f} MB after the decodes"
    finally:
        server.stop()


def test_a_stored_photo_whose_preview_cannot_fit_gets_a_smaller_one_not_an_error(tmp_path: Path) -> None:
    # 3000×2500 RGB PNG: the thumbnail's decode needs ~32 MB, a 1440 px preview's ~51 MB and a
    # 720 px one's ~43 MB; with a 40 MB budget it is stored, and its preview is halved until it
    # fits (360 px), not refused.
    path = tmp_path / "wide.png"
    _upright((3000, 2500)).save(path, compress_level=1)
    budget = DecodeBudget(40)
    analysis = analyse(path, max_pixels=MAX_PIXELS, budget=budget)
    assert (analysis.thumb_width, analysis.thumb_height) == (256, 213)
    preview = render(path, "preview", 1, "image/png", budget=budget)
    _assert_upright(preview.data, (360, 300))
    assert render(path, "preview", 1, "image/png", budget=DecodeBudget(256)).width == PREVIEW_PX
