import numpy as np
import pytest

from tests.conftest import unredacted_for_test
from vigil.core import Frame
from vigil.sources import iter_video, read_image
from vigil.storage import VideoWriter, write_image


def image():
    return np.random.default_rng(0).integers(0, 256, (64, 96, 3), dtype=np.uint8)


def test_writers_refuse_raw_frames(tmp_path):
    raw = Frame(image())
    with pytest.raises(TypeError, match="only RedactedFrame"):
        write_image(tmp_path / "a.png", raw)  # type: ignore[arg-type]
    with VideoWriter(tmp_path / "a.mp4", 10) as w, pytest.raises(TypeError, match="only RedactedFrame"):
        w.write(raw)  # type: ignore[arg-type]
    assert not (tmp_path / "a.png").exists()


def test_image_round_trip_png_is_exact(tmp_path):
    img = image()
    write_image(tmp_path / "x.png", unredacted_for_test(img))
    assert np.array_equal(read_image(tmp_path / "x.png").image, img)


def test_video_round_trip_keeps_frames_and_even_size(tmp_path):
    path = tmp_path / "v.mp4"
    with VideoWriter(path, 10) as w:
        for i in range(12):
            w.write(unredacted_for_test(np.full((61, 97, 3), i * 20, np.uint8), pts=i / 10))
    frames = list(iter_video(path))
    assert len(frames) == 12
    assert frames[0].image.shape == (60, 96, 3)
    assert abs(frames[5].pts - 0.5) < 1e-6
    assert abs(int(frames[5].image.mean()) - 100) <= 8


def test_video_frames_of_another_size_are_scaled_to_the_clip(tmp_path):
    path = tmp_path / "mixed.mp4"
    with VideoWriter(path, 10) as w:
        w.write(unredacted_for_test(np.full((64, 96, 3), 40, np.uint8), pts=0.0))
        w.write(unredacted_for_test(np.full((32, 48, 3), 200, np.uint8), pts=0.1))  # smaller
        w.write(unredacted_for_test(np.full((128, 160, 3), 120, np.uint8), pts=0.2))  # larger, other aspect
    frames = list(iter_video(path))
    assert [f.image.shape for f in frames] == [(64, 96, 3)] * 3
    assert [round(float(f.image.mean()) / 40) for f in frames] == [1, 5, 3]
