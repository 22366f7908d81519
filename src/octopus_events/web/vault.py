"""Vault routes: create, unlock, change the passphrase, move photos in and out, view them.

Every route needs a session (the app-wide guard); the photo routes also need `X-Vault-Token`
from /api/vault/unlock, presented by the same session that unlocked. The stream URL
(`/api/vault/stream/{sig}`, for a `<video src>`, which cannot send the header) stands in for the
token: it works only for that session and while its token lives (vault_stream.py). Vault bytes are never cacheable: `no-store` keeps
proxies and the browser's disk cache from holding a decrypted copy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Stream

from ..application import Octopus
from ..readmodels.library import PhotoView
from ..vault import UnlockResult, VaultAccess, VaultOriginal, VaultPage, VaultStatus
from ..vault_stream import StreamUrl
from .auth import Caller
from .problems import problem

log = logging.getLogger(__name__)
TAGS = ["vault"]
TOKEN_HEADER = "x-vault-token"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache", "X-Content-Type-Options": "nosniff"}


class PassphraseBody(msgspec.Struct):
    passphrase: str


class ChangePassphraseBody(msgspec.Struct):
    old: str
    new: str


def vault_access(request: Request[Any, Any, Any], caller: Caller) -> VaultAccess:
    """The request's `X-Vault-Token` with the session presenting it (a token works only with
    the session that unlocked it)."""
    return VaultAccess(request.headers.get(TOKEN_HEADER), caller.signed_in.token_digest)


def _client(request: Request[Any, Any, Any]) -> str:
    # As the ASGI server saw it, so a client cannot choose its own rate-limit bucket.
    return request.client.host if request.client else "unknown"


def _private(value: Any, status: int = 200) -> Response[Any]:
    return Response(value, status_code=status, headers=NO_STORE)


@get("/api/vault", tags=TAGS, summary="Whether the caller has a vault")
async def vault_status(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller]) -> VaultStatus:
    return await octopus.vault.status(caller.owner)


@post("/api/vault", tags=TAGS, status_code=201, summary="Create the vault (409 if it exists)")
async def create_vault(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller],
                       data: JSONBody[PassphraseBody]) -> VaultStatus:
    return await octopus.vault.create(caller.owner, data.passphrase, caller.meta())


@post("/api/vault/unlock", tags=TAGS, status_code=200, summary="Unlock: a short-lived vault token")
async def unlock_vault(request: Request[Any, Any, Any], octopus: NamedDependency[Octopus],
                       caller: NamedDependency[Caller], data: JSONBody[PassphraseBody]) -> Response[UnlockResult]:
    result = await octopus.vault.unlock(caller.owner, data.passphrase, session=caller.signed_in.token_digest,
                                       client=_client(request))
    return _private(result)


@post("/api/vault/passphrase", tags=TAGS, status_code=204,
      summary="Change the passphrase (re-wraps the key; no photo is re-encrypted)")
async def change_passphrase(request: Request[Any, Any, Any], octopus: NamedDependency[Octopus],
                            caller: NamedDependency[Caller], data: JSONBody[ChangePassphraseBody]) -> None:
    await octopus.vault.change_passphrase(caller.owner, data.old, data.new, caller.meta(),
                                          client=_client(request), keep=vault_access(request, caller))


@post("/api/vault/lock", tags=TAGS, status_code=204, summary="Lock: every vault token of this session stops working")
async def lock_vault(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller]) -> None:
    octopus.vault.lock(caller.owner, caller.signed_in.token_digest)


@post("/api/photos/{photo_id:str}/vault", tags=TAGS, status_code=200, summary="Move a photo into the vault")
async def move_in(request: Request[Any, Any, Any], octopus: NamedDependency[Octopus], caller: NamedDependency[Caller],
                  photo_id: FromPath[str]) -> Response[PhotoView]:
    return _private(await octopus.vault.move_in(caller.owner, photo_id, vault_access(request, caller), caller.meta()))


@get("/api/vault/photos", tags=TAGS, summary="Vault photos with their decrypted metadata")
async def list_photos(request: Request[Any, Any, Any], octopus: NamedDependency[Octopus],
                      caller: NamedDependency[Caller], cursor: FromQuery[str | None] = None,
                      limit: FromQuery[int | None] = None) -> Response[VaultPage]:
    return _private(await octopus.vault.list(caller.owner, vault_access(request, caller), cursor=cursor, limit=limit))


@get("/api/vault/photos/{photo_id:str}", tags=TAGS, summary="One vault photo")
async def get_vault_photo(request: Request[Any, Any, Any], octopus: NamedDependency[Octopus],
                          caller: NamedDependency[Caller], photo_id: FromPath[str]) -> Response[PhotoView]:
    return _private(await octopus.vault.photo(caller.owner, photo_id, vault_access(request, caller)))


@get("/api/vault/photos/{photo_id:str}/original", tags=TAGS, summary="The decrypted original (ETag, Range)")
async def vault_original(request: Request[Any, Any, Any], octopus: NamedDependency[Octopus],
                         caller: NamedDependency[Caller], photo_id: FromPath[str]) -> Response[Any]:
    original = await octopus.vault.open_original(caller.owner, photo_id, vault_access(request, caller))
    return await _serve(request, octopus, original)


@post("/api/vault/photos/{photo_id:str}/stream", tags=TAGS, status_code=200,
      summary="A short-lived URL a <video src> can play the original from (Range, no token header)")
async def vault_stream_url(request: Request[Any, Any, Any], octopus: NamedDependency[Octopus],
                           caller: NamedDependency[Caller], photo_id: FromPath[str]) -> Response[StreamUrl]:
    return _private(await octopus.vault.stream_url(caller.owner, photo_id, vault_access(request, caller)))


@get("/api/vault/stream/{sig:str}", tags=TAGS, summary="The original through a stream URL (same session; Range)")
async def vault_stream(request: Request[Any, Any, Any], octopus: NamedDependency[Octopus],
                       caller: NamedDependency[Caller], sig: FromPath[str]) -> Response[Any]:
    # The session must be the one the URL was issued to, and its vault token still live: the
    # URL alone (in a log, a history) opens nothing.
    grant = octopus.vault.stream_grant(sig, caller.signed_in.token_digest)
    original = await octopus.vault.open_stream(grant)
    return await _serve(request, octopus, original, alive=lambda: octopus.vault.stream_alive(grant))


async def _serve(request: Request[Any, Any, Any], octopus: Octopus, original: VaultOriginal,
                 alive: Callable[[], bool] | None = None) -> Response[Any]:
    """The opened original as 200 or 206 (Range, If-Range, 416), streamed chunk by chunk."""
    # Imported here: web/photos imports this module (for vault_access), and its byte-range
    # parsing is the one both /original routes share.
    from .photos import _byte_range, _Unsatisfiable

    # The ETag names this encrypted file (random per sealing), not its plaintext; it is there
    # for If-Range, so a player resuming a video never splices two different files together.
    etag = f'"{original.tag}"'
    headers = {**NO_STORE, "Accept-Ranges": "bytes", "ETag": etag}
    if original.view.filename:
        headers["Content-Disposition"] = f"inline; filename*=UTF-8''{quote(original.view.filename, safe='')}"
    span = None
    if_range = request.headers.get("if-range")
    if if_range is None or if_range.strip() == etag:
        try:
            span = _byte_range(request.headers.get("range"), original.size)
        except _Unsatisfiable:
            return problem(416, f"the photo has {original.size} bytes; that range is outside it",
                           title="Range not satisfiable", headers={"Content-Range": f"bytes */{original.size}", **headers})
    first, last = span if span is not None else (0, original.size - 1)
    length = max(0, last - first + 1)
    # Whole photos and ranges up to 8 MiB are authenticated before this returns: tampering is a
    # 422 problem, never a response that carries garbage or breaks off (docs/vault.md, Serving).
    chunks = await octopus.vault.read_original(original, first, length)
    if alive is not None:
        chunks = _while_alive(chunks, alive, original.view.id)
    headers["Content-Length"] = str(length)
    if span is None:
        return Stream(chunks, media_type=original.view.mime, headers=headers)
    headers["Content-Range"] = f"bytes {first}-{last}/{original.size}"
    return Stream(chunks, status_code=206, media_type=original.view.mime, headers=headers)


def _while_alive(chunks: Iterator[bytes], alive: Callable[[], bool], photo_id: str) -> Iterator[bytes]:
    # A stream under way ends when its vault token does (lock, sign-out, expiry): it stops short
    # of its Content-Length, which the player sees as a failed transfer.
    try:
        for chunk in chunks:
            if not alive():
                log.info("vault stream of %s ended: its vault token is no longer live", photo_id)
                return
            yield chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


@get("/api/vault/photos/{photo_id:str}/thumbnail", tags=TAGS, summary="Decrypted thumb or preview")
async def vault_thumbnail(request: Request[Any, Any, Any], octopus: NamedDependency[Octopus],
                          caller: NamedDependency[Caller], photo_id: FromPath[str],
                          size: FromQuery[str] = "thumb") -> Response[bytes]:
    data = await octopus.vault.thumbnail(caller.owner, photo_id, size, vault_access(request, caller))
    return Response(data, media_type="image/jpeg", headers=NO_STORE)


@post("/api/vault/photos/{photo_id:str}/restore", tags=TAGS, status_code=200, summary="Back into the library")
async def restore(request: Request[Any, Any, Any], octopus: NamedDependency[Octopus], caller: NamedDependency[Caller],
                  photo_id: FromPath[str]) -> Response[PhotoView]:
    return _private(await octopus.vault.restore(caller.owner, photo_id, vault_access(request, caller), caller.meta()))


ROUTES = [vault_status, create_vault, unlock_vault, lock_vault, change_passphrase, move_in, list_photos, get_vault_photo,
          vault_original, vault_stream_url, vault_stream, vault_thumbnail, restore]
