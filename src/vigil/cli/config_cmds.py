"""``vigil check-config`` and ``vigil analyze``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from vigil.config import ConfigError, load_config


def cmd_check_config(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"{exc.source}: {len(exc.issues)} error(s)", file=sys.stderr)
        for issue in exc.issues:
            print(f"  {issue}", file=sys.stderr)
        return 1
    zones = sum(len(c.zones) for c in config.cameras)
    print(
        f"{args.config}: OK ({len(config.cameras)} camera(s), {zones} zone(s), "
        f"{len(config.services)} service(s), {len(config.routing)} routing rule(s))"
    )
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from vigil.pipeline.analyze import analyze_video, event_line
    from vigil.sources import SourceError

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    events_file = Path(args.events).open("w") if args.events else None  # noqa: SIM115 - closed below
    printer = None if args.quiet else (lambda e: print(event_line(e), flush=True))
    try:
        report = analyze_video(
            Path(args.video),
            config,
            camera_id=args.camera,
            events_out=events_file,
            evidence_dir=Path(args.evidence) if args.evidence else None,
            motion_gating=not args.no_motion_gating,
            on_event=printer,
        )
    except (SourceError, ValueError) as exc:
        print(f"vigil analyze: {exc}", file=sys.stderr)
        return 1
    finally:
        if events_file is not None:
            events_file.close()
    summary = report.as_dict()
    if args.report:
        Path(args.report).write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"analysed {report.video}: {report.duration_s:.1f} s of video in {report.wall_s:.1f} s "
        f"({report.realtime_factor:.1f}x real time), {report.frames_analysed} frames analysed, "
        f"{report.frames_detected} detected; incidents {report.incidents_by_type or 'none'}",
        file=sys.stderr,
    )
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    check = sub.add_parser("check-config", help="validate a configuration file and list every error")
    check.add_argument("config", help="YAML configuration file")
    check.set_defaults(func=cmd_check_config)

    ana = sub.add_parser("analyze", help="find incidents in a video file, as fast as possible")
    ana.add_argument("video", help="video file")
    ana.add_argument("-c", "--config", required=True, help="YAML configuration (zones and thresholds)")
    ana.add_argument("--camera", help="camera id whose zones apply (default: the first camera)")
    ana.add_argument("--events", help="write one JSON line per incident state change to this file")
    ana.add_argument("--evidence", help="also write redacted snapshots and clips into this folder")
    ana.add_argument("--report", help="write timing figures as JSON to this file")
    ana.add_argument("--no-motion-gating", action="store_true", help="run the detector on every analysed frame")
    ana.add_argument("-q", "--quiet", action="store_true", help="do not print events to stdout")
    ana.set_defaults(func=cmd_analyze)
