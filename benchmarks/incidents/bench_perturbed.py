"""Run ``vigil eval`` on degraded copies of the development clips: night, low bitrate, rain.

The development clips are few and mostly daylight, so a false alarm that only
night noise, compression blocks or rain streaks bring out stays hidden. This
benchmark re-encodes each clip (PyAV, libx264) three ways and evaluates the
copies with the clips' own labels and configurations:

``night``
    gamma 1.8, brightness x0.45 and grey sensor noise (sigma 7): a lit street
    at night, the detector's scores drop and boxes jitter.
``lowbitrate``
    150 kb/s: a congested uplink, blocking and smearing on motion.
``rain``
    about one bright slanted streak per 1500 px, new each frame, over a light
    veil: heavy rain in front of the lens.

The degradations are synthetic: they find rules that break on noisier
detections, not the figures of real night or rain footage. The copies are
test input, as identifiable as the dev clips they come from (not Vigil output,
which is redacted): they are written to a temporary folder removed at exit, or
to ``--work`` when asked, and never into the repo.
Incident-free clips by default; ``--labelled`` adds the labelled incident
clips (their labels unchanged), to see which detections survive.

    .venv/bin/python benchmarks/incidents/bench_perturbed.py [--labelled] [--kinds night,rain] [--phases 5]
        [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1].parent / "shared" / "data"
KINDS = ("night", "lowbitrate", "rain")
SEED = 7


def degrade(src: Path, dst: Path, kind: str) -> None:
    """Write ``src`` degraded by ``kind`` to ``dst`` (H.264 in MP4, same frame rate, even size)."""
    rng = np.random.default_rng(SEED)
    lut = np.clip(((np.arange(256) / 255.0) ** 1.8) * 255 * 0.45, 0, 255).astype(np.uint8)
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        ist = inp.streams.video[0]
        st = out.add_stream("libx264", rate=ist.average_rate or Fraction(25))
        st.width, st.height, st.pix_fmt = ist.width - ist.width % 2, ist.height - ist.height % 2, "yuv420p"
        if kind == "lowbitrate":
            st.bit_rate = 150_000
        else:
            st.options = {"crf": "20"}
        for frame in inp.decode(ist):
            img = frame.to_ndarray(format="bgr24")[: st.height, : st.width]
            if kind == "night":
                img = cv2.LUT(img, lut)
                noise = rng.normal(0, 7, img.shape[:2]).astype(np.float32)
                img = np.clip(img.astype(np.float32) + noise[..., None], 0, 255).astype(np.uint8)
            elif kind == "rain":
                h, w = img.shape[:2]
                layer = np.zeros((h, w), np.uint8)
                n = (h * w) // 1500
                for x, y in zip(rng.integers(0, w, n).tolist(), rng.integers(0, h, n).tolist(), strict=True):
                    cv2.line(layer, (x, y), (x + 4, y + 18), 180, 1)
                layer = cv2.GaussianBlur(layer, (3, 3), 0)
                img = cv2.addWeighted(img, 0.85, np.full_like(img, 200), 0.15, 0)
                img = np.maximum(img, cv2.merge([layer] * 3) // 2 + img // 2)
            out_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="bgr24")
            for packet in st.encode(out_frame):
                out.mux(packet)
        for packet in st.encode():
            out.mux(packet)


def clips(labelled: bool) -> list[tuple[Path, dict]]:
    """(source file, label entry with an explicit config) for each clip to degrade."""
    out = []
    sources = [(HERE / "labels-dev.yaml", True)] + ([(DATA / "incidents" / "labels.yaml", False)] if labelled else [])
    for labels_file, has_config in sources:
        for entry in yaml.safe_load(labels_file.read_text())["clips"]:
            path = (labels_file.parent / entry["file"]).resolve()
            if not has_config:  # found by name: the clip's folder
                entry = {**entry, "config": f"{path.parent.name}.yaml"}
            out.append((path, entry))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated, of {', '.join(KINDS)}")
    parser.add_argument("--labelled", action="store_true", help="also degrade the labelled incident clips")
    parser.add_argument("--work", help="folder for the degraded copies (default: a temporary one, removed)")
    parser.add_argument("--json", help="write the report per kind as JSON here")
    parser.add_argument("--phases", type=int, default=1, help="analyse each copy this many times (eval --phases)")
    args = parser.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = set(kinds) - set(KINDS)
    if unknown:
        parser.error(f"unknown kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
    os.environ.setdefault("SHARED_DATA", str(DATA))
    if not (DATA / "incidents" / "labels.yaml").is_file():
        print(f"{DATA} is missing: the development data sits at ../shared/data beside the repo", file=sys.stderr)
        return 2
    from bench_incidents import show  # beside this script

    from vigil.evaluation import evaluate

    tmp = None if args.work else tempfile.TemporaryDirectory(prefix="vigil-perturbed-")
    work = Path(args.work or tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    report: dict[str, dict] = {}
    wall0 = time.perf_counter()
    try:
        for kind in kinds:
            entries = []
            for src, entry in clips(args.labelled):
                dst = work / f"{src.parent.name}_{src.stem}_{kind}.mp4"
                if not dst.is_file():
                    degrade(src, dst, kind)
                entries.append({**entry, "file": str(dst)})
            labels = work / f"labels-{kind}.yaml"
            labels.write_text(yaml.safe_dump({"clips": entries}, sort_keys=False))
            cpu0 = time.process_time()
            result = evaluate(labels, HERE / "configs", phases=args.phases)
            report[kind] = summary = show(f"== {kind}: {len(entries)} clips", result, cpu0)
            for clip in summary["clips"]:
                for alarm in clip["false_alarms"] + clip["wrong_type"]:
                    print(f"   false alarm: {clip['clip']} {alarm['type']} at {alarm['start_s']} s")
            print()
    finally:
        if tmp is not None:
            tmp.cleanup()
    print(f"wall time {time.perf_counter() - wall0:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
