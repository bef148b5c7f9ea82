"""What every request handler shares: config, store, live pipeline hooks, redactor, limits."""

from __future__ import annotations

import base64
import binascii
import json
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import cv2
from fastapi import HTTPException, Request

from vigil.api.limits import AuditBudget, LoginLimiter, StreamSlots
from vigil.config.api import ApiConfig
from vigil.config.models import VigilConfig
from vigil.core import Frame, RedactedFrame
from vigil.storage.store import Store

if TYPE_CHECKING:
    from vigil.api.events import Broadcaster
    from vigil.api.live import LiveHub
    from vigil.redaction import Redactor


class FrameTap(Protocol):
    """Gives the newest raw frame of a camera (``LiveRunner.latest``); the API redacts it before use."""

    def latest(self, camera_id: str) -> Frame | None: ...


class JpegTap(Protocol):
    """Gives a camera's newest frame already redacted and encoded (a cluster's camera group, on its node)."""

    def redacted_jpeg(self, camera_id: str) -> bytes | None: ...


@dataclass(frozen=True)
class ApiSettings:
    """Security knobs of the API, from the ``api:`` section of the configuration (:class:`ApiConfig`).

    Tests build one directly to shorten intervals.
    """

    session_ttl: timedelta = timedelta(hours=12)
    secure_cookies: bool | Literal["auto"] = "auto"
    hsts_max_age_s: int = 31_536_000
    trusted_proxies: tuple[str, ...] = ()
    login_max_failures: int = 5
    login_max_failures_per_address: int = 20
    login_window_s: float = 300.0
    failed_login_audit_per_minute: int = 60
    max_body_bytes: int = 65_536
    live_fps: float = 2.0
    max_streams_per_user: int = 8
    max_streams: int = 64
    stream_recheck_s: float = 5.0
    poll_interval_s: float = 2.0

    @classmethod
    def from_config(cls, api: ApiConfig, **overrides: Any) -> ApiSettings:
        values: dict[str, Any] = {
            "session_ttl": timedelta(hours=api.session_hours),
            "secure_cookies": api.secure_cookies,
            "hsts_max_age_s": api.hsts_max_age_s,
            "trusted_proxies": tuple(str(n) for n in api.trusted_proxies),
            "login_max_failures": api.login_max_failures_per_user,
            "login_max_failures_per_address": api.login_max_failures_per_address,
            "login_window_s": api.login_window_s,
            "failed_login_audit_per_minute": api.failed_login_audit_per_minute,
            "max_body_bytes": api.max_body_bytes,
            "live_fps": api.live_fps,
            "max_streams_per_user": api.max_streams_per_user,
            "max_streams": api.max_streams,
            "stream_recheck_s": api.stream_recheck_s,
        }
        return cls(**(values | overrides))


@dataclass
class ApiContext:
    config: VigilConfig
    store: Store
    settings: ApiSettings
    broadcaster: Broadcaster
    runner: Any | None = None
    frame_tap: FrameTap | None = None
    jpeg_tap: JpegTap | None = None
    config_path: Path | None = None
    redactor: Redactor | None = None
    limiter: LoginLimiter = field(init=False)
    failed_login_audit: AuditBudget = field(init=False)
    streams: StreamSlots = field(init=False)
    live: LiveHub = field(init=False)
    #: Bumped on every logout and token revocation in this process, so open streams re-check at once.
    auth_generation: int = field(default=0, init=False)
    config_lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _redactor_lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        from vigil.api.live import LiveHub

        st = self.settings
        self.limiter = LoginLimiter(st.login_max_failures, st.login_max_failures_per_address, st.login_window_s)
        self.failed_login_audit = AuditBudget(st.failed_login_audit_per_minute)
        self.streams = StreamSlots(st.max_streams_per_user, st.max_streams)
        self.live = LiveHub(self.live_jpeg, 1.0 / st.live_fps)

    def live_jpeg(self, camera_id: str) -> bytes | None:
        """The camera's newest frame, redacted and encoded (``None`` without a frame)."""
        if self.frame_tap is None and self.jpeg_tap is not None:
            return self.jpeg_tap.redacted_jpeg(camera_id)  # redacted where the camera runs
        frame = self.frame_tap.latest(camera_id) if self.frame_tap is not None else None
        return None if frame is None else encode_jpeg(self.redact(frame))

    @property
    def media_dir(self) -> Path:
        return Path(self.config.storage.media_dir).resolve()

    def redact(self, frame: Frame) -> RedactedFrame:
        """Redact a raw frame; if the redactor cannot be built or fails, obscure it whole (fail closed)."""
        from vigil.redaction import Redactor

        try:
            with self._redactor_lock:
                if self.redactor is None:
                    self.redactor = Redactor(self.config.redaction)
                redactor = self.redactor
            out = redactor.redact(frame)
        except Exception:  # noqa: BLE001 - fail closed, never serve the raw frame
            return Redactor.fail_closed(frame)
        return out if isinstance(out, RedactedFrame) else Redactor.fail_closed(frame)


def context(request: Request) -> ApiContext:
    return request.app.state.vigil


def encode_jpeg(frame: RedactedFrame, quality: int = 85) -> bytes:
    """JPEG bytes of a redacted frame; raw frames are refused like the file writers do."""
    if not isinstance(frame, RedactedFrame):
        raise TypeError(f"refusing to encode {type(frame).__name__}: only RedactedFrame may leave memory")
    ok, buf = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("cannot encode frame as JPEG")
    return buf.tobytes()


def encode_cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Any:
    """The value inside an opaque cursor; a 400 naming ``cursor`` if it is not one of ours."""
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise HTTPException(400, "cursor: not a valid cursor") from exc
