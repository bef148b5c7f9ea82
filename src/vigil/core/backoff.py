"""The one retry schedule of Vigil: camera reconnects, deliveries, the event journal's replays.

Kept in ``core`` because sources, delivery and the pipeline all use it and none
of them should import another for it.
"""

from __future__ import annotations

import random
from collections.abc import Callable


class Backoff:
    """Exponential delays with jitter: ``initial_s * factor**(n-1)``, capped at ``max_s``, less up to ``jitter`` of it.

    Jitter spreads the retries of many cameras that lost the same switch, or of
    many events after a receiver's outage, so that they do not all arrive at the
    same instant. It only shortens a delay, so ``max_s`` is a true upper bound,
    and ``jitter=0.5`` draws from the upper half ("equal jitter"), which keeps a
    minimum spacing between two tries.

    The schedule is used either without state (:meth:`delay` of the n-th
    failure, for an outbox row that counts its own attempts) or with it
    (:meth:`next_delay` and :meth:`reset`, for a reconnect loop).

    Parameters
    ----------
    initial_s : float
        Delay after the first failure, before jitter.
    max_s : float
        Cap of the delay.
    factor : float
        Growth per failure (>= 1).
    jitter : float
        Share of the delay that is randomly taken off (0 <= jitter < 1).
    rng : callable
        Uniform [0, 1) numbers; tests pin it.
    """

    def __init__(
        self,
        initial_s: float = 1.0,
        max_s: float = 300.0,
        factor: float = 2.0,
        jitter: float = 0.5,
        rng: Callable[[], float] = random.random,  # not for security: only spreads retries
    ) -> None:
        if max_s <= 0 or initial_s <= 0 or factor < 1 or not 0 <= jitter < 1:
            raise ValueError("need max_s > 0, initial_s > 0, factor >= 1 and 0 <= jitter < 1")
        self.initial_s, self.max_s, self.factor, self.jitter = initial_s, max_s, factor, jitter
        self._rng = rng
        self.attempts = 0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after the ``attempt``-th failure (1-based); does not change :attr:`attempts`."""
        base = min(self.max_s, self.initial_s * self.factor ** min(max(0, attempt - 1), 64))
        return base * (1.0 - self.jitter * self._rng())

    def next_delay(self) -> float:
        """The delay after one more failure, counted in :attr:`attempts`."""
        self.attempts += 1
        return self.delay(self.attempts)

    def reset(self) -> None:
        """A success: the next failure waits ``initial_s`` again."""
        self.attempts = 0
