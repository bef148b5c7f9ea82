"""Cluster benchmark: the embedded runner against a local Ray cluster on the same machine, in one run.

Both modes watch the same N cameras (the bundled clip, looped and paced in real
time, 5 analytic fps, people walking into the demo's restricted zone, so
detection, tracking, rules, incidents, evidence and delivery bookkeeping all run)
and store into one PostgreSQL server started here (initdb in a temporary folder,
as the tests do):

* ``embedded``: :class:`LiveRunner` in a subprocess, as ``vigil run`` runs;
* ``cluster``: :class:`ClusterRunner` with ``--cluster local`` in a subprocess,
  groups of ``--group`` cameras (one Ray actor process each).

After a warm-up, over a window of ``--seconds`` it measures the analysed frames
per second per camera, the CPU seconds per analysed frame (the whole process
tree: for the cluster the driver, Ray's GCS and raylet and every group process),
the peak resident memory of each camera process (the embedded process, each
group), the resident memory of Ray's own processes (GCS, raylet, its agents and
idle workers) at the end, and the time until every camera is online. Then the
store's event write rate: events with their outbox rows stored per second by 1
and more concurrent writers, with the server restarted with durable commits
(fsync on; the tests run it with fsync off).

Derived, and labelled so: cameras per core = 1 / (CPU s per analysed frame x
5 fps), the ratio of the cluster's to the embedded runner's CPU per frame (the
per-frame overhead of running in groups), measured in the same invocation so
both see the same machine load. Prints a table; ``--json FILE`` keeps every
figure. Run: ``.venv/bin/python benchmarks/cluster/bench_cluster.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from sqlalchemy import create_engine  # noqa: E402

from vigil.assets import DEMO_CONFIG, SAMPLE_CLIP  # noqa: E402
from vigil.config import load_config  # noqa: E402

RUNNER = r"""
import json, os, resource, sys, time
from vigil.config import load_config

