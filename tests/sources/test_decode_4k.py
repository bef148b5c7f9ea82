"""Decoding only what analysis needs: skipped non-reference frames, analysis scaled down, NVDEC asked for clearly.

The clips are generated here with PyAV (x264 with forced B-frames), small except
for one short 4K clip.
"""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from tests.sources.helpers import make_bframe_clip
from vigil.config.models import DecodeConfig, SourceConfig
from vigil.core import Frame
from vigil.sources import SourceError, open_source
from vigil.sources.avsource import AvSource, analysis_size

FULL = DecodeConfig(skip_nonref=False, analysis_max_width=None)
SKIP = DecodeConfig(skip_nonref=True, analysis_max_width=None)


def decode_all(path: Path, decode: DecodeConfig | None, min_fps: float | None = None) -> tuple[AvSource, list[Frame]]:
    source = AvSource("cam-4k", str(path), live=False, decode=decode)
    source.min_fps = min_fps
    return source, list(source.frames(select=lambda pts: True))


def reference_pictures(path: Path) -> dict[float, np.ndarray]:
    """Every frame of the clip, decoded in full with PyAV alone (no Vigil code), by pts."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return {float(f.time): f.to_ndarray(format="bgr24") for f in container.decode(stream)}


def test_skipped_decoding_keeps_frames_bit_identical_to_a_full_decode(tmp_path: Path) -> None:
    clip = make_bframe_clip(tmp_path / "b2.mp4", frames=50, fps=25, bframes=2)  # I/P then 2 non-reference B
    full = reference_pictures(clip)
    source, kept = decode_all(clip, SKIP, min_fps=5)
    assert len(full) == 50
    # The reference frames only: every third frame (and the key frames).
    assert 15 <= source.decoded == len(kept) <= 20
    assert source.skipping
    for frame in kept:
        assert np.array_equal(frame.image, full[round(frame.pts, 6)]), f"frame at {frame.pts} differs"
    gaps = np.diff([f.pts for f in kept])
    assert gaps.max() <= 1 / 5 + 1e-3  # the analytic rate still finds a frame in every period


def test_without_skipping_every_frame_is_decoded(tmp_path: Path) -> None:
    clip = make_bframe_clip(tmp_path / "b2.mp4", frames=50, fps=25, bframes=2)
    source, frames = decode_all(clip, FULL, min_fps=5)
    assert source.decoded == len(frames) == 50
    source, frames = decode_all(clip, SKIP, min_fps=None)  # no analytic rate given: nothing may be skipped
    assert source.decoded == 50


def test_no_skipping_when_the_analytic_rate_needs_more_than_half_the_frames(tmp_path: Path) -> None:
    clip = make_bframe_clip(tmp_path / "b2.mp4", frames=50, fps=25, bframes=2)
    source, _ = decode_all(clip, SKIP, min_fps=15)
    assert source.decoded == 50 and not source.skipping


def test_skipping_stops_when_reference_frames_are_too_far_apart(tmp_path: Path) -> None:
    """3 B-frames in a row leave reference frames 0.16 s apart: too far for 10 analytic fps."""
    clip = make_bframe_clip(tmp_path / "b3.mp4", frames=50, fps=25, bframes=3)
    _, only_refs = decode_all(clip, DecodeConfig(skip_nonref=True, analysis_max_width=None), min_fps=5)
    assert len(only_refs) < 20  # at 5 fps they are near enough
    source, frames = decode_all(clip, SKIP, min_fps=10)
    assert not source.skipping
    assert source.decoded >= 45  # only the B-frames before the first too-wide gap were skipped
    gaps = np.diff([f.pts for f in frames])
    # Frames already handed to the decoder's threads were still skipped; every frame after them is decoded.
    assert np.allclose(gaps[8:], 0.04)


def test_frames_not_selected_are_never_converted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clip = make_bframe_clip(tmp_path / "b2.mp4", frames=50, fps=25, bframes=2)
    converted = []
    original = AvSource._image

    def counting(self: AvSource, vframe: object) -> object:
        converted.append(1)
        return original(self, vframe)

    monkeypatch.setattr(AvSource, "_image", counting)
    source = AvSource("cam", str(clip), live=False, decode=SKIP)
    source.min_fps = 5
    every_fifth = [0]

    def select(pts: float) -> bool:
        every_fifth[0] += 1
        return every_fifth[0] % 5 == 1

    frames = list(source.frames(select=select))
    assert len(converted) == len(frames) == -(-source.decoded // 5)


def smooth(i: int, w: int, h: int) -> np.ndarray:
    """Gradients and a moving square: nothing finer than the analysis scale, so scaling is compared fairly."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    image = np.dstack([xx / w * 255, yy / h * 255, (xx + yy) / (w + h) * 255]).astype(np.uint8)
    image[h // 3 : h // 2, i * 40 + 100 : i * 40 + 500] = 255
    return image


def test_4k_frames_are_analysed_scaled_down_in_the_conversion(tmp_path: Path) -> None:
    clip = make_bframe_clip(tmp_path / "4k.mp4", frames=4, width=3840, height=2160, bframes=0, picture=smooth)
    full = reference_pictures(clip)
    _, frames = decode_all(clip, DecodeConfig(analysis_max_width=1920))
    assert len(frames) == 4
    for frame in frames:
        assert frame.image.shape == (1080, 1920, 3)
        assert frame.full_size == (3840, 2160) and frame.scale == (2.0, 2.0)
        expected = cv2.resize(full[round(frame.pts, 6)], (1920, 1080), interpolation=cv2.INTER_AREA)
        assert np.abs(frame.image.astype(int) - expected).mean() < 3.0  # the same picture, only smaller
    # A frame no wider than the analysis width is delivered as it is.
    _, small = decode_all(clip, DecodeConfig(analysis_max_width=3840))
    assert small[0].image.shape == (2160, 3840, 3) and small[0].full_size is None


def test_analysis_size_keeps_the_aspect_and_even_sides() -> None:
    assert analysis_size(3840, 2160, 1920) == (1920, 1080)
    assert analysis_size(2560, 1440, 1920) == (1920, 1080)
    assert analysis_size(1920, 1080, 1920) is None
    assert analysis_size(3840, 2160, None) is None
    w, h = analysis_size(4000, 3000, 1001)  # type: ignore[misc]
    assert (w, h) == (1000, 750)


def _cuda_decodes(path: Path) -> bool:
    from av.codec.hwaccel import HWAccel

    try:
        with av.open(str(path), hwaccel=HWAccel("cuda", allow_software_fallback=False)) as container:
            next(container.decode(video=0))
        return True
    except (av.error.FFmpegError, OSError, ValueError, StopIteration):
        return False


def test_asking_for_nvdec_without_a_gpu_is_a_clear_error_of_the_camera(tmp_path: Path) -> None:
    clip = make_bframe_clip(tmp_path / "b2.mp4", frames=10)
    if _cuda_decodes(clip):
        pytest.skip("this machine decodes on CUDA: the error cannot happen here")
    cfg = SourceConfig(url=str(clip), decode={"hwaccel": "cuda"})
    source = open_source("cam-gpu", cfg)
    with pytest.raises(SourceError, match=r"camera cam-gpu: source\.decode\.hwaccel is 'cuda'"):
        list(source.frames())


@pytest.mark.gpu
def test_nvdec_decodes_the_same_frames_as_the_cpu(tmp_path: Path) -> None:
    clip = make_bframe_clip(tmp_path / "b2.mp4", frames=20)
    if not _cuda_decodes(clip):
        pytest.skip("no CUDA decoder on this machine")
    _, cpu = decode_all(clip, FULL)
    _, gpu = decode_all(clip, DecodeConfig(hwaccel="cuda", analysis_max_width=None))
    assert [f.pts for f in gpu] == [f.pts for f in cpu]
    for a, b in zip(cpu, gpu, strict=True):
        assert np.abs(a.image.astype(int) - b.image.astype(int)).mean() < 2.0  # colour conversion may round apart


def test_vigil_analyze_decodes_only_the_reference_frames_and_analyses_at_5_fps(tmp_path: Path) -> None:
    from vigil.config import load_config_text
    from vigil.pipeline.analyze import analyze_video

    clip = make_bframe_clip(tmp_path / "b2.mp4", frames=100, fps=25, bframes=2)  # 4 s
    config = load_config_text(f'cameras: [{{id: cam, source: {{url: "{clip}"}}, analytic_fps: 5}}]')
    report = analyze_video(clip, config)
    assert report.frames_decoded < 40  # of 100: the I and P frames
    assert report.frames_analysed == 20  # 5 fps of 4 s
    full = load_config_text(f'cameras: [{{id: cam, source: {{url: "{clip}", decode: {{skip_nonref: false}}}}}}]')
    assert analyze_video(clip, full).frames_decoded == 100


def native_threads() -> int:
    """Threads of this process, FFmpeg's native ones included (Linux: /proc)."""
    return sum(1 for _ in Path("/proc/self/task").iterdir())


def threads_while_decoding(source: AvSource) -> tuple[int, list[Frame]]:
    """Threads the process gained while ``source`` decoded (counted at its last frame), and its frames."""
    before = native_threads()
    frames, during = [], 0
    for frame in source.frames(select=lambda pts: True):
        frames.append(frame)
        during = native_threads()
    return during - before, frames


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads through Linux /proc")
def test_decoder_threads_are_as_configured_and_one_thread_decodes_the_same_frames(tmp_path: Path) -> None:
    """``decode.threads: 1`` decodes and converts on the reader thread alone, picture for picture as threaded."""
    clip = make_bframe_clip(tmp_path / "b2.mp4", frames=30, fps=25, bframes=2)
    full = reference_pictures(clip)
    three = DecodeConfig(skip_nonref=False, analysis_max_width=None, threads=3)
    gained, frames = threads_while_decoding(AvSource("cam", str(clip), live=False, decode=three))
    assert gained >= 2, "three decoder threads asked for, but FFmpeg did not start them"
    one = DecodeConfig(skip_nonref=False, analysis_max_width=None, threads=1)
    gained, frames = threads_while_decoding(AvSource("cam", str(clip), live=False, decode=one))
    assert gained <= 0, f"one decoder thread asked for, {gained} threads started (decoder or swscale)"
    assert len(frames) == len(full) == 30
    for frame in frames:
        assert np.array_equal(frame.image, full[round(frame.pts, 6)]), f"frame at {frame.pts} differs"
