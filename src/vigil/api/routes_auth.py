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
    secure_cookies,
)
from vigil.api.context import context
from vigil.api.models import LoginIn, LoginOut, Me, TokenCreated, TokenIn, TokenOut
from vigil.storage import accounts

router = APIRouter(prefix="/api", tags=["auth"])


@router.post("/auth/login", response_model=LoginOut, responses={401: {}, 413: {}, 429: {}})
async def login(body: LoginIn, request: Request, response: Response) -> LoginOut:
    """Start a cookie session.

    Failed logins are limited per user name and, separately, per client address
    (429 with ``Retry-After``); the address is the peer's, or the one a trusted proxy
    reports. Failed logins are audited up to a rate per minute, the rest counted in
    the next row written, so a flood cannot fill the audit log.
    """
    ctx = context(request)
    address = client_ip(request) or ""
    wait = ctx.limiter.retry_after(body.username, address)
    if wait > 0:
        raise HTTPException(429, "too many failed logins; try again later", headers={"Retry-After": str(int(wait) + 1)})
    user = await run_in_threadpool(accounts.authenticate, ctx.store, body.username, body.password)
    if user is None:
        blocked = ctx.limiter.fail(body.username, address)
        write, suppressed = ctx.failed_login_audit.take()
        if write:
            detail = {"username": body.username, "blocked": blocked or None, "suppressed": suppressed or None}
            await run_in_threadpool(audit, request, None, "auth.login_failed", body.username[:128], **detail)
        raise HTTPException(401, "invalid username or password")
    ctx.limiter.succeeded(body.username)
    token, csrf = await run_in_threadpool(accounts.create_session, ctx.store, user, ctx.settings.session_ttl)
    max_age = int(ctx.settings.session_ttl.total_seconds())
    secure = secure_cookies(request)
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
    ctx = context(request)
    if principal.session_token:
        accounts.delete_session(ctx.store, principal.session_token)
        ctx.auth_generation += 1  # open streams of this session re-check now
    audit(request, principal, "auth.logout", principal.username)
    response = Response(status_code=204)
    secure = secure_cookies(request)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=secure)
    response.delete_cookie(CSRF_COOKIE, path="/", samesite="strict", secure=secure)
    return response


@router.get("/auth/me", response_model=Me)
def me(principal: CurrentUser) -> Me:
    return Me(username=principal.username, role=principal.role)  # type: ignore[arg-type]


@router.post("/tokens", response_model=TokenCreated, status_code=201, tags=["tokens"])
def create_token(body: TokenIn, request: Request, principal: Admin) -> TokenCreated:
    """A bearer token acting as the calling admin with ``role`` (default: the admin's own role).

    A token never has more than its creator: the role is checked here and, at each
    use, lowered to the creator's current role. The token is shown only in this answer.
    """
    store = context(request).store
    user = accounts.get_user(store, principal.username)
    if user is None:
        raise HTTPException(401, "user no longer exists")
    role = body.role or principal.role
    if accounts.role_rank(role) > accounts.role_rank(principal.role):
        raise HTTPException(403, f"role: cannot create a token above your own role ({principal.role})")
    token_id, token = accounts.create_token(store, user, body.name, role)
    audit(request, principal, "token.create", str(token_id), name=body.name, token_role=role)
    return TokenCreated(id=token_id, token=token, role=role)  # type: ignore[arg-type]


@router.get("/tokens", response_model=list[TokenOut], tags=["tokens"])
def list_tokens(request: Request, _: Admin) -> list[TokenOut]:
    return [TokenOut(**t.__dict__) for t in accounts.list_tokens(context(request).store)]


@router.delete("/tokens/{token_id}", status_code=204, tags=["tokens"], responses={404: {}})
def revoke_token(
    request: Request,
    principal: Admin,
    token_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
) -> Response:
    ctx = context(request)
    if not accounts.revoke_token(ctx.store, token_id):
        raise HTTPException(404, "token_id: no such active token")
    ctx.auth_generation += 1  # open streams of this token re-check now
    audit(request, principal, "token.revoke", str(token_id))
    return Response(status_code=204)
