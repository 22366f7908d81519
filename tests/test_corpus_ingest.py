"""Every real camera and phone file in the shared corpus goes through the whole upload
pipeline: it is stored with sane metadata and an upright thumbnail (for the orientation samples,
upright pixel by pixel), or rejected with a clear media error; either way nothing is left half-stored."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from PIL import Image

from ci_support import requires
from octopus_events.application import Octopus
from octopus_events.config import Config, StorageConfig
from octopus_events.eventstore import Meta
from octopus_events.media import MediaError
from orientation_support import closest_turn

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "exif-samples"
FILES = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix.lower() in {".jpg", ".jpeg", ".heic", ".heif"})

pytestmark = requires(FILES, f"the shared image corpus ({CORPUS})", "clone the shared/ repository beside this one")


def test_every_corpus_file_is_stored_or_cleanly_rejected(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    octopus = Octopus(Config(storage=StorageConfig(data_dir=str(data_dir)))).open()
    stored: dict[str, object] = {}
    rejected: dict[str, str] = {}
    oriented: dict[tuple[str, str, int], Image.Image] = {}  # (shape, size, orientation) → derivative

    async def scenario() -> None:
        user = await octopus.accounts.register("corpus", "corpus password", meta=Meta())
        meta = Meta(actor=user.id, owner=user.id)
        for path in FILES:
            incoming = octopus.photos.new_upload()
            with path.open("rb") as fh:
                while chunk := fh.read(64 * 1024):
                    incoming.write(chunk)
            try:
                view, _ = await octopus.photos.upload(user.id, incoming, filename=path.name, meta=meta)
            except MediaError as exc:
                rejected[path.name] = exc.detail
                continue
            stored[str(path.relative_to(CORPUS))] = view
            assert view.width > 0 and view.height > 0
            assert view.taken_at and view.taken_at[4] == "-"
            thumb_path, _ = await octopus.photos.derivative(user.id, view.id, "thumb")
            with Image.open(thumb_path) as thumb:
                assert max(thumb.size) <= 256
                # Upright: the thumb has the photo's upright aspect (width/height after orientation).
                if abs(view.width - view.height) > max(view.width, view.height) * 0.1:
                    assert (thumb.width > thumb.height) == (view.width > view.height), path
            if path.parent.name == "orientation":
                shape, n = path.stem.split("_")
                for size in ("thumb", "preview"):
                    derivative, _ = await octopus.photos.derivative(user.id, view.id, size)
                    with Image.open(derivative) as img:
                        oriented[shape, size, int(n)] = img.convert("RGB")

    try:
        asyncio.run(scenario())
    finally:
        octopus.close()
    assert list((data_dir / "tmp").iterdir()) == []
    assert len(stored) + len(rejected) == len(FILES)
    assert len(stored) >= len(FILES) * 0.8, rejected
    # Known values survive the whole pipeline.
    canon = stored["jpg/Canon_40D.jpg"]
    assert canon.camera.make == "Canon" and canon.camera.model == "Canon EOS 40D"  # type: ignore[attr-defined]
    assert canon.taken_at.startswith("2008-05-30T15:56:01")  # type: ignore[attr-defined]
    gps = [v for k, v in stored.items() if k.startswith("jpg/gps/")]
    assert gps and all(v.gps is not None for v in gps)  # type: ignore[attr-defined]
    portrait = stored["jpg/orientation/portrait_6.jpg"]
    assert portrait.height > portrait.width  # type: ignore[attr-defined]
    # Upright by the pixels, not only the shape: every orientation sample's thumb and preview show
    # the scene as orientation 1 (stored upright) does, not mirrored, upside down or turned.
    assert len(oriented) == 2 * 2 * 8
    for (shape, size, n), img in oriented.items():
        reference = oriented[shape, size, 1]
        assert img.size == reference.size, (shape, size, n, img.size)
        assert closest_turn(reference, img) == "as it is", (shape, size, n)
