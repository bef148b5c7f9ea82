"""``vigil eval``: detection rate, time to detect and false alarms on labelled clips."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from vigil.evaluation.labels import LabelsError


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


def format_report(report: dict[str, Any]) -> str:
    """The tables ``vigil eval`` prints: per clip and label, per type, and false alarms."""
    lines = ["clip                                 type             label window     detected  time to detect"]
    for clip in report["clips"]:
        name = clip["clip"] if not clip.get("phase") else f"{clip['clip'][:32]} @{clip['phase']}"
        for lab in clip["labels"]:
            lines.append(
                f"{name[:36]:36} {lab['type']:16} {lab['start']:6.1f}-{lab['end']:<6.1f}   "
                f"{'yes' if lab['detected'] else 'NO':8}  {_cell(lab['time_to_detect_s'])}"
            )
        for fa in clip["false_alarms"]:
            kind = "duplicate" if fa in clip["duplicates"] else "false alarm"
            lines.append(f"{name[:36]:36} {fa['type']:16} at {fa['start_s']:6.1f} s      {kind}")
        for wt in clip["wrong_type"]:
            lab = wt["label"]
            why = f"a 'not {lab['type']}' item" if lab["not"] else f"inside a {lab['type']} label"
            lines.append(f"{name[:36]:36} {wt['type']:16} at {wt['start_s']:6.1f} s      wrong type ({why})")
    lines.append("")
    lines.append("type             labels  detected  rate   time to detect median / max (s)")
    for kind, row in report["by_type"].items():
        lines.append(
            f"{kind:16} {row['labels']:6}  {row['detected']:8}  {_cell(row['detection_rate']):5}  "
            f"{_cell(row['time_to_detect_median_s'])} / {_cell(row['time_to_detect_max_s'])}"
        )
    for title, key in (("all clips", "false_alarms"), ("incident-free clips", "false_alarms_incident_free")):
        fa = report[key]
        lines.append(
            f"false alarms, {title}: {fa['false_alarms']} in {fa['video_hours']} h of video "
            f"({_cell(fa['per_camera_hour'])} per camera-hour; {fa['wrong_type']} wrong-type) {fa['by_type'] or ''}"
        )
    for error in report["errors"]:
        lines.append(f"error: {error}")
    return "\n".join(lines)


def cmd_eval(args: argparse.Namespace) -> int:
    from vigil.evaluation import evaluate

    def progress(name: str) -> None:
        if not args.quiet:
            print(f"evaluating {name} ...", file=sys.stderr, flush=True)

    try:
        report = evaluate(
            Path(args.labels),
            Path(args.configs),
            clips=args.clip or None,
            loop_to_s=args.loop_to,
            motion_gating=not args.no_motion_gating,
            progress=progress,
            phases=args.phases,
            analytic_fps=args.analytic_fps,
        )
    except LabelsError as exc:
        print(f"vigil eval: {exc}", file=sys.stderr)
        return 2
    summary = report.as_dict()
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
    print(format_report(summary))
    return 1 if report.errors else 0


def _rate(text: str) -> float:
    """An analytic rate as a camera's ``analytic_fps`` accepts it."""
    from vigil.evaluation.runner import EvalError, analytic_rate

    try:
        fps = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    try:
        return analytic_rate(fps)
    except EvalError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parsers(sub: argparse._SubParsersAction) -> None:
    ev = sub.add_parser(
        "eval",
        help="measure detection rate, time to detect and false alarms on labelled clips",
        description="Event-level evaluation: an incident of type T matches a label of type T when its start lies "
        "in [label start - 1 s, label end]; each label matches once; every other incident is a false alarm "
        "(wrong-type when inside another type's label or a 'not' item). See vigil.evaluation.matching.",
    )
    ev.add_argument("labels", help="labels YAML (format of ../shared/data/incidents/labels.yaml)")
    ev.add_argument("-c", "--configs", required=True, help="folder with one configuration per clip (<clip>.yaml)")
    ev.add_argument("--clip", action="append", help="evaluate only this clip (by name; repeatable)")
    ev.add_argument(
        "--loop-to",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="loop incident-free clips to this length (e.g. 3600 for false alarms per camera-hour)",
    )
    ev.add_argument(
        "--phases",
        type=int,
        default=1,
        metavar="N",
        help="analyse each clip N times, pass k skipping its first k frames, so that the analytic rate samples "
        "other frames (a label found at one phase only is found by luck)",
    )
    ev.add_argument(
        "--analytic-fps",
        type=_rate,
        metavar="FPS",
        help="analyse every camera at this rate instead of its own (the collision rule was calibrated at 5: "
        "measure another rate here before a site uses it)",
    )
    ev.add_argument("--json", help="write the full report as JSON to this file")
    ev.add_argument("--no-motion-gating", action="store_true", help="run the detector on every analysed frame")
    ev.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    ev.set_defaults(func=cmd_eval)
