"""PlateLocator: synthetic plates, geometry of the output, and real photos."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vigil.redaction.plates import PlateLocator, PlateLocatorConfig

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
OPENALPR = DATA / "openalpr_us" / "us"
Box = tuple[int, int, int, int]


def car_background(h: int = 360, w: int = 640, seed: int = 0) -> np.ndarray:
    """A dark-blue 'car body' with a little sensor noise and a soft bumper shading."""
    rng = np.random.default_rng(seed)
    img = np.empty((h, w, 3), np.float32)
    img[:] = (120, 60, 40)  # BGR
    img *= np.linspace(0.8, 1.1, h, dtype=np.float32)[:, None, None]
    img += rng.normal(0, 3, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def draw_plate(img: np.ndarray, x: int, y: int, w: int, text: str = "7ABC123", ink: int = 20, paper: int = 235) -> Box:
    """Draw a US-style plate (w x w/2, characters 45 % of its height) and return its box x1, y1, x2, y2."""
    h = w // 2
    cv2.rectangle(img, (x, y), (x + w, y + h), (paper,) * 3, -1)
    cv2.rectangle(img, (x, y), (x + w, y + h), (ink + 30,) * 3, max(1, w // 60))
    # glyphs drawn large with gaps between them, then condensed to plate proportions
    glyphs = np.full((60, 48 * len(text)), paper, np.uint8)
    for i, ch in enumerate(text):
        cv2.putText(glyphs, ch, (48 * i + 6, 52), cv2.FONT_HERSHEY_SIMPLEX, 1.9, ink, 5, cv2.LINE_AA)
    rows = np.flatnonzero((glyphs < paper - 40).any(axis=1))
    tw, th = int(0.84 * w), max(4, int(0.45 * h))
    glyphs = cv2.resize(glyphs[rows[0] : rows[-1] + 1], (tw, th), interpolation=cv2.INTER_AREA)
    tx, ty = x + (w - tw) // 2, y + (h - th) // 2
    img[ty : ty + th, tx : tx + tw] = glyphs[..., None]
    return x, y, x + w, y + h


def covered(boxes: np.ndarray, target: Box, shape: tuple[int, ...]) -> float:
    """Share of ``target``'s pixels inside the union of ``boxes``."""
    mask = np.zeros(shape[:2], bool)
    for x1, y1, x2, y2 in np.round(boxes).astype(int):
        mask[max(0, y1) : y2, max(0, x1) : x2] = True
    x1, y1, x2, y2 = target
    return float(mask[y1:y2, x1:x2].mean())


def blur_boxes(img: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Gaussian blur (sigma = max(2, min_side / 6)) of every box, as benchmarks/plates does."""
    out = img.copy()
    for x1, y1, x2, y2 in np.round(boxes).astype(int):
        x1, y1 = max(0, x1), max(0, y1)
        x2, y2 = min(img.shape[1], x2), min(img.shape[0], y2)
        if x2 - x1 > 1 and y2 - y1 > 1:
            sigma = max(2.0, min(x2 - x1, y2 - y1) / 6)
            out[y1:y2, x1:x2] = cv2.GaussianBlur(img[y1:y2, x1:x2], (0, 0), sigma)
    return out


def changed_fraction(original: np.ndarray, redacted: np.ndarray, box: Box) -> float:
    """Share of the box's pixels with |grey difference| > 3 after a sigma 0.8 Gaussian on the difference."""
    d = cv2.cvtColor(original, cv2.COLOR_BGR2GRAY).astype(np.float32)
    d -= cv2.cvtColor(redacted, cv2.COLOR_BGR2GRAY).astype(np.float32)
    d = np.abs(cv2.GaussianBlur(d, (0, 0), 0.8))
    x1, y1, x2, y2 = box
    return float((d[y1:y2, x1:x2] > 3).mean())


@pytest.mark.parametrize("width", [60, 100, 160])
def test_synthetic_plate_is_found_and_blurring_it_hides_it(width: int) -> None:
    img = car_background()
    plate = draw_plate(img, 250, 200, width)
    boxes = PlateLocator().locate(img)
    assert boxes.dtype == np.float32 and boxes.shape[1:] == (4,)
    assert covered(boxes, plate, img.shape) >= 0.9
    # the boxes are about plate-sized, not the whole frame
    assert (boxes[:, 2] - boxes[:, 0]).max() < 3 * width
    assert changed_fraction(img, blur_boxes(img, boxes), plate) >= 0.8


def test_blank_gives_nothing_but_a_plate_on_the_same_background_is_found() -> None:
    locator = PlateLocator()
    blank = car_background(seed=1)
    assert locator.locate(blank).shape == (0, 4)
    assert locator.locate(np.zeros((240, 320, 3), np.uint8)).shape == (0, 4)
    with_plate = blank.copy()
    plate = draw_plate(with_plate, 100, 80, 120)
    assert covered(locator.locate(with_plate), plate, blank.shape) >= 0.9


def test_light_text_on_dark_plate_is_found() -> None:
    img = car_background(seed=2)
    cv2.rectangle(img, (200, 150), (320, 210), (30, 30, 30), -1)
    cv2.putText(img, "KX 4821", (208, 193), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (230, 230, 230), 2, cv2.LINE_AA)
    assert covered(PlateLocator().locate(img), (200, 150, 320, 210), img.shape) >= 0.9


def test_boxes_are_clipped_to_the_image() -> None:
    img = car_background(200, 300)
    plate = draw_plate(img, 0, 200 - 40, 80)  # touches the left and bottom edges
    boxes = PlateLocator().locate(img)
    assert len(boxes) >= 1
    assert covered(boxes, plate, img.shape) >= 0.9
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 1] >= 0).all()
    assert (boxes[:, 2] <= 300).all() and (boxes[:, 3] <= 200).all()
    assert ((boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])).all()


