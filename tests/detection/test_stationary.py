"""New stationary objects (the distant stopped vehicle cue), on synthetic road scenes."""

from __future__ import annotations

import numpy as np

from vigil.detection.stationary import StationaryObjects

H, W = 240, 320
FPS = 5.0


def road(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    grey = (110 + rng.normal(0, 6, (H, W))).clip(0, 255).astype(np.uint8)
    grey[:, 150:153] = 220  # a lane marking
    return np.repeat(grey[..., None], 3, axis=2)


def with_car(image: np.ndarray, x: int, y: int, w: int = 10, h: int = 7) -> np.ndarray:
    out = image.copy()
    out[y : y + h, x : x + w] = 40
    out[y + 1 : y + h - 1, x + 2 : x + w - 2] = 70  # windows: a car has structure
    return out


def run(frames, seconds: float) -> list:
    det = StationaryObjects()
    mask = np.ones((H, W), bool)
    out = []
    for k in range(int(seconds * FPS)):
        t = k / FPS
        out.append((t, det.update(frames(t), t, mask)))
    return out


def ages(result) -> list[float]:
    return [float(d.data["static_s"].max()) if len(d) else 0.0 for _, d in result]


def test_a_small_vehicle_that_stops_and_stays_is_found_and_ages():
    base = road()
    result = run(lambda t: with_car(base, 200, 100) if t >= 10 else base, 50.0)
    t_found = next(t for t, d in result if len(d))
    assert 10.0 < t_found < 20.0  # the short-term background takes a few seconds to hold it
    last = result[-1][1]
    assert len(last) == 1 and float(last.data["static_s"][0]) > 25.0
    x1, y1, x2, y2 = last.xyxy[0]
    assert x1 <= 202 and x2 >= 208 and y1 <= 102 and y2 >= 105


def test_traffic_driving_past_is_not_stationary():
    base = road()
    result = run(lambda t: with_car(base, int(20 + 40 * (t % 6)), 100), 40.0)  # a car crossing every 6 s
    assert max(ages(result)) < 5.0


def test_an_exposure_change_is_not_an_object():
    base = road()

    def frames(t: float) -> np.ndarray:
        gain = 1.0 if t < 12 else 1.25  # the camera's gain steps up
        return (base.astype(np.float32) * gain).clip(0, 255).astype(np.uint8)

    assert max(ages(run(frames, 40.0))) == 0.0


def test_a_car_parked_from_the_start_is_never_reported_nor_its_ghost_when_it_leaves():
    base = road()
    result = run(lambda t: with_car(base, 200, 100) if t < 15 else base, 45.0)
    assert max(ages(result)) < 3.0


def test_something_outside_the_watched_area_is_ignored():
    base = road()
    det = StationaryObjects()
    mask = np.zeros((H, W), bool)
    mask[:, :150] = True  # the car stops at x=200, outside
    found = [det.update(with_car(base, 200, 100) if k >= 50 else base, k / FPS, mask) for k in range(250)]
    assert all(len(d) == 0 for d in found)


def painted(image: np.ndarray) -> np.ndarray:
    """Road markings with structure (characters painted on the shoulder)."""
    out = image.copy()
    for k in range(3):
        out[100 + 10 * k : 104 + 10 * k, 60:90:6] = 230
        out[100 + 10 * k : 106 + 10 * k, 62:90:9] = 230
    return out


def with_truck(image: np.ndarray, x: int) -> np.ndarray:
    """A plain, motion-blurred truck body: fewer edges than the paint it hides."""
    out = image.copy()
    out[95:135, max(0, x) : max(0, x + 40)] = 60
    return out


def test_paint_a_truck_hid_in_the_first_frame_is_not_a_new_object():
    # Both backgrounds start as the first frame: the truck driving off reveals paint with more edges than
    # the truck had, which must be learned as road during the warm-up, not aged into a stopped vehicle.
    base = painted(road())
    result = run(lambda t: with_truck(base, int(55 + 200 * t)) if t < 1.5 else base, 40.0)
    assert max(ages(result)) < 3.0


def test_a_vehicle_that_stops_during_the_warm_up_is_still_found():
    base = road()
    result = run(lambda t: with_car(base, 200, 100) if t >= 2.5 else base, 40.0)
    last = result[-1][1]
    assert len(last) == 1 and float(last.data["static_s"][0]) > 25.0


def test_the_trail_a_long_slow_truck_leaves_over_paint_is_not_a_new_object():
    # A plain truck 80 px long at 15 px/s covers the paint for 5 s: the short-term background darkens there,
    # and the trail is found a ghost (fewer edges than the paint). Copying that trail into the long-term
    # background froze a darkened marking into it, so the clean paint came back "new" and aged 28 s.
    base = painted(road())

    def frames(t: float) -> np.ndarray:
        x = int(-80 + 15 * (t - 10))
        if t < 10 or x >= 120:
            return base
        out = base.copy()
        out[95:135, max(0, x) : max(0, x + 80)] = 60
        return out

    assert max(ages(run(frames, 60.0))) < 3.0
