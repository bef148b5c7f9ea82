"""Road-user recall and cost of the detail windows, against the dev ground truth, in one run.

Variants of the detector stage, each a real ``CameraPipeline`` (motion gate,
detector, tracker with the shipped NanoDet profile, rules) fed the same frames
in turn, so that their costs are measured under the same machine load:

* ``whole``: the whole frame at NanoDet's input (416 px long side), no windows;
* ``w1``, ``w2``, ``w3``: plus up to 1, 2, 3 detail windows (``small_px`` 40);
* ``w2 s30``, ``w2 s60``: 2 windows, ``small_px`` 30 and 60;
* ``native``: the whole frame at its own resolution (``input_size`` = frame size), no windows.

Ground truth:

* PETS09-S2L1 (``vtest.avi``, 768x576) persons, MOT15, analysed at 5 fps (every
  other frame), rows flagged 'not considered' neither count as misses nor
  make a detection a false positive;
* UA-DETRAC MVI_20011 frames 1-2 (960x540), the 5 annotated vehicles (the
  annotation is incomplete, so no false positives are counted there). The 9
  still frames are fed in reverse order (9, 8, ... 1, at 25 fps) so that the
  motion gate has seen motion by the annotated frames 2 and 1;
* ``ua_detrac.mp4`` (no ground truth) for the cost at 960x540 and the number of
  vehicle detections per frame.

Recall: a ground-truth box counts as found when a detection of its kind (person;
car/motorcycle/bus/truck) at the given score or more overlaps it at IoU >= 0.5
(one to one), in what the pipeline handed the tracker. Cost: wall and process
CPU ms per analysed frame of the pipeline step, and the ratio to ``whole``.

Run (2 shared cores: nice it)::

    nice -n 10 .venv/bin/python benchmarks/tracking/bench_detail.py --json /tmp/detail.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DATA, PETS_GT, PETS_VIDEO, REPO, FrameLog, MotGT, Run, frames_of, match_flags, persons, pets_camera

from vigil.core import Detections, Frame
from vigil.detection import build_detector
from vigil.detection.config import DetailConfig, ObjectDetectorConfig
from vigil.rules.base import VEHICLE_LABELS

UA_DIR = DATA / "ua_detrac_evadb"
UA_XML = UA_DIR / "MVI_20011_frames1-2.xml"
UA_VIDEO = UA_DIR / "ua_detrac.mp4"
UA_CONFIG = REPO / "tests" / "data" / "ua_detrac.yaml"
SCORES = (0.2, 0.3, 0.4, 0.5)
PERSON_BINS = (72.0, 96.0)  # box height in frame px; 72 px is NanoDet's 39 px at the 416 px whole-frame pass
VEHICLE_BINS = (64.0, 128.0)  # long side in frame px

VARIANTS: dict[str, DetailConfig | None] = {
    "whole": DetailConfig(enabled=False),
    "w1": DetailConfig(max_windows=1),
    "w2": DetailConfig(max_windows=2),
    "w3": DetailConfig(max_windows=3),
    "w2 s30": DetailConfig(max_windows=2, small_px=30.0),
    "w2 s60": DetailConfig(max_windows=2, small_px=60.0),
    "native": None,
}


def make_runs(camera_cfg: Path, fps: float, size: tuple[int, int], detector: object) -> list[Run]:
    camera, rules = pets_camera(fps, camera_cfg)
    base = ObjectDetectorConfig()
    native = build_detector(ObjectDetectorConfig(input_size=(size[0], -(-size[1] // 32) * 32)))
    runs = []
    for name, detail in VARIANTS.items():
        det = native if detail is None else detector
        runs.append(Run(name, det, camera, rules, base.tracking_profile(), detail or DetailConfig(enabled=False)))
    return runs


def step_all(runs: list[Run], frame: Frame, k: int) -> None:
    """Every variant on the frame, starting with a different one each frame (no order bias in the timing)."""
    for i in range(len(runs)):
        runs[(i + k) % len(runs)].step(frame)


def ua_gt() -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Frame -> (xyxy vehicle boxes, considered flags: all True) from the DETRAC XML."""
    root = ET.parse(UA_XML).getroot()
    out = {}
    for fr in root.iter("frame"):
        boxes = []
        for box in fr.iter("box"):
            x, y, w, h = (float(box.get(k)) for k in ("left", "top", "width", "height"))
            boxes.append([x, y, x + w, y + h])
        xyxy = np.asarray(boxes, np.float32).reshape(-1, 4)
        out[int(fr.get("num"))] = (xyxy, np.ones(len(xyxy), bool))
    return out


def vehicles(found: Detections) -> Detections:
    labels = np.asarray(found.data.get("label", np.zeros(len(found), dtype=object))).astype(str)
    return found[np.isin(labels, VEHICLE_LABELS)] if len(found) else found


