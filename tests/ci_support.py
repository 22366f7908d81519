"""What the test environment must provide, and what its absence means.

On a developer's machine a missing extra (the shared image corpus, Chromium, uv) skips the
tests that need it, with a message naming what to install. Under CI (`CI=true`) the same
absence fails the run: a green CI run must mean every test ran.

Use `require_or_skip(...)` inside a test or fixture, or the `requires(...)` mark on a test or a
whole module (`pytestmark = requires(...)`). Plain `pytest.skip`, `skipif` and `importorskip`
are not used in this suite for anything the environment provides (a test checks that).
"""

from __future__ import annotations

import os
from typing import Any

import pytest


def under_ci() -> bool:
    return os.environ.get("CI") == "true"


def require_or_skip(condition: object, what: str, how_to_install: str) -> None:
    """Return if `condition` holds. Otherwise skip (fail under CI=true), naming `what` is missing
    and `how_to_install` it."""
    if condition:
        return
    message = f"{what} is missing; {how_to_install}"
    if under_ci():
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


def requires(condition: object, what: str, how_to_install: str) -> pytest.MarkDecorator:
    """A mark form of `require_or_skip`, checked when each marked test is set up."""
    return pytest.mark.requires(bool(condition), what, how_to_install)


# Hooks, registered by tests/conftest.py (and by `-p ci_support` in the helper's own test).


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requires(condition, what, how_to_install): require_or_skip as a mark")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # tryfirst: before pytest's own skip marks, so that even a test whose parameters come from
    # the missing thing (an empty parameter set) fails under CI instead of being skipped.
    for mark in item.iter_markers("requires"):
        args: Any = mark.args
        require_or_skip(*args, **mark.kwargs)
