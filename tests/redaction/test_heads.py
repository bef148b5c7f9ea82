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


def test_head_share_of_the_person_box_is_a_parameter():
    person = np.array([[0, 0, 40, 120]], np.float32)
    wide = head_boxes(person, pad=0.0)[0]
    narrow = head_boxes(person, pad=0.0, width_share=0.4)[0]
    assert (narrow[2] - narrow[0]) < (wide[2] - wide[0])
    assert abs((narrow[2] - narrow[0]) - 16) < 1e-4


def test_covered_share_of_head_boxes():
    from vigil.redaction.heads import covered_share

    heads = np.array([[0, 0, 100, 100], [200, 0, 300, 100]], np.float32)
    faces = np.array([[0, 0, 50, 100], [40, 0, 100, 100]], np.float32)  # two faces together cover the first head
    share = covered_share(heads, faces)
    assert share[0] == 1.0 and share[1] == 0.0
    half = covered_share(heads[:1], faces[:1])[0]
    assert abs(half - 0.5) < 0.1
    assert covered_share(heads, np.zeros((0, 4))).tolist() == [0.0, 0.0]
