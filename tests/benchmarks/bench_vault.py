"""Benchmark of the vault's file sealing: range reads of a big vaulted file and moving one in.

Run: ``uv run python tests/benchmarks/bench_vault.py [size_mb] [chunk_kib ...]``

What it measures, each next to its floor in the same run (medians):

- **Time to the first byte of a 1 MB range in the middle of a 200 MB vaulted file**: the work the
  ``/api/vault/photos/{id}/original`` route does before its first byte goes out (open the sealed
  file, authenticate the header through the final chunk, authenticate the range (it is under
  the 8 MiB all-or-nothing window), open its first chunk) against seeking in the plain file and
  reading 64 KiB. Also the whole 1 MB range, and what format 1 (one secretstream, readable only
  from byte 0) cost for the same range.
- **Move-in throughput**: ``vaultcrypto.encrypt_file`` (read, seal chunk by chunk, write a temp
  file, fsync, rename) against bare libsodium sealing the same file in chunks of the same size
  with the same fsync, in the same process.
- **RSS during the move-in**: sampled every 5 ms; it must stay flat (a 2 GB video must not need
  2 GB of memory).

Extra chunk sizes on the command line (e.g. ``16 64 256 1024``) repeat the first two rows for
each, which is how the default of 64 KiB was chosen.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_decrypt, crypto_aead_xchacha20poly1305_ietf_encrypt

from octopus_events import vaultcrypto
from octopus_events.vault import ALL_OR_NOTHING_BYTES

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vault_v1 import encrypt_file_v1  # noqa: E402  (the format-1 writer, frozen for tests)

MB = 1024 * 1024
RANGE = 1 * MB
KEY = os.urandom(32)
CONTEXT = b"user|photo|original"


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def make_plain(path: Path, size: int) -> None:
    with path.open("wb") as f:
        left = size
        while left:
            n = min(left, 4 * MB)
            f.write(os.urandom(n))
            left -= n


def bare_seal(src: Path, dst: Path, chunk: int) -> None:
    """The floor: libsodium's AEAD over the same chunks, no header, no checks, same fsync."""
    prefix = os.urandom(16)
    with src.open("rb") as inp, dst.open("wb") as out:
        index = 0
        while block := inp.read(chunk):
            out.write(crypto_aead_xchacha20poly1305_ietf_encrypt(block, b"", prefix + index.to_bytes(8, "big"), KEY))
            index += 1
        out.flush()
        os.fsync(out.fileno())


def first_byte_sealed(path: Path, first: int) -> None:
    # What open_original + read_original + the first chunk of the stream do.
    with path.open("rb") as f:
        sealed = vaultcrypto.SealedFile(f, KEY, context=CONTEXT)
        sealed.authenticate()
        for _ in sealed.read(first, min(RANGE, ALL_OR_NOTHING_BYTES)):
            pass
        next(sealed.read(first, RANGE))


def whole_range_sealed(path: Path, first: int) -> None:
    with path.open("rb") as f:
        sealed = vaultcrypto.SealedFile(f, KEY, context=CONTEXT)
        sealed.authenticate()
        for _ in sealed.read(first, RANGE):
            pass
        for _ in sealed.read(first, RANGE):
            pass


