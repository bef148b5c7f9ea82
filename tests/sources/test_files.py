import pytest

from vigil.sources import SourceError, iter_video, probe_video, read_image


def test_unreadable_image_names_the_file(tmp_path):
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    with pytest.raises(SourceError, match=r"notes.jpg"):
        read_image(bad)
    with pytest.raises(SourceError, match=r"no-such.png"):
        read_image(tmp_path / "no-such.png")


def test_video_errors_name_the_file(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 1000)
    with pytest.raises(SourceError, match=r"broken.mp4"):
        probe_video(bad)
    with pytest.raises(SourceError, match=r"broken.mp4"):
        list(iter_video(bad))


def test_real_clip_timestamps_come_from_the_stream(shared_data):
    clip = shared_data / "intel_sample_videos" / "car-detection.mp4"
    info = probe_video(clip)
    assert (info.width, info.height) == (768, 432)
    frames = []
    for f in iter_video(clip):
        frames.append(f)
        if len(frames) == 26:
            break
    assert frames[25].pts == pytest.approx(25 / float(info.fps), abs=1e-3)
