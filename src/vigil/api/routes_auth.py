"""Login, logout, the current user and API tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from vigil.api.auth import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    Admin,
    CurrentUser,
    Principal,
    audit,
    client_ip,
)
from vigil.api.context import context
from vigil.api.models import LoginIn, LoginOut, Me, TokenCreated, TokenIn, TokenOut
from vigil.storage import accounts

router = APIRouter(prefix="/api", tags=["auth"])


@router.post("/auth/login", response_model=LoginOut, responses={401: {}, 429: {}})
async def login(body: LoginIn, request: Request, response: Response) -> LoginOut:
    """Start a cookie session. Repeated failures per username and address are refused with 429."""
    ctx = context(request)
    key = (body.username, client_ip(request) or "")
    wait = ctx.limiter.retry_after(key)
    if wait > 0:
        raise HTTPException(429, "too many failed logins; try again later", headers={"Retry-After": str(int(wait) + 1)})
    user = await run_in_threadpool(accounts.authenticate, ctx.store, body.username, body.password)
    if user is None:
        ctx.limiter.fail(key)
        await run_in_threadpool(audit, request, None, "auth.login_failed", body.username, username=body.username)
        raise HTTPException(401, "invalid username or password")
    ctx.limiter.reset(key)
    token, csrf = await run_in_threadpool(accounts.create_session, ctx.store, user, ctx.settings.session_ttl)
    max_age = int(ctx.settings.session_ttl.total_seconds())
    secure = ctx.settings.secure_cookies
    response.set_cookie(
        SESSION_COOKIE, token, max_age=max_age, path="/", httponly=True, samesite="strict", secure=secure
    )
    response.set_cookie(CSRF_COOKIE, csrf, max_age=max_age, path="/", httponly=False, samesite="strict", secure=secure)
    principal = Principal(user.username, user.role, "session")
    await run_in_threadpool(audit, request, principal, "auth.login", user.username)
    return LoginOut(username=user.username, role=user.role, csrf_token=csrf)


@router.post("/auth/logout", status_code=204)
def logout(request: Request, response: Response, principal: CurrentUser) -> Response:
    """End the cookie session (a bearer token is revoked with DELETE /api/tokens/{id} instead)."""
    if principal.session_token:
        accounts.delete_session(context(request).store, principal.session_token)
    audit(request, principal, "auth.logout", principal.username)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/auth/me", response_model=Me)
def me(principal: CurrentUser) -> Me:
    return Me(username=principal.username, role=principal.role)  # type: ignore[arg-type]


@router.post("/tokens", response_model=TokenCreated, status_code=201, tags=["tokens"])
def create_token(body: TokenIn, request: Request, principal: Admin) -> TokenCreated:
    """A bearer token acting as the calling admin; the token is shown only in this answer."""
    store = context(request).store
    user = accounts.get_user(store, principal.username)
    if user is None:
        raise HTTPException(401, "user no longer exists")
    token_id, token = accounts.create_token(store, user, body.name)
    audit(request, principal, "token.create", str(token_id), name=body.name)
    return TokenCreated(id=token_id, token=token)


@router.get("/tokens", response_model=list[TokenOut], tags=["tokens"])
def list_tokens(request: Request, _: Admin) -> list[TokenOut]:
    return [TokenOut(**t.__dict__) for t in accounts.list_tokens(context(request).store)]


@router.delete("/tokens/{token_id}", status_code=204, tags=["tokens"], responses={404: {}})
def revoke_token(
    request: Request,
    principal: Admin,
    token_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
) -> Response:
    if not accounts.revoke_token(context(request).store, token_id):
        raise HTTPException(404, "token_id: no such active token")
    audit(request, principal, "token.revoke", str(token_id))
    return Response(status_code=204)
