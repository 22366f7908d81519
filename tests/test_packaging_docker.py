"""The Dockerfile and compose.yaml, checked as files and their commands run outside a container.

No container engine can build here (the machines have the docker CLI but no daemon, and no
registry to pull a base image from), so `packaging/docker-smoke.sh` builds and runs the image
where one can (docs/install.md). What this proves on any machine: the image's final stage is what
the issue asks (slim base, non-root user, /data volume, port 8000, a HEALTHCHECK on /api/health),
its ENTRYPOINT + CMD with its ENV serve on 0.0.0.0 and answer the HEALTHCHECK's own command, which
fails when nothing answers; `docker stop`'s SIGTERM ends it cleanly; compose.yaml and
.dockerignore fit the Dockerfile.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import httpx

from eventlog_support import free_port, stop

ROOT = Path(__file__).resolve().parents[1]


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#")))
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def final_stage() -> list[tuple[str, str]]:
    steps = instructions((ROOT / "Dockerfile").read_text())
    froms = [i for i, (word, _) in enumerate(steps) if word == "FROM"]
    assert len(froms) >= 2, "the Dockerfile is multi-stage"
    return steps[froms[-1]:]


def env_of(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in stage:
        if word == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def one(stage: list[tuple[str, str]], word: str) -> str:
    found = [rest for w, rest in stage if w == word]
    assert len(found) == 1, (word, found)
    return found[0]


def test_the_final_stage_is_slim_non_root_with_a_data_volume_and_a_healthcheck() -> None:
    stage = final_stage()
    assert re.match(r"python:3\.\d+-slim", stage[0][1]), stage[0]
    assert one(stage, "USER") not in ("root", "0")
    assert one(stage, "VOLUME") in ("/data", '["/data"]')
    assert one(stage, "EXPOSE") == "8000"
    env = env_of(stage)
    assert env["OCTOPUS_STORAGE_DATA_DIR"] == "/data"
    assert env["OCTOPUS_SERVER_HOST"] == "0.0.0.0" and env["OCTOPUS_SERVER_PORT"] == "8000"
    health = one(stage, "HEALTHCHECK")
    assert "/api/health" in health and "CMD" in health
    assert json.loads(one(stage, "ENTRYPOINT")) == ["octopus"] and json.loads(one(stage, "CMD")) == ["serve"]
    build_steps = instructions((ROOT / "Dockerfile").read_text())
    assert any(w == "RUN" and "--frozen" in r and "--no-dev" in r for w, r in build_steps), "exactly uv.lock"
    assert any(w == "COPY" and r.startswith("--from=") for w, r in stage), "the runtime copies only the environment"


def test_compose_and_dockerignore_fit_the_dockerfile() -> None:
    compose = (ROOT / "compose.yaml").read_text()
    assert re.search(r"^\s+build: \.$", compose, re.M)
    assert '"8000:8000"' in compose
    assert re.search(r"^\s+- octopus-data:/data$", compose, re.M) and re.search(r"^volumes:\n  octopus-data:", compose, re.M)
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[ignore.index("*") if "*" in ignore else 0] == "*", "everything is ignored but what is copied"
    copied = {r.split()[0] for w, r in instructions((ROOT / "Dockerfile").read_text())
              if w == "COPY" and not r.startswith("--from=")}
    for item in copied:
        for name in item.split():
            assert f"!{name.rstrip('/')}/" in ignore or f"!{name}" in ignore, name
    assert "!bench-data/" not in ignore and "!.venv/" not in ignore


def healthcheck_command(port: int) -> list[str]:
    health = one(final_stage(), "HEALTHCHECK")
    cmd = json.loads(health[health.index("CMD") + 3:].strip())
    assert cmd[0] == "python"
    return [sys.executable, *[part.replace(":8000/", f":{port}/") for part in cmd[1:]]]


def test_the_images_command_serves_on_all_addresses_and_passes_its_healthcheck(tmp_path: Path) -> None:
    stage = final_stage()
    port = free_port()
    env = {k: v for k, v in env_of(stage).items() if k != "PATH"}
    env.update(OCTOPUS_STORAGE_DATA_DIR=str(tmp_path / "data"), OCTOPUS_SERVER_PORT=str(port))
    entry = json.loads(one(stage, "ENTRYPOINT")) + json.loads(one(stage, "CMD"))
    program = str(Path(sys.executable).with_name(entry[0]))
    assert subprocess.run(healthcheck_command(port), capture_output=True, timeout=30).returncode != 0, "nothing runs yet"
    server = subprocess.Popen([program, *entry[1:]], env={"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", **env},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith(f"Octopus Photos is running at http://0.0.0.0:{port}/"), (line, server.stderr.read())  # type: ignore[union-attr]
        deadline = time.monotonic() + 30
        while subprocess.run(healthcheck_command(port), capture_output=True, timeout=30).returncode != 0:
            assert time.monotonic() < deadline, "the HEALTHCHECK never passed"
            time.sleep(0.2)
        # From outside the container the server is reached by the host's address: any IP is a name it answers to.
        r = httpx.get(f"http://127.0.0.1:{port}/api/health", headers={"Host": f"192.168.1.20:{port}"}, timeout=5)
        assert r.status_code == 200
    finally:
        code = stop(server)  # what `docker stop` does (STOPSIGNAL SIGTERM)
    assert code == 0, server.stderr.read()  # type: ignore[union-attr]
    assert "Traceback" not in server.stderr.read()  # type: ignore[union-attr]
