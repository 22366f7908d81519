"""`octopus verify`: proof that the log is intact and that what was built from it agrees with it.

The checks run in order and each returns the problems it found as one-line messages. The log
comes first because everything else is derived from it: when its hash chain breaks, the other
checks would only report consequences. To add a check (blobs, read-model contents, keystore),
write `def check_<thing>(octopus) -> list[str]` and add it to `CHECKS`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import msgspec

from .eventstore import VerifyReport

if TYPE_CHECKING:
    from .application import Octopus


class LibraryReport(msgspec.Struct, frozen=True):
    """What `octopus verify` prints: the log's figures and every problem found, first first."""

    events: int
    head: int
    projections_current: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def check_log(octopus: Octopus, *, progress: Callable[[int], None] | None = None) -> VerifyReport:
    """The log's hash chain and gap-free positions (see `eventstore.verify_log`)."""
    return octopus.store.verify(progress=progress)


def check_projections(octopus: Octopus) -> list[str]:
    """Every projector's checkpoint is at most the head and was built by the current version.

    A checkpoint beyond the head means a read model claims events the log does not have (the log
    was replaced by an older copy, or truncated); a stale version means its tables were built by
    other code than is running now.
    """
    problems = []
    head = octopus.store.head()
    for status in octopus.engine.status():
        cls = octopus.engine.classes[status.name]
        if status.state == "missing":
            problems.append(f"projection {status.name}: never built (run: octopus projections rebuild {status.name})")
        elif status.position > head:
            problems.append(f"projection {status.name}: checkpoint {status.position} is beyond the log's head {head}")
        elif status.version != cls.version():
            problems.append(
                f"projection {status.name}: built by version {status.version}, current is {cls.version()} "
                f"(run: octopus projections rebuild {status.name})"
            )
        elif status.state == "failed":
            problems.append(f"projection {status.name}: last rebuild failed: {status.error}")
    return problems


CHECKS: list[Callable[[Octopus], list[str]]] = [check_projections]
"""Checks run after the log verified; each returns its problems as one-line messages."""


def check_library(octopus: Octopus, *, progress: Callable[[int], None] | None = None) -> LibraryReport:
    """Run the log check, then (if the log is intact) every check in `CHECKS`."""
    log_report = check_log(octopus, progress=progress)
    if not log_report.ok:
        return LibraryReport(log_report.checked, log_report.head, 0, [f"position {log_report.first_bad_position}: {log_report.problem}"])
    problems: list[str] = []
    for check in CHECKS:
        problems.extend(check(octopus))
    current = sum(1 for name in octopus.engine.classes if not any(p.startswith(f"projection {name}:") for p in problems))
    return LibraryReport(log_report.checked, log_report.head, current, problems)


def verify_library(octopus: Octopus) -> list[str]:
    """Every problem found in the library, the log's first; an empty list when all agree."""
    return check_library(octopus).problems


def check_files(octopus: Octopus) -> list[str]:
    """Every item's original (and a Live Photo's clip) is in the blob store with its size.

    Only sizes are compared, so the check stays a stat per item; `octopus restore` compares every
    byte with its SHA-256 as it copies."""
    problems: list[str] = []
    originals = octopus.paths.blobs / "originals"  # the blob store's layout; opening one would write
    reader = octopus.store.reader()
    tables = {row[0] for row in reader.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "photo" in tables:
        rows = reader.execute("SELECT id, sha256, bytes FROM photo WHERE sha256 IS NOT NULL AND state != 'vault'")
        for photo_id, sha, size in rows:
            try:
                found = (originals / sha[:2] / sha).stat().st_size
            except FileNotFoundError:
                problems.append(f"photo {photo_id}: its original {sha[:12]}… is missing from the blob store")
                continue
            if found != size:
                problems.append(f"photo {photo_id}: its original has {found} bytes, {size} expected")
    if "motion_clip" in tables:
        for photo_id, sha in reader.execute("SELECT photo_id, sha256 FROM motion_clip WHERE sha256 IS NOT NULL"):
            if not (originals / sha[:2] / sha).is_file():
                problems.append(f"photo {photo_id}: its motion clip {sha[:12]}… is missing from the blob store")
    return problems[:50] + ([f"… and {len(problems) - 50} more"] if len(problems) > 50 else [])


CHECKS.append(check_files)
