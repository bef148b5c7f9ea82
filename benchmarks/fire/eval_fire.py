#!/usr/bin/env python3
"""Measure vigil.detection.fire.ClassicalFireDetector on a real fire and on clips without fire.

Every clip is decoded with PyAV and analysed at ``--fps`` (5 by default, the
analytic rate): a frame is analysed when its pts reaches the next 1/fps step.
Data is read in place from ../shared/data.

* ``furg_fire/house6.mp4`` (CC0) with ``house6.xml`` per-frame fire boxes:
  time of the first annotated fire frame, time of the first fire detection
  (latency = difference), and per-box precision / recall over the analysed
  frames. A detected box matches an annotated box when their IoU > 0.1 or the
  centre of one lies inside the other (the annotations are loose window-sized
  boxes, the detections cover the flickering part of a flame).
* negatives (road from above, people indoors, pedestrians, an intersection):
  analysed frames with any fire / smoke detection after ``--warmup`` seconds.
* smoke sanity check: no real smoke clip with ground truth is at hand, so a
  synthetic translucent grey plume (growing upward for 6 s from ``t = 6 s``)
  is composited onto the first 20 s of two negative clips; the time of the
  first smoke box overlapping the plume is printed (a check that the branch
  works at all, not a measure of real-smoke recall).
* speed: ms per ``update`` on one thread (cv2.setNumThreads(1)) over the first
  ``--speed-frames`` analysed frames, best of ``--repeat`` runs per frame so
  that other processes on the machine inflate it less.

    python benchmarks/fire/eval_fire.py [--fps 5] [--warmup 5] [--config '{"min_flicker": 0.3}']
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from vigil.core import Detections  # noqa: E402
from vigil.core.boxes import iou_matrix  # noqa: E402
from vigil.detection.fire import ClassicalFireDetector, FireDetectorConfig  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
FIRE = DATA / "furg_fire" / "house6.mp4"
NEGATIVES = {
    "car-detection": DATA / "intel_sample_videos" / "car-detection.mp4",
    "one-by-one-person": DATA / "intel_sample_videos" / "one-by-one-person-detection.mp4",
    "vtest": DATA / "opencv_vtest" / "vtest.avi",
    "ua_detrac": DATA / "ua_detrac_evadb" / "ua_detrac.mp4",
}
PLUMES = {"vtest": (0.4, 0.85), "one-by-one-person": (0.3, 0.95)}  # plume base, fractions of width / height
EMPTY = np.zeros((0, 4), np.float32)


def frames(path: Path, fps: float) -> Iterator[tuple[int, float, np.ndarray]]:
    """(frame index, pts in s, BGR image) of the frames analysed at ``fps``."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or 25)
        due = 0.0
        for index, frame in enumerate(container.decode(stream)):
            pts = float(frame.pts * stream.time_base) if frame.pts is not None else index / rate
            if pts + 1e-6 >= due:
                due += 1.0 / fps
                yield index, pts, frame.to_ndarray(format="bgr24")


def furg_boxes(xml_path: Path) -> dict[int, np.ndarray]:
    """Per-frame annotated fire boxes (xyxy) from the FURG OpenCV-storage XML."""
    out: dict[int, np.ndarray] = {}
    root = ET.parse(xml_path).getroot().find("frames")
    for node in [] if root is None else root:
        annotations = node.find("annotations")
        rects = [list(map(float, r.text.split())) for r in ([] if annotations is None else annotations) if r.text]
        xywh = np.asarray(rects, np.float32).reshape(-1, 4)
        out[int(node.findtext("frameNumber", "-1"))] = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], 1)
    return out


