"""Evidence written by the live pipeline holds no unobscured face, even when every frame is a new scene.

The camera is an image folder: a second of a person standing in the demo's
restricted zone (which opens a pedestrian incident), then 30 real face photos
from ``../shared/data/faces_kaggle`` (each frame a different scene, as after a
cut, a PTZ move or a stream switch), then the person again. The incident's clip
and snapshot are then checked frame by frame:

* by CenterFace on the raw frame each written frame came from, and by the
  photos' hand-drawn face boxes: every such face must be obscured in what was
  written (its detail gone);
* in a slow test, by ``../shared/tools/leak_scan.py``, an independent scanner
  with other face models (its own venv, see ``LEAK_SCAN.md``).
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import yaml

from tests.incidents.leakscan import leak_scan
from vigil.assets import DEMO_CONFIG, SAMPLE_CLIP
from vigil.config import load_config
from vigil.detection.centerface import CenterFace
from vigil.pipeline.runner import LiveRunner

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
W, H = 768, 432
FPS = 25  # image folders play at 25 fps
MIN_FACE = 16  # px; smaller faces are not identifiable at this size and are not checked


@dataclass
class Raw:
    image: np.ndarray
    faces: np.ndarray  # (N, 4) hand-drawn face boxes in frame pixels (empty for the trigger frame)


def letterbox(image: np.ndarray) -> tuple[np.ndarray, float, int, int]:
    h, w = image.shape[:2]
    s = min(W / w, H / h)
    nw, nh = round(w * s), round(h * s)
    x0, y0 = (W - nw) // 2, (H - nh) // 2
    out = np.zeros((H, W, 3), np.uint8)
    out[y0 : y0 + nh, x0 : x0 + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    return out, s, x0, y0


def voc_faces(xml: Path) -> np.ndarray:
    root = ET.parse(xml).getroot()
    out = []
    for box in root.iter("bndbox"):
        out.append([float(box.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")])
    return np.asarray(out, np.float32).reshape(-1, 4)


def face_photos(n: int) -> list[Raw]:
    """``n`` photos with at least one face of ``2 * MIN_FACE`` px once letterboxed, in a fixed order."""
    folder = DATA / "faces_kaggle"
    xmls = sorted((folder / "annotations").glob("*.xml"), key=lambda p: int("".join(c for c in p.stem if c.isdigit())))
    out: list[Raw] = []
    for xml in xmls:
        files = sorted((folder / "images").glob(f"{xml.stem}.*"))
        image = cv2.imread(str(files[0])) if files else None
        if image is None:
            continue
        framed, s, x0, y0 = letterbox(image)
        faces = voc_faces(xml) * s + np.array([x0, y0, x0, y0], np.float32)
        if len(faces) and (np.minimum(faces[:, 2] - faces[:, 0], faces[:, 3] - faces[:, 1]) >= 2 * MIN_FACE).any():
            out.append(Raw(framed, faces))
        if len(out) == n:
            break
    return out


def trigger_frame() -> Raw:
    """The bundled clip at 10 s: a person stands in the demo's restricted zone."""
    with av.open(str(SAMPLE_CLIP)) as c:
        for frame in c.decode(video=0):
            if float(frame.time) >= 10.0:
                return Raw(frame.to_ndarray(format="bgr24"), np.zeros((0, 4), np.float32))
    raise AssertionError("the sample clip is shorter than 10 s")


SHARP = 35.0  # detail at or above which a face counts as recognisable (leak_scan.py's calibration, LEAK_SCAN.md)


