"""A 4K camera analysed at 1080p still gets its evidence at 4K, with every face obscured (faces_kaggle, CC0)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from tests.conftest import changed_fraction
from tests.incidents.leakscan import leak_scan
from tests.redaction.test_real_faces import annotated_faces
from tests.sources.helpers import make_bframe_clip
from vigil.config.models import DecodeConfig, EvidenceConfig
from vigil.core import Detections, Frame
from vigil.incidents.evidence import EvidenceRecorder, EvidenceWriter
from vigil.redaction import RedactionConfig, Redactor
from vigil.sources.avsource import AvSource
from vigil.sources.encoded import Encoded
from vigil.sources.files import read_image

W, H = 3840, 2160
#: Photos pasted into the 4K frame at their own size, and where (left, top).
PASTED = {"maksssksksss0": (300, 200), "maksssksksss103": (2600, 1500), "maksssksksss10": (1700, 900)}


def street_4k(root: Path) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """A 4K picture with real photos of people pasted in; the annotated face boxes in its pixels."""
    yy, xx = np.mgrid[0:H, 0:W]
    image = np.dstack([xx * 200 // W, yy * 200 // H, np.full_like(xx, 90)]).astype(np.uint8)
    faces = []
    for stem, (x0, y0) in PASTED.items():
        photo = read_image(root / "images" / f"{stem}.jpg").image
        image[y0 : y0 + photo.shape[0], x0 : x0 + photo.shape[1]] = photo
        for x1, y1, x2, y2 in annotated_faces(root / "annotations" / f"{stem}.xml"):
            faces.append((x1 + x0, y1 + y0, x2 + x0, y2 + y0))
    return image, faces


def test_the_snapshot_of_a_4k_camera_is_cut_at_4k_and_its_faces_are_obscured(shared_data: Path, tmp_path: Path) -> None:
    picture, faces = street_4k(shared_data / "faces_kaggle")
    clip = tmp_path / "street4k.mp4"
    make_bframe_clip(clip, frames=3, width=W, height=H, bframes=0, picture=lambda *_: picture)
    with av.open(str(clip)) as container:
        decoded = next(container.decode(video=0)).to_ndarray(format="bgr24")  # the 4K picture as the camera sent it

    source = AvSource("cam-4k", str(clip), live=False, decode=DecodeConfig(analysis_max_width=1920))
    units: list[Encoded] = []
    source.on_encoded = units.append
    analysed = next(iter(source.frames()))
    assert analysed.image.shape == (1080, 1920, 3) and analysed.full_size == (W, H)

    # No deadline: this checks what the full-resolution search finds, not how fast a shared machine runs it
    # (a late search would obscure the whole frame, which would hide a missed face from the checks below).
    redactor = Redactor(RedactionConfig(timeout_s=None))
    whole_frames: list[Frame] = []
    fail_closed = redactor.fail_closed
    redactor.fail_closed = lambda frame: whole_frames.append(frame) or fail_closed(frame)  # type: ignore[method-assign]
    writer = EvidenceWriter(redactor)
    config = EvidenceConfig(pre_roll_s=0.0, post_roll_s=0.0)
    recorder = EvidenceRecorder("cam-4k", tmp_path / "media", config, writer, source_fps=25)
    for unit in units:
        recorder.push_encoded(unit)
    snap_path, clip_path = recorder.start("inc-1", analysed, Detections.empty())
    recorder.flush()
    writer.close()
    assert writer.failed == 0
    assert not whole_frames  # the faces below were found, not hidden by obscuring everything

    snapshot = read_image(snap_path).image
    assert snapshot.shape == (H, W, 3)  # full resolution, not the analysis copy
    for box in faces:
        assert changed_fraction(decoded, snapshot, box) >= 0.8, f"face {box} not obscured in the 4K snapshot"
    with av.open(str(clip_path)) as container:
        first = next(container.decode(video=0))
        assert (first.width, first.height) == (W, H)
        frame = first.to_ndarray(format="bgr24")
    for box in faces:
        assert changed_fraction(decoded, frame, box) >= 0.8, f"face {box} not obscured in the 4K clip"
    redactor.close()
    # The independent scanner (not CenterFace) over the 4K snapshot and clip as written.
    summary = leak_scan(tmp_path / "media", tmp_path / "leaks.json")
    assert summary.get("files", 0) >= 2 and summary.get("leaks") == 0, summary


def test_boxes_found_on_the_analysis_copy_are_placed_on_the_full_picture(tmp_path: Path) -> None:
    """The detections the clip's redaction reuses are scaled to the 4K frames it decodes."""

    class Writer:
        def __getattr__(self, name: str) -> object:
            return lambda *a, **k: None

    recorder = EvidenceRecorder("cam", tmp_path, EvidenceConfig(), Writer(), source_fps=25)  # type: ignore[arg-type]
    found = Detections(np.array([[10, 20, 30, 40]], np.float32), np.ones(1, np.float32), np.zeros(1, np.int32))
    small = tmp_path / "s.mp4"
    make_bframe_clip(small, frames=2, width=64, height=48, bframes=0)
    source = AvSource("cam", str(small), live=False)
    source.on_encoded = recorder.push_encoded
    list(source.frames(select=lambda pts: False))
    recorder.note_objects(0.0, found, (2.0, 2.0))
    np.testing.assert_array_equal(recorder._objects[0.0].xyxy, [[20, 40, 60, 80]])
    assert Frame(np.zeros((1080, 1920, 3), np.uint8), full_size=(W, H)).scale == (2.0, 2.0)


def test_a_snapshot_whose_picture_is_not_in_the_ring_is_the_analysis_copy_redacted(tmp_path: Path) -> None:
    """No full-resolution frame at the incident's pts (the ring lost it): the analysed copy is written, redacted."""
    from tests.conftest import checkerboard

    class OneFace:
        def detect(self, image: np.ndarray, scale: float = 1.0) -> Detections:
            box = np.array([[10, 10, 60, 60]], np.float32)
            return Detections(box, np.ones(1, np.float32), np.zeros(1, np.int32), data={"label": np.array(["face"])})

    off = RedactionConfig(heads={"enabled": False}, plates={"enabled": False}, timeout_s=None)
    writer = EvidenceWriter(Redactor(off, face_detector=OneFace()))
    analysed = Frame(checkerboard(120, 160), "cam", 0, 5.0, full_size=(320, 240))
    writer.snapshot_from_units("inc", [], analysed, tmp_path / "s.jpg")
    writer.close()
    written = read_image(tmp_path / "s.jpg").image
    assert written.shape == (120, 160, 3) and writer.written == 1
    assert changed_fraction(analysed.image, written, (10, 10, 60, 60)) >= 0.8
