"""ASGI middleware of the API: request body limits, security headers, trusted proxies, error bodies.

Order (outermost first): trusted-proxy headers set the client address and scheme,
then security headers are added to every response, then bodies are limited.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from vigil.api.context import ApiSettings

LOGIN_BODY_BYTES = 8 * 1024
ZONES_BODY_BYTES = 1024 * 1024
_ZONES = re.compile(r"^/api/cameras/[^/]+/zones$")

# For API answers (JSON, JPEG, MP4): nothing in them may run, be framed or leak the URL elsewhere.
API_HEADERS = {
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-resource-policy": "same-origin",
    "cache-control": "no-store",
}
# Every other answer (pages set their own CSP; these are the floor).
BASE_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a body passes its limit; FastAPI turns it into a 413 answer."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body too large: at most {limit} bytes here", headers={"Connection": "close"})


def body_limit(settings: ApiSettings) -> Callable[[str, str], int]:
    """The body limit per route: small for login, larger for zone edits, ``max_body_bytes`` elsewhere."""

    def limit_for(method: str, path: str) -> int:
        if method == "POST" and path == "/api/auth/login":
            return LOGIN_BODY_BYTES
        if method == "PUT" and _ZONES.match(path):
            return max(ZONES_BODY_BYTES, settings.max_body_bytes)
        return settings.max_body_bytes

    return limit_for


async def _reject(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """Refuse request bodies over the route's limit without buffering them.

    A ``Content-Length`` over the limit is answered 413 before a byte of the body
    is read (the server then closes the connection); a chunked body is counted as
    it arrives and cut off with 413 as soon as it passes the limit.
    """

    def __init__(self, app: ASGIApp, limit_for: Callable[[str, str], int]) -> None:
        self.app, self.limit_for = app, limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await _reject(send, 400, "Content-Length: not a number")
                return
            if declared > limit:
                await _reject(send, 413, f"request body too large: at most {limit} bytes here")
                return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge as exc:
            if started:
                raise
            await _reject(send, 413, str(exc.detail))


class SecurityHeadersMiddleware:
    """Add security headers to every answer (those a route set itself win); HSTS when served over TLS."""

    def __init__(self, app: ASGIApp, hsts_max_age_s: int) -> None:
        self.app = app
        self.hsts = f"max-age={hsts_max_age_s}; includeSubDomains".encode() if hsts_max_age_s > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        defaults = API_HEADERS if scope["path"].startswith("/api/") else BASE_HEADERS
        tls = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k.encode(), v.encode()) for k, v in defaults.items() if k.encode() not in present]
                if tls and self.hsts is not None and b"strict-transport-security" not in present:
                    headers.append((b"strict-transport-security", self.hsts))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    """422 without the submitted values: FastAPI's default echoes ``input`` (a login's password, say)."""
    assert isinstance(exc, RequestValidationError)
    errors = [{k: v for k, v in e.items() if k not in ("input", "url")} for e in exc.errors()]
    return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)


def install(app: FastAPI, settings: ApiSettings) -> None:
    """Add the middleware (and the validation error handler) to ``app``."""
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_middleware(BodyLimitMiddleware, limit_for=body_limit(settings))
    app.add_middleware(SecurityHeadersMiddleware, hsts_max_age_s=settings.hsts_max_age_s)
    if settings.trusted_proxies:
        trusted: Any = list(settings.trusted_proxies)
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=trusted)
