"""Camera sources read from real servers on loopback: GStreamer RTSP, an MJPEG http.server, files."""

from __future__ import annotations

import functools
import http.server
import itertools
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.sources.helpers import MjpegServer, gray, make_clip
from tests.sources.rtsp_server import RtspServer, free_port, unavailable_reason
from vigil.config.models import SourceConfig
from vigil.sources import SourceError, open_source, redact_url
from vigil.sources.avsource import AvSource
from vigil.sources.imagedir import ImageDirSource
from vigil.sources.mjpeg import HttpSource

needs_rtsp = pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))


def take(source, n: int, timeout: float = 10.0) -> list:
    """First n frames of a source, failing (not hanging) past ``timeout``."""
    t0 = time.monotonic()
    frames = []
    try:
        for frame in source.frames():
            frames.append(frame)
            if len(frames) >= n:
                break
            assert time.monotonic() - t0 < timeout, f"only {len(frames)} frames in {timeout} s"
    finally:
        source.close()
    return frames


def strictly_increasing(values: list[float]) -> bool:
    return all(b > a for a, b in itertools.pairwise(values))


@pytest.fixture(scope="module")
def rtsp_clip(shared_data) -> Path:
    return shared_data / "intel_sample_videos" / "car-detection.mp4"


@pytest.fixture
def rtsp_server(rtsp_clip):
    if unavailable_reason():
        pytest.skip(unavailable_reason())
    with RtspServer(rtsp_clip) as server:
        yield server


# -- choosing a source --------------------------------------------------------


