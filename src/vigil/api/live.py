"""Long-lived responses: one redacted live feed per camera for all its viewers, and stream guards.

:class:`LiveHub` runs one producer per watched camera: it takes the newest raw
frame, redacts and encodes it once, and hands the same JPEG to every viewer, so
eight viewers cost what one does. The producer stops when the last viewer leaves.

:class:`StreamGuard` is how an open stream notices that its session ended, its
token was revoked or its user was disabled (``vigil user disable`` runs in another
process): it re-checks the credential against the database every
``stream_recheck_s`` seconds, and at once after a logout or revocation in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import anyio
from starlette.concurrency import run_in_threadpool

log = logging.getLogger(__name__)


@dataclass
class _Feed:
    camera_id: str
    viewers: int = 0
    seq: int = 0
    jpeg: bytes | None = None
    task: asyncio.Task[None] | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)


class LiveHub:
    """Shared per-camera producers of redacted JPEG frames.

    Parameters
    ----------
    produce : callable
        ``produce(camera_id) -> bytes | None``: the newest frame redacted and
        encoded (blocking; run in a worker thread). It must redact: the hub only
        shares what it returns.
    interval_s : float
        Time between frames.
    """

    def __init__(self, produce: Callable[[str], bytes | None], interval_s: float) -> None:
        self._produce = produce
        self.interval_s = interval_s
        self._feeds: dict[str, _Feed] = {}
        self.frames_produced = 0

    def viewers(self, camera_id: str) -> int:
        feed = self._feeds.get(camera_id)
        return feed.viewers if feed else 0

    async def _run(self, feed: _Feed) -> None:
        while feed.viewers > 0:
            t0 = time.monotonic()
            try:
                jpeg = await run_in_threadpool(self._produce, feed.camera_id)
            except Exception:
                log.exception("live frame for camera %s failed", feed.camera_id)
                jpeg = None
            if jpeg is not None:
                self.frames_produced += 1
                feed.jpeg, feed.seq = jpeg, feed.seq + 1
                feed.ready.set()
                feed.ready = asyncio.Event()
            await asyncio.sleep(max(0.0, self.interval_s - (time.monotonic() - t0)))

    @contextlib.asynccontextmanager
    async def watch(self, camera_id: str) -> AsyncIterator[_Viewer]:
        """Be a viewer of ``camera_id`` for the duration of the ``async with``."""
        feed = self._feeds.get(camera_id)
        if feed is None:
            feed = self._feeds[camera_id] = _Feed(camera_id)
        feed.viewers += 1
        if feed.task is None or feed.task.done():
            feed.task = asyncio.get_running_loop().create_task(self._run(feed), name=f"vigil-live-{camera_id}")
        try:
            yield _Viewer(feed)
        finally:
            feed.viewers -= 1
            if feed.viewers == 0:
                if feed.task is not None:
                    feed.task.cancel()
                self._feeds.pop(camera_id, None)


class _Viewer:
    def __init__(self, feed: _Feed) -> None:
        self._feed = feed
        self._seen = 0

    async def next(self, timeout_s: float) -> bytes | None:
        """The next frame this viewer has not had yet, or ``None`` after ``timeout_s``."""
        feed = self._feed
        if feed.seq == self._seen:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(feed.ready.wait(), timeout_s)
        if feed.seq == self._seen or feed.jpeg is None:
            return None
        self._seen = feed.seq
        return feed.jpeg


class StreamGuard:
    """Tells an open stream whether its caller is still allowed to receive it.

    Parameters
    ----------
    check : callable
        Blocking ``check() -> bool``: the session or token is still valid and its user
        enabled (run in a worker thread).
    recheck_s : float
        Longest time between two checks.
    generation : callable
        The current logout/revocation counter of this process; a change forces a check.
    """

    def __init__(self, check: Callable[[], bool], recheck_s: float, generation: Callable[[], int]) -> None:
        self._check, self.recheck_s, self._generation = check, recheck_s, generation
        self._last = time.monotonic()
        self._seen_generation = generation()
        self.revoked = False

    async def allowed(self) -> bool:
        if self.revoked:
            return False
        gen = self._generation()
        if gen == self._seen_generation and time.monotonic() - self._last < self.recheck_s:
            return True
        self._seen_generation, self._last = gen, time.monotonic()
        try:
            ok = await run_in_threadpool(self._check)
        except Exception:
            log.exception("re-checking a stream's credentials failed; closing it")
            ok = False
        self.revoked = not ok
        return ok


async def shielded(fn: Callable[[], object]) -> None:
    """Run blocking ``fn`` in a worker thread even while the stream is being cancelled (its closing audit row)."""
    with anyio.CancelScope(shield=True):
        try:
            await run_in_threadpool(fn)
        except Exception:
            log.exception("closing a stream failed")
