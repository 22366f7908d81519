"""WebDAV conformance with litmus (a client nobody here wrote): class 1 and 2 on a device's
Uploads folder."""

from __future__ import annotations

import re
import subprocess

from dav_support import app_password, dav, dav_server, require_tool  # noqa: F401  (fixture)
from http_support import Server

SUITES = ["basic", "copymove", "props", "locks", "http"]


def test_litmus_suites_pass_with_no_failures(dav_server: Server) -> None:
    litmus = require_tool("litmus")
    user = dav_server.new_user()
    secret = app_password(user)
    with dav(dav_server, user, secret) as client:
        assert client.request("MKCOL", "/Uploads/litmus/").status_code == 201
    done = subprocess.run(
        [litmus, f"{dav_server.url}/dav/Uploads/litmus/", user.name, secret],
        capture_output=True, text=True, timeout=300, env={"TESTS": " ".join(SUITES), "PATH": "/usr/bin:/bin", "HOME": "/tmp"},
        cwd=dav_server.data_dir.parent,
    )
    summaries = re.findall(r"<- summary for `(\w+)': of (\d+) tests run: (\d+) passed, (\d+) failed", done.stdout)
    assert [s[0] for s in summaries] == SUITES, done.stdout[-3000:]
    for suite, run, passed, failed in summaries:
        assert int(failed) == 0 and int(run) == int(passed) > 0, (suite, done.stdout[-3000:])