def test_open_source_chooses_by_url(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4")
    assert isinstance(open_source("a", SourceConfig(url="rtsp://127.0.0.1:1/x")), AvSource)
    assert open_source("a", SourceConfig(url="rtsp://127.0.0.1:1/x")).live
    assert isinstance(open_source("a", SourceConfig(url="http://127.0.0.1:1/x")), HttpSource)
    assert isinstance(open_source("a", SourceConfig(url=str(tmp_path))), ImageDirSource)
    src = open_source("a", SourceConfig(url=clip.as_uri()))
    assert isinstance(src, AvSource) and not src.live
    with pytest.raises(SourceError, match=r"^camera gate-3: unsupported URL scheme 'ftp'"):
        open_source("gate-3", SourceConfig(url="ftp://user:pw@host/x"))


def test_passwords_never_appear_in_errors():
    assert redact_url("rtsp://admin:s3cret@10.0.0.1:554/live") == "rtsp://admin:***@10.0.0.1:554/live"
    assert redact_url("rtsp://10.0.0.1/live") == "rtsp://10.0.0.1/live"
    url = f"rtsp://admin:s3cret@127.0.0.1:{free_port()}/live"
    with pytest.raises(SourceError) as err:
        take(open_source("cam-pw", SourceConfig(url=url, stall_timeout_s=2)), 1)
    assert "s3cret" not in str(err.value) and "cam-pw" in str(err.value)


# -- RTSP -----------------------------------------------------------------------


@needs_rtsp
@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_rtsp_frames_with_increasing_stream_timestamps(rtsp_server, transport):
    cfg = SourceConfig(url=rtsp_server.url, transport=transport, stall_timeout_s=3)
    t0 = time.monotonic()
    frames = take(open_source("cam-rtsp", cfg), 20)
    elapsed = time.monotonic() - t0
    assert len(frames) == 20
    assert {(f.height, f.width) for f in frames} == {(432, 768)}
    assert all(f.source_id == "cam-rtsp" for f in frames)
    pts = [f.pts for f in frames]
    assert strictly_increasing(pts)
    # Stream time, not read time: 12.5 fps -> 0.08 s apart, wherever the reader was delayed.
    assert np.diff(pts[1:]) == pytest.approx(0.08, abs=0.005)
    assert elapsed < 8


def test_rtsp_unreachable_names_the_camera():
    url = f"rtsp://127.0.0.1:{free_port()}/x"
    t0 = time.monotonic()
    with pytest.raises(SourceError, match=rf"^camera door-1: cannot connect to {url}"):
        take(open_source("door-1", SourceConfig(url=url, stall_timeout_s=2)), 1)
    assert time.monotonic() - t0 < 5


# -- HTTP MJPEG -------------------------------------------------------------------


@pytest.mark.parametrize("content_length", [True, False])
def test_mjpeg_over_http(content_length):
    with MjpegServer(fps=50, content_length=content_length) as server:
        frames = take(open_source("cam-mj", SourceConfig(url=server.url, stall_timeout_s=2)), 12)
    assert [f.index for f in frames] == list(range(12))
    levels = [int(np.median(f.image)) for f in frames]
    assert levels == pytest.approx([10 * i for i in range(12)], abs=3)  # every part, in order
    assert frames[0].image.shape == (120, 160, 3)
    assert frames[0].pts == 0.0 and strictly_increasing([f.pts for f in frames])


def test_mjpeg_uses_the_camera_timestamps_when_sent():
    with MjpegServer(fps=50, timestamps=True) as server:
        frames = take(open_source("cam-mj", SourceConfig(url=server.url, stall_timeout_s=2)), 6)
    # The camera says 50 fps (X-Timestamp); arrival jitter does not leak in.
    assert [f.pts for f in frames] == pytest.approx([i / 50 for i in range(6)], abs=1e-6)


def test_other_http_streams_are_read_with_pyav(tmp_path):
    make_clip(tmp_path / "live.ts", frames=10)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/live.ts"
        frames = take(open_source("cam-ts", SourceConfig(url=url, stall_timeout_s=2)), 5)
    finally:
        server.shutdown()
        server.server_close()
    assert [f.index for f in frames] == list(range(5))
    assert strictly_increasing([f.pts for f in frames])


def test_mjpeg_end_and_http_errors_name_the_camera():
    with MjpegServer(frames=3) as server:
        src = open_source("cam-end", SourceConfig(url=server.url, stall_timeout_s=2))
        with pytest.raises(SourceError, match=r"^camera cam-end: stream ended"):
            list(src.frames())
    with MjpegServer(status=404) as server, pytest.raises(SourceError, match=r"^camera cam-404: .*HTTP 404"):
        take(open_source("cam-404", SourceConfig(url=server.url)), 1)


def test_mjpeg_silent_server_times_out():
    with MjpegServer(frames=0, hold_s=10) as server:
        t0 = time.monotonic()
        with pytest.raises(SourceError, match=r"^camera cam-quiet: .*timed out"):
            take(open_source("cam-quiet", SourceConfig(url=server.url, stall_timeout_s=1)), 1)
        assert time.monotonic() - t0 < 4


# -- files and image directories -------------------------------------------------


@pytest.mark.parametrize("suffix", [".mp4", ".ts"])
def test_file_loop_keeps_timestamps_going(tmp_path, suffix):
    clip = make_clip(tmp_path / f"loop{suffix}", frames=10, fps=10)
    frames = take(open_source("cam-file", SourceConfig(url=str(clip), loop=True)), 25)
    pts = [f.pts for f in frames]
    start = pts[0]  # the file's own first timestamp (MPEG-TS starts at 1.4 s)
    assert pts == pytest.approx([start + i / 10 for i in range(25)], abs=1e-6)
    assert [f.index for f in frames] == list(range(25))
    # frame 10 is the clip's first frame again
    assert int(np.median(frames[10].image)) == pytest.approx(int(np.median(frames[0].image)), abs=3)


def test_file_without_loop_ends_after_the_last_frame(tmp_path):
    clip = make_clip(tmp_path / "once.mp4", frames=7)
    frames = list(open_source("cam-file", SourceConfig(url=str(clip))).frames())
    assert len(frames) == 7


def test_file_realtime_paces_at_stream_timestamps(tmp_path):
    clip = make_clip(tmp_path / "rt.mp4", frames=10, fps=10)
    t0 = time.monotonic()
    frames = take(open_source("cam-rt", SourceConfig(url=str(clip), realtime=True)), 8)
    elapsed = time.monotonic() - t0
    assert 0.6 < elapsed < 2.0  # 7 intervals of 0.1 s
    assert frames[-1].pts == pytest.approx(0.7)


def test_corrupt_or_missing_file_names_the_camera(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 4096)
    with pytest.raises(SourceError, match=r"^camera cam-bad: cannot open video .*broken\.mp4"):
        take(open_source("cam-bad", SourceConfig(url=str(bad))), 1)
    with pytest.raises(SourceError, match=r"^camera cam-gone: no such file: .*gone\.mp4"):
        take(open_source("cam-gone", SourceConfig(url=str(tmp_path / "gone.mp4"))), 1)


def test_image_directory_in_name_order_skipping_bad_images(tmp_path, caplog):
    for i, level in enumerate([30, 90, 150]):
        cv2.imwrite(str(tmp_path / f"img_{i:03d}.png"), gray(level))
    (tmp_path / "img_001b.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "notes.txt").write_text("ignored")
    src = open_source("cam-dir", SourceConfig(url=str(tmp_path), loop=True))
    frames = take(src, 7)
    assert [int(np.median(f.image)) for f in frames] == [30, 90, 150, 30, 90, 150, 30]
    assert [f.pts for f in frames] == pytest.approx([i / 25 for i in range(7)])
    assert "img_001b.jpg" in caplog.text


def test_image_directory_errors_name_the_camera(tmp_path):
    with pytest.raises(SourceError, match=r"^camera cam-empty: no images in"):
        take(open_source("cam-empty", SourceConfig(url=str(tmp_path))), 1)
    (tmp_path / "a.jpg").write_bytes(b"junk")
    with pytest.raises(SourceError, match=r"^camera cam-empty: none of the 1 images could be read"):
        take(open_source("cam-empty", SourceConfig(url=str(tmp_path))), 1)


def test_select_refuses_frames_before_they_are_decoded(tmp_path):
    for i in range(4):
        cv2.imwrite(str(tmp_path / f"{i}.png"), gray(40 * i))
    even = lambda pts: round(pts * 25) % 2 == 0  # noqa: E731
    frames = list(open_source("cam-d", SourceConfig(url=str(tmp_path))).frames(select=even))
    assert [(f.index, int(np.median(f.image))) for f in frames] == [(0, 0), (2, 80)]
    asked: list[float] = []
    with MjpegServer(fps=50) as server:
        src = open_source("cam-m", SourceConfig(url=server.url, stall_timeout_s=2))
        frames = []
        for f in src.frames(select=lambda pts: asked.append(pts) or len(asked) % 2 == 1):
            frames.append(f)
            if len(frames) == 3:
                break
        src.close()
    assert [f.index for f in frames] == [0, 2, 4]
    assert [int(np.median(f.image)) for f in frames] == pytest.approx([0, 20, 40], abs=3)
