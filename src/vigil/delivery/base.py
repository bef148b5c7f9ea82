"""What every transport returns; the retry schedule is :class:`vigil.core.backoff.Backoff`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from vigil.core.backoff import Backoff
from vigil.storage.records import OutboxItem

__all__ = ["DELIVERED", "Backoff", "DeliveryResult", "Outcome", "Sender"]


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
