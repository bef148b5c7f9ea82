"""The ``api:`` section: how the console and REST API treat proxies, cookies, logins and live streams.

Defaults suit a console on loopback or behind a TLS-terminating reverse proxy that
is listed in ``trusted_proxies``; nothing here needs changing to stay safe.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, IPvAnyNetwork, model_validator


class ApiConfig(BaseModel):
    """Security and resource limits of the operator console and API."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    trusted_proxies: list[IPvAnyNetwork] = Field(
        default_factory=list,
        title="Trusted proxies",
        description=(
            "Addresses or networks (10.0.0.5, 10.0.0.0/24, ::1) of reverse proxies whose X-Forwarded-For and "
            "X-Forwarded-Proto headers are believed. Empty (the default): those headers are ignored from everyone, "
            "so the audit log and the login limiter see the real peer address."
        ),
    )
    secure_cookies: Literal["auto"] | bool = Field(
        "auto",
        title="Secure cookies",
        description=(
            "Mark the session and CSRF cookies Secure. 'auto': when the request came over TLS, directly or through "
            "a trusted proxy that says X-Forwarded-Proto: https."
        ),
    )
    hsts_max_age_s: int = Field(
        31_536_000,
        ge=0,
        title="HSTS max-age (s)",
        description="Strict-Transport-Security sent on responses served over TLS; 0 sends none.",
    )
    tls_certfile: Path | None = Field(
        None, title="TLS certificate", description="PEM certificate (chain) to serve HTTPS directly; needs the key."
    )
    tls_keyfile: Path | None = Field(None, title="TLS key", description="PEM private key of tls_certfile.")
    session_hours: float = Field(12.0, gt=0, le=24 * 30, title="Session length (h)", description="Login lifetime.")
    login_window_s: float = Field(
        300.0, gt=0, title="Login window (s)", description="Failed logins are counted over this sliding window."
    )
    login_max_failures_per_user: int = Field(
        5, ge=1, title="Failures per user", description="Failed logins for one user name within the window."
    )
    login_max_failures_per_address: int = Field(
        20, ge=1, title="Failures per address", description="Failed logins from one client address within the window."
    )
    failed_login_audit_per_minute: int = Field(
        60,
        ge=1,
        title="Failed-login audit rows per minute",
        description="Beyond this, failed logins are counted and written as one summary row per minute.",
    )
    max_body_bytes: int = Field(
        65_536,
        ge=1024,
        title="Request body limit (bytes)",
        description="Largest request body accepted by API routes (login: 8 KiB; zone edits: 1 MiB).",
    )
    live_fps: float = Field(2.0, gt=0, le=15, title="Live view fps", description="Frame rate of the MJPEG live view.")
    max_streams_per_user: int = Field(
        8, ge=1, title="Streams per user", description="Open live views and event streams one user may hold at once."
    )
    max_streams: int = Field(
        64, ge=1, title="Streams in all", description="Open live views and event streams for all users together."
    )
    stream_recheck_s: float = Field(
        5.0,
        gt=0,
        le=60,
        title="Stream re-check (s)",
        description="Open streams re-check their session or token this often and close once it is gone.",
    )

    @model_validator(mode="after")
    def _tls_pair(self) -> ApiConfig:
        if (self.tls_certfile is None) != (self.tls_keyfile is None):
            raise ValueError("tls_certfile and tls_keyfile go together")
        return self
