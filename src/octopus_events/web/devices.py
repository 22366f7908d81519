"""Device routes: app passwords for phone backup apps, and the caller's sessions, listed and revoked."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from ..application import Octopus
from ..devices import Device, NewDevice, rfc3339
from .auth import Caller, clear_session_cookie

TAGS = ["devices"]


class NewDeviceBody(msgspec.Struct):
    name: str


class DeviceListing(msgspec.Struct):
    """An app password (`kind: app_password`) or a browser/API session (`kind: session`)."""

    id: str
    name: str
    kind: str
    created_at: str
    last_seen: str | None
    last_upload: str | None = None
    uploads: int = 0
    current: bool = False


@post("/api/devices", tags=TAGS, status_code=201,
      summary="Add a device: its app password is in this response only (never shown again)")
async def add_device(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller],
                     data: JSONBody[NewDeviceBody]) -> NewDevice:
    return await octopus.devices.add(caller.owner, data.name, caller.meta())


@get("/api/devices", tags=TAGS, summary="The caller's devices (app passwords) and sessions")
async def list_devices(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller]) -> list[DeviceListing]:
    def query() -> list[DeviceListing]:
        devices: list[Device] = octopus.devices.list(caller.owner)
        out = [DeviceListing(d.id, d.name, d.kind, d.created_at, d.last_seen, d.last_upload, d.uploads) for d in devices]
        for s in octopus.accounts.sessions(caller.owner):
            seen = max(s.last_seen_us, octopus.devices.session_last_seen(s.digest))
            out.append(DeviceListing(s.id, s.device, "session", rfc3339(s.created_us) or "", rfc3339(seen),
                                     current=s.digest == caller.signed_in.token_digest))
        return out

    return await octopus.read(query)


@delete("/api/devices/{device_id:str}", tags=TAGS, status_code=204,
        summary="Revoke an app password or end a session, at once (the current session signs out)")
async def revoke_device(request: Request[Any, Any, Any], octopus: NamedDependency[Octopus],
                        caller: NamedDependency[Caller], device_id: FromPath[str]) -> Response[None]:
    response: Response[None] = Response(None, status_code=204)
    if device_id.startswith("s"):
        digest = await octopus.accounts.revoke_session(caller.owner, device_id)
        if digest == caller.signed_in.token_digest:
            return clear_session_cookie(request, response)
        return response
    await octopus.devices.revoke(caller.owner, device_id, caller.meta())
    return response


ROUTES = [add_device, list_devices, revoke_device]
