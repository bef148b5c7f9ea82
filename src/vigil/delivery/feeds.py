"""Pull feeds built from the store: a DATEX II v3 snapshot and a CAP 1.2 Atom index.

Push delivery sends each event as it happens; services that poll instead get the
current picture: every open incident, plus those ended within ``keep_ended_s``
(so a poller that missed the end still sees the closed DATEX II record or the
CAP ``Cancel``), newest change first, at their latest version.

The Atom index (RFC 4287) follows how CAP feeds are published: one entry per
incident, its ``link`` (``type="application/cap+xml"``) pointing to the alert of
the incident's latest message.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select

from vigil.config.services import CapFormat, Datex2Format
from vigil.delivery.formats import FormatContext, IncidentView
from vigil.delivery.formats.cap import MSG_TYPE, encode_alert, headline
from vigil.delivery.formats.datex2 import publication
from vigil.storage.db import Incident
from vigil.storage.store import Store

ATOM = "http://www.w3.org/2005/Atom"
ATOM_CONTENT_TYPE = "application/atom+xml; charset=utf-8"


def current_views(
    store: Store, ctx: FormatContext, keep_ended_s: float, limit: int, now: datetime | None = None
) -> list[IncidentView]:
    """Open incidents and those ended within ``keep_ended_s``, latest change first, each at its latest event."""
    cutoff = (now or datetime.now(UTC)) - timedelta(seconds=keep_ended_s)
    q = (
        select(Incident.incident_id)
        .where(or_(Incident.state == "open", Incident.ended_at >= cutoff))
        .order_by(Incident.updated_at.desc(), Incident.incident_id)
        .limit(limit)
    )
    with store.read_session() as s:
        ids = list(s.scalars(q))
    views = []
    for incident_id in ids:
        events = store.list_events(incident_id)
        if events:
            views.append(IncidentView.of(events[-1], events))
    return views


def datex2_snapshot(views: list[IncidentView], ctx: FormatContext, options: Datex2Format) -> bytes:
    """One SituationPublication with every located incident; cameras without a position are left out."""
    items = [(v, ctx.camera(v.camera_id)) for v in views]
    return publication([(v, c) for v, c in items if c.located], options)


def cap_alert(store: Store, ctx: FormatContext, incident_id: str, options: CapFormat) -> bytes | None:
    """The CAP alert of an incident's latest message, or None for an unknown incident."""
    events = store.list_events(incident_id)
    if not events:
        return None
    view = IncidentView.of(events[-1], events)
    return encode_alert(view, ctx.camera(view.camera_id), options)


def _atom_time(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="seconds")


def cap_atom_index(
    views: list[IncidentView],
    ctx: FormatContext,
    options: CapFormat,
    self_url: str,
    alert_url: Callable[[str], str],
) -> bytes:
    """An Atom feed with one entry per incident, linking to its current CAP alert."""

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: Any) -> ET.Element:
        el = ET.SubElement(parent, tag, {k: str(v) for k, v in attrs.items()})
        if text is not None:
            el.text = text
        return el

    feed = ET.Element("feed", {"xmlns": ATOM})  # unqualified names in the Atom default namespace
    sub(feed, "id", f"urn:vigil:cap:{options.sender}")
    sub(feed, "title", f"{options.sender_name} CAP alerts")
    sub(feed, "updated", _atom_time(max((v.at for v in views), default=datetime.now(UTC))))
    sub(sub(feed, "author"), "name", options.sender_name)
    sub(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    for view in views:
        camera = ctx.camera(view.camera_id)
        entry = sub(feed, "entry")
        sub(entry, "id", f"urn:vigil:incident:{view.incident_id}")
        sub(entry, "title", headline(view, camera))
        sub(entry, "updated", _atom_time(view.at))
        sub(entry, "published", _atom_time(view.started_at))
        msg_type = MSG_TYPE.get(view.state, "Update")
        sub(entry, "category", term=msg_type, scheme="urn:oasis:names:tc:emergency:cap:1.2:msgType")
        sub(entry, "category", term=view.type, scheme="urn:vigil:incident-type")
        sub(entry, "summary", f"{view.type.replace('_', ' ')} on camera {camera.label}, severity {view.severity} of 5")
        sub(entry, "link", rel="alternate", type="application/cap+xml", href=alert_url(view.incident_id))
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
