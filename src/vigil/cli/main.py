"""``vigil`` command line."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from vigil import __version__


def _progress_bar(enabled: bool):  # type: ignore[no-untyped-def]
    """A tqdm-backed progress callback (one bar per item), or None."""
    if not enabled:
        return None
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def update(item: str, done: int, total: int | None) -> None:
        bar = bars.get(item)
        if bar is None:
            bar = bars[item] = tqdm(total=total, desc=item, unit="frame" if item != "files" else "file", leave=True)
        bar.update(done - bar.n)
        if total is not None and done >= total:
            bar.close()

    return update


def _redaction_config(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from vigil.redaction.config import RedactionConfig

    overrides: dict = {}
    if args.method is not None:
        overrides["method"] = args.method
    if args.strength is not None:
        overrides["strength"] = args.strength
    faces: dict = {}
    if args.face_threshold is not None:
        faces["threshold"] = args.face_threshold
    if args.face_precision is not None:
        faces["precision"] = args.face_precision
    if faces:
        overrides["faces"] = faces
    if args.no_heads:
        overrides["heads"] = {"enabled": False}
    if args.no_plates:
        overrides["plates"] = {"enabled": False}
    elif args.plate_locator is not None:
        overrides["plates"] = {"locator": args.plate_locator}
    if args.detect_every is not None:
        overrides["video"] = {"detect_every": args.detect_every}
    if args.device is not None:
        overrides["detector"] = {"device": args.device}
    return RedactionConfig.model_validate(overrides)


def cmd_redact(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from vigil.redaction.batch import collect_inputs, redact_inputs
    from vigil.redaction.engine import Redactor
    from vigil.sources import SourceError

    try:
        config = _redaction_config(args)
    except ValidationError as exc:
        print(f"vigil redact: invalid option: {exc}", file=sys.stderr)
        return 2
    try:
        inputs = collect_inputs(Path(args.input))
    except SourceError as exc:
        print(f"vigil redact: {exc}", file=sys.stderr)
        return 2
    if not inputs:
        print(f"vigil redact: {args.input}: no files to redact", file=sys.stderr)
        return 2
    redactor = Redactor(config)
    try:
        report = redact_inputs(inputs, Path(args.output), redactor, _progress_bar(not args.quiet))
    finally:
        redactor.close()
    summary = report.as_dict()
    if args.report:
        Path(args.report).write_text(json.dumps(summary, indent=2) + "\n")
    for failure in report.failed:
        print(f"error: {failure['error']}", file=sys.stderr)
    print(
        f"redacted {len(report.written)} of {report.inputs} inputs ({report.frames} frames, "
        f"{summary['fps'] or 0} frames/s) into {args.output}; regions {summary['regions']}"
        + (f"; {report.fail_closed_frames} frames obscured whole (fail closed)" if report.fail_closed_frames else "")
    )
    return 1 if report.failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vigil", description="Privacy-first incident detection for city cameras.")
    parser.add_argument("--version", action="version", version=f"vigil {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True)

    red = sub.add_parser("redact", help="write redacted copies of an image, a folder of images or a video")
    red.add_argument("input", help="image, directory of images, or video file")
    red.add_argument("-o", "--output", required=True, help="output directory (created if missing)")
    red.add_argument("--report", help="write JSON counts to this file")
    red.add_argument("--method", choices=["blur", "pixelate", "fill"], help="how regions are obscured (default blur)")
    red.add_argument("--strength", type=int, help="cells across a region's short side; lower is stronger")
    red.add_argument("--face-threshold", type=float, help="face detector score threshold (default 0.085)")
    red.add_argument(
        "--face-precision",
        choices=["auto", "fp32", "int8"],
        help="face model weights (default auto: int8 on the CPU, fp32 on cuda/tensorrt)",
    )
    red.add_argument("--detect-every", type=int, help="video: run detection on every Nth frame (default 3)")
    red.add_argument("--no-heads", action="store_true", help="do not obscure head regions of detected people")
    red.add_argument("--no-plates", action="store_true", help="do not obscure licence plates")
    red.add_argument(
        "--plate-locator",
        choices=["text+classical", "classical", "text"],
        help="how plates are found (default text+classical: text detection and the classical locator)",
    )
    red.add_argument("--device", choices=["cpu", "cuda", "tensorrt", "auto"], help="inference device (default cpu)")
    red.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    red.set_defaults(func=cmd_redact)

    from vigil.cli import config_cmds

    config_cmds.add_parsers(sub)

    from vigil.cli import cluster_cmds, demo_cmds, eval_cmds, run_cmds, user_cmds

    run_cmds.add_parsers(sub)
    cluster_cmds.add_parsers(sub)
    demo_cmds.add_parsers(sub)
    eval_cmds.add_parsers(sub)
    user_cmds.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
