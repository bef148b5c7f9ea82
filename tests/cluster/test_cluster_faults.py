"""``vigil run --cluster`` on a real Ray cluster of three raylets on loopback, a real PostgreSQL and a webhook.

The head node (GCS and the driver, no CPUs for groups) and two worker nodes run
on this machine (``ray.cluster_utils.Cluster``); two camera groups of one camera
each, reading the bundled clip in real time, are spread over the worker nodes.
The test kills the node holding one group in the middle of an incident, as a
machine that dies would (its raylet and workers are SIGKILLed). Ray notices
within a few seconds (the head is started with a 1 s health check), restarts the
group on the other node, and the test checks what the issue asks: the cameras
are back within 30 s, the open incident is ended under its own id (not opened
again under a new one), every committed event reaches the webhook once per
event id, and the API lists every camera with its node.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.delivery.conftest import SECRET, Receiver
from tests.pipeline.test_runner_live import camera, cut_clip, wait_for, write_config
from tests.storage.test_db import PostgresServer
from vigil.config import load_config

try:
    import ray
except ImportError:  # CI installs the extra (./dev pins it) and must not skip these tests silently
    if os.environ.get("VIGIL_REQUIRE_CLUSTER"):
        raise
    pytest.skip("the cluster extra is not installed (pip install -e .[cluster])", allow_module_level=True)
from ray.cluster_utils import Cluster

from vigil.cluster.runner import ClusterRunner

pytestmark = pytest.mark.cluster
BACK_WITHIN_S = 30.0
FAST_FAILURE_DETECTION = {"health_check_period_ms": 1000, "health_check_timeout_ms": 1000,
                          "health_check_failure_threshold": 3}  # fmt: skip


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    r.stop()


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "_system_config": FAST_FAILURE_DETECTION})
    for _ in range(2):
        c.add_node(num_cpus=2)
    c.wait_for_nodes()
    yield c
    if ray.is_initialized():
        ray.shutdown()
    c.shutdown()


def _worker_node(cluster: Cluster, node_id: str) -> Any:
    return next(n for n in cluster.worker_nodes if n.node_id == node_id)


def _events_by_incident(runner: ClusterRunner) -> dict[str, list[dict[str, Any]]]:
    return {i.incident_id: runner.store.list_events(i.incident_id) for i in runner.store.list_incidents(limit=1000)}


def test_a_dead_node_s_cameras_come_back_elsewhere_and_nothing_is_duplicated_or_lost(
    tmp_path: Path, postgres: PostgresServer, receiver: Receiver, cluster: Cluster
) -> None:
    clip = cut_clip(tmp_path / "cut.mp4", 4.0, 16.0)  # a person walks into the zone at about 3 s, each loop
    cams = [camera(cid, str(clip), loop=True, realtime=True, stall_timeout_s=3) for cid in ("a", "b")]
    services = [{"id": "city", "webhook": {"url": receiver.url, "secret": SECRET, "timeout_s": 2}}]
    path = write_config(
        tmp_path,
        cams,
        services=services,
        routing=[{"types": ["pedestrian"], "services": ["city"]}],
        cluster={"cameras_per_group": 1, "cpus_per_group": 1, "delivery_lease_s": 12, "status_interval_s": 0.5},
    )
    data = yaml.safe_load(path.read_text())
    data["storage"]["database_url"] = postgres.url()
    path.write_text(yaml.safe_dump(data))
    config = load_config(path)
    heard: list[Any] = []
    runner = ClusterRunner(config, cluster.address, listeners=[heard.append])
    runner.start()
    stopped = False
    try:
        wait_for(lambda: all(c["state"] == "online" for c in runner.status()["cameras"].values()), 120,
                 "both cameras online")  # fmt: skip
        placed = runner.status()["groups"]
        assert len({g["node"] for g in placed.values()}) == 2, f"the groups should be spread over both nodes: {placed}"

        # The API (here, in the driver's process) lists every camera with its node, and serves a live frame
        # that the camera's group redacted on its own node.
        from fastapi.testclient import TestClient

        from vigil.api.app import create_app
        from vigil.storage import accounts

        user = accounts.create_user(runner.store, "op", "a-long-operator-password", "operator")
        auth = {"Authorization": f"Bearer {accounts.create_token(runner.store, user, 'test')[1]}"}
        app = create_app(config, runner.store, runner)
        with TestClient(app) as client:
            listed = {c["id"]: c["node"] for c in client.get("/api/cameras", headers=auth).json()}
            snapshots = []  # the group loads its face detector on the first live frame: a 404 until then

            def snapshot_served() -> bool:
                snapshots.append(client.get("/api/cameras/a/snapshot", headers=auth))
                return snapshots[-1].status_code == 200

            wait_for(snapshot_served, 60, "a redacted snapshot of camera a")
            snapshot = snapshots[-1]
            metrics = client.get("/api/metrics", headers=auth).text  # the groups' counters, merged by the driver
        assert listed == {cid: runner.status()["cameras"][cid]["node"] for cid in ("a", "b")}
        assert snapshot.status_code == 200 and snapshot.content[:2] == b"\xff\xd8"
        assert 'vigil_frames_analysed_total{camera="a"}' in metrics and 'camera="b"' in metrics
        from vigil.storage.console import list_audit

        viewed, _ = list_audit(runner.store, limit=10, before_id=None, action="view.camera_snapshot")
        assert [(r["user"], r["target"]) for r in viewed] == [("op", "a")]  # the view is audited as ever

        # vigil cluster status, from another process (a second Ray driver), lists nodes, groups and cameras.
        out = subprocess.run(
            [sys.executable, "-m", "vigil", "cluster", "status", "-c", str(path), "--address", cluster.address,
             "--json", "--timeout", "20"],
            capture_output=True, text=True, timeout=120, cwd=tmp_path,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr[-3000:]
        status = json.loads(out.stdout)
        assert sum(n["alive"] for n in status["nodes"]) == 3
        assert {g: (s["state"], s["cameras"]) for g, s in status["groups"].items()} == {
            "group-0000": ("running", ["a"]),
            "group-0001": ("running", ["b"]),
        }
        assert {c["camera"]: c["node"] for c in status["cameras"]} == listed
        assert all(c["state"] == "online" and c["lag_s"] < 10 for c in status["cameras"]), status["cameras"]
        assert isinstance(status["delivery_backlog"], dict)

        # Mid-incident: camera "a" has an incident open; kill the node its group runs on.
        wait_for(lambda: runner.store.list_incidents(state="open", camera_id="a"), 60, "an open incident on a")
        [open_incident] = runner.store.list_incidents(state="open", camera_id="a")
        victim = runner.status()["cameras"]["a"]["node"]
        victim_id = next(n["NodeID"] for n in ray.nodes() if n["Alive"] and victim.endswith("/" + n["NodeID"][:8]))
        cluster.remove_node(_worker_node(cluster, victim_id), allow_graceful=False)
        killed_at = time.monotonic()

        def back_elsewhere() -> bool:
            cam = runner.status()["cameras"]["a"]
            return cam["state"] == "online" and cam["node"] not in (None, victim)

        wait_for(back_elsewhere, BACK_WITHIN_S, f"camera a back on another node within {BACK_WITHIN_S:g} s")
        back_s = time.monotonic() - killed_at
        survivor = runner.status()["cameras"]["a"]["node"]
        assert runner.status()["cameras"]["b"]["node"] == survivor  # b never moved
        row = next(c for c in runner.store.list_cameras() if c.id == "a")
        wait_for(lambda: next(c for c in runner.store.list_cameras() if c.id == "a").node == survivor, 10,
                 "the store to record camera a's new node")  # fmt: skip
        assert row.online

        # The incident open at the crash is ended under its own id, once.
        wait_for(lambda: runner.store.get_incident(open_incident.incident_id).state == "ended", 30,
                 "the orphaned incident to be ended")  # fmt: skip
        ends = [e for e in runner.store.list_events(open_incident.incident_id) if e["state"] == "end"]
        assert len(ends) == 1 and ends[0]["details"]["ended_by"] == "group restart"
        # Rows the dead node's dispatcher had claimed wait out its lease (delivery_lease_s, 12 s), then a
        # survivor sends them: drain while the survivors run, not after everything has stopped.
        wait_for(lambda: runner.store.pending_counts() == {}, 60, "the survivors to drain the outbox")

        runner.stop()
        stopped = True
    finally:
        if not stopped:
            runner.stop()

    from vigil.storage import Store

    store = Store(config.storage.database_url, migrate=False)
    try:
        wait_for(lambda: store.pending_counts() == {}, 60, "the outbox to drain")
        by_incident = {i.incident_id: store.list_events(i.incident_id) for i in store.list_incidents(limit=1000)}
    finally:
        store.close()
    committed = [e["event_id"] for events in by_incident.values() for e in events]
    for incident_id, events in by_incident.items():  # never opened twice, never ended twice
        states = Counter(e["state"] for e in events)
        assert states["new"] == 1 and states["end"] <= 1, (incident_id, states)
        assert [e["sequence"] for e in events] == list(range(len(events)))
    arrived = Counter(ce["id"] for ce in receiver.arrivals)
    assert receiver.problems == []
    assert [i for i, n in arrived.items() if n > 1] == []  # once per event id
    assert set(arrived) == set(committed)  # every committed event, nothing else
    print(f"camera a back on {survivor} {back_s:.1f} s after its node was killed; {len(committed)} events delivered")
