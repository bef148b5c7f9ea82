"""The configuration schema. Unknown keys are errors; every field is documented.

Coordinates of zones and lines are normalised to the frame (0..1 from the
top-left corner), so a camera can change resolution without redrawing them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from vigil.config.api import ApiConfig
from vigil.config.cluster import ClusterConfig
from vigil.config.rules import RulesConfig
from vigil.config.services import FeedsConfig, FormatConfig, NatsTarget
from vigil.detection.config import ObjectDetectorConfig
from vigil.redaction.config import RedactionConfig

ZoneKind = Literal["roadway", "street", "crossing", "sidewalk", "tracks", "restricted", "crowd-area"]
#: Zone kinds where vehicles drive: the vehicle rules (stopped, wrong way, congestion) and animals look at them.
CARRIAGEWAY_KINDS: tuple[str, ...] = ("roadway", "street")
IncidentType = Literal[
    "stopped_vehicle", "wrong_way", "pedestrian", "animal", "collision", "fire", "smoke", "crowd", "congestion"
]
INCIDENT_TYPES: tuple[str, ...] = IncidentType.__args__  # type: ignore[attr-defined]
Point = tuple[float, float]
#: Ids that the console may write (zones, lines): plain names, never markup, paths or ``${...}``.
ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_unit(points: list[Point], what: str) -> list[Point]:
    for x, y in points:
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ValueError(f"{what} point ({x}, {y}) is outside the frame; use 0..1 coordinates")
    return points


class ZoneConfig(_Strict):
    """A polygon on a camera's image with a meaning."""

    id: str = Field(
        pattern=ID_PATTERN, title="Zone id", description="Unique within the camera: 1-64 of A-Z a-z 0-9 _ . -"
    )
    kind: ZoneKind = Field(
        title="Kind",
        description="What the area is. roadway: a carriageway where people on foot are not expected (motorway, "
        "expressway, tunnel, bridge); a person on foot there is an incident. street: an urban carriageway that "
        "people cross on foot; only a person who is down, or who stays still on it, is an incident. crossing: a "
        "pedestrian crossing inside a roadway, where people on foot are allowed. sidewalk: footway, verge. "
        "tracks: rail tracks. restricted: any area closed to people. crowd-area: where crowd density is measured. "
        "Vehicle rules and animals look at roadway and street zones.",
    )
    polygon: list[Point] = Field(
        min_length=3, title="Polygon", description="Corners as [x, y] in 0..1 of the frame width/height."
    )
    direction: Point | None = Field(
        None,
        title="Lane direction",
        description="Roadway and street only: the direction traffic must move, as a vector [dx, dy] in image "
        "coordinates.",
    )
    area_m2: float | None = Field(
        None, gt=0, title="Area (m²)", description="Real ground area, for crowd density in people per m²."
    )

    @field_validator("polygon")
    @classmethod
    def _unit(cls, v: list[Point]) -> list[Point]:
        return _check_unit(v, "polygon")

    @model_validator(mode="after")
    def _direction(self) -> ZoneConfig:
        if self.direction is not None:
            if self.kind not in CARRIAGEWAY_KINDS:
                raise ValueError("direction is only meaningful for roadway and street zones")
            if self.direction[0] == 0 and self.direction[1] == 0:
                raise ValueError("direction must not be the zero vector")
        return self


class LineConfig(_Strict):
    """A counting line; crossings are counted per direction."""

    id: str = Field(
        pattern=ID_PATTERN, title="Line id", description="Unique within the camera: 1-64 of A-Z a-z 0-9 _ . -"
    )
    points: tuple[Point, Point] = Field(title="End points", description="Two [x, y] points in 0..1 of the frame.")

    @field_validator("points")
    @classmethod
    def _unit(cls, v: tuple[Point, Point]) -> tuple[Point, Point]:
        _check_unit(list(v), "line")
        return v


