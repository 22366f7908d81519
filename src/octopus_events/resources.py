"""Where the SQL files and the web UI live, installed or in a checkout.

In a built wheel they are package data under `octopus_events/_data/`; in a source checkout they
sit at the repository root (`eventstore/`, `projections/`, `webroot/`), which is where we edit them.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_path(*parts: str) -> Path:
    """Absolute path of a shipped file or folder, e.g. `data_path("projections", "timeline.sql")`."""
    installed = _PACKAGE.joinpath("_data", *parts)
    if installed.exists():
        return installed
    checkout = _PACKAGE.parents[1].joinpath(*parts)
    if checkout.exists():
        return checkout
    raise FileNotFoundError(f"missing packaged file {'/'.join(parts)} (looked in {installed} and {checkout})")


def read_text(*parts: str) -> str:
    return data_path(*parts).read_text(encoding="utf-8")
