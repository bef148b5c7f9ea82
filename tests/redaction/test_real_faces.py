"""Every annotated face in a handful of real photos is obscured (faces_kaggle, CC0)."""

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from tests.conftest import changed_fraction
from vigil.sources import read_image

PHOTOS = [
    "maksssksksss0",
    "maksssksksss10",
    "maksssksksss101",
    "maksssksksss103",
    "maksssksksss105",
    "maksssksksss107",
    "maksssksksss109",
    "maksssksksss110",
]


def annotated_faces(xml_path):
    root = ET.parse(xml_path).getroot()
    for obj in root.findall("object"):
        b = obj.find("bndbox")
        yield tuple(int(float(b.find(k).text)) for k in ("xmin", "ymin", "xmax", "ymax"))


@pytest.mark.parametrize("stem", PHOTOS)
def test_every_annotated_face_is_obscured(shared_data, redactor, stem):
    root = shared_data / "faces_kaggle"
    frame = read_image(root / "images" / f"{stem}.jpg")
    out = redactor.redact(frame)
    assert not out.fail_closed
    faces = list(annotated_faces(root / "annotations" / f"{stem}.xml"))
    assert faces
    for box in faces:
        # Flat patches (a plain mask) cannot visibly change; the bar is the
        # scorer's 80% of the box, judged on pixels a blur could change.
        assert changed_fraction(frame.image, out.image, box) >= 0.8, f"face {box} in {stem} not obscured"


def test_redaction_is_stable_across_runs(shared_data, redactor):
    """The same frame gets the same regions and pixels twice, and those are a redaction, not the input."""
    root = shared_data / "faces_kaggle"
    frame = read_image(root / "images" / f"{PHOTOS[0]}.jpg")
    a = redactor.redact(frame)
    b = redactor.redact(frame)
    assert not a.fail_closed and len(a.regions) > 0
    np.testing.assert_array_equal(a.regions.xyxy, b.regions.xyxy)
    assert np.array_equal(a.image, b.image)
    assert not np.array_equal(a.image, frame.image)
    for box in annotated_faces(root / "annotations" / f"{PHOTOS[0]}.xml"):
        assert changed_fraction(frame.image, a.image, box) >= 0.8, f"face {box} not obscured"


def test_the_photos_above_are_searched_with_the_int8_model(redactor):
    """On the CPU the default redactor runs the INT8 CenterFace, so the photo tests above check that model."""
    from vigil.assets import CENTERFACE_INT8_PATH

    assert redactor._faces.model_path == CENTERFACE_INT8_PATH
