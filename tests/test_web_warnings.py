"""The web layer uses Litestar's explicit declarations, so building the app warns about nothing.

Litestar 2.x still accepts inferred query/path parameters, inferred dependencies and bare `data`
bodies, but warns at start-up and drops them in 3.0. Routes must say what each parameter is
(`FromQuery`, `FromPath`, `NamedDependency`, `JSONBody`, ...); these tests fail on the first
route that does not.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path
from typing import Iterator

import pytest
from litestar.testing import TestClient

from octopus_events.application import Octopus
from octopus_events.config import Config, StorageConfig
from octopus_events.web.app import create_app


@pytest.fixture
def octopus(tmp_path: Path) -> Iterator[Octopus]:
    app = Octopus(Config(storage=StorageConfig(data_dir=str(tmp_path / "data")))).open(background_rebuilds=False)
    try:
        yield app
    finally:
        app.close()


def test_building_the_app_and_its_openapi_schema_raises_no_deprecation_warning(octopus: Octopus) -> None:
    with warnings.catch_warnings():
        # LitestarDeprecationWarning is a DeprecationWarning: any of them fails the test, with its
        # message naming the route and the parameter.
        warnings.simplefilter("error", DeprecationWarning)
        app = create_app(octopus, housekeeping_tasks=False)
        with TestClient(app, base_url="http://127.0.0.1") as client:  # a Host the app answers to
            r = client.get("/schema/openapi.json")
    assert r.status_code == 200
    schema = r.json()
    # The schema really covers the routes (and their declared parameters), not an empty app.
    assert "/api/search" in schema["paths"]
    search_params = {p["name"] for p in schema["paths"]["/api/search"]["get"]["parameters"]}
    assert {"q", "tag", "from", "to", "camera", "favourite", "cursor", "limit"} <= search_params
    photo_params = {p["name"]: p["in"] for p in schema["paths"]["/api/photos/{photo_id}/thumbnail"]["get"]["parameters"]}
    assert photo_params == {"photo_id": "path", "size": "query"}


def test_importing_the_web_modules_raises_no_deprecation_warning() -> None:
    # Parameter declarations are evaluated at import time (e.g. `Parameter(query=...)` warns
    # there), before the test above runs, so import them afresh in a child process.
    code = "import octopus_events.web, octopus_events.web.app"
    done = subprocess.run([sys.executable, "-W", "error::DeprecationWarning", "-c", code],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
