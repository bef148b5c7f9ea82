"""What every transport returns, and the retry schedule shared by all of them."""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from vigil.storage.records import OutboxItem


class Outcome(StrEnum):
    """How one delivery attempt ended.

    ``UNAVAILABLE`` (cannot connect at all) is kept apart from ``RETRY`` (the
    receiver was reached but failed, or may have missed it): while a receiver or
    broker is down, attempts are not charged to events, so an outage of any
    length dead-letters nothing.
    """

    DELIVERED = "delivered"
    RETRY = "retry"
    DEAD = "dead"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class DeliveryResult:
    outcome: Outcome
    error: str | None = None
    retry_after_s: float | None = None  # what the receiver asked for (HTTP Retry-After)


DELIVERED = DeliveryResult(Outcome.DELIVERED)


class Sender(Protocol):
    """One transport to one service. ``send`` is called from a single thread."""

    def start(self) -> None: ...

    def send(self, item: OutboxItem) -> DeliveryResult: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: ``base_s * factor**(n-1)``, capped at ``max_s``.

    The delay is drawn uniformly from its upper half ("equal jitter"): the
    jitter spreads the retries of many events (and many Vigil instances) after an
    outage so they do not hit the receiver at once, while the lower half keeps a
    minimum spacing between two tries.
    """

    base_s: float = 1.0
    max_s: float = 300.0
    factor: float = 2.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after the ``attempt``-th failure (1-based)."""
        d = min(self.max_s, self.base_s * self.factor ** max(0, attempt - 1))
        return d / 2 + random.uniform(0, d / 2)  # not for security: only spreads retries
