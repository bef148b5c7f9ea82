"""Message formats, chosen per service by name (``format: datex2``), independent of the transport.

=============  ===================================  =========================================
name           body                                 for
=============  ===================================  =========================================
cloudevents    CloudEvents 1.0 structured JSON      integrators (default for webhook, NATS)
event          ``IncidentEvent.to_dict()`` JSON     integrators (default for MQTT)
datex2         DATEX II v3 SituationPublication     traffic management centres
cap            OASIS CAP 1.2 alert                  fire brigades, civil protection
=============  ===================================  =========================================

A new format is a :class:`Format` subclass registered in :data:`FORMATS`; the
transports (webhook, MQTT, NATS) call ``encode`` and send what it returns.
"""

from __future__ import annotations

from typing import Any

from vigil.delivery.formats.base import (
    CameraInfo,
    Format,
    FormatContext,
    FormatError,
    IncidentView,
    Message,
)
from vigil.delivery.formats.cap import CapFormat
from vigil.delivery.formats.cloudevents import CloudEventsFormat, EventFormat, to_cloudevent
from vigil.delivery.formats.datex2 import Datex2Format

FORMATS: dict[str, type[Format]] = {f.name: f for f in (CloudEventsFormat, EventFormat, Datex2Format, CapFormat)}


def build_format(name: str, options: Any = None) -> Format:
    """The format called ``name`` with a service's ``format`` options (``None`` for defaults)."""
    try:
        cls = FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown format {name!r}; known: {', '.join(sorted(FORMATS))}") from None
    return cls(options)


__all__ = [
    "FORMATS",
    "CameraInfo",
    "CapFormat",
    "CloudEventsFormat",
    "Datex2Format",
    "EventFormat",
    "Format",
    "FormatContext",
    "FormatError",
    "IncidentView",
    "Message",
    "build_format",
    "to_cloudevent",
]
