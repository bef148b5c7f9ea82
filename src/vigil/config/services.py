"""Configuration of what a service receives: the message format and the NATS transport.

A service picks one transport (``webhook``, ``mqtt`` or ``nats``, in
:class:`~vigil.config.models.ServiceConfig`) and, independently, one message
format by name (``format: datex2`` or ``format: {type: datex2, country: nl}``).
The formats are plugins of :mod:`vigil.delivery.formats`; their options live
here so the whole configuration stays one strict schema.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CloudEventsFormat(_Strict):
    """CloudEvents 1.0, structured JSON mode; ``data`` is the incident event."""

    type: Literal["cloudevents"] = Field(title="Format", description="CloudEvents 1.0 structured JSON.")


class EventFormat(_Strict):
    """The incident event itself as JSON (``IncidentEvent.to_dict()``), no envelope."""

    type: Literal["event"] = Field(title="Format", description="Plain incident event JSON.")


class Datex2Format(_Strict):
    """DATEX II v3 SituationPublication (XML), one situation per incident."""

    type: Literal["datex2"] = Field(title="Format", description="DATEX II v3 situation publication.")
    country: str = Field(
        "xx",
        pattern=r"^[a-z]{2}$",
        title="Country",
        description="ISO 3166-1 alpha-2 code (lower case) of the publication creator; 'xx' when unset.",
    )
    national_identifier: str = Field(
        "vigil",
        min_length=1,
        max_length=1024,
        title="National identifier",
        description="Identifier of the publication creator within its country (given by the national DATEX node).",
    )
    lang: str = Field(
        "en", pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$", title="Language", description="Language of the texts."
    )
    confidentiality: Literal[
        "internalUse", "noRestriction", "restrictedToAuthorities", "restrictedToAuthoritiesAndTrafficOperators"
    ] = Field(
        "restrictedToAuthoritiesAndTrafficOperators",
        title="Confidentiality",
        description="headerInformation/confidentiality of every situation.",
    )
    information_status: Literal["real", "securityExercise", "technicalExercise", "test"] = Field(
        "real", title="Information status", description="headerInformation/informationStatus ('test' for trials)."
    )


class CapFormat(_Strict):
    """OASIS CAP 1.2 alert (XML), one alert per incident event."""

    type: Literal["cap"] = Field(title="Format", description="OASIS Common Alerting Protocol 1.2.")
    sender: str = Field(
        "vigil@localhost",
        min_length=1,
        pattern=r"^[^\s,<&]+$",
        title="Sender",
        description="alert/sender: globally unique originator id, e.g. vigil@city.example (no spaces or commas).",
    )
    sender_name: str = Field("Vigil", min_length=1, title="Sender name", description="info/senderName.")
    status: Literal["Actual", "Exercise", "System", "Test", "Draft"] = Field(
        "Actual", title="Status", description="alert/status; 'Exercise' or 'Test' for trials."
    )
    scope: Literal["Public", "Restricted", "Private"] = Field(
        "Restricted", title="Scope", description="alert/scope: who may see the alert."
    )
    restriction: str = Field(
        "For the emergency and traffic services Vigil reports to.",
        min_length=1,
        title="Restriction",
        description="alert/restriction, sent when scope is Restricted.",
    )
    addresses: list[str] = Field(
        default_factory=list,
        title="Addresses",
        description="alert/addresses, required when scope is Private (each without spaces).",
    )
    language: str = Field("en-US", min_length=2, title="Language", description="info/language (RFC 3066).")
    radius_km: float = Field(
        0.1, gt=0, le=100, title="Area radius (km)", description="Radius of the circle around the camera in info/area."
    )
    web: str | None = Field(
        None,
        pattern=r"^https?://",
        title="Console URL",
        description="Base URL of the operator console; info/web links to the incident page under it.",
    )

    @model_validator(mode="after")
    def _private_needs_addresses(self) -> CapFormat:
        if self.scope == "Private" and not self.addresses:
            raise ValueError("scope Private needs addresses")
        if any(not a or any(c.isspace() for c in a) for a in self.addresses):
            raise ValueError("addresses must be non-empty and contain no spaces")
        return self


FormatConfig = Annotated[
    CloudEventsFormat | EventFormat | Datex2Format | CapFormat,
    Field(discriminator="type"),
]
FORMAT_NAMES: tuple[str, ...] = ("cloudevents", "event", "datex2", "cap")


class NatsTarget(_Strict):
    """A NATS server with JetStream: a durable, replayable event bus (``pip install vigil[nats]``)."""

    servers: list[str] = Field(
        default_factory=lambda: ["nats://127.0.0.1:4222"],
        min_length=1,
        title="Servers",
        description="Server URLs (nats:// or tls://); the client fails over between them.",
    )
    subject_prefix: str = Field(
        "vigil",
        pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$",
        title="Subject prefix",
        description="Events go to <prefix>.incident.<type>.<state>.",
    )
    stream: str = Field(
        "VIGIL", pattern=r"^[A-Za-z0-9_-]+$", title="Stream", description="JetStream stream that stores the events."
    )
    manage_stream: bool = Field(
        True,
        title="Manage stream",
        description="Create the stream, or update it to this retention, on connect; off when an operator owns it.",
    )
    storage: Literal["file", "memory"] = Field(
        "file", title="Storage", description="Stream storage; 'file' survives a server restart."
    )
    replicas: int = Field(1, ge=1, le=5, title="Replicas", description="Stream replicas in a NATS cluster.")
    max_age_days: float = Field(
        7.0, gt=0, title="Retention (days)", description="Events older than this are removed from the stream."
    )
    max_msgs: int = Field(-1, ge=-1, title="Max messages", description="Stream message limit; -1 for none.")
    max_bytes: int = Field(-1, ge=-1, title="Max bytes", description="Stream size limit in bytes; -1 for none.")
    duplicate_window_s: float = Field(
        600.0,
        gt=0,
        title="Deduplication window (s)",
        description="The server drops a second publish with the same Nats-Msg-Id (the event id) within this time.",
    )
    user: str | None = Field(None, title="User", description="User name.")
    password: str | None = Field(None, title="Password", description="Password; use ${ENV_VAR}.")
    token: str | None = Field(None, title="Token", description="Authentication token; use ${ENV_VAR}.")
    timeout_s: float = Field(5.0, gt=0, title="Timeout (s)", description="Wait this long for a publish ack.")
    max_attempts: int = Field(10, ge=1, title="Max attempts", description="Attempts before an event is dead-lettered.")

    @model_validator(mode="after")
    def _urls(self) -> NatsTarget:
        bad = [s for s in self.servers if not s.startswith(("nats://", "tls://"))]
        if bad:
            raise ValueError(f"servers must be nats:// or tls:// URLs: {', '.join(bad)}")
        return self


class FeedsConfig(_Strict):
    """The pull feeds of the API: ``GET /api/datex2/situations`` and ``GET /api/cap``."""

    datex2: Datex2Format = Field(
        default_factory=lambda: Datex2Format(type="datex2"),
        title="DATEX II feed",
        description="Publication identity and options of the DATEX II pull endpoint.",
    )
    cap: CapFormat = Field(
        default_factory=lambda: CapFormat(type="cap"),
        title="CAP feed",
        description="Sender and options of the CAP alerts in the Atom index.",
    )
    keep_ended_s: float = Field(
        3600.0,
        ge=0,
        title="Keep ended (s)",
        description="An ended incident stays in the feeds this long (closed / Cancel) so pollers see its end.",
    )
    max_items: int = Field(500, ge=1, le=10000, title="Max items", description="Most incidents in one feed answer.")
