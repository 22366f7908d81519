"""Offline reverse geocoding (geocode.py) on known points, and that it loads only when needed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from octopus_events import geocode
from octopus_events.geocode import Place


@pytest.fixture(scope="module")
def geocoder() -> geocode.Geocoder:
    return geocode.geocoder()


@pytest.mark.parametrize(("lat", "lon", "expected"), [
    (40.4168, -3.7038, Place(city="Madrid", region="Madrid", country="Spain")),  # Puerta del Sol
    (-34.6037, -58.3816, Place(city="Buenos Aires", region="Buenos Aires F.D.", country="Argentina")),
    (51.5007, -0.1246, Place(city="London", region="England", country="United Kingdom")),  # in Westminster
    (48.8584, 2.2945, Place(city="Paris", region="Île-de-France", country="France")),  # accents kept
])
def test_known_points(geocoder: geocode.Geocoder, lat: float, lon: float, expected: Place) -> None:
    assert geocoder.lookup(lat, lon) == expected


def test_a_small_town_is_named_after_itself_not_the_big_city(geocoder: geocode.Geocoder) -> None:
    # Alcalá de Henares, 30 km from Madrid: far outside Madrid's reach.
    place = geocoder.lookup(40.4820, -3.3635)
    assert place is not None and place.city == "Alcalá de Henares" and place.country == "Spain"


def test_at_sea_and_nonsense_have_no_place(geocoder: geocode.Geocoder) -> None:
    assert geocoder.lookup(0.0, -30.0) is None  # the middle of the Atlantic
    assert geocoder.lookup(-50.0, -120.0) is None  # the South Pacific
    assert geocoder.lookup(91.0, 0.0) is None and geocoder.lookup(0.0, 181.0) is None
    # Near the coast the nearest town still names the point (a beach, a boat in the bay).
    near = geocoder.lookup(41.35, 2.25)  # a few km off Barcelona
    assert near is not None and near.country == "Spain"


def test_across_the_antimeridian(geocoder: geocode.Geocoder) -> None:
    # Taveuni, Fiji, sits on 180°: points either side of it find the same places.
    east, west = geocoder.lookup(-16.85, 179.99), geocoder.lookup(-16.85, -179.99)
    assert east is not None and west is not None and east.country == west.country == "Fiji"


def test_the_index_is_compact(geocoder: geocode.Geocoder) -> None:
    assert len(geocoder) > 100_000
    arrays = (geocoder.lat, geocoder.lon, geocoder.reach, geocoder.starts, geocoder.name_at,
              geocoder.region, geocoder.country)
    size = sum(a.itemsize * len(a) for a in arrays) + len(geocoder.names)
    assert size < 16 * 1024 * 1024


def test_start_up_does_not_load_it(tmp_path: Path) -> None:
    """Opening the library (projectors catching up) and building the web app read no GeoNames
    data while no photo with GPS needs a name; the first lookup does."""
    script = textwrap.dedent(f"""
        import sys
        from octopus_events import geocode
        from octopus_events.application import Octopus
        from octopus_events.config import Config, StorageConfig
        from octopus_events.web.app import create_app
        octopus = Octopus(Config(storage=StorageConfig(data_dir={str(tmp_path / 'data')!r}))).open()
        create_app(octopus)
        assert not geocode.loaded(), "loaded at start"
        assert "scipy" not in sys.modules and "numpy" not in sys.modules
        assert geocode.lookup(40.4168, -3.7038).city == "Madrid"
        assert geocode.loaded()
        assert "scipy" not in sys.modules and "numpy" not in sys.modules
        octopus.close()
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
