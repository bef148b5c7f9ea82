"""The event-level matching rule of ``vigil eval``, on scripted incidents."""

import pytest

from vigil.evaluation.labels import ClipLabels, LabelsError, load_labels
from vigil.evaluation.matching import Reported, match_clip


def clip(incidents, not_=()):
    return ClipLabels.model_validate({"file": "x/clip.mp4", "incidents": incidents, "not": list(not_)})


def test_an_incident_inside_the_window_detects_the_label_with_its_delay():
    c = clip([{"type": "collision", "start": 10.0, "end": 14.0}])
    r = match_clip(c, [Reported("collision", 10.4, 11.2)], 60.0)
    assert r.detections[0].incident is not None
    assert r.detections[0].delay_s == pytest.approx(1.2)
    assert r.false_alarms == [] and r.wrong_type == []


def test_the_window_opens_one_second_early_and_closes_at_the_label_end():
    c = clip([{"type": "collision", "start": 10.0, "end": 14.0}])
    early = match_clip(c, [Reported("collision", 9.1, 9.5)], 60.0)
    assert early.detections[0].incident is not None and early.detections[0].delay_s == 0.0
    too_early = match_clip(c, [Reported("collision", 8.9, 9.5)], 60.0)
    assert too_early.detections[0].incident is None and len(too_early.false_alarms) == 1
    late = match_clip(c, [Reported("collision", 14.1, 14.5)], 60.0)
    assert late.detections[0].incident is None and len(late.false_alarms) == 1


def test_each_label_matches_once_and_a_second_report_is_a_duplicate_false_alarm():
    c = clip([{"type": "collision", "start": 10.0, "end": 14.0}])
    r = match_clip(c, [Reported("collision", 11.0, 11.5), Reported("collision", 10.5, 10.8)], 60.0)
    assert r.detections[0].incident.start_s == 10.5  # the earliest matches
    assert [fa.start_s for fa in r.false_alarms] == [11.0]
    assert [d.start_s for d in r.duplicates] == [11.0]


def test_another_type_inside_a_label_window_is_a_wrong_type_alarm():
    c = clip([{"type": "collision", "start": 10.0, "end": 14.0}])
    r = match_clip(c, [Reported("stopped_vehicle", 12.0, 12.0)], 60.0)
    assert r.detections[0].incident is None
    assert len(r.false_alarms) == 1 and r.wrong_type[0][1].type == "collision"


def test_a_report_matching_a_not_item_is_a_wrong_type_alarm():
    c = clip([{"type": "collision", "start": 24.5, "end": 26.6}], [{"type": "smoke", "start": 26.0, "end": 40.9}])
    r = match_clip(c, [Reported("collision", 24.6, 25.0), Reported("smoke", 30.0, 31.0)], 60.0)
    assert r.detections[0].incident is not None
    assert [fa.type for fa in r.false_alarms] == ["smoke"]
    assert r.wrong_type[0][1].type == "smoke"


def test_labels_file_errors_name_the_file_and_field(tmp_path):
    path = tmp_path / "labels.yaml"
    path.write_text("clips:\n  - file: a.mp4\n    incidents:\n      - {type: crash, start: 1, end: 2}\n")
    with pytest.raises(LabelsError, match=r"labels.yaml.*clips\.0\.incidents\.0\.type.*unknown incident type 'crash'"):
        load_labels(path)
    path.write_text("clips:\n  - file: a.mp4\n    incidents: none\n    not:\n      - {type: smoke, start: 5, end: 1}\n")
    with pytest.raises(LabelsError, match=r"end .* is before start"):
        load_labels(path)


def test_the_shared_labels_file_parses(tmp_path):
    from pathlib import Path

    shared = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "incidents" / "labels.yaml"
    if not shared.is_file():
        pytest.skip("../shared/data is not present")
    labels = load_labels(shared)
    names = [c.name() for c in labels.clips]
    assert "street_car_motorcycle_cow" in names and "underpass_parked_scooter" in names
    underpass = labels.clips[names.index("underpass_parked_scooter")]
    assert underpass.incidents == [] and underpass.not_[0].type == "stopped_vehicle"
