"""The cluster driver: starts the camera groups on Ray, watches them and serves as the API's runner.

:class:`ClusterRunner` has the face of :class:`~vigil.pipeline.runner.LiveRunner`
that ``vigil run`` and the API use (``start``, ``stop``, ``status``,
``finished``, ``listeners``, ``store``, ``config``), but it holds no camera:
each group actor (:class:`~vigil.cluster.actor.CameraGroup`) stores its own
events, with their outbox rows, in the one PostgreSQL store and delivers through
leased outbox rows, so no event is sent by two nodes. The driver collects the
groups' status and new events every ``cluster.status_interval_s`` (for the
status line, metrics and the console's live push), asks a camera's group for a
redacted JPEG when the console shows it, and runs the retention job once for all.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vigil.cluster.actor import CameraGroup
from vigil.cluster.groups import (
    ClusterError,
    check_store,
    group_config,
    group_name,
    plan_groups,
    require_ray,
    shared_media_dir,
)
from vigil.config.models import VigilConfig
from vigil.core.events import IncidentEvent
from vigil.storage import RetentionJob, Store

log = logging.getLogger(__name__)
NAMESPACE = "vigil"
ACTOR_PREFIX = "vigil-"
EventListener = Callable[[IncidentEvent], None]


@dataclass
class _Group:
    name: str
    cameras: list[str]
    handle: Any
    status: dict[str, Any] = field(default_factory=dict)
    status_at: float | None = None  # time.monotonic() of the last answer
    pid: int | None = None
    restarts: int = 0
    error: str | None = None
    status_ref: Any = None
    events_ref: Any = None


def connect(ray: Any, address: str) -> None:
    """``local``: start Ray on this machine; ``auto``: join the running cluster; else the cluster's address."""
    kwargs: dict[str, Any] = {"namespace": NAMESPACE, "ignore_reinit_error": True, "log_to_driver": True}
    try:
        if address == "local":
            ray.init(include_dashboard=False, **kwargs)
        else:
            ray.init(address=address, **kwargs)
    except ConnectionError as exc:
        raise ClusterError(f"--cluster {address}: no Ray cluster to join ({exc}); start one with `ray start --head`"
                           " or use --cluster local") from exc  # fmt: skip


