"""``vigil eval``'s runner: finding a clip's configuration, times from the first frame, looping, the CLI."""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import yaml

from vigil.cli.main import main
from vigil.config.models import CameraConfig
from vigil.evaluation.labels import ClipLabels
from vigil.evaluation.runner import EvalError, _frames, config_for, evaluate


def clip(path: Path, frames: int = 20, fps: int = 10, start_pts: int = 3) -> Path:
    """A small H.264 clip whose first timestamp is not 0 (as many real files)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        for k in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 8 * k % 255, np.uint8), format="bgr24")
            frame.pts = k + start_pts
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def camera(video: Path, **decode: object) -> CameraConfig:
    return CameraConfig.model_validate({"id": "cam", "source": {"url": str(video), "decode": decode}})


def test_frames_come_from_the_cameras_own_source_settings(tmp_path):
    """Eval sees what the product analyses: a B-frame stream's non-reference frames are skipped as live."""
    from tests.sources.helpers import make_bframe_clip

    video = make_bframe_clip(tmp_path / "b2.mp4", frames=50, fps=25, bframes=2)
    every = [f.pts for f, _ in _frames(video, camera(video, skip_nonref=False), lambda pts: True, 0.0)]
    kept = [f.pts for f, _ in _frames(video, camera(video), lambda pts: True, 0.0)]
    assert len(every) == 50 and 15 <= len(kept) <= 20 and set(kept) < set(every)


def test_configuration_is_found_by_folder_name_or_named_in_the_labels(tmp_path):
    (tmp_path / "street.yaml").write_text("x")
    assert config_for(ClipLabels(file="data/street/clip.mp4"), tmp_path) == tmp_path / "street.yaml"
    (tmp_path / "other.yml").write_text("x")
    assert config_for(ClipLabels(file="a.mp4", config="other.yml"), tmp_path) == tmp_path / "other.yml"
    with pytest.raises(EvalError, match=r"clip data/tunnel/clip.mp4: no configuration .*tunnel.yaml"):
        config_for(ClipLabels(file="data/tunnel/clip.mp4"), tmp_path)


def test_frames_are_timed_from_the_first_frame_and_loops_continue_the_time(tmp_path):
    video = clip(tmp_path / "c.mp4")
    items = list(_frames(video, camera(video, skip_nonref=False), lambda pts: True, loop_to_s=5.0))
    frames = [f for f, _ in items]
    pts = [f.pts for f in frames]
    assert pts[0] == 0.0 and pts[19] == pytest.approx(1.9)
    assert all(b > a for a, b in itertools.pairwise(pts))
    assert pts[20] == pytest.approx(2.0)  # the second pass follows the first by one frame
    assert pts[-1] >= 5.0 and [k for k, (_, first) in enumerate(items) if first] == [0, 20, 40]


def test_a_phase_refuses_the_first_frames_so_the_rate_gate_samples_others_at_the_clips_own_times(tmp_path):
    video = clip(tmp_path / "c.mp4")
    cam = camera(video, skip_nonref=False)
    every = [f.pts for f, _ in _frames(video, cam, lambda pts: True, 0.0)]
    items = list(_frames(video, cam, lambda pts: True, loop_to_s=3.0, phase=2))
    pts = [f.pts for f, _ in items]
    assert pts[:18] == every[2:]  # the same clock: labels still apply
    assert pts[18] == pytest.approx(2.0) and pts[19] == pytest.approx(2.1)  # later passes are whole
    assert [k for k, (_, first) in enumerate(items) if first] == [0, 18]
    # Selected every other frame, phase 1 analyses the odd frames.
    odd = [f.pts for f, _ in _frames(video, cam, lambda pts: round(pts * 10) % 2 == 1, 0.0, phase=1)]
    assert odd == pytest.approx([0.1 * k for k in range(1, 20, 2)])


def test_eval_on_a_clip_resets_tracks_at_each_loop_and_reports_errors_by_clip(tmp_path, monkeypatch):
    (tmp_path / "cams" / "quiet").mkdir(parents=True)
    video = clip(tmp_path / "cams" / "quiet" / "c.mp4")
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "quiet.yaml").write_text(yaml.safe_dump({"cameras": [{"id": "q", "source": {"url": str(video)}}]}))
    labels = tmp_path / "labels.yaml"
    labels.write_text(
        yaml.safe_dump(
            {
                "clips": [
                    {"file": "cams/quiet/c.mp4", "incidents": "none"},
                    {"file": "cams/missing/c.mp4", "incidents": "none"},
                ]
            }
        )
    )
    from vigil.pipeline import camera as camera_module

    resets = []
    original = camera_module.CameraPipeline.discontinuity
    monkeypatch.setattr(camera_module.CameraPipeline, "discontinuity", lambda self: resets.append(1) or original(self))
    report = evaluate(labels, configs, loop_to_s=4.0)
    (run,) = report.runs
    assert run.loops == 3 and len(resets) == 2
    assert run.result.false_alarms == [] and run.result.video_s >= 4.0
    assert report.errors == [f"missing: clip cams/missing/c.mp4: no configuration {configs / 'missing.yaml'}"]
    assert main(["eval", str(labels), "-c", str(configs), "-q"]) == 1  # an error is a non-zero exit
    phased = evaluate(labels, configs, phases=3)
    assert [r.phase for r in phased.runs] == [0, 1, 2]
    # x264's B-frames are skipped at 5 analytic fps: 10 decoded frames, one fewer analysed per phase.
    assert [r.frames_analysed for r in phased.runs] == [10, 9, 8]


def test_eval_at_another_analytic_rate_analyses_that_many_frames_and_says_so(tmp_path):
    """``--analytic-fps`` replaces each camera's own rate: a site measures a rate before it uses it."""
    (tmp_path / "cams" / "quiet").mkdir(parents=True)
    video = clip(tmp_path / "cams" / "quiet" / "c.mp4", frames=40)
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "quiet.yaml").write_text(yaml.safe_dump({"cameras": [{"id": "q", "source": {"url": str(video)}}]}))
    labels = tmp_path / "labels.yaml"
    labels.write_text(yaml.safe_dump({"clips": [{"file": "cams/quiet/c.mp4", "incidents": "none"}]}))
    own, slow = evaluate(labels, configs).runs[0], evaluate(labels, configs, analytic_fps=2.5).runs[0]
    assert (own.analytic_fps, slow.analytic_fps) == (5.0, 2.5)
    assert slow.frames_analysed < own.frames_analysed and 8 <= slow.frames_analysed <= 11  # 4 s at 2.5 fps
    assert evaluate(labels, configs, analytic_fps=2.5).as_dict()["clips"][0]["analytic_fps"] == 2.5
    bad = evaluate(labels, configs, analytic_fps=0.0)
    assert bad.runs == [] and bad.errors[0].startswith("quiet: analytic_fps 0.0:")
    with pytest.raises(SystemExit) as exit_:
        main(["eval", str(labels), "-c", str(configs), "--analytic-fps", "90"])
    assert exit_.value.code == 2