def test_vehicle_without_visible_plate_gets_a_prior_at_its_bottom_centre() -> None:
    img = car_background(seed=3)
    vehicle = np.array([[100, 60, 420, 300]], np.float32)
    boxes = PlateLocator().locate(img, vehicle)
    assert boxes.shape == (1, 4)
    x1, y1, x2, y2 = boxes[0]
    vx1, vy1, vx2, vy2 = vehicle[0]
    assert vx1 <= x1 < x2 <= vx2 and vy1 <= y1 < y2 <= vy2
    assert y1 >= vy1 + 0.4 * (vy2 - vy1)  # lower part of the vehicle
    assert abs((x1 + x2) / 2 - (vx1 + vx2) / 2) < 1e-3 * (vx2 - vx1) + 1  # centred
    # the prior can be switched off
    assert PlateLocator(PlateLocatorConfig(vehicle_prior=False)).locate(img, vehicle).shape == (0, 4)


def test_plate_inside_a_vehicle_is_found_instead_of_the_prior() -> None:
    img = car_background(seed=4)
    plate = draw_plate(img, 330, 250, 70)  # off-centre, low in the vehicle
    vehicle = np.array([[150, 80, 500, 330]], np.float32)
    locator = PlateLocator()
    boxes = locator.locate(img, vehicle)
    assert covered(boxes, plate, img.shape) >= 0.9
    prior = locator.prior_box(vehicle[0])
    assert not any(np.allclose(b, prior) for b in boxes)
    # a plate outside every vehicle is not searched for when vehicles are given
    elsewhere = np.array([[0, 0, 120, 100]], np.float32)
    assert covered(PlateLocator(PlateLocatorConfig(vehicle_prior=False)).locate(img, elsewhere), plate, img.shape) == 0


def test_small_plate_in_a_small_vehicle_is_found_by_upscaling() -> None:
    img = car_background(seed=5)
    plate = draw_plate(img, 300, 240, 40)  # 40 x 20 px: characters about 9 px tall
    vehicle = np.array([[260, 170, 380, 275]], np.float32)
    assert covered(PlateLocator().locate(img, vehicle), plate, img.shape) >= 0.9


def test_empty_vehicle_array_means_whole_frame_search() -> None:
    img = car_background(seed=6)
    plate = draw_plate(img, 40, 40, 100)
    locator = PlateLocator()
    for vehicles in (None, np.zeros((0, 4), np.float32)):
        assert covered(locator.locate(img, vehicles), plate, img.shape) >= 0.9
    assert covered(locator.locate(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)), plate, img.shape) >= 0.9


def test_real_plates_are_obscured() -> None:
    """OpenALPR US photos (AGPL, read in place): 8 of 10 annotated plates >= 80 % changed after blurring."""
    if not OPENALPR.is_dir():
        pytest.skip("../shared/data/openalpr_us is not present")
    txts = sorted(OPENALPR.glob("*.txt"))[::22][:10]
    assert len(txts) == 10
    locator = PlateLocator()
    hidden = 0
    for txt in txts:
        name, x, y, w, h = txt.read_text().split()[:5]
        img = cv2.imread(str(OPENALPR / name))
        box = (int(x), int(y), int(x) + int(w), int(y) + int(h))
        redacted = blur_boxes(img, locator.locate(img))
        hidden += changed_fraction(img, redacted, box) >= 0.8
    assert hidden >= 8
