"""Account routes: register, sign in and out, the caller's profile, password, storage, deletion,
and the admin's user list."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from ..accounts import SignUpStatus, User
from ..application import Octopus
from ..readmodels import storage, users
from ..readmodels.storage import Usage
from .auth import (
    ADMIN, DEVICE_HEADER, PUBLIC, Caller, clear_session_cookie, device_cookie, device_token_of, meta_for, session_cookie,
)

TAGS = ["accounts"]


# Request bodies. Unknown fields are ignored on purpose (a client may send more than we read),
# which is also why a `role` or `admin` field on register can never make anybody an admin.
class RegisterBody(msgspec.Struct):
    username: str
    password: str


class LoginBody(msgspec.Struct):
    username: str
    password: str
    device: str | None = None


class LoginResult(msgspec.Struct):
    token: str
    user: User


class ProfileBody(msgspec.Struct):
    display_name: str


class PasswordBody(msgspec.Struct):
    old: str
    new: str


class DeleteAccountBody(msgspec.Struct):
    password: str


class NewUserBody(msgspec.Struct):
    username: str
    password: str
    admin: bool = False
    quota_bytes: int | None = None


@get("/api/auth/status", tags=TAGS, opt={"auth": PUBLIC}, summary="First run? May anyone register? (no auth)",
     description="`first_run`: no account exists yet (the first becomes the admin); `can_register`: "
                 "POST /api/auth/register would be allowed. The sign-in screen asks before showing "
                 "'Create account', so nobody fills a form that is then refused.")
async def sign_up_status(octopus: NamedDependency[Octopus]) -> SignUpStatus:
    return await octopus.accounts.sign_up_status()


@post("/api/auth/register", tags=TAGS, opt={"auth": PUBLIC}, status_code=201,
      summary="Create an account (the first one becomes admin; later ones need open registration)")
async def register(request: Request[Any, Any, Any], octopus: NamedDependency[Octopus],
                   data: JSONBody[RegisterBody]) -> User:
    return await octopus.accounts.register(data.username, data.password, meta=meta_for(request),
                                           client=client_address(request))


def client_address(request: Request[Any, Any, Any]) -> str:
    """The address as the ASGI server saw it (forwarded headers are applied only from trusted
    proxies), so a remote client cannot pick its own rate-limit bucket."""
    return request.client.host if request.client else "unknown"


@post("/api/auth/login", tags=TAGS, opt={"auth": PUBLIC}, status_code=200,
      summary="Sign in: returns a bearer token and sets the same session as a cookie",
      description="Also returns a device token (header `Octopus-Device-Token`, and the `octopus_device` "
                  "cookie): send it back in that header on later sign-ins, and an attacker's failed "
                  "attempts cannot lock this device out (docs/security.md).")
async def login(request: Request[Any, Any, Any], octopus: NamedDependency[Octopus],
                data: JSONBody[LoginBody]) -> Response[LoginResult]:
    token, user = await octopus.accounts.login(
        data.username, data.password, device=data.device, client=client_address(request), meta=meta_for(request),
        device_token=device_token_of(request),
    )
    max_age = octopus.config.auth.session_days * 86_400
    device_token = octopus.accounts.issue_device_token(user.id)
    return Response(LoginResult(token, user), headers={DEVICE_HEADER: device_token},
                    cookies=[session_cookie(request, token, max_age), device_cookie(request, device_token)])


@post("/api/auth/logout", tags=TAGS, status_code=204, summary="End the session in use")
async def logout(request: Request[Any, Any, Any], octopus: NamedDependency[Octopus],
                 caller: NamedDependency[Caller]) -> Response[None]:
    await octopus.accounts.logout(caller.signed_in)
    return clear_session_cookie(request, Response(None, status_code=204))


@get("/api/users/me", tags=TAGS, summary="The signed-in user")
async def me(caller: NamedDependency[Caller]) -> User:
    return caller.user


@patch("/api/users/me", tags=TAGS, summary="Change the display name")
async def edit_me(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller],
                  data: JSONBody[ProfileBody]) -> User:
    return await octopus.accounts.set_display_name(caller.signed_in, data.display_name, caller.meta())


@post("/api/users/me/password", tags=TAGS, status_code=204, summary="Change the password; ends every other session")
async def change_password(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller],
                          data: JSONBody[PasswordBody]) -> None:
    await octopus.accounts.change_password(caller.signed_in, data.old, data.new, caller.meta())


@get("/api/users/me/storage", tags=TAGS, summary="Photos and bytes stored, and the quota (0: none)")
async def my_storage(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller]) -> Usage:
    def query() -> Usage:
        conn = octopus.store.reader()
        return storage.usage(conn, caller.owner, users.quota_of(conn, caller.owner))

    return await octopus.read(query)


@delete("/api/users/me", tags=TAGS, status_code=204, summary="Delete the account and every photo for good")
async def delete_me(request: Request[Any, Any, Any], octopus: NamedDependency[Octopus],
                    caller: NamedDependency[Caller], data: JSONBody[DeleteAccountBody]) -> Response[None]:
    await octopus.accounts.delete_account(caller.signed_in, data.password, caller.meta())
    return clear_session_cookie(request, Response(None, status_code=204))


@get("/api/admin/users", tags=["admin"], opt={"auth": ADMIN}, summary="Every user (admin only)")
async def list_users(octopus: NamedDependency[Octopus]) -> list[User]:
    return await octopus.read(lambda: users.all_users(octopus.store.reader()))


@post("/api/admin/users", tags=["admin"], opt={"auth": ADMIN}, status_code=201, summary="Create a user (admin only)")
async def create_user(octopus: NamedDependency[Octopus], caller: NamedDependency[Caller],
                      data: JSONBody[NewUserBody]) -> User:
    return await octopus.accounts.admin_create(
        data.username, data.password, admin=data.admin, quota_bytes=data.quota_bytes, meta=caller.meta()
    )


ROUTES = [sign_up_status, register, login, logout, me, edit_me, change_password, my_storage, delete_me, list_users, create_user]