def matches(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(len(pred), len(gt)) bool: IoU > 0.1, or the centre of one box inside the other."""
    if len(pred) == 0 or len(gt) == 0:
        return np.zeros((len(pred), len(gt)), bool)

    def inside(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        c = (a[:, None, :2] + a[:, None, 2:]) / 2
        return np.all((c >= b[None, :, :2]) & (c <= b[None, :, 2:]), axis=2)

    return (iou_matrix(pred, gt) > 0.1) | inside(pred, gt) | inside(gt, pred).T


def boxes_of(found: Detections, label: str) -> np.ndarray:
    return found.xyxy[found.data["label"] == label] if len(found) else EMPTY


def run_clip(path: Path, config: FireDetectorConfig, fps: float) -> list[tuple[int, float, Detections]]:
    """Detections of every analysed frame, with its index and pts."""
    detector = ClassicalFireDetector(config)
    return [(index, pts, detector.update(image, pts)) for index, pts, image in frames(path, fps)]


def speed(path: Path, config: FireDetectorConfig, fps: float, n_frames: int, repeat: int) -> str:
    """ms per ``update`` over the first ``n_frames`` analysed frames, best of ``repeat`` runs per frame."""
    clip = []
    for item in frames(path, fps):
        clip.append(item)
        if len(clip) >= n_frames:
            break
    best = np.full(len(clip), np.inf)
    for _ in range(repeat):
        detector = ClassicalFireDetector(config)  # fresh, so every run sees the same state
        for i, (_, pts, image) in enumerate(clip):
            start = time.perf_counter()
            detector.update(image, pts)
            best[i] = min(best[i], (time.perf_counter() - start) * 1000)
    h, w = clip[0][2].shape[:2]
    t = best[1:]
    return f"{w}x{h}: {t.mean():.2f} ms mean, {np.median(t):.2f} median, {np.percentile(t, 95):.2f} p95"


def eval_fire(config: FireDetectorConfig, fps: float) -> None:
    gt = furg_boxes(FIRE.with_suffix(".xml"))
    with av.open(str(FIRE)) as container:
        rate = float(container.streams.video[0].average_rate or 30)
    results = run_clip(FIRE, config, fps)
    first_gt = min((i for i, b in gt.items() if len(b)), default=None)
    tp_pred = n_pred = tp_gt = n_gt = frames_hit = frames_gt = smoke_frames = 0
    first_fire = None
    for index, pts, found in results:
        fire, truth = boxes_of(found, "fire"), gt.get(index, EMPTY)
        smoke_frames += bool(len(boxes_of(found, "smoke")))
        m = matches(fire, truth)
        tp_pred, n_pred = tp_pred + int(m.any(1).sum()), n_pred + len(fire)
        tp_gt, n_gt = tp_gt + int(m.any(0).sum()), n_gt + len(truth)
        frames_gt += bool(len(truth))
        frames_hit += bool(m.any())
        if first_fire is None and len(fire):
            first_fire = (pts, bool(m.any()))
    print(f"house6 ({len(results)} frames analysed at {fps:g} fps)")
    if first_gt is None:
        print("  no annotated fire")
        return
    print(f"  first annotated fire frame: {first_gt} ({first_gt / rate:.2f} s)")
    if first_fire is None:
        print("  no fire detected")
    else:
        print(
            f"  first fire detection: {first_fire[0]:.2f} s, latency {first_fire[0] - first_gt / rate:.2f} s, "
            f"overlaps an annotated box: {first_fire[1]}"
        )
    print(
        f"  box precision {tp_pred / max(n_pred, 1):.3f} ({tp_pred}/{n_pred}), "
        f"box recall {tp_gt / max(n_gt, 1):.3f} ({tp_gt}/{n_gt}), "
        f"frames with a matching detection {frames_hit}/{frames_gt}, frames with smoke {smoke_frames}"
    )


def eval_negative(name: str, path: Path, config: FireDetectorConfig, fps: float, warmup: float) -> None:
    results = run_clip(path, config, fps)
    early = sum(1 for _, pts, f in results if pts < warmup and len(f))
    counted = [(pts, f) for _, pts, f in results if pts >= warmup]
    fire = [pts for pts, f in counted if len(boxes_of(f, "fire"))]
    smoke = [pts for pts, f in counted if len(boxes_of(f, "smoke"))]
    n = max(len(counted), 1)
    print(
        f"{name} ({len(counted)} frames after {warmup:g} s): fire frames {len(fire)} ({len(fire) / n:.2%}), "
        f"smoke frames {len(smoke)} ({len(smoke) / n:.2%}); frames with detections during warm-up {early}"
    )


def plume(image: np.ndarray, t: float, base: tuple[float, float], t0: float = 6.0, grow_s: float = 6.0) -> np.ndarray:
    """Composite a translucent grey plume that rises from ``base`` and grows for ``grow_s`` after ``t0``."""
    if t < t0:
        return image
    h, w = image.shape[:2]
    p = min(1.0, (t - t0) / grow_s)
    bx, by = base[0] * w, base[1] * h
    top = by - (0.05 + 0.5 * p) * h
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    up = np.clip((by - yy) / max(by - top, 1.0), 0, 1)
    half = (0.03 + 0.12 * up) * w * (0.4 + 0.6 * p)
    sway = 0.02 * w * np.sin(yy / h * 12 + t * 1.5)
    body = np.exp(-(((xx - bx - sway) / np.maximum(half, 1)) ** 2)) * (yy <= by) * (yy >= top)
    noise = np.random.default_rng(int(t * 5)).random((h // 8 + 1, w // 8 + 1)).astype(np.float32)
    noise = cv2.resize(cv2.GaussianBlur(noise, (0, 0), 1.0), (w, h))
    alpha = np.clip(0.55 * body * (0.7 + 0.6 * noise), 0, 0.7)[..., None]
    return (image * (1 - alpha) + 185.0 * alpha).astype(np.uint8)


def eval_plume(name: str, path: Path, config: FireDetectorConfig, fps: float) -> None:
    detector = ClassicalFireDetector(config)
    first, hits, total = None, 0, 0
    for _, pts, image in frames(path, fps):
        if pts > 20:
            break
        found = boxes_of(detector.update(plume(image, pts, PLUMES[name]), pts), "smoke")
        h, w = image.shape[:2]
        bx, by = PLUMES[name][0] * w, PLUMES[name][1] * h
        on_plume = [b for b in found if b[0] - 0.2 * w <= bx <= b[2] + 0.2 * w and b[1] <= by + 5]
        total += pts >= 12
        hits += pts >= 12 and bool(on_plume)
        if first is None and on_plume:
            first = pts
        if len(found) > len(on_plume):
            print(f"  {name} + plume: smoke box away from the plume at {pts:.1f} s")
    when = "never" if first is None else f"{first:.1f} s ({first - 6.0:.1f} s after it starts)"
    print(f"{name} + synthetic plume from 6 s: first smoke on it at {when}; frames 12-20 s with it: {hits}/{total}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fps", type=float, default=5.0, help="analysed frames per second")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of negatives not counted")
    parser.add_argument("--config", default="{}", help="FireDetectorConfig overrides as JSON")
    parser.add_argument("--speed-frames", type=int, default=100, help="frames per clip timed (0: no timing)")
    parser.add_argument("--repeat", type=int, default=5, help="timing runs per frame; the best counts")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    config = FireDetectorConfig(**json.loads(args.config))
    if not FIRE.exists():
        sys.exit(f"data not found: {FIRE}")
    eval_fire(config, args.fps)
    for name, path in NEGATIVES.items():
        if path.exists():
            eval_negative(name, path, config, args.fps, args.warmup)
    for name in PLUMES:
        if NEGATIVES[name].exists():
            eval_plume(name, NEGATIVES[name], config, args.fps)
    if args.speed_frames:
        print(f"speed, one thread, best of {args.repeat} per frame:")
        for name, path in {"house6": FIRE, **NEGATIVES}.items():
            if path.exists():
                print(f"  {name} {speed(path, config, args.fps, args.speed_frames, args.repeat)}")


if __name__ == "__main__":
    main()