class DecodeConfig(_Strict):
    """How a camera's video is decoded: only what analysis needs (see docs/4k-gpu.md)."""

    skip_nonref: bool = Field(
        True,
        title="Skip non-reference frames",
        description="Let the decoder drop frames no other frame is predicted from (most B-frames) while the "
        "frames left still come at least at the camera's analytic fps; the frames kept are decoded exactly as "
        "in a full decode, and evidence clips are decoded afresh from the camera's compressed stream. "
        "Streams without such frames (most I/P-only cameras) are decoded in full either way.",
    )
    analysis_max_width: int | None = Field(
        1920,
        ge=64,
        title="Analysis width (px)",
        description="Frames wider than this are analysed scaled down to this width (scaled while converted from "
        "the decoder's YUV, in one pass); snapshots and clips are still cut at full resolution from the "
        "compressed stream and redacted there, and event boxes are given in full-resolution pixels. "
        "Empty: analyse at full resolution.",
    )
    threads: int | None = Field(
        None,
        ge=1,
        le=64,
        title="Decoder threads",
        description="Threads that decode this camera's video on the CPU (FFmpeg's frame and slice threads). Empty: "
        "FFmpeg's automatic count, about one per core, which is the faster choice even with many cameras per core "
        "(README, Pipeline performance). Set it to cap the threads of a box with very many cameras.",
    )
    hwaccel: Literal["cuda"] | None = Field(
        None,
        title="Hardware decoding",
        description="Decode on the GPU (NVDEC through FFmpeg's cuda hwaccel). A device that is not there is an "
        "error of the camera, never a silent fallback to the CPU. Empty: decode on the CPU.",
    )


class SourceConfig(_Strict):
    """Where a camera's frames come from."""

    url: str = Field(
        min_length=1,
        title="URL",
        description="rtsp://, rtsps://, http(s):// (MJPEG), file:// or a path to a video file or image directory.",
    )
    transport: Literal["tcp", "udp"] = Field("tcp", title="RTSP transport", description="RTSP over TCP or UDP.")
    loop: bool = Field(
        False, title="Loop", description="Files only: start again at the end (for demos and soak tests)."
    )
    realtime: bool = Field(
        False,
        title="Real time",
        description="Files only: pace frames at their timestamps instead of as fast as possible.",
    )
    stall_timeout_s: float = Field(
        10.0, gt=0, title="Stall timeout (s)", description="No frame for this long counts as a dead stream."
    )
    max_backoff_s: float = Field(
        30.0, gt=0, title="Max reconnect delay (s)", description="Upper bound of the exponential reconnect backoff."
    )
    decode: DecodeConfig = Field(
        default_factory=DecodeConfig,
        title="Decoding",
        description="Video sources (files, RTSP, HTTP streams): frame skipping, analysis size, hardware decoding.",
    )


class Location(_Strict):
    """Where the camera is."""

    lat: float = Field(ge=-90, le=90, title="Latitude", description="WGS84 degrees.")
    lon: float = Field(ge=-180, le=180, title="Longitude", description="WGS84 degrees.")


class CameraConfig(_Strict):
    """One camera."""

    id: str = Field(
        min_length=1, pattern=r"^[A-Za-z0-9_.-]+$", title="Camera id", description="Unique, used in topics and URLs."
    )
    name: str = Field("", title="Name", description="Human-readable name shown to operators.")
    enabled: bool = Field(True, title="Enabled", description="Disabled cameras are not opened.")
    source: SourceConfig = Field(title="Source", description="Stream or file to read.")
    location: Location | None = Field(None, title="Location", description="Latitude/longitude for the map.")
    analytic_fps: float = Field(
        5.0,
        gt=0,
        le=60,
        title="Analytic fps",
        description="Frames per second analysed (others are only buffered). The collision rule was calibrated "
        "at 5; measure with `vigil eval --analytic-fps` before changing it (docs/incidents.md).",
    )
    zones: list[ZoneConfig] = Field(default_factory=list, title="Zones", description="Areas the rules look at.")
    lines: list[LineConfig] = Field(
        default_factory=list, title="Counting lines", description="Lines to count crossings."
    )
    rules: dict[str, dict[str, Any]] = Field(
        default_factory=dict, title="Rule overrides", description="Per-rule threshold overrides for this camera."
    )

    @model_validator(mode="after")
    def _unique_ids(self) -> CameraConfig:
        for what, items in (("zone", self.zones), ("line", self.lines)):
            ids = [i.id for i in items]
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                raise ValueError(f"duplicate {what} id(s): {', '.join(dupes)}")
        unknown = set(self.rules) - set(RulesConfig.model_fields)
        if unknown:
            raise ValueError(f"unknown rule(s) in overrides: {', '.join(sorted(unknown))}")
        return self


