"""Configuration: the example file, env overrides, the search order, one-line errors."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from octopus_events.config import Config, default_config_dict, load_config
from octopus_events.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_example_lists_every_key_with_its_default() -> None:
    example = tomllib.loads((ROOT / "config.example.toml").read_text())
    assert example == default_config_dict()


def test_example_decodes_into_config() -> None:
    assert load_config(ROOT / "config.example.toml", environ={}) == Config()


def test_env_overrides_every_kind_of_value(tmp_path: Path) -> None:
    config = load_config(environ={
        "OCTOPUS_SERVER_PORT": "9000",
        "OCTOPUS_STORAGE_DATA_DIR": str(tmp_path),
        "OCTOPUS_NOTIFICATIONS_WEBHOOKS": "http://127.0.0.1:1/a, http://127.0.0.1:1/b",
        "OCTOPUS_AUTH_REGISTRATION": "open",
    })
    assert config.server.port == 9000
    assert config.data_dir == tmp_path.resolve()
    assert config.notifications.webhooks == ["http://127.0.0.1:1/a", "http://127.0.0.1:1/b"]
    assert config.auth.registration == "open"


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"OCTOPUS_SERVER_PORT": "abc"}, "server.port"),
        ({"OCTOPUS_SERVER_PORT": "70000"}, "server.port"),
        ({"OCTOPUS_AUTH_REGISTRATION": "sometimes"}, "auth.registration"),
        ({"OCTOPUS_SERVER_NOPE": "1"}, "OCTOPUS_SERVER_NOPE"),
        ({"OCTOPUS_TRASH_RETENTION_DAYS": "-1"}, "trash.retention_days"),
        ({"OCTOPUS_NOTIFICATIONS_NTFY_URL": "ftp://x"}, "notifications"),
    ],
)
def test_bad_values_give_one_line_naming_the_key(env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(environ=env)
    message = str(info.value)
    assert names in message
    assert "\n" not in message


def test_search_order(tmp_path: Path) -> None:
    explicit = tmp_path / "explicit.toml"
    explicit.write_text("[server]\nport = 8101\n")
    from_env = tmp_path / "env.toml"
    from_env.write_text("[server]\nport = 8102\n")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "config.toml").write_text("[server]\nport = 8103\n")
    base = {"OCTOPUS_STORAGE_DATA_DIR": str(data_dir)}
    assert load_config(explicit, environ={**base, "OCTOPUS_CONFIG": str(from_env)}).server.port == 8101
    assert load_config(environ={**base, "OCTOPUS_CONFIG": str(from_env)}).server.port == 8102
    assert load_config(environ=base).server.port == 8103
    assert load_config(environ={"OCTOPUS_STORAGE_DATA_DIR": str(tmp_path / "empty")}).server.port == 8000
    # The environment beats the file.
    assert load_config(explicit, environ={"OCTOPUS_SERVER_PORT": "8104"}).server.port == 8104


def test_unknown_key_and_broken_file(tmp_path: Path) -> None:
    bad_key = tmp_path / "a.toml"
    bad_key.write_text("[server]\nprot = 1\n")
    with pytest.raises(ConfigError, match="prot"):
        load_config(bad_key, environ={})
    broken = tmp_path / "b.toml"
    broken.write_text("[server\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken, environ={})
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "missing.toml", environ={})