def detail(image: np.ndarray, box: np.ndarray) -> float:
    """Median local Laplacian energy of a box's central 60%, resampled to 24x24 (scale-free).

    The measure ``leak_scan.py`` calibrated on these photos: >= 35 for 99.4% of raw
    faces, under 9 once blurred with sigma = box/8. The median ignores the few
    step edges where an obscured patch meets sharp surroundings.
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    cx, cy, hw, hh = (x1 + x2) / 2, (y1 + y2) / 2, 0.3 * (x2 - x1), 0.3 * (y2 - y1)
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    c1, r1 = round(max(0.0, cx - hw)), round(max(0.0, cy - hh))
    c2, r2 = round(min(grey.shape[1], cx + hw)), round(min(grey.shape[0], cy + hh))
    if c2 - c1 < 3 or r2 - r1 < 3:
        return 0.0
    core = grey[r1:r2, c1:c2].astype(np.float32)
    core = cv2.resize(core, (24, 24), interpolation=cv2.INTER_AREA if min(core.shape) > 24 else cv2.INTER_LINEAR)
    lap = cv2.Laplacian(core, cv2.CV_32F, ksize=1)
    return float(np.median(cv2.blur(lap * lap, (3, 3))[1:-1, 1:-1]))


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Raw], Path]:
    """Run the scene-change camera through ``LiveRunner``; returns the raw frames and the media folder."""
    if not (DATA / "faces_kaggle").is_dir():
        pytest.skip("../shared/data/faces_kaggle is not present")
    root = tmp_path_factory.mktemp("scene-change")
    trigger, photos = trigger_frame(), face_photos(30)
    sequence = [trigger] * FPS + photos + [trigger] * FPS
    folder = root / "frames"
    folder.mkdir()
    for i, raw in enumerate(sequence):
        cv2.imwrite(str(folder / f"{i:04d}.png"), raw.image)
    zone = [list(p) for p in load_config(DEMO_CONFIG).cameras[0].zones[0].polygon]
    config = {
        "cameras": [
            {
                "id": "scene-change",
                "source": {"url": str(folder)},
                "analytic_fps": 5,
                "zones": [{"id": "platform-edge", "kind": "restricted", "polygon": zone}],
            }
        ],
        "rules": {"pedestrian": {"min_dwell_s": 0.4, "confirm_frames": 2}},
        "storage": {"database_url": f"sqlite:///{root / 'v.db'}", "media_dir": str(root / "media")},
        # every image goes into the clip, and the clip spans the whole folder
        "evidence": {"pre_roll_s": 2.0, "post_roll_s": 3.0, "clip_fps": FPS},
    }
    path = root / "vigil.yaml"
    path.write_text(yaml.safe_dump(config))
    runner = LiveRunner(load_config(path))
    runner.start()
    try:
        deadline = time.monotonic() + 120.0
        while not runner.finished() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        runner.stop()
    assert runner.events > 0, "the trigger frames did not open an incident"
    return [trigger, *photos], root / "media"


def written_frames(media: Path) -> list[np.ndarray]:
    frames = []
    for clip in sorted(media.rglob("*.mp4")):
        with av.open(str(clip)) as c:
            frames += [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]
    frames += [cv2.imread(str(p)) for p in sorted(media.rglob("*.jpg"))]
    return frames


def source_of(frame: np.ndarray, raws: list[Raw]) -> Raw:
    """The raw image a written frame was made from (nearest by a coarse thumbnail; obscuring is local)."""
    thumb = cv2.resize(frame, (48, 27), interpolation=cv2.INTER_AREA).astype(np.float32)
    dists = [np.abs(cv2.resize(r.image, (48, 27), interpolation=cv2.INTER_AREA) - thumb).mean() for r in raws]
    return raws[int(np.argmin(dists))]


def test_no_face_in_written_evidence_is_left_sharp(written: tuple[list[Raw], Path]) -> None:
    raws, media = written
    frames = written_frames(media)
    photos_seen = {id(source_of(f, raws)) for f in frames} - {id(raws[0])}
    assert len(frames) >= 60 and len(photos_seen) >= 25, "the clip does not hold the scene changes"
    centerface = CenterFace(threshold=0.5)
    checked, leaks = 0, []
    for k, frame in enumerate(frames):
        raw = source_of(frame, raws)
        found = centerface.detect(raw.image).xyxy
        for box in np.concatenate([found, raw.faces]):
            if min(box[2] - box[0], box[3] - box[1]) < MIN_FACE:
                continue
            before, after = detail(raw.image, box), detail(frame, box)
            if before < SHARP:  # not recognisable even raw (tiny, blurred, or a false box on the letterbox)
                continue
            checked += 1
            if after >= SHARP:
                leaks.append((k, [round(float(v)) for v in box], round(before, 1), round(after, 1)))
    assert checked >= 150, f"only {checked} faces checked"
    assert leaks == [], f"{len(leaks)} of {checked} faces left sharp (frame, box, detail raw, written): {leaks[:10]}"


@pytest.mark.slow
def test_independent_leak_scanner_finds_no_face(written: tuple[list[Raw], Path]) -> None:
    """``leak_scan.py`` (MediaPipe BlazeFace + FaceMesh + Haar, not CenterFace) over every written file."""
    _, media = written
    summary = leak_scan(media, media.parent / "leaks.json")
    assert summary.get("files", 0) >= 2 and summary.get("frames", 0) >= 60, summary
    assert summary.get("leaks") == 0, summary