def tree_cpu_and_rss(root):
    # CPU seconds (live processes) and RSS of ``root``'s descendants, from /proc, by command name.
    tick = os.sysconf("SC_CLK_TCK")
    parent, info = {}, {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = open(f"/proc/{d}/stat").read()
            status = open(f"/proc/{d}/status").read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        parent[int(d)] = int(fields[1])
        rss = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
        info[int(d)] = (name, (int(fields[11]) + int(fields[12])) / tick, rss / 1024)
    out = {}
    for pid in info:
        p = pid
        while p in parent and p != root and p > 1:
            p = parent[p]
        if p == root and pid != root:
            out[pid] = info[pid]
    return out

def self_cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

mode, cfg_path, warm_s, window_s = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
config = load_config(cfg_path)
t_start = time.monotonic()
if mode == "embedded":
    from vigil.pipeline.runner import LiveRunner
    runner = LiveRunner(config)
else:
    from vigil.cluster.runner import ClusterRunner
    runner = ClusterRunner(config, "local")
runner.start()
while not all(c["state"] == "online" for c in runner.status()["cameras"].values()):
    if time.monotonic() - t_start > 300:
        raise SystemExit("cameras did not come online")
    time.sleep(0.2)
online_s = time.monotonic() - t_start
time.sleep(warm_s)

def sample():
    tree = tree_cpu_and_rss(os.getpid())
    return runner.status(), self_cpu() + sum(c for _, c, _ in tree.values()), tree, time.monotonic()

time.sleep(2 * config.cluster.status_interval_s)  # fresh group status
before, c0, _, t0 = sample()
time.sleep(window_s)
time.sleep(2 * config.cluster.status_interval_s)
after, c1, tree, t1 = sample()
rss = {}
for name, _, mb in tree.values():
    rss.setdefault(name, []).append(round(mb, 1))
groups = {g: {"peak_rss_mb": v["peak_rss_mb"], "node": v["node"]} for g, v in after.get("groups", {}).items()}
runner.stop()
print(json.dumps({
    "mode": mode, "online_s": online_s, "wall_s": t1 - t0, "cpu_s": c1 - c0,
    "before": before["cameras"], "after": after["cameras"], "children_rss_mb": rss, "groups": groups,
    "self_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def write_config(folder: Path, n: int, group: int, database_url: str) -> Path:
    zone = [list(p) for p in load_config(DEMO_CONFIG).cameras[0].zones[0].polygon]
    cams = [
        {
            "id": f"cam{i}",
            "source": {"url": str(SAMPLE_CLIP), "loop": True, "realtime": True},
            "analytic_fps": 5,
            "zones": [{"id": "platform-edge", "kind": "restricted", "polygon": zone}],
        }
        for i in range(n)
    ]
    config = {
        "cameras": cams,
        "rules": {"pedestrian": {"min_dwell_s": 2.0, "end_after_s": 3.0}},
        "storage": {"database_url": database_url, "media_dir": str(folder / "media")},
        "evidence": {"pre_roll_s": 2.0, "post_roll_s": 2.0},
        "cluster": {"cameras_per_group": group, "cpus_per_group": 1, "status_interval_s": 1.0},
    }
    path = folder / "bench.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


def run_mode(mode: str, cfg: Path, warm_s: float, seconds: float) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "RAY_USAGE_STATS_ENABLED": "0"}
    out = subprocess.run(
        [sys.executable, "-c", RUNNER, mode, str(cfg), str(warm_s), str(seconds)],
        capture_output=True, text=True, timeout=warm_s + seconds + 600, env=env, cwd=cfg.parent,
    )  # fmt: skip
    if out.returncode != 0:
        raise SystemExit(f"{mode} run failed:\n{out.stderr[-4000:]}")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    before, after, dt = res["before"], res["after"], res["wall_s"]
    per_cam = [(after[c]["analysed"] - before[c]["analysed"]) / dt for c in after]
    analysed = sum(after[c]["analysed"] - before[c]["analysed"] for c in after)
    cpu_per_frame = res["cpu_s"] / max(analysed, 1)
    row = {
        "mode": mode,
        "cameras": len(after),
        "online_s": round(res["online_s"], 1),
        "analysed_fps_mean": sum(per_cam) / len(per_cam),
        "analysed_fps_min": min(per_cam),
        "dropped": sum(after[c]["dropped"] - before[c]["dropped"] for c in after),
        "cpu_cores_used": res["cpu_s"] / dt,
        "cpu_ms_per_analysed_frame": 1000 * cpu_per_frame,
        "cameras_per_core_extrapolated": 1 / (cpu_per_frame * 5.0),
        "children_rss_mb": res["children_rss_mb"],
        "driver_peak_rss_mb": res["self_peak_rss_mb"],
    }
    if mode == "cluster":
        row["groups"] = len(res["groups"])
        row["group_peak_rss_mb"] = sorted(g["peak_rss_mb"] for g in res["groups"].values())
        ray_procs = {k: v for k, v in res["children_rss_mb"].items() if not k.startswith("ray::CameraGrou")}
        row["ray_processes_rss_mb"] = round(sum(sum(v) for v in ray_procs.values()), 1)  # GCS, raylet, agents
    return row


def event_write_rate(url: str, writers: int, per_writer: int) -> float:
    """Events stored per second (each with one outbox row, one transaction, as the groups store them)."""
    import threading
    import time

    from vigil.core.events import IncidentEvent
    from vigil.storage import Store

    stores = [Store(url, migrate=(i == 0)) for i in range(writers)]
    barrier = threading.Barrier(writers + 1)

    def write(n: int) -> None:
        barrier.wait()
        for i in range(per_writer):
            inc = f"w{n}-i{i // 3}"
            state = ("new", "update", "end")[i % 3]
            event = IncidentEvent(
                event_id=uuid.uuid4().hex, incident_id=inc, sequence=i % 3, state=state, type="stopped_vehicle",
                camera_id=f"cam-{n}", start_s=1.0, end_s=2.0 if state == "end" else None, bbox=(1.0, 2.0, 3.0, 4.0),
                confidence=0.8, severity=3, details={"speed_kmh": 0.0},
            )  # fmt: skip
            stores[n].record_event(event, ["city"])

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    rate = writers * per_writer / (time.perf_counter() - t0)
    for st in stores:
        st.close()
    return rate


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cameras", type=int, default=4)
    ap.add_argument("--group", type=int, default=2, help="cameras per group in the cluster run")
    ap.add_argument("--warm", type=float, default=15.0, help="seconds after every camera is online")
    ap.add_argument("--seconds", type=float, default=30.0, help="measuring window")
    ap.add_argument("--writers", type=int, nargs="*", default=[1, 4], help="concurrent event writers (store rate)")
    ap.add_argument("--events", type=int, default=1200, help="events per store-rate measurement")
    ap.add_argument("--json", help="write all figures here")
    args = ap.parse_args()

    from tests.storage.test_db import started_postgres

    server = started_postgres()
    rows = []
    rates: dict[int, float] = {}
    fsync = "?"
    try:
        # The store rate with durable commits, as in production: restart the server without the tests' fsync=off.
        server.halt()
        opts = f"-h 127.0.0.1 -p {server.port} -k {server.root}"
        server._run(str(server.bindir / "pg_ctl"), "-D", str(server.data), "-l", str(server.root / "log"), "-w",
                    "-t", "20", "-o", opts, "start")  # fmt: skip
        admin = create_engine(server.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            fsync = c.exec_driver_sql("SHOW fsync").scalar()
        for writers in args.writers:
            name = f"w_{uuid.uuid4().hex[:10]}"
            with admin.connect() as c:
                c.exec_driver_sql(f"CREATE DATABASE {name}")
            rates[writers] = event_write_rate(server.url(name), writers, args.events // writers)
        admin.dispose()
        for mode in ("embedded", "cluster"):
            name = f"b_{uuid.uuid4().hex[:10]}"
            admin = create_engine(server.url(), isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.exec_driver_sql(f"CREATE DATABASE {name}")
            admin.dispose()
            with tempfile.TemporaryDirectory(prefix=f"vigil-bench-{mode}-") as tmp:
                cfg = write_config(Path(tmp), args.cameras, args.group, server.url(name))
                rows.append(run_mode(mode, cfg, args.warm, args.seconds))
    finally:
        server.stop()
    emb, clu = rows
    print(f"{args.cameras} cameras (bundled 768x432 clip, real time, 5 analytic fps), {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}; window {args.seconds:g} s after {args.warm:g} s warm-up")  # fmt: skip
    head = f"{'mode':<9} {'online s':>8} {'fps/cam':>8} {'min':>6} {'cores':>6} {'ms CPU/frame':>13} {'cams/core*':>10}"
    print(head)
    for r in rows:
        print(f"{r['mode']:<9} {r['online_s']:>8.1f} {r['analysed_fps_mean']:>8.2f} {r['analysed_fps_min']:>6.2f} "
              f"{r['cpu_cores_used']:>6.2f} {r['cpu_ms_per_analysed_frame']:>13.1f} "
              f"{r['cameras_per_core_extrapolated']:>10.1f}")  # fmt: skip
    print("* extrapolated: 1 / (CPU per analysed frame x 5 fps), assuming the core is free for Vigil alone")
    print(f"embedded process peak RSS {emb['driver_peak_rss_mb']:.0f} MB; cluster: {clu['groups']} group(s) of "
          f"{args.group}, group peak RSS {clu['group_peak_rss_mb']} MB, driver {clu['driver_peak_rss_mb']:.0f} MB, "
          f"Ray's own processes (GCS, raylet, agents, idle workers) {clu['ray_processes_rss_mb']:.0f} MB")  # fmt: skip
    ratio = clu["cpu_ms_per_analysed_frame"] / emb["cpu_ms_per_analysed_frame"]
    print(f"ratio cluster/embedded: CPU per analysed frame {ratio:.2f}, "
          f"start-up {clu['online_s'] / emb['online_s']:.2f}")  # fmt: skip
    for writers, rate in rates.items():
        print(f"PostgreSQL here (fsync {fsync}, synchronous commit): {rate:.0f} events/s stored with their outbox rows "
              f"by {writers} writer(s)")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "cpu_per_frame_ratio": ratio, "event_rates": rates},
                                              indent=2))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
