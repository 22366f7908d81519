"""Read-only views of the library under /dav/ (filled in below)."""

from __future__ import annotations

from typing import Any


def resource(provider: Any, parts: list[str], path: str, environ: dict[str, Any]) -> Any:
    from .provider import RootCollection

    if len(parts) == 1 and parts[0] in ("Library", "Albums", "Favourites"):
        return _Empty(path, environ)
    return None


from wsgidav.dav_provider import DAVCollection  # noqa: E402


class _Empty(DAVCollection):
    def get_member_names(self) -> list[str]:
        return []
