"""Who is calling: session cookie (with CSRF header on mutations) or bearer token, and their role.

Every protected route depends on :func:`authenticated` (or :func:`require`),
so a route without it is visible in the route/role table test rather than
silently public.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, HTTPException, Request

from vigil.api.context import context
from vigil.storage import accounts, console

SESSION_COOKIE = "vigil_session"
CSRF_COOKIE = "vigil_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Principal:
    username: str
    role: str
    via: Literal["session", "token"]
    session_token: str | None = None


def _unauthorized(message: str = "authentication required") -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


def authenticated(request: Request) -> Principal:
    """The caller, or 401. Cookie sessions must echo the CSRF token on mutating requests (403)."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    store = context(request).store
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("Authorization: expected 'Bearer <token>'")
        user = accounts.user_for_token(store, token.strip())
        if user is None:
            raise _unauthorized("invalid or revoked token")
        principal = Principal(user.username, user.role, "token")
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        session = accounts.get_session(store, cookie) if cookie else None
        if session is None:
            raise _unauthorized()
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
                raise HTTPException(403, f"{CSRF_HEADER}: missing or wrong CSRF token")
        principal = Principal(session.user.username, session.user.role, "session", cookie)
    request.state.principal = principal
    return principal


def require(role: str) -> Callable[..., Principal]:
    """A dependency admitting ``role`` and the roles above it."""

    def dependency(principal: Annotated[Principal, Depends(authenticated)]) -> Principal:
        if accounts.role_rank(principal.role) < accounts.role_rank(role):
            raise HTTPException(403, f"requires role {role} or higher")
        return principal

    dependency.__name__ = f"require_{role}"
    return dependency


CurrentUser = Annotated[Principal, Depends(authenticated)]
Operator = Annotated[Principal, Depends(require("operator"))]
Admin = Annotated[Principal, Depends(require("admin"))]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def audit(request: Request, principal: Principal | None, action: str, target: str | None = None, **detail: Any) -> None:
    """Write an audit row for this request (user, role, time, source address)."""
    console.audit(
        context(request).store,
        action,
        user=principal.username if principal else detail.pop("username", None),
        role=principal.role if principal else None,
        target=target,
        source_ip=client_ip(request),
        detail={k: v for k, v in detail.items() if v is not None} | ({"via": principal.via} if principal else {}),
    )
