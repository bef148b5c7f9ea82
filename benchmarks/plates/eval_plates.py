#!/usr/bin/env python3
"""Measure vigil.redaction.plates.PlateLocator: plate recall, over-redaction, speed.

For every photo of the OpenALPR US benchmark (AGPL data, read in place from
../shared/data, never copied) the locator's boxes are blurred (Gaussian,
sigma = max(2, min_side / 6)) and the result, saved as JPEG q95, is scored by
../shared/tools/redaction_score.py. Timings are for ``locate`` alone, on one
thread (cv2.setNumThreads(1)), best of ``--repeat`` runs per frame so that other
processes on the machine inflate them less.

    python benchmarks/plates/eval_plates.py [--vehicles none|whole|nanodet]
        [--config '{"min_contrast": 25}'] [--name NAME] [--timing-only]

--vehicles whole   uses the whole photo as the vehicle box (the photos are
                   close-ups of one car) so the vehicle path and prior are exercised;
--vehicles nanodet runs NanoDet-m (src/vigil/assets/models/nanodet/) for car,
                   motorcycle, bus and truck boxes (Vigil's own NanoDet, score >= 0.3).
Speed is also measured on frames of intel_sample_videos/car-detection.mp4
(768x432) and the same frames upscaled to 1920x1080, without vehicle boxes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from vigil.redaction.plates import PlateLocator, PlateLocatorConfig  # noqa: E402

SHARED = ROOT.parent / "shared"
DATA = SHARED / "data" / "openalpr_us" / "us"
SCORER = SHARED / "tools" / "redaction_score.py"
VIDEO = SHARED / "data" / "intel_sample_videos" / "car-detection.mp4"
DETRAC = SHARED / "data" / "ua_detrac_evadb" / "ua_detrac.mp4"


def blur_boxes(image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Gaussian blur (sigma = max(2, min_side / 6)) of every box, from the original pixels."""
    out = image.copy()
    h, w = image.shape[:2]
    for x1, y1, x2, y2 in np.asarray(boxes, np.float32).reshape(-1, 4):
        ix1, iy1 = max(0, int(np.floor(x1))), max(0, int(np.floor(y1)))
        ix2, iy2 = min(w, int(np.ceil(x2))), min(h, int(np.ceil(y2)))
        if ix2 - ix1 < 1 or iy2 - iy1 < 1:
            continue
        sigma = max(2.0, min(ix2 - ix1, iy2 - iy1) / 6)
        out[iy1:iy2, ix1:ix2] = cv2.GaussianBlur(image[iy1:iy2, ix1:ix2], (0, 0), sigma)
    return out


def timed(fn, repeat: int):
    best, result = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return result, best


