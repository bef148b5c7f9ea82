"""What every request handler shares: config, store, live pipeline hooks, redactor, limits."""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import cv2
from fastapi import HTTPException, Request

from vigil.config.models import VigilConfig
from vigil.core import Frame, RedactedFrame
from vigil.storage.store import Store

if TYPE_CHECKING:
    from vigil.api.events import Broadcaster
    from vigil.redaction import Redactor


class FrameTap(Protocol):
    """Gives the newest raw frame of a camera (``LiveRunner.latest``); the API redacts it before use."""

    def latest(self, camera_id: str) -> Frame | None: ...


@dataclass(frozen=True)
class ApiSettings:
    """Security knobs of the API (defaults suit a console behind TLS-terminating proxy or on localhost)."""

    session_ttl: timedelta = timedelta(hours=12)
    secure_cookies: bool = False
    login_max_failures: int = 5
    login_window_s: float = 60.0
    live_fps: float = 2.0
    poll_interval_s: float = 2.0


class LoginLimiter:
    """Counts failed logins per (username, address); too many within the window blocks further tries."""

    def __init__(self, max_failures: int, window_s: float) -> None:
        self.max_failures, self.window_s = max_failures, window_s
        self._fails: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        q = self._fails.setdefault(key, deque())
        while q and now - q[0] > self.window_s:
            q.popleft()
        return q

    def retry_after(self, key: tuple[str, str]) -> float:
        """Seconds until ``key`` may try again (0 when not blocked)."""
        now = time.monotonic()
        with self._lock:
            q = self._recent(key, now)
            return self.window_s - (now - q[0]) if len(q) >= self.max_failures else 0.0

    def fail(self, key: tuple[str, str]) -> None:
        now = time.monotonic()
        with self._lock:
            self._recent(key, now).append(now)
            if len(self._fails) > 10_000:  # bound memory under a spray of usernames
                self._fails = {k: v for k, v in self._fails.items() if v}

    def reset(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._fails.pop(key, None)


@dataclass
class ApiContext:
    config: VigilConfig
    store: Store
    settings: ApiSettings
    broadcaster: Broadcaster
    runner: Any | None = None
    frame_tap: FrameTap | None = None
    config_path: Path | None = None
    redactor: Redactor | None = None
    limiter: LoginLimiter = field(init=False)
    _redactor_lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self.limiter = LoginLimiter(self.settings.login_max_failures, self.settings.login_window_s)

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
