import numpy as np
import pytest

from vigil.core import Detections


def make(n: int = 3) -> Detections:
    xyxy = np.array([[0, 0, 10, 10], [5, 5, 20, 25], [30, 30, 40, 50]], np.float32)[:n]
    return Detections(xyxy, np.linspace(0.5, 0.9, n), np.arange(n), data={"label": np.array(["a", "b", "c"][:n])})


def test_shape_checks_reject_mismatched_columns():
    with pytest.raises(ValueError, match="differ in length"):
        Detections(np.zeros((2, 4)), np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="data column 'kind'"):
        Detections(np.zeros((2, 4)), np.zeros(2), np.zeros(2), data={"kind": np.zeros(1)})
    with pytest.raises(ValueError, match="tracker_id"):
        Detections(np.zeros((2, 4)), np.zeros(2), np.zeros(2), tracker_id=np.zeros(3))


def test_indexing_and_masks_select_rows_of_every_column():
    d = make()
    sub = d[d.confidence > 0.6]
    assert len(sub) == 2
    assert sub.data["label"].tolist() == ["b", "c"]
    assert d[1].class_id.tolist() == [1]


def test_methods_do_not_mutate_inputs():
    xyxy = np.array([[0, 0, 10, 10]], np.float32)
    d = Detections(xyxy, [0.5], [0])
    d2 = d.with_xyxy(d.xyxy + 1)
    assert d.xyxy[0, 0] == 0 and d2.xyxy[0, 0] == 1
    d3 = d.with_data(kind="face")
    assert "kind" not in d.data and d3.data["kind"].tolist() == ["face"]


def test_merge_keeps_common_columns_and_handles_empty():
    merged = Detections.merge([make(2), Detections.empty(), make(1)])
    assert len(merged) == 3
    assert merged.data["label"].tolist() == ["a", "b", "a"]
    assert len(Detections.merge([])) == 0


def test_area():
    assert make(1).area.tolist() == [100.0]
