"""Who is calling: session cookie (with CSRF header on mutations) or bearer token, and their role.

Every protected route depends on :func:`authenticated` (or :func:`require`),
so a route without it is visible in the route/role table test rather than
silently public.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import Depends, HTTPException, Request

from vigil.api.context import ApiContext, context
from vigil.storage import accounts, console
from vigil.storage.store import Store

if TYPE_CHECKING:
    from vigil.api.live import StreamGuard

SESSION_COOKIE = "vigil_session"
CSRF_COOKIE = "vigil_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Principal:
    """The caller. ``credential`` (cookie value or bearer token) lets open streams re-check it later."""

    username: str
    role: str
    via: Literal["session", "token"]
    session_token: str | None = None
    credential: str | None = field(default=None, repr=False, compare=False)
    token_id: int | None = None


def still_valid(store: Store, principal: Principal) -> bool:
    """Whether the principal's session or token is still live, its user enabled and its role not lowered."""
    if principal.credential is None:
        return False
    if principal.via == "session":
        session = accounts.get_session(store, principal.credential)
        role = session.user.role if session is not None else None
    else:
        found = accounts.user_for_token(store, principal.credential, touch=False)
        role = found.role if found is not None else None
    return role is not None and accounts.role_rank(role) >= accounts.role_rank(principal.role)


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
        found = accounts.user_for_token(store, token.strip())
        if found is None:
            raise _unauthorized("invalid or revoked token")
        principal = Principal(
            found.user.username, found.role, "token", credential=token.strip(), token_id=found.token_id
        )
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        session = accounts.get_session(store, cookie) if cookie else None
        if session is None:
            raise _unauthorized()
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
                raise HTTPException(403, f"{CSRF_HEADER}: missing or wrong CSRF token")
        principal = Principal(session.user.username, session.user.role, "session", cookie, credential=cookie)
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
        detail={k: v for k, v in detail.items() if v is not None} | _via(principal),
    )


def _via(principal: Principal | None) -> dict[str, Any]:
    if principal is None:
        return {}
    return {"via": principal.via} | ({"token_id": principal.token_id} if principal.token_id is not None else {})


def over_tls(request: Request) -> bool:
    """Whether the client reached us over TLS: directly, or via a trusted proxy's ``X-Forwarded-Proto``.

    ``scope["scheme"]`` is rewritten from that header only for peers in
    ``api.trusted_proxies`` (see :mod:`vigil.api.middleware`), so a client cannot claim TLS.
    """
    return request.url.scheme == "https"


def secure_cookies(request: Request) -> bool:
    """Whether cookies set on this response get the ``Secure`` attribute (``api.secure_cookies``)."""
    setting = context(request).settings.secure_cookies
    return over_tls(request) if setting == "auto" else bool(setting)


def stream_guard(ctx: ApiContext, principal: Principal) -> StreamGuard:
    """A :class:`~vigil.api.live.StreamGuard` re-checking ``principal`` every ``stream_recheck_s``."""
    from vigil.api.live import StreamGuard

    return StreamGuard(
        lambda: still_valid(ctx.store, principal), ctx.settings.stream_recheck_s, lambda: ctx.auth_generation
    )
