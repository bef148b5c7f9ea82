"""Plates as text: the shipped model, the plate-like filter, and real photos."""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest

from tests.conftest import changed_fraction
from vigil.assets import PPOCR_DET_PATH, PPOCR_DET_SHA256
from vigil.redaction.plate_text import PlateTextConfig, TextPlateFinder, grow_to_plate, plate_like

# Text boxes that TextDetector (long side 960) found on OpenALPR's
# 5b562a61-34ad-4f00-9164-d34abb7a38e4.jpg (1280x720), with NanoDet's vehicle box
# and the annotated plate: a camera caption at the top left, two lines of dealer
# lettering on the car's side, and the plate.
PHOTO = "5b562a61-34ad-4f00-9164-d34abb7a38e4.jpg"
VEHICLE = np.array([0, 4, 697, 496], np.float32)
PLATE = (523, 305, 580, 333)
TEXT = np.array([[0, 0, 129, 24], [154, 140, 275, 183], [13, 144, 93, 194], [521, 300, 580, 337]], np.float32)
SCORES = np.array([0.76, 0.87, 0.87, 0.56], np.float32)


def test_model_file_is_the_one_recorded():
    digest = hashlib.sha256(PPOCR_DET_PATH.read_bytes()).hexdigest()
    assert digest == PPOCR_DET_SHA256
    assert PPOCR_DET_SHA256 in (PPOCR_DET_PATH.parent / "PROVENANCE.md").read_text()


def test_no_recognition_model_is_shipped():
    # Detection only: a text recogniser would let Vigil read plates.
    shipped = sorted(p.name for p in PPOCR_DET_PATH.parent.iterdir() if p.suffix == ".onnx")
    assert shipped == [PPOCR_DET_PATH.name]


def test_filter_keeps_only_the_plate_of_a_real_photo():
    keep = plate_like(TEXT, SCORES, VEHICLE, PlateTextConfig())
    assert keep.tolist() == [False, False, False, True]


def test_filter_rejects_by_score_aspect_size_and_position():
    c = PlateTextConfig()
    plate = TEXT[3:4]
    assert not plate_like(plate, np.array([c.min_score - 0.01]), VEHICLE, c)[0]
    tall = np.array([[540, 290, 560, 340]], np.float32)  # a vertical stroke, not a line of text
    assert not plate_like(tall, np.array([0.9]), VEHICLE, c)[0]
    wide = np.array([[100, 300, 600, 340]], np.float32)  # most of the vehicle's width: lettering
    assert not plate_like(wide, np.array([0.9]), VEHICLE, c)[0]
    roof = plate + np.array([0, -250, 0, -250], np.float32)  # near the top of the vehicle
    assert not plate_like(roof, np.array([0.9]), VEHICLE, c)[0]
    other_car = plate + np.array([600, 0, 600, 0], np.float32)  # beside the vehicle, not under it
    assert not plate_like(other_car, np.array([0.9]), VEHICLE, c)[0]


def test_plate_box_from_text_covers_the_annotated_plate():
    grown = grow_to_plate(TEXT[3:4], PlateTextConfig())[0]
    x1, y1, x2, y2 = PLATE
    assert grown[0] <= x1 and grown[1] <= y1 and grown[2] >= x2 and grown[3] >= y2


class _Boxes:
    """A stand-in text detector that returns fixed frame boxes, shifted into each crop."""

    def __init__(self, xyxy: np.ndarray, scores: np.ndarray) -> None:
        self.xyxy, self.scores, self.crops = xyxy, scores, 0

    def detect(self, image, long_side=960):
        self.crops += 1
        return self.xyxy.copy(), self.scores.copy()


def test_finder_without_vehicles_uses_the_classical_search_only():
    text = _Boxes(TEXT, SCORES)
    finder = TextPlateFinder(text, PlateTextConfig())
    finder.locate(np.zeros((200, 300, 3), np.uint8), None)
    assert text.crops == 0


@pytest.fixture(scope="module")
def openalpr(shared_data):
    root = shared_data / "openalpr_us" / "us"
    if not root.is_dir():
        pytest.skip("openalpr_us is not present")
    return root


def test_text_detector_finds_the_plate_of_the_real_photo(openalpr):
    from vigil.detection.text import TextDetector

    boxes, scores = TextDetector(box_threshold=0.4).detect(cv2.imread(str(openalpr / PHOTO)), 960)
    keep = plate_like(boxes, scores, VEHICLE, PlateTextConfig())
    assert keep.sum() == 1
    x1, y1, x2, y2 = boxes[keep][0]
    assert x1 <= PLATE[0] + 5 and y1 <= PLATE[1] + 5 and x2 >= PLATE[2] - 5 and y2 >= PLATE[3] - 5


PLATE_PHOTOS = [PHOTO, "wts-lg-000022.jpg", "wts-lg-000023.jpg", "wts-lg-000045.jpg", "us1.jpg", "us2.jpg"]


@pytest.mark.parametrize("name", PLATE_PHOTOS)
def test_every_annotated_plate_is_obscured(openalpr, redactor, name):
    from vigil.sources import read_image

    frame = read_image(openalpr / name)
    out = redactor.redact(frame)
    assert not out.fail_closed
    line = (openalpr / name).with_suffix(".txt").read_text().split()
    x, y, w, h = (int(v) for v in line[1:5])
    assert changed_fraction(frame.image, out.image, (x, y, x + w, y + h)) >= 0.8, f"plate of {name} not obscured"
