"""Supervised cameras: reconnects with backoff, stall watchdog, monotonic timestamps, isolation."""

from __future__ import annotations

import itertools
import threading
import time

import numpy as np
import pytest

from tests.sources.helpers import MjpegServer, make_clip, wait_for
from tests.sources.rtsp_server import RtspServer, free_port, unavailable_reason
from vigil.config.models import CameraConfig, SourceConfig
from vigil.core import Frame
from vigil.sources import (
    Backoff,
    CameraStatus,
    CameraSupervisor,
    MonotonicPts,
    Selection,
    SourceError,
    start_cameras,
)


class Recorder:
    """Collects what a supervisor reports, thread-safely."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.frames: list[Frame] = []
        self.statuses: list[CameraStatus] = []
        self.delay_s = delay_s
        self._lock = threading.Lock()

    def on_frame(self, frame: Frame) -> None:
        if self.delay_s:
            time.sleep(self.delay_s)
        with self._lock:
            self.frames.append(frame)

    def on_status(self, status: CameraStatus) -> None:
        with self._lock:
            self.statuses.append(status)

    def states(self) -> list[str]:
        with self._lock:
            return [s.state for s in self.statuses]

    def first(self, state: str) -> CameraStatus | None:
        with self._lock:
            return next((s for s in self.statuses if s.state == state), None)

    def count(self) -> int:
        with self._lock:
            return len(self.frames)


def pts_of(frames: list[Frame]) -> list[float]:
    return [f.pts for f in frames]


def strictly_increasing(values: list[float]) -> bool:
    return all(b > a for a, b in itertools.pairwise(values))


@pytest.fixture
def supervisors():
    """Supervisors made through this list are always stopped."""
    made: list[CameraSupervisor] = []
    yield made
    for sup in made:
        assert sup.stop(timeout=8), f"camera {sup.camera_id} did not stop"


def supervise(made: list[CameraSupervisor], camera_id: str, cfg: SourceConfig, rec: Recorder, **kw) -> CameraSupervisor:
    sup = CameraSupervisor(camera_id, cfg, rec.on_frame, rec.on_status, **kw)
    made.append(sup)
    sup.start()
    return sup


# -- policies -------------------------------------------------------------------


def test_backoff_grows_to_the_cap_with_jitter_and_resets():
    b = Backoff(max_s=5, initial_s=0.5, rng=lambda: 0.0)
    assert [b.next_delay() for _ in range(6)] == [0.5, 1, 2, 4, 5, 5]
    b.reset()
    assert b.next_delay() == 0.5
    jittered = Backoff(max_s=5, initial_s=0.5, jitter=0.25, rng=lambda: 1.0)
    assert [jittered.next_delay() for _ in range(5)] == pytest.approx([0.375, 0.75, 1.5, 3.0, 3.75])
    assert all(Backoff(max_s=2).next_delay() <= 2 for _ in range(50))


def test_timestamps_stay_monotonic_across_reconnects():
    m = MonotonicPts()
    first = [m(p, now=100 + p) for p in (0.0, 0.1, 0.2, 0.3)]
    assert first == pytest.approx([0.0, 0.1, 0.2, 0.3])
    m.new_connection()  # the camera restarts its clock; 5 s of outage
    second = [m(p, now=105.3 + p) for p in (0.0, 0.1, 0.2)]
    assert second == pytest.approx([5.3, 5.4, 5.5])  # the outage counts as time
    assert m(0.05, now=106) > second[-1]  # a backwards jump inside a connection


# -- supervised files, fakes and MJPEG (no Debian packages needed) ---------------


def test_file_is_delivered_whole_then_finished(tmp_path, supervisors):
    clip = make_clip(tmp_path / "c.mp4", frames=12)
    rec = Recorder(delay_s=0.01)  # slower than decoding: files wait, nothing dropped
    sup = supervise(supervisors, "cam-f", SourceConfig(url=str(clip)), rec)
    assert sup.join(timeout=10)
    assert [f.index for f in rec.frames] == list(range(12))
    assert rec.states() == ["connecting", "online", "finished"]
    assert sup.status.frames == 12 and sup.frames_dropped == 0


def test_select_skips_frames_before_conversion(tmp_path, supervisors):
    clip = make_clip(tmp_path / "c.mp4", frames=20, fps=10)
    seen: list[float] = []

    def every_third(pts: float) -> bool:
        seen.append(pts)
        return len(seen) % 3 == 1

    rec = Recorder()
    sup = supervise(supervisors, "cam-s", SourceConfig(url=str(clip)), rec, select=every_third)
    assert sup.join(timeout=10)
    assert seen == pytest.approx([i / 10 for i in range(20)])  # asked about every decoded frame, in order
    assert [f.index for f in rec.frames] == [0, 3, 6, 9, 12, 15, 18]  # decode order, gaps where refused
    assert [f.pts for f in rec.frames] == pytest.approx([i / 10 for i in range(0, 20, 3)])
    assert sup.status.frames == 20 and sup.frames_dropped == 0


class FastLiveSource:
    """A live source that produces frames faster than the consumer takes them, then ends."""

    live = True

    def __init__(self, camera_id: str, n: int = 200) -> None:
        self.camera_id, self.n = camera_id, n

    def frames(self, select=None):  # ignores select: the supervisor must cope
        for i in range(self.n):
            yield Frame(np.zeros((4, 4, 3), np.uint8), self.camera_id, i, i / 100)

    def close(self) -> None:
        pass


def test_slow_consumer_gets_the_latest_frame_and_drops_are_counted(supervisors):
    rec = Recorder(delay_s=0.02)
    opener = lambda cid, cfg: FastLiveSource(cid)  # noqa: E731
    sup = supervise(supervisors, "cam-live", SourceConfig(url="rtsp://fake/x"), rec, opener=opener)
    assert wait_for(lambda: sup.status.frames >= 200, 5)
    assert sup.frames_dropped > 100
    assert wait_for(lambda: any(f.index == 199 for f in rec.frames), 2)  # the newest frame is never lost
    assert strictly_increasing([f.index for f in rec.frames])


def test_failures_back_off_and_a_broken_consumer_does_not_stop_the_camera(supervisors):
    attempts: list[float] = []

    def opener(cid, cfg):
        attempts.append(time.monotonic())
        raise SourceError(f"camera {cid}: cannot connect (test)")

    rec = Recorder()
    cfg = SourceConfig(url="rtsp://fake/x", max_backoff_s=0.4)
    backoff = Backoff(initial_s=0.1, max_s=0.4, jitter=0.25, rng=lambda: 0.0)
    sup = supervise(supervisors, "cam-x", cfg, rec, opener=opener, backoff=backoff)
    assert wait_for(lambda: len(attempts) >= 5, 5)
    gaps = np.diff(attempts[:5])  # 0.1, 0.2, 0.4 (cap), 0.4; late under load, never early
    assert list(gaps) == pytest.approx([0.1, 0.2, 0.4, 0.4], abs=0.25)
    assert all(g >= e * 0.9 for g, e in zip(gaps, [0.1, 0.2, 0.4, 0.4], strict=True))
    status = sup.status
    assert status.state in ("offline", "connecting") and status.reconnects >= 4
    assert status.last_error == "camera cam-x: cannot connect (test)"


def test_a_failing_consumer_keeps_getting_frames_and_is_logged_sparingly(supervisors, caplog):
    """Exceptions from the consumer are counted and logged (one traceback a minute), and delivery goes on."""
    calls: list[int] = []

    def flaky(frame: Frame) -> None:
        calls.append(frame.index)
        if frame.index % 2 == 0:
            raise RuntimeError("consumer bug")

    cfg = SourceConfig(url="rtsp://fake/x", max_backoff_s=0.2)
    sup = CameraSupervisor("cam-y", cfg, flaky, opener=lambda cid, c: FastLiveSource(cid, 40), block_when_busy=True)
    supervisors.append(sup)
    with caplog.at_level("ERROR", logger="vigil"):
        sup.start()
        assert wait_for(lambda: len(calls) >= 40, 5), calls[:5]
    assert calls[:40] == list(range(40))  # every frame after a failure was still delivered, in order
    assert sup.status.consumer_errors >= 20
    tracebacks = [r for r in caplog.records if r.exc_info and "cam-y" in r.getMessage()]
    assert len(tracebacks) == 1, [r.getMessage() for r in tracebacks]
    assert "consumer bug" in caplog.text


class PacedLiveSource:
    """A live source that yields a frame every ``period_s`` of real time until closed."""

    live = True

    def __init__(self, camera_id: str, period_s: float = 0.01, limit: int = 10**9) -> None:
        self.camera_id, self.period_s, self.limit = camera_id, period_s, limit
        self._closed = threading.Event()

    def frames(self, select=None):
        for i in range(self.limit):
            if self._closed.wait(self.period_s):
                return
            pts = i * self.period_s
            if select is None or select(pts):
                yield Frame(np.zeros((4, 4, 3), np.uint8), self.camera_id, i, pts)

    def close(self) -> None:
        self._closed.set()


def test_frames_kept_only_for_evidence_never_replace_frames_to_analyse(supervisors):
    """Overload thins the ring-only frames, not the analysis: every frame selected for analysis arrives."""
    selected: list[float] = []
    lock = threading.Lock()

    def select(pts: float) -> Selection:
        if round(pts * 100) % 10 == 0:  # one frame in ten is analysed (10 per second)...
            with lock:
                selected.append(pts)
            return Selection.ANALYSE
        return Selection.KEEP  # ...the others are only kept (90 per second)

    rec = Recorder(delay_s=0.02)  # 50 frames a second at most: the camera's 100 cannot all be taken
    opener = lambda cid, cfg: PacedLiveSource(cid, 0.01, limit=300)  # noqa: E731
    sup = supervise(supervisors, "cam-prio", SourceConfig(url="rtsp://fake/p"), rec, opener=opener, select=select)
    assert wait_for(lambda: sup.status.reconnects >= 1, 15)  # the 3 s stream was read to its end
    sup.stop()
    with lock:
        analysed = [p for p in selected if p < 2.9]
    delivered = {round(f.pts, 3) for f in rec.frames}
    status = sup.status
    assert status.frames_dropped > 50  # overloaded indeed
    assert status.analysis_dropped == 0
    assert [p for p in analysed if round(p, 3) not in delivered] == []
    assert strictly_increasing([f.index for f in rec.frames])


class BurstyConsumer:
    """Analyses quickly, but every 5th analysed frame takes 0.27 s: two more analysed frames arrive meanwhile."""

    def __init__(self) -> None:
        self.analysed: list[float] = []
        self._n = 0

    def __call__(self, frame: Frame) -> None:
        if round(frame.pts * 100) % 10:
            return  # a kept frame
        self._n += 1
        time.sleep(0.27 if self._n % 5 == 0 else 0.005)
        self.analysed.append(frame.pts)


@pytest.mark.parametrize(("backlog", "drops"), [(2, False), (1, True)])
def test_a_backlog_of_two_rides_out_a_slow_analysis_that_one_waiting_frame_cannot(supervisors, backlog, drops):
    """One slow analysis in five (a shared detector queue at full load) costs no analysed frame with a backlog of 2."""

    def select(pts: float) -> Selection:
        return Selection.ANALYSE if round(pts * 100) % 10 == 0 else Selection.KEEP  # 10 a second analysed

    consumer = BurstyConsumer()
    opener = lambda cid, cfg: PacedLiveSource(cid, 0.01, limit=400)  # noqa: E731
    sup = CameraSupervisor(
        "cam-burst", SourceConfig(url="rtsp://fake/b"), consumer, opener=opener, select=select, analysed_backlog=backlog
    )
    supervisors.append(sup)
    sup.start()
    assert wait_for(lambda: sup.status.reconnects >= 1, 15)  # the 4 s stream was read to its end
    sup.stop()
    assert (sup.status.analysis_dropped > 0) is drops, sup.status
    assert len(consumer.analysed) >= 30 and strictly_increasing(consumer.analysed)


def test_sustained_overload_still_drops_the_oldest_analysed_frames(supervisors):
    """A backlog rides out bursts, not a consumer that is always too slow: analysis keeps up with the present."""
    seen: list[float] = []

    def slow(frame: Frame) -> None:
        time.sleep(0.05)  # 20 a second at most, against 100 offered
        seen.append(frame.pts)

    opener = lambda cid, cfg: PacedLiveSource(cid, 0.01, limit=200)  # noqa: E731
    sup = CameraSupervisor("cam-slow", SourceConfig(url="rtsp://fake/s"), slow, opener=opener, analysed_backlog=2)
    supervisors.append(sup)
    sup.start()
    assert wait_for(lambda: sup.status.reconnects >= 1, 15)
    time.sleep(0.3)  # the backlog drains
    sup.stop()
    assert sup.status.analysis_dropped > 100
    assert seen[-1] >= 1.95  # the last frames of the stream, not frames from a growing queue
    assert strictly_increasing(seen)


def test_a_hung_consumer_turns_the_camera_stalled_and_it_recovers_by_itself(supervisors):
    """The watchdog is not the dispatcher: a consumer blocked in a frame is reported, and so is its recovery."""
    release = threading.Event()
    hang_from = 20
    seen: list[int] = []

    def consumer(frame: Frame) -> None:
        seen.append(frame.index)
        if len(seen) == hang_from:
            release.wait(30)  # a detector that stopped answering

    rec = Recorder()
    cfg = SourceConfig(url="rtsp://fake/h", stall_timeout_s=0.8)
    sup = CameraSupervisor("cam-h", cfg, consumer, rec.on_status, opener=lambda cid, c: PacedLiveSource(cid, 0.02))
    supervisors.append(sup)
    sup.start()
    assert wait_for(lambda: len(seen) >= hang_from, 5)
    assert wait_for(lambda: sup.status.state == "stalled", 3), rec.states()
    frames = sup.status.frames
    assert wait_for(lambda: sup.status.frames > frames + 10, 3)  # the reader goes on decoding
    assert not sup.status.online
    release.set()
    assert wait_for(lambda: sup.status.state == "online", 3), rec.states()
    n = len(seen)
    assert wait_for(lambda: len(seen) > n + 5, 3)
    states = rec.states()
    assert states[states.index("stalled") :][:2] == ["stalled", "online"]


def test_analysis_that_keeps_failing_is_stalled_even_while_kept_frames_succeed(supervisors):
    """Only analysed frames judge the analysis: ring-only frames that succeed do not hide a dead detector."""
    broken = threading.Event()
    broken.set()

    def select(pts: float) -> Selection:
        return Selection.ANALYSE if round(pts * 50) % 2 == 0 else Selection.KEEP

    def consumer(frame: Frame) -> None:
        if broken.is_set() and frame.index % 2 == 0:
            raise RuntimeError("detector unavailable")

    cfg = SourceConfig(url="rtsp://fake/f", stall_timeout_s=0.6)
    opener = lambda cid, c: PacedLiveSource(cid, 0.02)  # noqa: E731
    sup = CameraSupervisor("cam-f", cfg, consumer, opener=opener, select=select, log_every_s=3600)
    supervisors.append(sup)
    sup.start()
    assert wait_for(lambda: sup.status.state == "stalled", 4), sup.status
    assert sup.status.consumer_errors >= 10
    broken.clear()
    assert wait_for(lambda: sup.status.state == "online", 3), sup.status


def test_mjpeg_reconnects_with_monotonic_timestamps(supervisors):
    rec = Recorder()
    with MjpegServer(frames=10, fps=50) as server:  # every connection ends after 10 parts
        cfg = SourceConfig(url=server.url, stall_timeout_s=2, max_backoff_s=0.5)
        sup = supervise(supervisors, "cam-mj", cfg, rec)
        assert wait_for(lambda: server.connections >= 3 and rec.count() >= 25, 10)
        sup.stop()
    pts = pts_of(rec.frames)
    assert strictly_increasing(pts)
    assert strictly_increasing([f.index for f in rec.frames])
    assert sup.status.reconnects >= 2
    assert "camera cam-mj: stream ended" in (rec.first("offline").last_error or "")


def test_stop_is_prompt_while_the_reader_waits_on_a_silent_server(supervisors):
    with MjpegServer(frames=0, hold_s=30) as server:
        rec = Recorder()
        sup = supervise(supervisors, "cam-q", SourceConfig(url=server.url, stall_timeout_s=20), rec)
        assert wait_for(lambda: server.connections == 1, 3)
        t0 = time.monotonic()
        assert sup.stop(timeout=3)
        assert time.monotonic() - t0 < 1.5
        assert rec.states()[-1] == "stopped"


# -- RTSP with a real server ------------------------------------------------------


@pytest.fixture
def rtsp_server(shared_data):
    if unavailable_reason():
        pytest.skip(unavailable_reason())
    with RtspServer(shared_data / "intel_sample_videos" / "car-detection.mp4") as server:
        yield server


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_rtsp_cut_and_restore(rtsp_server, supervisors, transport):
    rec = Recorder()
    cfg = SourceConfig(url=rtsp_server.url, transport=transport, stall_timeout_s=1.5, max_backoff_s=0.5)
    sup = supervise(supervisors, "cam-cut", cfg, rec)
    assert wait_for(lambda: rec.count() >= 10, 8), rec.states()
    rtsp_server.kill()
    assert wait_for(lambda: rec.first("offline") is not None, 5), rec.states()
    before = rec.count()
    offline = rec.first("offline")
    assert offline.last_error.startswith("camera cam-cut: ")
    assert wait_for(lambda: sup.status.reconnects >= 1 and sup.status.state != "online", 3)
    rtsp_server.start()
    assert wait_for(lambda: rec.count() >= before + 10, 10), rec.states()
    assert sup.status.online and sup.status.reconnects >= 1
    pts = pts_of(rec.frames)
    assert strictly_increasing(pts), "timestamps went back after the reconnect"
    assert pts[before] - pts[before - 1] >= 0.08  # the outage is not squeezed out of the timeline


def test_rtsp_frozen_server_is_reported_by_the_watchdog(rtsp_server, supervisors):
    rec = Recorder()
    cfg = SourceConfig(url=rtsp_server.url, stall_timeout_s=1.0, max_backoff_s=0.5)
    sup = supervise(supervisors, "cam-frozen", cfg, rec)
    assert wait_for(lambda: rec.count() >= 5, 8)
    rtsp_server.freeze()  # no FIN, no RST: only silence
    t0 = time.monotonic()
    assert wait_for(lambda: rec.first("offline") is not None, 4)
    assert time.monotonic() - t0 < 3.0
    # Reported by the watchdog (its wording), not by FFmpeg's socket timeout, which comes later.
    assert rec.first("offline").last_error == "camera cam-frozen: no frame for 1 s"
    rtsp_server.start()  # the frozen one is replaced by a fresh server on the same port
    n = rec.count()
    assert wait_for(lambda: rec.count() >= n + 5, 15), rec.states()
    assert sup.status.online and strictly_increasing(pts_of(rec.frames))


def test_unreachable_camera_does_not_disturb_the_others(tmp_path, supervisors):
    clip = make_clip(tmp_path / "good.mp4", frames=20, fps=20)
    closed = f"rtsp://127.0.0.1:{free_port()}/x"
    cams = [
        CameraConfig(id="broken", source=SourceConfig(url=closed, stall_timeout_s=1, max_backoff_s=0.3)),
        CameraConfig(id="good", source=SourceConfig(url=str(clip), loop=True, realtime=True)),
        CameraConfig(id="off", enabled=False, source=SourceConfig(url=closed)),
    ]
    rec = Recorder()
    sups = start_cameras(cams, rec.on_frame, rec.on_status)
    supervisors.extend(sups.values())
    assert set(sups) == {"broken", "good"}
    time.sleep(1.5)
    broken = sups["broken"].status
    assert not broken.online and broken.reconnects >= 2
    assert broken.last_error.startswith(f"camera broken: cannot connect to {closed}")
    good = [f for f in rec.frames if f.source_id == "good"]
    assert len(good) >= 20  # about 30 at 20 fps, and looping past the end of the clip
    assert sups["good"].status.online
    assert strictly_increasing(pts_of(good))
    assert all(f.source_id in ("good", "broken") for f in rec.frames)


def test_status_is_json_ready():
    s = CameraStatus("c1", "offline", 2, "camera c1: x", 10, 1, 1.0)
    assert s.to_dict() == {
        "camera_id": "c1",
        "state": "offline",
        "online": False,
        "reconnects": 2,
        "last_error": "camera c1: x",
        "frames": 10,
        "frames_dropped": 1,
        "since": 1.0,
        "analysis_dropped": 0,
        "consumer_errors": 0,
    }