class WebhookTarget(_Strict):
    """An HTTP endpoint that receives CloudEvents."""

    url: str = Field(pattern=r"^https?://", title="URL", description="Receiver URL (http or https).")
    secret: str | None = Field(
        None,
        title="HMAC secret",
        description="Signs each body (HMAC-SHA256); use ${ENV_VAR} to keep it out of the file.",
    )
    timeout_s: float = Field(5.0, gt=0, title="Timeout (s)", description="Per-request timeout.")
    max_attempts: int = Field(10, ge=1, title="Max attempts", description="Attempts before an event is dead-lettered.")
    headers: dict[str, str] = Field(default_factory=dict, title="Headers", description="Extra HTTP headers.")


class MqttTarget(_Strict):
    """An MQTT broker that receives events (QoS 1)."""

    host: str = Field(min_length=1, title="Host", description="Broker host name or address.")
    port: int = Field(1883, ge=1, le=65535, title="Port", description="Broker port.")
    username: str | None = Field(None, title="User", description="Broker user name.")
    password: str | None = Field(None, title="Password", description="Broker password; use ${ENV_VAR}.")
    topic_prefix: str = Field("vigil", min_length=1, title="Topic prefix", description="Topics start with this.")
    client_id: str | None = Field(None, title="Client id", description="MQTT client id; empty derives one.")
    tls: bool = Field(False, title="TLS", description="Connect with TLS.")
    max_attempts: int = Field(10, ge=1, title="Max attempts", description="Attempts before an event is dead-lettered.")


