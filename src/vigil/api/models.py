"""Request and response bodies of the JSON API (they also make the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from vigil.config.models import LineConfig, ZoneConfig

Role = Literal["viewer", "operator", "admin"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(_In):
    username: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=1024)


class LoginOut(BaseModel):
    username: str
    role: Role
    csrf_token: str


class Me(BaseModel):
    username: str
    role: Role


class TokenIn(_In):
    name: str = Field(min_length=1, max_length=128)
    role: Role | None = Field(None, description="What the token may do; at most, and by default, the creator's role.")


class TokenCreated(BaseModel):
    id: int
    token: str = Field(description="Shown once; only its hash is stored.")
    role: Role


class TokenOut(BaseModel):
    id: int
    name: str
    username: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class IncidentOut(BaseModel):
    id: str
    type: str
    camera_id: str
    state: Literal["open", "ended"]
    start_s: float
    end_s: float | None
    started_at: datetime
    ended_at: datetime | None
    bbox: list[float]
    confidence: float
    severity: int
    details: dict[str, Any]
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None
    resolution_note: str | None
    snapshot_url: str | None
    clip_url: str | None


class CommentOut(BaseModel):
    id: int
    author: str
    text: str
    created_at: datetime


class IncidentDetail(IncidentOut):
    events: list[dict[str, Any]]
    comments: list[CommentOut]


class IncidentPage(BaseModel):
    items: list[IncidentOut]
    next_cursor: str | None


class ResolveIn(_In):
    note: str = Field("", max_length=4000)


class CommentIn(_In):
    text: str = Field(min_length=1, max_length=4000)


class CameraOut(BaseModel):
    id: str
    name: str
    online: bool
    reconnects: int
    last_seen: datetime | None
    lat: float | None
    lon: float | None
    zones: list[dict[str, Any]]
    lines: list[dict[str, Any]]
    node: str | None = None  # the cluster node running the camera (vigil run --cluster); None when embedded


class ZonesIn(_In):
    zones: list[ZoneConfig] = Field(default_factory=list)
    lines: list[LineConfig] = Field(default_factory=list)


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: bool
    cameras_online: int


class AuditOut(BaseModel):
    id: int
    at: datetime
    user: str | None
    role: str | None
    action: str
    target: str | None
    source_ip: str | None
    detail: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditOut]
    next_cursor: str | None


class ServicesOut(BaseModel):
    services: list[dict[str, Any]]
    routing: list[dict[str, Any]]