def whole_range_bare(path: Path, first: int, chunk: int) -> None:
    """The crypto floor: libsodium opening the chunks of the range once, nothing else (the
    nonces and associated data are built as format 2 builds them, so it is the same work)."""
    with path.open("rb") as f:
        header = f.read(33)
        size = int.from_bytes(header[9:17], "big")
        count = -(-size // chunk)
        for index in range(first // chunk, (first + RANGE - 1) // chunk + 1):
            f.seek(33 + index * (chunk + 16))
            sealed = f.read(chunk + 16)
            final = b"\x01" if index == count - 1 else b"\x00"
            idx = index.to_bytes(8, "big")
            crypto_aead_xchacha20poly1305_ietf_decrypt(sealed, header + idx + final + CONTEXT, header[17:] + idx, KEY)


def first_byte_plain(path: Path, first: int) -> None:
    with path.open("rb") as f:
        f.seek(first)
        f.read(64 * 1024)


def whole_range_plain(path: Path, first: int) -> None:
    with path.open("rb") as f:
        f.seek(first)
        f.read(RANGE)


def move_in_with_rss(src: Path, dst: Path, chunk: int) -> tuple[float, float, int]:
    """Wall and CPU seconds for encrypt_file, and the RSS peak above where it started."""
    base = rss_bytes()
    peak = base
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_bytes())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    t, cpu = time.perf_counter(), time.thread_time()
    vaultcrypto.encrypt_file(src, dst, KEY, chunk_size=chunk, context=CONTEXT)
    elapsed, cpu = time.perf_counter() - t, time.thread_time() - cpu
    done.set()
    sampler.join()
    return elapsed, cpu, peak - base


def main() -> None:
    size_mb = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    chunks = [int(c) * 1024 for c in sys.argv[2:]] or [vaultcrypto.DEFAULT_CHUNK_SIZE]
    size = size_mb * MB
    first = size // 2 + 12_345  # not chunk-aligned
    with tempfile.TemporaryDirectory(prefix="bench-vault-", dir=os.environ.get("BENCH_DIR")) as tmp:
        d = Path(tmp)
        plain = d / "video.mp4"
        make_plain(plain, size)
        print(f"{size_mb} MB file, 1 MB range at byte {first}; medians; floor in the same run\n")
        print("| chunk | what | ours | floor | ratio |")
        print("|---|---|---|---|---|")
        for chunk in chunks:
            sealed, bare = d / "sealed", d / "bare"
            seal_s, bare_s, seal_cpu, bare_cpu, rss = [], [], [], [], []
            for _ in range(3):  # alternated, so disk and page-cache state hit both alike
                elapsed, cpu, grew = move_in_with_rss(plain, sealed, chunk)
                seal_s.append(elapsed)
                seal_cpu.append(cpu)
                rss.append(grew)
                t, cpu = time.perf_counter(), time.thread_time()
                bare_seal(plain, bare, chunk)
                bare_s.append(time.perf_counter() - t)
                bare_cpu.append(time.thread_time() - cpu)
            ours_mbs, floor_mbs = size / MB / statistics.median(seal_s), size / MB / statistics.median(bare_s)
            ours_cpu, floor_cpu = statistics.median(seal_cpu), statistics.median(bare_cpu)
            ttfb = median_ms(lambda: first_byte_sealed(sealed, first), 30)
            ttfb_floor = median_ms(lambda: first_byte_plain(plain, first), 30)
            whole = median_ms(lambda: whole_range_sealed(sealed, first), 30)
            whole_floor = median_ms(lambda: whole_range_plain(plain, first), 30)
            whole_bare = median_ms(lambda: whole_range_bare(sealed, first, chunk), 30)
            k = f"{chunk // 1024} KiB"
            print(f"| {k} | first byte of the 1 MB range | {ttfb:.2f} ms | {ttfb_floor:.3f} ms | {ttfb / ttfb_floor:.0f}× |")
            print(f"| {k} | whole 1 MB range (verify + stream) | {whole:.2f} ms | {whole_floor:.2f} ms | {whole / whole_floor:.1f}× |")
            print(f"| {k} | whole 1 MB range vs bare libsodium opening its chunks once | {whole:.2f} ms | "
                  f"{whole_bare:.2f} ms | {whole / whole_bare:.1f}× |")
            print(f"| {k} | move-in throughput | {ours_mbs:.0f} MB/s | {floor_mbs:.0f} MB/s | {ours_mbs / floor_mbs:.2f} |")
            print(f"| {k} | move-in CPU | {ours_cpu:.2f} s | {floor_cpu:.2f} s | {ours_cpu / floor_cpu:.2f} |")
            print(f"| {k} | RSS growth during move-in (max of 3) | {max(rss) / MB:.1f} MB | – | – |")
            print(f"| {k} | size overhead | {(sealed.stat().st_size - size) / size * 100:.3f} % | – | – |")
            bare.unlink()
        old = d / "sealed-v1"
        encrypt_file_v1(plain, old, KEY, context=CONTEXT)

        def first_byte_v1() -> None:
            with old.open("rb") as f:
                next(vaultcrypto.SealedFile(f, KEY, context=CONTEXT).read(first, RANGE))

        v1 = median_ms(first_byte_v1, 3)
        print(f"| format 1 | first byte of the same range (decrypts from byte 0) | {v1:.0f} ms | "
              f"{ttfb_floor:.3f} ms | {v1 / ttfb_floor:.0f}× |")


if __name__ == "__main__":
    main()