class ServiceConfig(_Strict):
    """A service that must act on incidents (traffic control, fire, ambulance...).

    One transport (``webhook``, ``mqtt`` or ``nats``) and one message ``format``,
    chosen independently: e.g. DATEX II over a webhook for a traffic management
    centre, CAP over a webhook for the fire brigade.
    """

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$", title="Service id", description="Unique id.")
    name: str = Field("", title="Name", description="Human-readable name.")
    webhook: WebhookTarget | None = Field(None, title="Webhook", description="Deliver over HTTP POST.")
    mqtt: MqttTarget | None = Field(None, title="MQTT", description="Deliver over MQTT.")
    nats: NatsTarget | None = Field(None, title="NATS", description="Deliver to a NATS JetStream stream.")
    format: FormatConfig | None = Field(
        None,
        title="Format",
        description=(
            "Message format: cloudevents, event, datex2 or cap, as a name or {type: NAME, ...options}. "
            "Default: cloudevents for webhook and nats, event for mqtt."
        ),
    )

    @field_validator("format", mode="before")
    @classmethod
    def _format_by_name(cls, v: Any) -> Any:
        return {"type": v} if isinstance(v, str) else v

    @model_validator(mode="after")
    def _one_target(self) -> ServiceConfig:
        given = [n for n in TRANSPORTS if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(f"a service needs exactly one of {', '.join(TRANSPORTS)} (got {len(given) or 'none'})")
        return self

    @property
    def transport(self) -> str:
        """The name of the configured transport (``webhook``, ``mqtt`` or ``nats``)."""
        return next(n for n in TRANSPORTS if getattr(self, n) is not None)

    @property
    def target(self) -> WebhookTarget | MqttTarget | NatsTarget:
        """The configured transport's settings."""
        return getattr(self, self.transport)

    @property
    def format_name(self) -> str:
        """The message format, with the transport's default filled in."""
        if self.format is not None:
            return self.format.type
        return "event" if self.transport == "mqtt" else "cloudevents"


TRANSPORTS: tuple[str, ...] = ("webhook", "mqtt", "nats")


class RoutingRule(_Strict):
    """Which incidents go to which services: by type, severity, camera and zone."""

    types: list[IncidentType | Literal["*"]] = Field(
        min_length=1, title="Incident types", description="Types routed by this rule; '*' for all."
    )
    services: list[str] = Field(min_length=1, title="Services", description="Service ids that receive them.")
    min_severity: int = Field(1, ge=1, le=5, title="Minimum severity", description="Lower severities are not sent.")
    cameras: list[str] | None = Field(None, title="Cameras", description="Only these cameras; empty for all.")
    zones: list[str] | None = Field(
        None,
        title="Zones",
        description=(
            "Only incidents in these zones, as 'zone-id' (that zone id on any camera) or 'camera-id/zone-id'; "
            "empty for all. Incidents without a zone (collision, fire, smoke) never match a zone filter."
        ),
    )


class RetentionConfig(_Strict):
    """How long evidence and records are kept."""

    clips_days: float = Field(
        7, gt=0, title="Clips (days)", description="Redacted clips and snapshots are deleted after."
    )
    incidents_days: float = Field(90, gt=0, title="Incidents (days)", description="Incident rows are deleted after.")
    audit_days: float = Field(
        365, gt=0, title="Audit log (days)", description="Audit rows (who viewed or changed what) are deleted after."
    )
    interval_s: float = Field(3600, gt=0, title="Run every (s)", description="How often the retention job runs.")


class StorageConfig(_Strict):
    """Database and evidence files."""

    database_url: str = Field(
        "sqlite:///vigil-data/vigil.db",
        title="Database URL",
        description="SQLAlchemy URL: sqlite:///path (WAL mode) or postgresql+psycopg://user:pw@host/db.",
    )
    media_dir: Path = Field(
        Path("vigil-data/media"), title="Media folder", description="Where redacted clips and snapshots are written."
    )
    retention: RetentionConfig = Field(default_factory=RetentionConfig, title="Retention", description="Retention.")
    journal_path: Path | None = Field(
        None,
        title="Event journal",
        description="Local file where incident events wait, in order and fsync'd, until the database has them "
        "(so a database outage loses none). Empty: events.journal beside the media folder. Keep it on local disk.",
    )
    journal_max_mb: float = Field(
        64,
        gt=0,
        title="Event journal bound (MB)",
        description="The journal's largest size; when a long outage fills it, cameras wait for the database.",
    )

    def resolved_journal_path(self) -> Path:
        return self.journal_path or Path(self.media_dir).parent / "events.journal"


class EvidenceConfig(_Strict):
    """Snapshot and clip recorded for each incident (redacted only)."""

    pre_roll_s: float = Field(5.0, ge=0, le=60, title="Pre-roll (s)", description="Seconds before the incident.")
    post_roll_s: float = Field(5.0, ge=0, le=60, title="Post-roll (s)", description="Seconds after it starts.")
    clip_fps: float = Field(
        10.0, gt=0, le=60, title="Clip fps", description="Frame rate of clips (at most the camera's own rate)."
    )
    writers: int | None = Field(
        None,
        ge=1,
        le=16,
        title="Clip writers",
        description="Threads that redact and encode evidence at the same time. Empty: one per two CPU cores, at "
        "most 4. Each needs about 300 MB while it writes a 1080p clip.",
    )

    def resolved_writers(self) -> int:
        """The configured writers, else one per two of the cores this process may use (its affinity), 1 to 4."""
        if self.writers:
            return self.writers
        from vigil.runtime import cpu_cores  # a container's CPU set, not the host's count

        return max(1, min(4, cpu_cores() // 2))


class VigilConfig(_Strict):
    """The whole configuration file."""

    version: Literal[1] = Field(1, title="Schema version", description="Configuration format version.")
    cameras: list[CameraConfig] = Field(min_length=1, title="Cameras", description="Cameras to watch.")
    rules: RulesConfig = Field(default_factory=RulesConfig, title="Rules", description="Rule thresholds.")
    services: list[ServiceConfig] = Field(default_factory=list, title="Services", description="Who receives incidents.")
    routing: list[RoutingRule] = Field(default_factory=list, title="Routing", description="Incident type -> services.")
    storage: StorageConfig = Field(default_factory=StorageConfig, title="Storage", description="Database and media.")
    evidence: EvidenceConfig = Field(default_factory=EvidenceConfig, title="Evidence", description="Clips/snapshots.")
    detector: ObjectDetectorConfig = Field(
        default_factory=ObjectDetectorConfig, title="Object detector", description="Shared by all cameras."
    )
    redaction: RedactionConfig = Field(
        default_factory=RedactionConfig, title="Redaction", description="Faces, heads and plates to obscure."
    )
    feeds: FeedsConfig = Field(
        default_factory=FeedsConfig, title="Feeds", description="The DATEX II and CAP pull feeds of the API."
    )
    api: ApiConfig = Field(
        default_factory=ApiConfig, title="Console and API", description="Proxies, cookies, login and stream limits."
    )
    cluster: ClusterConfig = Field(
        default_factory=ClusterConfig, title="Cluster", description="Camera groups for vigil run --cluster."
    )

    @model_validator(mode="after")
    def _references(self) -> VigilConfig:
        cams = [c.id for c in self.cameras]
        dupes = sorted({c for c in cams if cams.count(c) > 1})
        if dupes:
            raise ValueError(f"duplicate camera id(s): {', '.join(dupes)}")
        services = [s.id for s in self.services]
        dupes = sorted({s for s in services if services.count(s) > 1})
        if dupes:
            raise ValueError(f"duplicate service id(s): {', '.join(dupes)}")
        for i, route in enumerate(self.routing):
            missing = [s for s in route.services if s not in services]
            if missing:
                raise ValueError(f"routing[{i}] names unknown service(s): {', '.join(missing)}")
            bad_cams = [c for c in route.cameras or [] if c not in cams]
            if bad_cams:
                raise ValueError(f"routing[{i}] names unknown camera(s): {', '.join(bad_cams)}")
            zones = {ref for c in self.cameras for z in c.zones for ref in (z.id, f"{c.id}/{z.id}")}
            bad_zones = [z for z in route.zones or [] if z not in zones]
            if bad_zones:
                raise ValueError(f"routing[{i}] names unknown zone(s): {', '.join(bad_zones)}")
        self._located_for_datex2()
        for cam in self.cameras:
            try:
                self.rules.merged(cam.rules)
            except ValueError as exc:
                raise ValueError(f"camera {cam.id!r} rule overrides are invalid: {exc}") from exc
        return self

    def _located_for_datex2(self) -> None:
        """DATEX II locates every record by the camera's lat/lon: cameras routed to such a service need one."""
        datex = {s.id for s in self.services if s.format_name == "datex2"}
        for route in self.routing:
            for service in datex.intersection(route.services):
                for cam in self.cameras:
                    reachable = not route.cameras or cam.id in route.cameras
                    if route.zones:
                        reachable &= any(z.id in route.zones or f"{cam.id}/{z.id}" in route.zones for z in cam.zones)
                    if cam.location is None and reachable:
                        raise ValueError(
                            f"service {service!r} receives DATEX II, which locates incidents by the camera's "
                            f"position, but camera {cam.id!r} has no location (add location: {{lat, lon}})"
                        )

    def camera_rules(self, camera_id: str) -> RulesConfig:
        cam = next(c for c in self.cameras if c.id == camera_id)
        return self.rules.merged(cam.rules)
