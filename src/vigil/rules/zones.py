"""Zone and counting-line geometry in pixels, and line-crossing counts.

Zones and lines are configured in normalised 0..1 frame coordinates so that a
camera can change resolution without redrawing them; rules work in pixels, so
the geometry is converted once per frame size and cached (:class:`CameraZones`).

An object is *in* a zone when its **ground point**, the bottom-centre of its box,
is inside the polygon: that is where it touches the ground, so a tall person
standing on the sidewalk whose head overlaps the roadway is not on the roadway.

The lane ``direction`` of a roadway zone is read in the same normalised frame
coordinates as the polygon (``[1, 0]`` is rightwards, ``[0, 1]`` downwards) and
converted to a pixel-space unit vector, so an arrow drawn diagonally over a
16:9 frame keeps pointing where it was drawn.

Line crossings: each track's side of a line is the sign of the cross product
``(p2 - p1) x (g - p1)``; a track is counted when its ground point moves from
one side to the other across the segment (not its extension). ``positive`` is a
crossing from the left-hand to the right-hand side of the line as seen on the
screen looking from its first point to its second (for a line drawn left to
right: moving downwards). Each track is counted at most once per line, so an
object loitering on a line is not counted again and again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from vigil.config.models import LineConfig, ZoneConfig

DIRECTIONS: tuple[str, str] = ("positive", "negative")


def ground_points(xyxy: np.ndarray) -> np.ndarray:
    """Bottom-centre of each box, (N, 2) float64: where the object meets the ground."""
    box = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    return np.stack([(box[:, 0] + box[:, 2]) * 0.5, box[:, 3]], axis=1)


def polygon_edges(polygon: np.ndarray) -> np.ndarray:
    """(4, E) edge table (xi, yi, dx/dy, yj) for :func:`points_in_polygon`, computed once per zone."""
    poly = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    xi, yi = poly[:, 0], poly[:, 1]
    xj, yj = np.roll(xi, 1), np.roll(yi, 1)
    dy = np.where(yj == yi, 1.0, yj - yi)  # horizontal edges never straddle; avoid dividing by 0
    return np.stack([xi, yi, (xj - xi) / dy, yj])


def points_in_polygon(points: np.ndarray, polygon: np.ndarray, edges: np.ndarray | None = None) -> np.ndarray:
    """Even-odd rule for many points at once, (N,) bool.

    Vectorised over points and edges ((N, E) work) because it runs for every
    zone of every analysed frame; pass ``edges`` from :func:`polygon_edges` to
    skip rebuilding the edge table.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(pts) == 0:
        return np.zeros(0, dtype=bool)
    xi, yi, slope, yj = polygon_edges(polygon) if edges is None else edges
    x, y = pts[:, :1], pts[:, 1:]
    straddles = (yi > y) != (yj > y)
    crossings = np.count_nonzero(straddles & (x < xi + slope * (y - yi)), axis=1)
    return (crossings % 2) == 1


def polygon_area(polygon: np.ndarray) -> float:
    """Shoelace area of a simple polygon (same units squared)."""
    p = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    x, y = p[:, 0], p[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) * 0.5)


def lane_direction(direction: tuple[float, float] | None, width: int, height: int) -> np.ndarray | None:
    """Pixel-space unit vector of a normalised lane direction, or None when the zone has none."""
    if direction is None:
        return None
    v = np.array([direction[0] * width, direction[1] * height], dtype=np.float64)
    norm = float(np.hypot(v[0], v[1]))
    return v / norm if norm > 0 else None


@dataclass(frozen=True, eq=False)
class ZoneGeometry:
    """One zone in the pixels of one frame size.

    Attributes
    ----------
    direction : np.ndarray or None
        Unit lane vector in pixels (roadway zones with a direction only).
    area_fraction : float
        Share of the frame the polygon covers (0..1), for densities when the
        real area is unknown.
    """

    id: str
    kind: str
    polygon: np.ndarray
    direction: np.ndarray | None
    area_m2: float | None
    area_fraction: float
    edges: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "edges", polygon_edges(self.polygon))

    def contains(self, points: np.ndarray) -> np.ndarray:
        """(N,) whether each point is inside."""
        return points_in_polygon(points, self.polygon, self.edges)


