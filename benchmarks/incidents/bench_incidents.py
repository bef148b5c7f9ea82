"""Run ``vigil eval`` over the development clips and the incident-free footage, and print the figures.

The labelled clips are ``../shared/data/incidents/labels.yaml`` (hand-read, see
its header); the incident-free footage is ``labels-dev.yaml`` here. Each clip
is analysed with its configuration in ``configs/`` (zones drawn once from a
frame; no per-clip thresholds). False alarms per camera-hour come from the
incident-free clips looped to ``--loop-to`` seconds each (default 3600: an hour
of each camera; several minutes of CPU per clip on 2 cores).

    .venv/bin/python benchmarks/incidents/bench_incidents.py [--loop-to 3600] [--phases 5] [--json out.json]

``--phases N`` analyses each labelled clip N times, pass k skipping its first k
frames, so that the analytic rate samples each of the N sets of frames a live
camera could happen to analyse: a label found at one phase only is luck.

Prints the per-label table, the per-type summary and the false alarms, and the
CPU seconds per analysed frame.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1].parent / "shared" / "data"


def show(title: str, result, cpu0: float) -> dict:
    """Print one ``vigil eval`` result under ``title`` with its CPU per analysed frame; returns its summary."""
    from vigil.cli.eval_cmds import format_report

    summary = result.as_dict()
    print(title)
    print(format_report(summary))
    frames = sum(r.frames_analysed for r in result.runs)
    print(f"   {frames} frames analysed; {(time.process_time() - cpu0) / max(frames, 1) * 1000:.1f} ms CPU per frame")
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop-to", type=float, default=3600.0, help="loop each incident-free clip to this length (s)")
    parser.add_argument("--json", help="write both reports as JSON here")
    parser.add_argument("--skip-incident-free", action="store_true", help="only the labelled incident clips")
    parser.add_argument(
        "--phases",
        type=int,
        default=1,
        help="analyse each labelled clip this many times, each pass skipping one more first frame (eval --phases)",
    )
    args = parser.parse_args()
    os.environ.setdefault("SHARED_DATA", str(DATA))
    from vigil.evaluation import evaluate

    labels = DATA / "incidents" / "labels.yaml"
    if not labels.is_file():
        print(f"{labels} is missing: the development data sits at ../shared/data beside the repo", file=sys.stderr)
        return 2
    out = {}
    cpu0, wall0 = time.process_time(), time.perf_counter()
    out["incidents"] = show("== labelled incident clips", evaluate(labels, HERE / "configs", phases=args.phases), cpu0)
    if not args.skip_incident_free:
        cpu0 = time.process_time()
        free = evaluate(HERE / "labels-dev.yaml", HERE / "configs", loop_to_s=args.loop_to)
        title = f"\n== incident-free footage, each clip looped to {args.loop_to:.0f} s"
        out["incident_free"] = show(title, free, cpu0)
    print(f"\nwall time {time.perf_counter() - wall0:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
