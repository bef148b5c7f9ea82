"""In-memory limits of the API: failed logins, failed-login audit rows, open streams.

All are bounded in memory whatever a client sends: counters live in an LRU
``OrderedDict`` capped at ``max_keys`` whose expired entries are dropped from the
old end as new ones arrive (amortised O(1) per failure, never a rebuild of the
whole table).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable


class FailureWindow:
    """Failures per key over a sliding window; ``limit`` of them within ``window_s`` blocks the key.

    Only the newest ``limit`` timestamps of a key are kept, which is all the check
    needs: the key is blocked while the oldest of them is younger than the window.

    Parameters
    ----------
    limit : int
        Failures within the window that block the key.
    window_s : float
        Length of the sliding window.
    max_keys : int
        Most keys remembered. Past it the least recently failed key is forgotten;
        filling the table therefore takes ``max_keys`` fresh failures, which the other
        limits (per address) make slow.
    clock : callable
        Monotonic seconds (tests pass a fake one).
    """

    def __init__(
        self, limit: int, window_s: float, max_keys: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit, self.window_s, self.max_keys = limit, window_s, max_keys
        self._clock = clock
        self._fails: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._fails)

    def _expire(self, now: float) -> None:
        while self._fails:
            key, q = next(iter(self._fails.items()))
            if now - q[-1] < self.window_s:
                return
            del self._fails[key]

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may try again (0 when it is not blocked)."""
        now = self._clock()
        with self._lock:
            q = self._fails.get(key)
            if q is None or len(q) < self.limit:
                return 0.0
            return max(0.0, self.window_s - (now - q[0]))

    def fail(self, key: str) -> bool:
        """Count a failure; returns whether ``key`` is now blocked."""
        now = self._clock()
        with self._lock:
            self._expire(now)
            q = self._fails.get(key)
            if q is None:
                q = self._fails[key] = deque(maxlen=self.limit)
            else:
                self._fails.move_to_end(key)
            q.append(now)
            while len(self._fails) > self.max_keys:
                self._fails.popitem(last=False)
            return len(q) >= self.limit and now - q[0] < self.window_s

    def reset(self, key: str) -> None:
        with self._lock:
            self._fails.pop(key, None)


class LoginLimiter:
    """Failed logins limited per user name and, separately, per client address.

    Per user name, a password guesser spreading over many addresses is stopped;
    per address, one client spraying many user names is. A successful login clears
    its user name's count but not its address's, so an attacker holding one valid
    account cannot reset the address limit between guesses at others.
    """

    def __init__(
        self,
        per_user: int,
        per_address: int,
        window_s: float,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.users = FailureWindow(per_user, window_s, max_keys, clock)
        self.addresses = FailureWindow(per_address, window_s, max_keys, clock)

    @staticmethod
    def _user(username: str) -> str:
        return username.strip().casefold()

    def retry_after(self, username: str, address: str) -> float:
        return max(self.users.retry_after(self._user(username)), self.addresses.retry_after(address))

    def fail(self, username: str, address: str) -> bool:
        """Count a failure for both; returns whether either is now blocked."""
        by_user = self.users.fail(self._user(username))
        return self.addresses.fail(address) or by_user

    def succeeded(self, username: str) -> None:
        self.users.reset(self._user(username))


class AuditBudget:
    """At most ``per_minute`` rows per minute for an event that clients can trigger at will (failed logins).

    :meth:`take` says whether this one may be written and how many were left
    unwritten since the last row, so that count goes into the next row written.
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._start = clock()
        self._used = 0
        self._suppressed = 0
        self._lock = threading.Lock()

    def take(self) -> tuple[bool, int]:
        now = self._clock()
        with self._lock:
            if now - self._start >= 60.0:
                self._start, self._used = now, 0
            if self._used < self.per_minute:
                self._used += 1
                suppressed, self._suppressed = self._suppressed, 0
                return True, suppressed
            self._suppressed += 1
            return False, 0


class StreamLease:
    """One held stream slot; :meth:`release` is idempotent (called from the stream and its cleanup)."""

    def __init__(self, slots: StreamSlots, user: str) -> None:
        self._slots, self.user = slots, user
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._slots._release(self.user)


class StreamSlots:
    """Open long-lived responses (live views, event streams) per user and in all."""

    def __init__(self, per_user: int, total: int) -> None:
        self.per_user, self.total = per_user, total
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, user: str) -> StreamLease | None:
        """A lease, or ``None`` when the user (or the server) has no slot left."""
        with self._lock:
            if self._open.get(user, 0) >= self.per_user or sum(self._open.values()) >= self.total:
                return None
            self._open[user] = self._open.get(user, 0) + 1
        return StreamLease(self, user)

    def _release(self, user: str) -> None:
        with self._lock:
            n = self._open.get(user, 0) - 1
            if n > 0:
                self._open[user] = n
            else:
                self._open.pop(user, None)

    def held(self, user: str | None = None) -> int:
        with self._lock:
            return self._open.get(user, 0) if user is not None else sum(self._open.values())
