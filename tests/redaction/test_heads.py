import numpy as np

from vigil.redaction.heads import head_boxes, uncovered_heads


def test_standing_person_head_is_at_the_top_centre():
    head = head_boxes(np.array([[100, 100, 140, 200]]), pad=0.0)[0]
    x1, y1, x2, y2 = head
    assert 100 <= x1 < 120 < x2 <= 140
    assert y1 == 100
    assert y2 < 100 + 0.35 * 100  # within the upper third of a full body


def test_cropped_upper_body_gets_a_bigger_head_share():
    full = head_boxes(np.array([[0, 0, 40, 100]]), 0.0)[0]
    upper = head_boxes(np.array([[0, 0, 100, 100]]), 0.0)[0]
    assert (upper[3] - upper[1]) > (full[3] - full[1])


def test_empty_input():
    assert head_boxes(np.zeros((0, 4))).shape == (0, 4)


def test_head_with_a_found_face_of_matching_size_is_not_needed():
    heads = np.array([[100, 100, 140, 150], [300, 100, 340, 150]], np.float32)
    faces = np.array([[110, 110, 130, 135], [318, 120, 322, 124]], np.float32)  # second face is far too small
    assert uncovered_heads(heads, faces).tolist() == [False, True]
    assert uncovered_heads(heads, np.zeros((0, 4))).tolist() == [True, True]