def recall_rows(logs: list[FrameLog], gt_of, kind, size_of, bins: tuple[float, ...], count_fp: bool) -> dict[str, dict]:
    """Recall overall and by size, and false positives per frame, at each score in SCORES."""
    out = {}
    for score in SCORES:
        sizes, hits, fps_ = [], [], 0
        frames = 0
        for log in logs:
            gt = gt_of(log.frame)
            if gt is None:
                continue
            gbox, considered = gt
            frames += 1
            hit, fp = match_flags(gbox, considered, kind(log.fed), score)
            sizes.append(size_of(gbox[considered]))
            hits.append(hit)
            fps_ += fp
        s, h = np.concatenate(sizes), np.concatenate(hits)
        edges = (0.0, *bins, np.inf)
        by_size = {}
        for lo, hi in itertools.pairwise(edges):
            sel = (s >= lo) & (s < hi)
            label = f"<{hi:g}" if lo == 0 else (f">={lo:g}" if hi == np.inf else f"{lo:g}-{hi:g}")
            by_size[label] = {"n": int(sel.sum()), "recall": float(h[sel].mean()) if sel.any() else None}
        out[f"{score:g}"] = {
            "n": int(h.size),
            "recall": float(h.mean()),
            "by_size": by_size,
            "fp_per_frame": fps_ / max(frames, 1) if count_fp else None,
        }
    return out


def cost(runs: list[Run]) -> dict[str, dict]:
    base_wall = np.mean([log.wall_s for log in runs[0].logs])
    base_cpu = np.mean([log.cpu_s for log in runs[0].logs])
    out = {}
    for run in runs:
        wall = float(np.mean([log.wall_s for log in run.logs]))
        cpu = float(np.mean([log.cpu_s for log in run.logs]))
        out[run.name] = {
            "frames": len(run.logs),
            "windows_per_frame": float(np.mean([log.windows for log in run.logs])),
            "wall_ms": 1000 * wall,
            "cpu_ms": 1000 * cpu,
            "wall_ratio": wall / base_wall,
            "cpu_ratio": cpu / base_cpu,
        }
    return out


def print_table(title: str, recall: dict, costs: dict, score: str) -> None:
    print(f"\n{title} (score >= {score})")
    first = next(iter(recall.values()))[score]
    bins = list(first["by_size"])
    head = f"{'variant':<8} {'recall':>6} " + " ".join(
        f"{b + ' (' + str(first['by_size'][b]['n']) + ')':>13}" for b in bins
    )
    head += f" {'FP/fr':>6} {'win/fr':>6} {'wall ms':>8} {'CPU ms':>7} {'x CPU':>6}"
    print(head)
    for name, rec in recall.items():
        r, c = rec[score], costs[name]
        cells = " ".join(
            f"{'-' if r['by_size'][b]['recall'] is None else format(r['by_size'][b]['recall'], '.3f'):>13}"
            for b in bins
        )
        fp = "-" if r["fp_per_frame"] is None else f"{r['fp_per_frame']:.2f}"
        print(
            f"{name:<8} {r['recall']:>6.3f} {cells} {fp:>6} {c['windows_per_frame']:>6.2f} {c['wall_ms']:>8.1f} "
            f"{c['cpu_ms']:>7.1f} {c['cpu_ratio']:>6.2f}"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pets-fps", type=float, default=5.0)
    ap.add_argument(
        "--frames", type=int, default=None, help="only the first N decoded frames of each clip (a quick check)"
    )
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    detector = build_detector(ObjectDetectorConfig())
    results: dict = {}

    # PETS09 persons.
    gt = MotGT.load(PETS_GT)
    runs = make_runs(REPO / "tests/data/vtest.yaml", args.pets_fps, (768, 576), detector)
    for k, frame in enumerate(frames_of(PETS_VIDEO, args.frames)):
        step_all(runs, frame, k)

    def pets_gt(f: int):
        _, xyxy, considered = gt.frame(f)
        return xyxy, considered

    def height(b: np.ndarray) -> np.ndarray:
        return b[:, 3] - b[:, 1]

    def long_side(b: np.ndarray) -> np.ndarray:
        return np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])

    results["pets"] = {
        "recall": {r.name: recall_rows(r.logs, pets_gt, persons, height, PERSON_BINS, True) for r in runs},
        "cost": cost(runs),
    }

    # UA-DETRAC annotated frames, fed 9 -> 1.
    ua = ua_gt()
    runs = make_runs(UA_CONFIG, 25.0, (960, 540), detector)
    for k, num in enumerate(range(9, 0, -1)):
        image = cv2.imread(str(UA_DIR / "MVI_20011" / f"img{num:05d}.jpg"))
        step_all(runs, Frame(image, "ua", num - 1, k / 25.0), k)
    results["ua_frames"] = {
        "recall": {r.name: recall_rows(r.logs, ua.get, vehicles, long_side, VEHICLE_BINS, False) for r in runs},
    }

    # ua_detrac.mp4: cost at 960x540, vehicles found per frame.
    runs = make_runs(UA_CONFIG, 10.0, (960, 540), detector)
    for k, frame in enumerate(frames_of(UA_VIDEO, args.frames)):
        step_all(runs, frame, k)
    results["ua_video"] = {
        "cost": cost(runs),
        "vehicles_per_frame": {
            r.name: {
                f"{s:g}": float(np.mean([(vehicles(log.fed).confidence >= s).sum() for log in r.logs])) for s in SCORES
            }
            for r in runs
        },
    }

    for score in ("0.3", "0.5"):
        print_table("PETS09 persons", results["pets"]["recall"], results["pets"]["cost"], score)
    for score in ("0.3", "0.5"):
        print_table(
            "UA-DETRAC frames 1-2 vehicles (cost: ua_detrac.mp4)",
            results["ua_frames"]["recall"],
            results["ua_video"]["cost"],
            score,
        )
    print("\nua_detrac.mp4 vehicle detections per analysed frame at score >= 0.3 / 0.5:")
    for name, v in results["ua_video"]["vehicles_per_frame"].items():
        print(f"  {name:<8} {v['0.3']:.2f} / {v['0.5']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
