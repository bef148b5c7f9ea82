import numpy as np

from vigil.redaction.heads import head_boxes


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
