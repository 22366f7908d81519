"""The event catalogue in eventstore/ must match the event classes in the code."""

from __future__ import annotations

from octopus_events import catalogue


def test_catalogue_is_current() -> None:
    expected = catalogue.render()
    actual = catalogue.catalogue_path().read_text(encoding="utf-8")
    assert actual == expected, "eventstore/catalogue.md is stale: run `uv run python -m octopus_events.catalogue --write`"


def test_catalogue_lists_the_photo_domain() -> None:
    text = catalogue.render()
    for name in ("PhotoUploaded", "PhotoPurged", "AlbumCreated", "UserRegistered"):
        assert f"### {name} (v" in text
