"""``vigil cluster status``: nodes, groups, cameras, lag and backlog of a running cluster.

Read from two places: Ray (its nodes, and the group actors, asked for their
status by name: each camera's state and lag, the time since its last analysed
frame) and the store (each camera's node, the outbox backlog).
A group that does not answer within the timeout is listed as such, not waited for.
"""

from __future__ import annotations

from typing import Any

from vigil.cluster.actor import node_label
from vigil.cluster.groups import ClusterError, check_store, require_ray
from vigil.cluster.runner import ACTOR_PREFIX, connect
from vigil.config.models import VigilConfig
from vigil.storage import Store


def cluster_status(config: VigilConfig, address: str = "auto", timeout_s: float = 5.0) -> dict[str, Any]:
    """Everything ``vigil cluster status`` prints, as a dict (``--json`` prints it as it is)."""
    check_store(config)
    if address == "local":
        raise ClusterError("--address local would start a new, empty cluster: give 'auto' or the cluster's address")
    ray = require_ray()
    connect(ray, address)
    try:
        nodes = [
            {
                "node": node_label(n["NodeID"], n.get("NodeManagerHostname")),
                "address": n.get("NodeManagerAddress"),
                "alive": bool(n.get("Alive")),
                "cpus": n.get("Resources", {}).get("CPU", 0),
                "gpus": n.get("Resources", {}).get("GPU", 0),
            }
            for n in ray.nodes()
        ]
        names = sorted(n for n in ray.util.list_named_actors() if n.startswith(ACTOR_PREFIX))
        asked = {name: ray.get_actor(name).status.remote() for name in names}
        ready, _ = ray.wait(list(asked.values()), num_returns=len(asked), timeout=timeout_s) if asked else ([], [])
        done = set(ready)
        groups: dict[str, dict[str, Any]] = {}
        live: dict[str, dict[str, Any]] = {}  # camera -> its group's view of it
        for name, ref in asked.items():
            group = name[len(ACTOR_PREFIX) :]
            if ref not in done:
                groups[group] = {"state": "not answering", "node": None, "cameras": []}
                continue
            try:
                st = ray.get(ref)
            except ray.exceptions.RayError as exc:
                groups[group] = {"state": f"failed: {str(exc).splitlines()[0][:200]}", "node": None, "cameras": []}
                continue
            groups[group] = {
                "state": "running",
                "node": st["node"],
                "restarted": st["restarted"],
                "cameras": sorted(st["cameras"]),
                "journal_waiting": st["journal"]["waiting"],
                "peak_rss_mb": st["peak_rss_mb"],
            }
            live.update(st["cameras"])
    finally:
        ray.shutdown()
    store = Store(config.storage.database_url, migrate=False)
    try:
        cameras = [
            {
                "camera": c.id,
                "node": c.node,
                "online": c.online,
                "state": live.get(c.id, {}).get("state", "no group answered"),
                "lag_s": live.get(c.id, {}).get("idle_s"),  # since its last analysed frame
                "analysed": live.get(c.id, {}).get("analysed"),
            }
            for c in store.list_cameras()
        ]
        backlog = store.pending_counts()
    finally:
        store.close()
    return {"nodes": nodes, "groups": groups, "cameras": cameras, "delivery_backlog": backlog}


def format_status(status: dict[str, Any]) -> str:
    """The status as plain text tables."""
    lines = [f"nodes ({sum(n['alive'] for n in status['nodes'])} alive):"]
    for n in status["nodes"]:
        state = "alive" if n["alive"] else "dead"
        lines.append(f"  {n['node']:<40} {n['address'] or '-':<16} {state:<6} cpus {n['cpus']:g} gpus {n['gpus']:g}")
    lines.append(f"groups ({len(status['groups'])}):")
    for name, g in status["groups"].items():
        extra = ""
        if g["state"] == "running":
            extra = f" journal {g['journal_waiting']} waiting, peak {g['peak_rss_mb']:.0f} MB"
            extra += " (restarted)" if g.get("restarted") else ""
        lines.append(f"  {name:<12} {g['state']:<14} {g['node'] or '-':<40} {len(g['cameras'])} camera(s){extra}")
    lines.append(f"cameras ({sum(c['online'] for c in status['cameras'])}/{len(status['cameras'])} online):")
    for c in status["cameras"]:
        lag = "-" if c["lag_s"] is None else f"{c['lag_s']:.1f}s ago"
        lines.append(f"  {c['camera']:<24} {c['state']:<10} node {c['node'] or '-':<40} last analysed frame {lag}")
    backlog = status["delivery_backlog"]
    lines.append("delivery backlog: " + (", ".join(f"{k} {v}" for k, v in sorted(backlog.items())) or "none"))
    return "\n".join(lines)