def video_frames(path: Path, n: int, step: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames: list[np.ndarray] = []
    i = 0
    while len(frames) < n:
        ok, f = cap.read()
        if not ok:
            break
        if i % step == 0:
            frames.append(f)
        i += 1
    cap.release()
    return frames


def speed(locator, repeat: int, vehicles_of=None) -> dict:
    """ms per frame (best of `repeat`, median and p90 over frames) on two traffic videos, at 768x432 and 1080p."""
    sources = {"intel_car": (VIDEO, 20, 10), "ua_detrac": (DETRAC, 10, 25)}
    out = {}
    for name, (path, n, step) in sources.items():
        if not path.is_file():
            continue
        frames = video_frames(path, n, step)
        for label, size in (("768x432", (768, 432)), ("1920x1080", (1920, 1080))):
            ts, nb = [], 0
            for f in frames:
                img = cv2.resize(f, size, interpolation=cv2.INTER_AREA if size[0] < f.shape[1] else cv2.INTER_LINEAR)
                veh = None if vehicles_of is None else vehicles_of(img)
                boxes, t = timed(lambda img=img, veh=veh: locator.locate(img, veh), repeat)
                ts.append(t)
                nb += len(boxes)
            out[f"{name}_{label}"] = {
                "ms_median": round(1000 * float(np.median(ts)), 2),
                "ms_p90": round(1000 * float(np.percentile(ts, 90)), 2),
                "boxes_per_frame": round(nb / max(1, len(frames)), 2),
            }
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vehicles", choices=["none", "whole", "nanodet"], default="none")
    ap.add_argument("--config", default="{}", help="JSON overrides of PlateLocatorConfig fields")
    ap.add_argument("--name", default="")
    ap.add_argument(
        "--locator",
        default="plates",
        choices=["plates", "morph", "morph-blackhat", "mser", "prior"],
        help="plates: vigil.redaction.plates.PlateLocator (with --config); others: baselines.py",
    )
    ap.add_argument("--out", help="directory for the blurred copies (default: a temporary one)")
    ap.add_argument("--repeat", type=int, default=3, help="timing runs per image (best is kept)")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="downscale photos and boxes by this factor first (temporary copies) to test small plates",
    )
    ap.add_argument("--half", type=int, choices=[0, 1], help="only the even (0) or odd (1) photos, by sorted name")
    ap.add_argument("--no-video-timing", action="store_true")
    ap.add_argument("--timing-only", action="store_true")
    ap.add_argument("--json", help="write the summary here")
    a = ap.parse_args(argv)

    cv2.setNumThreads(1)
    cfg = PlateLocatorConfig(**json.loads(a.config))
    if a.locator == "plates":
        locator = PlateLocator(cfg)
    else:
        from baselines import build

        locator = build(a.locator)
    summary: dict = {
        "name": a.name or a.vehicles,
        "locator": a.locator,
        "vehicles": a.vehicles,
        "config": json.loads(a.config),
    }
    vehicles_of = None
    if a.vehicles == "nanodet":
        from vigil.detection.coco import VEHICLE_CLASSES
        from vigil.detection.nanodet import NanoDet

        nanodet = NanoDet()

        def vehicles_of(image):
            found = nanodet.detect(image)
            keep = np.isin(found.data["label"], list(VEHICLE_CLASSES)) & (found.confidence >= 0.3)
            return found.xyxy[keep]

    if not a.no_video_timing:
        summary["speed_video"] = speed(locator, a.repeat, vehicles_of)
    if a.timing_only:
        print(json.dumps(summary))
        return summary
    if not DATA.is_dir():
        sys.exit(f"no data at {DATA}")
    txts = sorted(DATA.glob("*.txt"))
    if a.limit:
        txts = txts[: a.limit]
    tmp = None
    out_dir = Path(a.out) if a.out else Path(tmp := tempfile.mkdtemp(prefix="plates_eval_"))
    out_dir.mkdir(parents=True, exist_ok=True)
    if a.half is not None:
        txts = txts[a.half :: 2]
    data = DATA
    if a.scale != 1.0 or a.half is not None:
        data = Path(tempfile.mkdtemp(prefix="plates_subset_"))
        for txt in txts:
            p = txt.read_text().split()
            if a.scale == 1.0:  # a subset only: link the originals
                (data / p[0]).symlink_to(DATA / p[0])
                (data / txt.name).symlink_to(txt)
                continue
            img = cv2.imread(str(DATA / p[0]))
            small = cv2.resize(img, None, fx=a.scale, fy=a.scale, interpolation=cv2.INTER_AREA)
            cv2.imwrite(str(data / p[0]), small, [cv2.IMWRITE_JPEG_QUALITY, 97])
            box = " ".join(str(round(float(v) * a.scale)) for v in p[1:5])
            (data / txt.name).write_text(f"{p[0]}\t{box}\t{' '.join(p[5:])}\n")
        txts = sorted(data.glob("*.txt"))
    ts, n_boxes, n_veh = [], 0, 0
    for txt in txts:
        name = txt.read_text().split()[0]
        img = cv2.imread(str(data / name))
        h, w = img.shape[:2]
        if a.vehicles == "whole":
            veh = np.array([[0, 0, w, h]], np.float32)
        elif vehicles_of is not None:
            veh = vehicles_of(img)
        else:
            veh = None
        n_veh += 0 if veh is None else len(veh)
        boxes, t = timed(lambda img=img, veh=veh: locator.locate(img, veh), a.repeat)
        ts.append(t)
        n_boxes += len(boxes)
        cv2.imwrite(str(out_dir / name), blur_boxes(img, boxes), [cv2.IMWRITE_JPEG_QUALITY, 95])
    score_json = out_dir / "_score.json"
    subprocess.run(
        [
            sys.executable,
            str(SCORER),
            "--images",
            str(data),
            "--annotations",
            str(data),
            "--redacted",
            str(out_dir),
            "--format",
            "openalpr",
            "--json",
            str(score_json),
        ]
        + (["--limit", str(a.limit)] if a.limit else []),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    score = json.loads(score_json.read_text())
    summary.update(
        scale=a.scale,
        half=a.half,
        images=score["images"],
        recall=score["recall"],
        recall_by_min_side={k: v["recall"] for k, v in score["recall_by_min_side"].items()},
        over_redaction_pooled=score["over_redaction_pooled"],
        over_redaction_mean=score["over_redaction_mean"],
        boxes_per_image=round(n_boxes / len(txts), 2),
        vehicles_per_image=round(n_veh / len(txts), 2),
        ms_per_image_median=round(1000 * float(np.median(ts)), 2),
        ms_per_image_mean=round(1000 * float(np.mean(ts)), 2),
    )
    for d in ([out_dir] if tmp else []) + ([data] if data != DATA else []):
        shutil.rmtree(d)
    if a.json:
        Path(a.json).write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