class ClusterRunner:
    """Runs all cameras on a Ray cluster until :meth:`stop`.

    Parameters
    ----------
    config : VigilConfig
        Must use PostgreSQL (:class:`ClusterError` otherwise).
    address : str
        ``local``, ``auto`` or a Ray address (``host:6379``, ``ray://host:10001``).
    listeners : list of callables
        Called in the driver with every stored event (console output, API push).
    """

    def __init__(self, config: VigilConfig, address: str, listeners: list[EventListener] | None = None) -> None:
        check_store(config)
        self.ray = require_ray()
        self.config = config
        self.address = address
        self.listeners = list(listeners or [])
        self.redactor = None  # live frames are redacted by the camera's group, on its node
        self.store = Store(config.storage.database_url)  # migrates (under the advisory lock) before any group starts
        base = Path.cwd()
        self._configs = {
            group_name(i): (ids, group_config(config, ids, group_name(i), base))
            for i, ids in enumerate(plan_groups(config))
        }
        self.media_dir = shared_media_dir(config, base)
        self.media_dir.mkdir(parents=True, exist_ok=True)
        self.retention = RetentionJob(self.store, self.media_dir, config.storage.retention)
        self.groups: dict[str, _Group] = {}
        self._group_of: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.events = 0
        self.started_at = time.monotonic()

    def start(self) -> None:
        """Connect to Ray and start one actor per group, spread over the nodes."""
        ray = self.ray
        connect(ray, self.address)
        c = self.config.cluster
        self._check_capacity()
        remote = ray.remote(CameraGroup)
        for name, (ids, gconfig) in self._configs.items():
            handle = remote.options(
                name=ACTOR_PREFIX + name,
                num_cpus=c.cpus_per_group,
                num_gpus=c.gpus_per_group,
                max_restarts=c.max_restarts,
                max_task_retries=-1,  # a call in flight when the group dies is run again once it is back
                max_concurrency=4,  # status, events and live frames do not queue behind each other
                scheduling_strategy="SPREAD",
            ).remote(name, gconfig, {"lease_s": c.delivery_lease_s, "send_margin_s": c.delivery_lease_s / 4})
            self.groups[name] = _Group(name, ids, handle)
            for cid in ids:
                self._group_of[cid] = name
        self.retention.start()
        self._thread = threading.Thread(target=self._watch, name="vigil-cluster-watch", daemon=True)
        self._thread.start()

    def _check_capacity(self) -> None:
        """Warn when the groups need more CPUs/GPUs than the cluster has: Ray holds the rest back until nodes join."""
        c, have = self.config.cluster, self.ray.cluster_resources()
        n = len(self._configs)
        for resource, each in (("CPU", c.cpus_per_group), ("GPU", c.gpus_per_group)):
            if each and n * each > have.get(resource, 0) + 1e-9:
                log.warning(
                    "%d camera groups need %g %ss (cluster.%ss_per_group %g) but the cluster has %g: groups that "
                    "do not fit wait until nodes join (lower cluster.%ss_per_group or add nodes)",
                    n, n * each, resource, resource.lower(), each, have.get(resource, 0), resource.lower(),
                )  # fmt: skip

    # -- watching the groups -----------------------------------------------------------------

    def _watch(self) -> None:
        interval = self.config.cluster.status_interval_s
        while not self._stop.wait(interval):
            try:
                self._poll()
            except Exception:
                log.exception("collecting the camera groups' status failed")

    def _poll(self) -> None:
        ray = self.ray
        for g in list(self.groups.values()):
            if g.status_ref is None:
                g.status_ref = g.handle.status.remote()
                g.events_ref = g.handle.collect_events.remote()
                continue
            ready, _ = ray.wait([g.status_ref, g.events_ref], num_returns=2, timeout=0)
            if len(ready) < 2:
                continue
            refs, g.status_ref, g.events_ref = (g.status_ref, g.events_ref), None, None
            try:
                status, events = ray.get(list(refs))
            except ray.exceptions.RayError as exc:
                g.error = str(exc).splitlines()[0][:300]
                log.warning("group %s did not answer (%s); Ray restarts it", g.name, g.error)
                continue
            with self._lock:
                if g.pid is not None and status["pid"] != g.pid:
                    g.restarts += 1
                    log.warning("group %s restarted on %s", g.name, status["node"])
                g.pid, g.status, g.status_at, g.error = status["pid"], status, time.monotonic(), None
                self.events += len(events)
            self._tell(events)

    def _tell(self, events: list[IncidentEvent]) -> None:
        for event in events:
            for listener in self.listeners:
                try:
                    listener(event)
                except Exception:
                    log.exception("event listener failed")

    # -- the runner's face for the CLI and the API ---------------------------------------------

    def redacted_jpeg(self, camera_id: str, timeout_s: float = 10.0) -> bytes | None:
        """The camera's newest frame, redacted by its group on its node; None if it has none or is restarting."""
        name = self._group_of.get(camera_id)
        if name is None:
            return None
        ray = self.ray
        try:
            return ray.get(self.groups[name].handle.redacted_jpeg.remote(camera_id), timeout=timeout_s)
        except (ray.exceptions.RayError, TimeoutError) as exc:
            log.warning("no live frame of %s from group %s: %s", camera_id, name, str(exc).splitlines()[0][:200])
            return None

    def finished(self) -> bool:
        """True when every group reports that its (file) cameras have all ended."""
        with self._lock:
            return bool(self.groups) and all(g.status.get("finished") for g in self.groups.values())

    def status(self) -> dict[str, Any]:
        """The groups' status merged into :meth:`LiveRunner.status`'s shape, with ``groups`` and each camera's node."""
        now = time.monotonic()
        cams: dict[str, dict[str, Any]] = {}
        groups: dict[str, dict[str, Any]] = {}
        detector = {"frames": 0, "batches": 0, "busy_s": 0.0, "refused": 0, "timeouts": 0}
        journal = {"stored": 0, "waiting": 0, "database_ok": True, "down_s": 0.0, "last_error": None}
        published = 0
        with self._lock:
            for g in self.groups.values():
                st = g.status
                lag = None if g.status_at is None else round(now - g.status_at, 1)
                stale = g.status_at is None or now - g.status_at > 3 * self.config.cluster.status_interval_s + 2
                state = "starting" if g.status_at is None else ("unreachable" if stale else "running")
                groups[g.name] = {"node": st.get("node"), "state": state, "lag_s": lag, "restarts": g.restarts,
                                  "cameras": list(g.cameras), "peak_rss_mb": st.get("peak_rss_mb"),
                                  "error": g.error}  # fmt: skip
                for cid in g.cameras:
                    cam = dict(st.get("cameras", {}).get(cid) or _STARTING)
                    if stale and g.status_at is not None:
                        cam["state"] = "unreachable"
                    cams[cid] = {**cam, "node": st.get("node"), "group": g.name}
                for key in detector:
                    detector[key] += st.get("detector", {}).get(key, 0)
                gj = st.get("journal", {})
                journal["stored"] += gj.get("stored", 0)
                journal["waiting"] += gj.get("waiting", 0)
                journal["database_ok"] = journal["database_ok"] and gj.get("database_ok", True)
                journal["down_s"] = max(journal["down_s"], gj.get("down_s", 0.0))
                journal["last_error"] = journal["last_error"] or gj.get("last_error")
                published += st.get("events_published", 0)
            events = self.events
        try:
            backlog = {s.id: 0 for s in self.config.services} | self.store.pending_counts()
        except Exception:  # noqa: BLE001 - the database is down; the journal figure says so
            backlog = {}
        return {
            "uptime_s": round(now - self.started_at, 1),
            "events": events,
            "events_published": published,
            "cameras": cams,
            "groups": groups,
            "delivery_backlog": backlog,
            "journal": journal,
            "detector": detector,
        }

    def stop(self, timeout_s: float = 60.0) -> None:
        """Stop every group cleanly (ending open incidents, writing clips, draining outboxes), then Ray."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        ray = self.ray
        refs = [g.handle.stop.remote() for g in self.groups.values()]
        if refs:
            ready, pending = ray.wait(refs, num_returns=len(refs), timeout=timeout_s)
            if pending:
                log.error("%d camera group(s) did not stop within %.0fs", len(pending), timeout_s)
            for ref in ready:
                try:
                    ray.get(ref)
                except ray.exceptions.RayError as exc:
                    log.error("a camera group failed to stop: %s", str(exc).splitlines()[0][:300])
        for g in self.groups.values():
            try:  # the last events (the ends of open incidents), for the listeners
                events = ray.get(g.handle.collect_events.remote(), timeout=10)
            except ray.exceptions.RayError:
                events = []
            with self._lock:
                self.events += len(events)
            self._tell(events)
            ray.kill(g.handle, no_restart=True)
        self.retention.stop()
        self.store.close()
        ray.shutdown()


_STARTING: dict[str, Any] = {"state": "starting", "frames_in": 0, "analysed": 0, "detected": 0, "decoded": 0,
                             "dropped": 0, "analysis_dropped": 0, "reconnects": 0, "open_incidents": 0,
                             "errors": 0, "last_error": None}  # fmt: skip
