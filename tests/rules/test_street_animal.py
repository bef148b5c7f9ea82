"""People on streets (crossing is normal; still or down is not), riders told by speed, and animals on the road."""

from __future__ import annotations

from tests.rules.scene import ROADWAY, SIDEWALK, Obj, camera, first_time, keys, moving, piecewise, run, still
from vigil.config.models import ZoneConfig

# A street over the lower half, a crossing strip at x 400..500 inside a roadway's zone set.
STREET = ZoneConfig(id="st", kind="street", polygon=[(0, 0.5), (1, 0.5), (1, 1), (0, 1)])
CROSSING = ZoneConfig(id="zebra", kind="crossing", polygon=[(0.4, 0.5), (0.5, 0.5), (0.5, 1), (0.4, 1)])


def walker(cx: float, bottom: float, vx: float = 0.0, vy: float = 0.0, w: float = 30, h: float = 80, **kw) -> object:
    return moving(cx, bottom, vx, vy, w=w, h=h, **kw)


def test_a_person_crossing_a_street_is_normal_traffic():
    # 40 px/s over a 1000 px street: 20 s on the carriageway, always walking
    frames = run([Obj(1, "person", walker(100, 300, vx=40, vy=8))], 20.0, camera([STREET, SIDEWALK]))
    assert keys(frames, "pedestrian") == set()


def test_a_person_standing_still_on_a_street_is_reported_after_street_still_s():
    # walks onto the street for 2 s, then stands in the middle of it
    arrive = piecewise((0, 2, walker(400, 300, vx=50)), (2, 99, still(500, 300, 30, 80)))
    frames = run([Obj(1, "person", arrive)], 20.0, camera([STREET, SIDEWALK]))
    t = first_time(frames, "pedestrian")
    assert t is not None and 17.0 <= t <= 19.5  # still (2 s speed window) from about 3.8 s, then 15 s
    (signal,) = frames[-1][1]
    assert signal.details["reason"] == "still" and signal.details["zone_kind"] == "street"


def test_a_person_who_falls_on_a_street_is_reported_within_a_few_seconds():
    upright = still(500, 400, 30, 80)
    lying = still(500, 400, 90, 30)
    frames = run([Obj(1, "person", piecewise((0, 4, upright), (4, 20, lying)))], 10.0, camera([STREET]))
    t = first_time(frames, "pedestrian")
    assert t is not None and 5.0 <= t <= 5.6  # down_s = 1 s after the fall at 4 s
    assert frames[-1][1][0].details["reason"] == "down" and frames[-1][1][0].severity == 5


def test_a_thing_that_never_moved_is_neither_a_person_standing_nor_an_animal():
    # a bollard called "person" and a rock called "dog", both still from the first frame
    frames = run(
        [Obj(1, "person", still(500, 400, 30, 80)), Obj(2, "dog", still(300, 400, 40, 30))], 25.0, camera([STREET])
    )
    assert keys(frames, "pedestrian") == set() and keys(frames, "animal") == set()


def test_a_box_that_was_always_wide_is_never_down():
    # a person seen from straight above: never upright, so never "fallen"
    frames = run([Obj(1, "person", walker(100, 400, vx=40, w=60, h=50))], 10.0, camera([STREET]))
    assert keys(frames, "pedestrian") == set()


def test_a_pedestrian_crossing_inside_a_roadway_is_allowed():
    frames = run([Obj(1, "person", still(450, 400, 30, 80))], 5.0, camera([ROADWAY, CROSSING]))
    assert keys(frames, "pedestrian") == set()
    frames = run([Obj(1, "person", still(700, 400, 30, 80))], 5.0, camera([ROADWAY, CROSSING]))
    assert keys(frames, "pedestrian") == {"track:1"}


def test_a_person_moving_faster_than_anyone_on_foot_is_a_rider_even_without_a_machine():
    # 300 px/s for a 30x80 box: about 3.5 own lengths/s (a motorcyclist whose machine was not detected)
    fast = run([Obj(1, "person", walker(50, 400, vx=300, t1=3.0))], 3.0, camera([ROADWAY]))
    assert keys(fast, "pedestrian") == set()
    slow = run([Obj(1, "person", walker(50, 400, vx=60, t1=3.0))], 3.0, camera([ROADWAY]))
    assert keys(slow, "pedestrian") == {"track:1"}


def test_a_person_coming_fast_towards_the_camera_is_a_rider():
    # the box grows from 30x80 to 60x160 in 2 s at the same place: fast along the line of sight
    def approach(t: float):
        s = 1.0 + 0.5 * min(t, 2.0)
        return (500 - 15 * s, 400 - 80 * s, 500 + 15 * s, 400)

    frames = run([Obj(1, "person", approach)], 2.4, camera([ROADWAY]))
    assert keys(frames, "pedestrian") == set()


def test_an_animal_on_the_carriageway_is_reported_after_its_dwell():
    cow = Obj(1, "cow", moving(100, 300, 30, w=80, h=60))
    frames = run([cow], 4.0, camera([STREET, SIDEWALK]))
    t = first_time(frames, "animal")
    assert t is not None and 1.0 <= t <= 1.2
    assert frames[-1][1][0].details["label"] == "cow"


def test_an_animal_on_the_sidewalk_is_not_and_a_bird_never_is():
    frames = run([Obj(1, "dog", still(500, 200, 40, 30))], 4.0, camera([STREET, SIDEWALK]))
    assert keys(frames, "animal") == set()
    frames = run([Obj(2, "bird", still(500, 400, 20, 20))], 4.0, camera([STREET, SIDEWALK]))
    assert keys(frames, "animal") == set()
