"""JSON request bodies: a body nested too deeply to decode is the client's error, not a bug.

Litestar decodes a JSON body with msgspec before converting it to the route's Struct; msgspec
raises RecursionError at about a thousand levels (Python's recursion limit), which would reach
the handler for bugs as a 500. No body this API accepts nests more than a few levels.
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from .. import errors


class OctopusRequest(Request[Any, Any, Any]):
    """Litestar's request, with body decoding that fails as 400 on any JSON it cannot decode."""

    async def json(self) -> Any:
        try:
            return await super().json()
        except RecursionError:
            raise errors.BadRequest("the JSON body is nested too deeply") from None
