"""Run a benchmark's server as on a school laptop: half a core and 1 GB of memory.

`confine(pid)` moves a running process (all its threads) into a fresh cgroup with a CPU quota of
50 ms per 100 ms period and a 1 GiB memory limit, and returns a function that removes the group
after the process has ended. cgroup v2 (`cpu.max`, `memory.max`) and v1 (`cpu.cfs_quota_us`,
`memory.limit_in_bytes`) are both handled; it needs root, as on this project's CI machines.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

CGROUP = Path("/sys/fs/cgroup")
QUOTA_US, PERIOD_US = 50_000, 100_000
MEMORY = 1 << 30


def confine(pid: int) -> Callable[[], None]:
    name = f"octopus-weakbox-{pid}"
    if (CGROUP / "cgroup.controllers").is_file():  # v2: one tree
        group = CGROUP / name
        group.mkdir()
        (group / "cpu.max").write_text(f"{QUOTA_US} {PERIOD_US}")
        (group / "memory.max").write_text(str(MEMORY))
        (group / "cgroup.procs").write_text(str(pid))
        groups = [group]
    else:  # v1: one tree per controller
        cpu, memory = CGROUP / "cpu" / name, CGROUP / "memory" / name
        cpu.mkdir()
        memory.mkdir()
        (cpu / "cpu.cfs_period_us").write_text(str(PERIOD_US))
        (cpu / "cpu.cfs_quota_us").write_text(str(QUOTA_US))
        (memory / "memory.limit_in_bytes").write_text(str(MEMORY))
        for group in (cpu, memory):
            (group / "cgroup.procs").write_text(str(pid))
        groups = [cpu, memory]

    def remove() -> None:
        for group in groups:
            try:
                os.rmdir(group)
            except OSError:
                pass  # still busy or already gone; an empty group costs nothing

    return remove
