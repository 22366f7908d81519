"""Configuration: TOML decoded into msgspec Structs, with `OCTOPUS_<SECTION>_<KEY>` overrides.

Search order (CONTRACT.md): `--config PATH`, else `$OCTOPUS_CONFIG`, else
`<data_dir>/config.toml` if present, else the defaults below. Every key here must also appear in
`config.example.toml` with the same default; `tests/test_config.py` fails when the two drift.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

import msgspec

from .errors import ConfigError

_FIELDS = dict(forbid_unknown_fields=True, kw_only=True)


class ServerConfig(msgspec.Struct, **_FIELDS):
    host: str = "127.0.0.1"
    port: int = 8000
    # Extra origins allowed for cookie-authenticated writes (the server's own origin always is).
    trusted_origins: list[str] = []
    # Addresses (or networks) of reverse proxies whose X-Forwarded-For/-Proto are believed; from
    # anyone else those headers are ignored, so a client cannot pick the address it is counted as.
    trusted_proxies: list[str] = []
    # Limits that keep unauthenticated clients from holding memory or connections (docs/admin.md).
    max_header_kb: int = 64
    head_timeout_seconds: int = 10
    body_timeout_seconds: int = 30
    body_min_bytes_per_second: int = 1024
    max_connections: int = 100
    send_timeout_seconds: int = 60
    # Host names the server answers to besides localhost, the loopback and listening addresses and
    # this machine's own name (DNS-rebinding guard): e.g. "photos.example.org", "*.lan" or "*" (any).
    allowed_hosts: list[str] = []


class StorageConfig(msgspec.Struct, **_FIELDS):
    data_dir: str = "~/.OctopusPhotos"
    max_upload_mb: int = 200
    # Videos are larger than photos: their uploads have their own limit.
    max_video_mb: int = 4096
    # Quota for new accounts in MB; 0 means unlimited.
    default_quota_mb: int = 0
    # Previews are made on first view and cached up to this size (least recently used go first).
    preview_cache_mb: int = 2048
    # Keep this much disk free; uploads beyond it answer 507.
    min_free_mb: int = 200


class MediaConfig(msgspec.Struct, **_FIELDS):
    # Image work runs on a bounded pool; 0 means one worker per core.
    workers: int = 0
    # Decompression-bomb guard: images declaring more pixels than this are refused.
    max_megapixels: int = 200
    # Memory all image decodes may hold at once (MB), sized for a 1 GB machine; an image whose
    # decode could never fit is refused (422), large ones wait their turn.
    decode_budget_mb: int = 256
    # Playable copies (docs/admin.md): a background queue makes a <= 720p H.264/AAC copy of
    # videos browsers cannot play (HEVC, MPEG-2, ProRes...). Off by default: it costs CPU and disk.
    transcode: bool = False
    # A system ffmpeg to encode with instead of PyAV's (not used yet; PyAV's libx264 encodes).
    ffmpeg: str = ""


class AuthConfig(msgspec.Struct, **_FIELDS):
    registration: Literal["open", "closed"] = "closed"
    session_days: int = 30
    # Failed logins allowed inside the window: per device token for a known device, else per
    # username and per client address (docs/security.md).
    login_max_failures: int = 5
    login_window_seconds: int = 300
    # Registrations (each costs a password hash) one client address may start inside the window.
    register_max_attempts: int = 10
    vault_token_minutes: int = 10
    # Lifetime of a vault video's stream URL (never beyond its vault token's; docs/vault.md).
    vault_stream_seconds: int = 300


class TrashConfig(msgspec.Struct, **_FIELDS):
    retention_days: int = 30


class NotificationsConfig(msgspec.Struct, **_FIELDS):
    webhooks: list[str] = []
    # HMAC-SHA256 key for the X-Octopus-Signature header on webhook bodies.
    webhook_secret: str = ""
    ntfy_url: str = ""
    events: list[str] = msgspec.field(
        default_factory=lambda: ["upload_batch_finished", "import_finished", "trash_purge_soon", "login_new_device",
                              "shared_album_new_items"]
    )


class UploadsConfig(msgspec.Struct, **_FIELDS):
    # A pending resumable upload (tus) untouched this long is removed with its bytes.
    expire_hours: float = 24.0


class LogConfig(msgspec.Struct, **_FIELDS):
    level: Literal["debug", "info", "warning", "error"] = "info"


class DavConfig(msgspec.Struct, **_FIELDS):
    # WebDAV at /dav/ (docs/webdav.md) signs in with a device's app password; the account
    # password too only when this is on (a phone app would keep it in its settings).
    allow_account_password: bool = False


class Config(msgspec.Struct, **_FIELDS):
    server: ServerConfig = msgspec.field(default_factory=ServerConfig)
    storage: StorageConfig = msgspec.field(default_factory=StorageConfig)
    media: MediaConfig = msgspec.field(default_factory=MediaConfig)
    auth: AuthConfig = msgspec.field(default_factory=AuthConfig)
    trash: TrashConfig = msgspec.field(default_factory=TrashConfig)
    notifications: NotificationsConfig = msgspec.field(default_factory=NotificationsConfig)
    log: LogConfig = msgspec.field(default_factory=LogConfig)
    dav: DavConfig = msgspec.field(default_factory=DavConfig)
    uploads: UploadsConfig = msgspec.field(default_factory=UploadsConfig)

    @property
    def data_dir(self) -> Path:
        return Path(os.path.expanduser(self.storage.data_dir)).resolve()


_SECTIONS: dict[str, type[msgspec.Struct]] = {
    f.name: f.type for f in msgspec.structs.fields(Config)  # type: ignore[misc]
}


def _env_value(raw: str, default: Any) -> Any:
    """Turn an environment string into the shape of the key's default so msgspec can check it."""
    if isinstance(default, bool):
        low = raw.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        return raw
    if isinstance(default, float):
        try:
            return float(raw.strip())
        except ValueError:
            return raw
    if isinstance(default, int):
        try:
            return int(raw.strip())
        except ValueError:
            return raw
    if isinstance(default, list):
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


