"""No silent skips: what the environment lacks skips a test locally and fails it under CI=true.

The helper is tested the way CI meets it: a real pytest run, in a subprocess, of a tiny test
file that needs things that are not there.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent

TINY = '''
import pytest
from ci_support import require_or_skip, requires

def test_needs_a_tool():
    require_or_skip(None, "the frobnicator", "apt-get install frobnicator")

@requires(False, "the widget corpus", "clone widgets/ beside the repo")
def test_needs_a_corpus():
    pass

@requires(False, "the widget corpus", "clone widgets/ beside the repo")
@pytest.mark.parametrize("name", [])  # parameters drawn from the corpus that is not there
def test_each_corpus_file(name):
    pass

def test_has_everything():
    require_or_skip("/usr/bin/thing", "the thing", "never shown")
'''


def run_tiny(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_tiny.py").write_text(TINY)
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTHONPATH")}
    env["PYTHONPATH"] = str(TESTS)
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # a quick run: the tiny file needs no plugin
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "ci_support", "-p", "no:cacheprovider", "-rA", "-q",
         "--rootdir", str(tmp_path), str(tmp_path / "test_tiny.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )


def test_under_ci_a_missing_thing_fails_the_run(tmp_path: Path) -> None:
    result = run_tiny(tmp_path, "true")
    out = result.stdout
    assert result.returncode == 1, out
    assert "CI=true and the frobnicator is missing; apt-get install frobnicator" in out
    assert "CI=true and the widget corpus is missing; clone widgets/ beside the repo" in out
    assert re.search(r"\b1 failed\b", out) and re.search(r"\b2 errors?\b", out) and "1 passed" in out, out
    assert "skipped" not in out, out


def test_without_ci_a_missing_thing_skips_naming_what_to_install(tmp_path: Path) -> None:
    for ci in (None, "", "false"):
        result = run_tiny(tmp_path, ci)
        out = result.stdout
        assert result.returncode == 0, out
        assert "3 skipped" in out and "1 passed" in out, out
        assert "the frobnicator is missing; apt-get install frobnicator" in out
        assert "the widget corpus is missing; clone widgets/ beside the repo" in out
        assert "never shown" not in out


def test_the_suite_has_no_other_kind_of_environment_skip() -> None:
    # Every skip for something the environment provides goes through ci_support, so that CI
    # fails instead of skipping; a plain skip added later would be silent again.
    plain = re.compile(r"pytest\.(skip\(|importorskip\(|mark\.skip)|\bskipif\(")
    found = [
        f"{path.relative_to(TESTS)}:{n}"
        for path in sorted(TESTS.rglob("*.py"))
        if path.name not in ("ci_support.py", Path(__file__).name)
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if plain.search(line)
    ]
    assert found == []


# -- .ci/run: what it cannot install stops it with one line --------------------------------------

CI_RUN = TESTS.parent / ".ci" / "run"


def ci_run(tmp_path: Path, *tools: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run .ci/run with a PATH holding only the shell, what the script itself uses, and stand-ins
    for `tools` (each records its arguments in `called`). No pip, no apt-get: nothing can be installed."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("bash", "dirname", "id", "env"):
        (bin_dir / name).symlink_to(subprocess.run(["bash", "-c", f"command -v {name}"], capture_output=True,
                                                   text=True, check=True).stdout.strip())
    called = tmp_path / "called"
    for tool in tools:
        stand_in = bin_dir / tool
        stand_in.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{called}"\n')
        stand_in.chmod(0o755)
    result = subprocess.run([str(CI_RUN)], env={"PATH": str(bin_dir), "HOME": str(tmp_path), "CI": "true"},
                            capture_output=True, text=True, timeout=60)
    return result, called


def test_ci_run_stops_with_one_line_when_uv_cannot_be_installed(tmp_path: Path) -> None:
    result, called = ci_run(tmp_path, "chromium", "litmus", "rclone")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert errors == [".ci/run: error: uv is not installed and 'pip install uv' failed; "
                      "install it (https://docs.astral.sh/uv/) and run again"], result.stderr
    assert not called.exists()


def test_ci_run_stops_with_one_line_when_chromium_cannot_be_installed(tmp_path: Path) -> None:
    result, called = ci_run(tmp_path, "uv", "litmus", "rclone")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        ".ci/run: error: chromium could not be installed (apt-get install chromium, as root); the browser tests need it"
    ), result.stderr
    assert not called.exists()  # the tests never started


def test_ci_run_ends_by_running_the_readme_command(tmp_path: Path) -> None:
    result, called = ci_run(tmp_path, "uv", "chromium")
    assert result.returncode == 0, result.stderr
    assert called.read_text() == "uv run pytest\n"
    # litmus, rclone and systemd-analyze are wanted but not (yet) needed: a warning each, not a stop.
    assert [line for line in result.stderr.splitlines() if "warning" in line] == [
        ".ci/run: warning: could not install litmus (apt-get install litmus)",
        ".ci/run: warning: could not install rclone (apt-get install rclone)",
        ".ci/run: warning: could not install systemd (apt-get install systemd)",
    ]
    assert CI_RUN.read_text().rstrip().splitlines()[-1] == "uv run pytest"
