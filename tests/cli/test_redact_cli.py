"""``vigil redact`` end to end on real files, including broken ones."""

import json
import shutil

import av
import numpy as np
import pytest

from tests.conftest import changed_fraction
from vigil.cli.main import main
from vigil.sources import iter_video, probe_video, read_image


def cut_clip(src, dst, n_frames):
    """Re-encode the first frames of a clip (test input preparation only)."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        stream = out.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = 768, 432, "yuv420p"
        for i, frame in enumerate(inp.decode(video=0)):
            if i == n_frames:
                break
            fresh = av.VideoFrame.from_ndarray(frame.to_ndarray(format="bgr24"), format="bgr24")
            fresh.pts = i
            for packet in stream.encode(fresh):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


@pytest.fixture(scope="module")
def mixed_inputs(tmp_path_factory, shared_data):
    d = tmp_path_factory.mktemp("inputs")
    faces = shared_data / "faces_kaggle" / "images"
    for name in ("maksssksksss0.jpg", "maksssksksss10.jpg"):
        shutil.copy(faces / name, d / name)
    (d / "readme.txt").write_text("this is not an image")
    cut_clip(shared_data / "intel_sample_videos" / "car-detection.mp4", d / "road.mp4", 30)
    data = (shared_data / "intel_sample_videos" / "car-detection.mp4").read_bytes()
    (d / "truncated.mp4").write_bytes(data[: len(data) // 3])
    return d


def test_directory_with_broken_files_reports_them_and_writes_the_rest(mixed_inputs, tmp_path, capsys):
    out = tmp_path / "out"
    report_path = tmp_path / "report.json"
    code = main(["redact", str(mixed_inputs), "-o", str(out), "--report", str(report_path), "-q"])
    assert code == 1
    report = json.loads(report_path.read_text())
    failed = {f["path"].rsplit("/", 1)[-1]: f["error"] for f in report["failed"]}
    assert set(failed) == {"readme.txt", "truncated.mp4"}
    assert "readme.txt" in failed["readme.txt"] and "not a readable image" in failed["readme.txt"]
    assert "truncated.mp4" in failed["truncated.mp4"]
    err = capsys.readouterr().err
    assert "readme.txt" in err and "truncated.mp4" in err
    # the good inputs were written, with the same names, and really redacted
    for name in ("maksssksksss0.jpg", "maksssksksss10.jpg"):
        original = read_image(mixed_inputs / name).image
        redacted = read_image(out / name).image
        assert redacted.shape == original.shape
        assert not np.array_equal(redacted, original)
    assert report["images"] == 2 and report["videos"] == 1
    assert report["regions"]["face"] > 0


def test_video_is_reencoded_without_audio_and_every_frame_kept(mixed_inputs, tmp_path):
    out = tmp_path / "out"
    code = main(["redact", str(mixed_inputs / "road.mp4"), "-o", str(out), "-q"])
    assert code == 0
    info = probe_video(out / "road.mp4")
    assert (info.width, info.height) == (768, 432) and not info.has_audio
    assert sum(1 for _ in iter_video(out / "road.mp4")) == 30


def test_single_image_and_missing_input(shared_data, tmp_path, capsys):
    src = shared_data / "faces_kaggle" / "images" / "maksssksksss0.jpg"
    assert main(["redact", str(src), "-o", str(tmp_path), "-q"]) == 0
    assert (tmp_path / "maksssksksss0.jpg").is_file()
    assert main(["redact", str(tmp_path / "nothing-here"), "-o", str(tmp_path), "-q"]) == 2
    assert "nothing-here" in capsys.readouterr().err


def test_face_box_changed_in_cli_output(shared_data, tmp_path):
    src = shared_data / "faces_kaggle" / "images" / "maksssksksss0.jpg"
    main(["redact", str(src), "-o", str(tmp_path), "-q", "--method", "pixelate"])
    original, redacted = read_image(src).image, read_image(tmp_path / src.name).image
    import xml.etree.ElementTree as ET

    root = ET.parse(shared_data / "faces_kaggle" / "annotations" / "maksssksksss0.xml").getroot()
    for b in root.iter("bndbox"):
        box = tuple(int(float(b.find(k).text)) for k in ("xmin", "ymin", "xmax", "ymax"))
        assert changed_fraction(original, redacted, box) >= 0.8


def test_invalid_option_value_is_a_clear_error(tmp_path, capsys):
    assert main(["redact", str(tmp_path), "-o", str(tmp_path), "--strength", "0", "-q"]) == 2
    assert "strength" in capsys.readouterr().err