def _apply_env(data: dict[str, Any], environ: dict[str, str]) -> None:
    for name, value in environ.items():
        if not name.startswith("OCTOPUS_") or name == "OCTOPUS_CONFIG":
            continue
        rest = name[len("OCTOPUS_"):].lower()
        section, _, key = rest.partition("_")
        section_type = _SECTIONS.get(section)
        if section_type is None or not key:
            raise ConfigError(f"config: {name}: no such setting ({section}.{key})")
        fields = {f.name: f for f in msgspec.structs.fields(section_type)}
        if key not in fields:
            raise ConfigError(f"config: {name}: no such setting ({section}.{key})")
        field = fields[key]
        default = field.default if field.default is not msgspec.NODEFAULT else field.default_factory()
        data.setdefault(section, {})[key] = _env_value(value, default)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config: {path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config: {path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"config: {path}: cannot read ({exc.strerror})") from None


def _convert(data: dict[str, Any], source: str) -> Config:
    try:
        config = msgspec.convert(data, Config)
    except msgspec.ValidationError as exc:
        # msgspec says e.g. "Expected `int`, got `str` - at `$.server.port`"; name the key first.
        message = str(exc)
        where = ""
        if " - at `$." in message:
            message, _, path = message.rpartition(" - at `$.")
            where = path.rstrip("`") + ": "
        raise ConfigError(f"config: {where}{message} ({source})") from None
    _check(config)
    return config


def _check(config: Config) -> None:
    if not 0 < config.server.port < 65536:
        raise ConfigError(f"config: server.port: {config.server.port} is not a TCP port")
    positive = {
        "server.max_header_kb": config.server.max_header_kb,
        "server.head_timeout_seconds": config.server.head_timeout_seconds,
        "server.body_timeout_seconds": config.server.body_timeout_seconds,
        "server.max_connections": config.server.max_connections,
        "server.send_timeout_seconds": config.server.send_timeout_seconds,
        "storage.max_upload_mb": config.storage.max_upload_mb,
        "storage.max_video_mb": config.storage.max_video_mb,
        "storage.preview_cache_mb": config.storage.preview_cache_mb,
        "media.max_megapixels": config.media.max_megapixels,
        "media.decode_budget_mb": config.media.decode_budget_mb,
        "auth.session_days": config.auth.session_days,
        "auth.login_max_failures": config.auth.login_max_failures,
        "auth.login_window_seconds": config.auth.login_window_seconds,
        "auth.register_max_attempts": config.auth.register_max_attempts,
        "auth.vault_token_minutes": config.auth.vault_token_minutes,
        "auth.vault_stream_seconds": config.auth.vault_stream_seconds,
    }
    for key, value in positive.items():
        if value <= 0:
            raise ConfigError(f"config: {key}: must be greater than 0, got {value}")
    non_negative = {
        "server.body_min_bytes_per_second": config.server.body_min_bytes_per_second,
        "storage.default_quota_mb": config.storage.default_quota_mb,
        "storage.min_free_mb": config.storage.min_free_mb,
        "media.workers": config.media.workers,
        "trash.retention_days": config.trash.retention_days,
    }
    for key, value in non_negative.items():
        if value < 0:
            raise ConfigError(f"config: {key}: must not be negative, got {value}")
    for name in config.server.allowed_hosts:
        if not name or any(c in name for c in "/:@[] ") or ("*" in name and name != "*" and not name.startswith("*.")):
            raise ConfigError(f"config: server.allowed_hosts: {name!r} is not a host name (no scheme, port or path; "
                              "'*.example.org' for subdomains, '*' for any)")
    for proxy in config.server.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ConfigError(f"config: server.trusted_proxies: {proxy!r} is not an address or network") from None
    for url in [*config.notifications.webhooks, *([config.notifications.ntfy_url] if config.notifications.ntfy_url else [])]:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"config: notifications: {url!r} is not an http(s) URL")


def load_config(path: str | os.PathLike[str] | None = None, environ: dict[str, str] | None = None) -> Config:
    """Load the configuration following the contract's search order, then apply env overrides."""
    env = dict(os.environ if environ is None else environ)
    data: dict[str, Any] = {}
    source = "defaults"
    chosen: Path | None = None
    if path is not None:
        chosen = Path(path)
    elif env.get("OCTOPUS_CONFIG"):
        chosen = Path(env["OCTOPUS_CONFIG"])
    else:
        # The data dir itself may come from the environment, so look there first.
        data_dir = env.get("OCTOPUS_STORAGE_DATA_DIR") or StorageConfig().data_dir
        candidate = Path(os.path.expanduser(data_dir)) / "config.toml"
        if candidate.is_file():
            chosen = candidate
    if chosen is not None:
        data = _read_toml(chosen)
        source = str(chosen)
    before = repr(data)
    _apply_env(data, env)
    if repr(data) != before:
        source = "environment" if source == "defaults" else f"{source} and environment"
    return _convert(data, source)


def default_config_dict() -> dict[str, Any]:
    """Every key with its default, as `config.example.toml` must list them."""
    return msgspec.to_builtins(Config())