@dataclass(frozen=True, eq=False)
class LineGeometry:
    """One counting line in pixels."""

    id: str
    p1: np.ndarray
    p2: np.ndarray

    def side(self, points: np.ndarray) -> np.ndarray:
        """Sign (-1, 0, 1) of each point's side; +1 is right of p1 -> p2 on screen."""
        d = self.p2 - self.p1
        rel = np.asarray(points, dtype=np.float64).reshape(-1, 2) - self.p1
        return np.sign(d[0] * rel[:, 1] - d[1] * rel[:, 0])


@dataclass(frozen=True, eq=False)
class FrameZones:
    """All zones and lines of a camera for one frame size."""

    width: int
    height: int
    zones: tuple[ZoneGeometry, ...]
    lines: tuple[LineGeometry, ...]
    _by_kind: dict[str, tuple[ZoneGeometry, ...]] = field(default_factory=dict, repr=False)

    _index: dict[str, int] = field(default_factory=dict, repr=False)
    _edges: np.ndarray = field(default_factory=lambda: np.zeros((4, 0)), repr=False)
    _starts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64), repr=False)

    def __post_init__(self) -> None:
        kinds: dict[str, list[ZoneGeometry]] = {}
        for zone in self.zones:
            kinds.setdefault(zone.kind, []).append(zone)
        self._by_kind.update({k: tuple(v) for k, v in kinds.items()})
        self._index.update({z.id: i for i, z in enumerate(self.zones)})
        if self.zones:
            # All zones' edges side by side, so membership of every point in every zone is one pass.
            object.__setattr__(self, "_edges", np.concatenate([z.edges for z in self.zones], axis=1))
            sizes = [z.edges.shape[1] for z in self.zones]
            object.__setattr__(self, "_starts", np.cumsum([0, *sizes[:-1]]).astype(np.int64))

    def index(self, zone_id: str) -> int:
        """Row of ``zone_id`` in :meth:`membership`."""
        return self._index[zone_id]

    def membership(self, points: np.ndarray) -> np.ndarray:
        """(Z, N) whether each point is inside each zone (even-odd rule, all zones at once)."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        if not self.zones or len(pts) == 0:
            return np.zeros((len(self.zones), len(pts)), dtype=bool)
        xi, yi, slope, yj = self._edges
        x, y = pts[:, :1], pts[:, 1:]
        hits = ((yi > y) != (yj > y)) & (x < xi + slope * (y - yi))
        return (np.add.reduceat(hits, self._starts, axis=1).T % 2) == 1

    def of_kind(self, *kinds: str) -> tuple[ZoneGeometry, ...]:
        """Zones whose kind is one of ``kinds``, in configuration order."""
        if len(kinds) == 1:
            return self._by_kind.get(kinds[0], ())
        return tuple(z for z in self.zones if z.kind in kinds)


class CameraZones:
    """A camera's zones and lines, converted to pixels once per frame size.

    Parameters
    ----------
    zones, lines : sequence
        The camera's :class:`ZoneConfig` and :class:`LineConfig` entries.
    """

    def __init__(self, zones: Sequence[ZoneConfig], lines: Sequence[LineConfig] = ()) -> None:
        self._zones = tuple(zones)
        self._lines = tuple(lines)
        self._cache: dict[tuple[int, int], FrameZones] = {}

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(z.kind for z in self._zones)

    def for_size(self, width: int, height: int) -> FrameZones:
        key = (int(width), int(height))
        cached = self._cache.get(key)
        if cached is None:
            cached = self._build(*key)
            if len(self._cache) > 8:  # a camera only ever changes resolution a few times
                self._cache.clear()
            self._cache[key] = cached
        return cached

    def _build(self, width: int, height: int) -> FrameZones:
        scale = np.array([width, height], dtype=np.float64)
        zones = []
        for z in self._zones:
            unit = np.asarray(z.polygon, dtype=np.float64)
            zones.append(
                ZoneGeometry(
                    id=z.id,
                    kind=z.kind,
                    polygon=unit * scale,
                    direction=lane_direction(z.direction, width, height),
                    area_m2=z.area_m2,
                    area_fraction=polygon_area(unit),
                )
            )
        lines = [
            LineGeometry(
                ln.id, np.asarray(ln.points[0], np.float64) * scale, np.asarray(ln.points[1], np.float64) * scale
            )
            for ln in self._lines
        ]
        return FrameZones(width, height, tuple(zones), tuple(lines))


class LineCounter:
    """Counts tracks crossing each line, per direction, each track once per line.

    Per line and track the last side the ground point was *off* the line is
    kept, with the point: a point exactly on the line (common with integer
    boxes) neither counts nor loses the side it came from. State is kept in
    arrays indexed by a per-track slot so that a frame costs a few numpy
    operations, not a Python loop over tracks and lines.

    Parameters
    ----------
    lines : sequence of LineConfig
    forget_after_s : float
        A track unseen this long is forgotten (its last side and whether it was
        counted), so memory stays bounded over days of tracks.
    """

    def __init__(self, lines: Sequence[LineConfig], forget_after_s: float = 5.0) -> None:
        self.forget_after_s = forget_after_s
        self._ids = [line.id for line in lines]
        self._counts = np.zeros((len(self._ids), 2), dtype=np.int64)  # (line, [positive, negative])
        self._slot: dict[int, int] = {}
        self._alloc(64)

    def _alloc(self, n: int) -> None:
        lines, old = len(self._ids), len(getattr(self, "_seen", ()))
        side = np.zeros((lines, n), dtype=np.int8)
        point = np.zeros((lines, n, 2))
        counted = np.zeros((lines, n), dtype=bool)
        seen = np.full(n, -np.inf)
        owner = np.full(n, -1, dtype=np.int64)
        if old:
            side[:, :old], point[:, :old], counted[:, :old] = self._side, self._point, self._counted
            seen[:old], owner[:old] = self._seen, self._owner
        self._side, self._point, self._counted, self._seen, self._owner = side, point, counted, seen, owner
        self._free = list(range(n - 1, old - 1, -1)) + getattr(self, "_free", [])

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        """``{line_id: {"positive": n, "negative": m}}`` since the counter was made."""
        rows = self._counts.tolist()
        return {lid: dict(zip(DIRECTIONS, row, strict=True)) for lid, row in zip(self._ids, rows, strict=True)}

    def _slots(self, ids: list[int]) -> np.ndarray:
        get = self._slot.get
        slots = np.fromiter((get(i, -1) for i in ids), dtype=np.int64, count=len(ids))
        for r in np.flatnonzero(slots < 0):
            if not self._free:
                self._alloc(2 * len(self._seen))
            slot = self._free.pop()
            self._slot[ids[r]] = slot
            self._owner[slot] = ids[r]
            self._side[:, slot] = 0
            self._counted[:, slot] = False
            slots[r] = slot
        return slots

    def update(
        self, zones: FrameZones, pts: float, track_ids: np.ndarray, ground: np.ndarray
    ) -> list[tuple[str, str, int]]:
        """Record one frame; returns this frame's crossings as (line_id, direction, track_id)."""
        ids = np.asarray(track_ids).reshape(-1).tolist()
        if not ids or not self._ids:
            return []
        ground = np.asarray(ground, dtype=np.float64).reshape(-1, 2)
        slots = self._slots(ids)
        self._seen[slots] = pts
        crossings: list[tuple[str, str, int]] = []
        lines = zones.lines
        p1 = np.array([line.p1 for line in lines])  # (L, 2)
        d = np.array([line.p2 for line in lines]) - p1
        rel = ground[None, :, :] - p1[:, None, :]  # (L, N, 2)
        side = np.sign(d[:, 0:1] * rel[..., 1] - d[:, 1:2] * rel[..., 0]).astype(np.int8)
        prev = self._side[:, slots]
        flip = (side != 0) & (prev != 0) & (side != prev) & ~self._counted[:, slots]
        for li, r in zip(*np.nonzero(flip), strict=True):
            line, a, b = lines[li], self._point[li, slots[r]], ground[r]
            # The move must pass between the line's end points, not beyond them.
            move = b - a
            c1 = move[0] * (line.p1[1] - a[1]) - move[1] * (line.p1[0] - a[0])
            c2 = move[0] * (line.p2[1] - a[1]) - move[1] * (line.p2[0] - a[0])
            if c1 * c2 > 0:
                continue
            self._counted[li, slots[r]] = True
            k = 0 if side[li, r] > 0 else 1
            self._counts[li, k] += 1
            crossings.append((line.id, DIRECTIONS[k], ids[r]))
        li, r = np.nonzero(side)
        self._side[li, slots[r]] = side[li, r]
        self._point[li, slots[r]] = ground[r]
        if len(self._slot) > 2 * max(len(ids), 16):
            self._forget(pts)
        return crossings

    def _forget(self, pts: float) -> None:
        stale = np.flatnonzero((self._owner >= 0) & (pts - self._seen > self.forget_after_s))
        for slot in stale.tolist():
            del self._slot[int(self._owner[slot])]
            self._owner[slot] = -1
            self._free.append(slot)
