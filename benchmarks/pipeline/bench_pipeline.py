"""Pipeline benchmark: real-time factor, per-stage time and camera capacity, gated vs naive.

For each dev clip, in one run:

* ``vigil analyze`` as shipped (analytic rate + motion gate, only selected frames
  converted to arrays);
* a naive pipeline in the same process: the detector on every decoded frame
  (analytic rate = source rate, no motion gate), same tracker and rules;
* the incidents each found (types and counts);
* how many cameras of that clip the machine could keep up with at 5 analytic
  fps, from the CPU seconds the gated run spent per second of video;
* optionally (``--live N``) a check with the real live runner: N copies of the
  clip paced in real time for ``--live-seconds``, reporting analysed fps per
  camera (per second of wall time, and per second of stream time, which tells
  a reader that fell behind from analysis that did), dropped frames and the
  CPU seconds per analysed frame;
* optionally (``--rss N``) the peak resident memory of ``vigil run`` (a
  subprocess, as deployed) with N cameras of a 1080p, 25 fps clip made here by
  upscaling the bundled one-by-one clip with PyAV (people walk into the demo's
  restricted zone, so incidents, evidence clips and redaction all run).

``--compare-src DIR`` runs the live and RSS checks a second time with the
``vigil`` package found in ``DIR`` (e.g. ``/tmp/vigil-base/src`` from
``git worktree add /tmp/vigil-base <commit>``), in the same invocation, so old
and new are measured under the same load.

Prints a table; ``--json FILE`` keeps every figure. Speed targets live here,
never in unit tests. Run: ``.venv/bin/python benchmarks/pipeline/bench_pipeline.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO / "src"))

from vigil.config import load_config_text  # noqa: E402
from vigil.pipeline.analyze import analyze_video  # noqa: E402
from vigil.sources import probe_video  # noqa: E402

CLIPS = {
    "car-detection": (DATA / "intel_sample_videos" / "car-detection.mp4", None),
    "one-by-one": (
        REPO / "src/vigil/assets/samples/one-by-one-person-detection.mp4",
        REPO / "src/vigil/assets/samples/demo.yaml",
    ),
    "vtest": (DATA / "opencv_vtest" / "vtest.avi", REPO / "tests/data/vtest.yaml"),
    "ua_detrac": (DATA / "ua_detrac_evadb" / "ua_detrac.mp4", None),
    "house6": (DATA / "furg_fire" / "house6.mp4", None),
}

GENERIC = """
cameras:
  - id: bench
    source: {{url: "{clip}"}}
    analytic_fps: {fps}
    zones:
      - id: road
        kind: roadway
        polygon: [[0.0, 0.3], [1.0, 0.3], [1.0, 1.0], [0.0, 1.0]]
storage: {{database_url: "sqlite:///{tmp}/b.db", media_dir: "{tmp}/media"}}
"""


def config_for(clip: Path, cfg_path: Path | None, fps: float, tmp: str):
    if cfg_path is None:
        text = GENERIC.format(clip=clip, fps=fps, tmp=tmp)
        return load_config_text(text)
    text = cfg_path.read_text()
    cfg = load_config_text(text, str(cfg_path), cfg_path.parent)
    cams = [c.model_copy(update={"analytic_fps": fps}) for c in cfg.cameras]
    return cfg.model_copy(update={"cameras": cams})


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_one(clip: Path, cfg, motion: bool) -> tuple[dict, float]:
    c0 = cpu_seconds()
    report = analyze_video(clip, cfg, motion_gating=motion)
    return report.as_dict(), cpu_seconds() - c0


LIVE_RUNNER = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from vigil.config import load_config_text
from vigil.pipeline.runner import LiveRunner

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

runner = LiveRunner(load_config_text(open(sys.argv[2]).read()))
runner.start()
time.sleep(5)  # warm-up
before, c0, t0 = runner.status(), cpu(), time.monotonic()
time.sleep(float(sys.argv[3]))
after, c1, dt = runner.status(), cpu(), time.monotonic() - t0
runner.stop()
print(json.dumps({"before": before, "after": after, "cpu_s": c1 - c0, "wall_s": dt, "vigil": runner.__module__}))
"""


def live_check(clip: Path, n: int, seconds: float, tmp: str, src: Path) -> dict:
    """N real-time copies of ``clip`` through the live runner of the package in ``src`` (a subprocess)."""
    cams = "\n".join(
        f"""  - id: cam{i}
    source: {{url: "{clip}", loop: true, realtime: true}}
    analytic_fps: 5
    zones: [{{id: road, kind: roadway, polygon: [[0, 0.3], [1, 0.3], [1, 1], [0, 1]]}}]"""
        for i in range(n)
    )
    tag = f"live{n}-{len(list(Path(tmp).glob('*.yaml')))}"
    cfg = Path(tmp) / f"{tag}.yaml"
    storage = f"storage: {{database_url: 'sqlite:///{tmp}/{tag}.db', media_dir: '{tmp}/{tag}'}}"
    cfg.write_text(f"cameras:\n{cams}\n{storage}\n")
    out = subprocess.run(
        [sys.executable, "-c", LIVE_RUNNER, str(src), str(cfg), str(seconds)],
        capture_output=True, text=True, check=True, timeout=seconds + 120,
    )  # fmt: skip
    res = json.loads(out.stdout.strip().splitlines()[-1])
    before, after, dt = res["before"]["cameras"], res["after"]["cameras"], res["wall_s"]
    per_cam = [(after[c]["analysed"] - before[c]["analysed"]) / dt for c in after]
    dropped = sum(after[c]["dropped"] - before[c]["dropped"] for c in after)
    analysed = sum(after[c]["analysed"] - before[c]["analysed"] for c in after)
    row = {
        "cameras": n,
        "src": str(src),
        "analysed_fps_min": min(per_cam),
        "analysed_fps_mean": sum(per_cam) / n,
        "dropped": dropped,
        "cpu_s_per_analysed_frame": res["cpu_s"] / max(analysed, 1),
        "cpu_cores_used": res["cpu_s"] / dt,
    }
    if "decoded" in after[next(iter(after))]:  # stream time each camera's reader got through
        fps = probe_video(clip).fps
        stream = [(after[c]["decoded"] - before[c]["decoded"]) / float(fps) for c in after]
        row["analysed_per_stream_s_mean"] = analysed / max(sum(stream), 1e-9)
        row["stream_s_per_wall_s_mean"] = sum(stream) / n / dt
    return row


def make_1080p(dst: Path, seconds: float = 60.0, fps: int = 25) -> Path:
    """The bundled one-by-one clip (10 fps, 768x432) as a 1920x1080, 25 fps H.264 camera (PyAV, no ffmpeg binary)."""
    import av
    import cv2

    if dst.is_file():
        return dst
    src = REPO / "src/vigil/assets/samples/one-by-one-person-detection.mp4"
    part = dst.with_suffix(".part.mp4")
    with av.open(str(src)) as inp, av.open(str(part), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
        stream.options = {"g": str(2 * fps), "bf": "0", "preset": "veryfast", "crf": "23"}
        n = 0
        for frame in inp.decode(video=0):
            t = float(frame.time)
            if t >= seconds:
                break
            big = cv2.resize(frame.to_ndarray(format="bgr24"), (1920, 1080), interpolation=cv2.INTER_LINEAR)
            while n / fps < t + 0.1 - 1e-9:  # each 10 fps frame shown for 0.1 s: 2 or 3 frames at 25 fps
                out_frame = av.VideoFrame.from_ndarray(big, format="bgr24")
                out_frame.pts = n
                n += 1
                out.mux(stream.encode(out_frame))
        out.mux(stream.encode(None))
    part.replace(dst)
    return dst


def _proc_kb(pid: int, field: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
    return int(match.group(1)) if match else 0


def rss_check(clip: Path, n: int, seconds: float, tmp: str, src: Path) -> dict:
    """Peak RSS (VmHWM) of ``vigil run --no-api`` with N cameras of the 1080p clip, for ``seconds``."""
    zone = "[[0.40, 0.62], [0.78, 0.62], [0.84, 1.0], [0.36, 1.0]]"  # the demo's restricted zone
    cams = "\n".join(
        f"""  - id: cam{i}
    source: {{url: "{clip}", loop: true, realtime: true}}
    zones: [{{id: edge, kind: restricted, polygon: {zone}}}]"""
        for i in range(n)
    )
    tag = f"rss{n}-{len(list(Path(tmp).glob('*.yaml')))}"
    cfg = Path(tmp) / f"{tag}.yaml"
    cfg.write_text(
        f"cameras:\n{cams}\nrules: {{pedestrian: {{min_dwell_s: 2.0, end_after_s: 3.0}}}}\n"
        f"storage: {{database_url: 'sqlite:///{tmp}/{tag}.db', media_dir: '{tmp}/{tag}'}}\n"
    )
    code = "import sys; sys.path.insert(0, sys.argv.pop(1)); from vigil.cli.main import main; sys.exit(main())"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(src), "run", "-c", str(cfg), "--no-api"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    peak = rss = 0
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < seconds and proc.poll() is None:
            time.sleep(1.0)
            peak, rss = _proc_kb(proc.pid, "VmHWM"), _proc_kb(proc.pid, "VmRSS")
    finally:
        proc.send_signal(signal.SIGTERM)  # the stop ends incidents and writes their clips: measured too
        stop_peak = peak
        t_stop = time.monotonic()
        while proc.poll() is None and time.monotonic() - t_stop < 120:
            try:
                stop_peak = max(stop_peak, _proc_kb(proc.pid, "VmHWM"))
            except (FileNotFoundError, ProcessLookupError):
                break
            time.sleep(0.2)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    incidents = out.count(" NEW ")
    status = [line for line in err.splitlines() if "frames analysed" in line]
    return {
        "cameras": n,
        "src": str(src),
        "peak_rss_mb": peak / 1024,
        "peak_rss_with_stop_mb": stop_peak / 1024,
        "stop_s": time.monotonic() - t_stop,
        "last_rss_mb": rss / 1024,
        "incidents": incidents,
        "status": status[-1] if status else err[-500:],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", nargs="*", default=list(CLIPS), help="subset of: " + ", ".join(CLIPS))
    ap.add_argument("--fps", type=float, default=5.0, help="analytic fps of the gated run")
    ap.add_argument("--no-naive", action="store_true", help="skip the naive pipeline")
    ap.add_argument("--live", type=int, nargs="*", default=[], help="camera counts for the live check")
    ap.add_argument("--live-seconds", type=float, default=30.0)
    ap.add_argument("--live-clip", default="car-detection")
    ap.add_argument("--rss", type=int, nargs="*", default=[], help="camera counts for the 1080p peak-RSS check")
    ap.add_argument("--rss-seconds", type=float, default=60.0)
    ap.add_argument("--compare-src", help="also run the live and RSS checks with the vigil package in this folder")
    ap.add_argument("--json", help="write all figures here")
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    results: dict = {"cores": cores, "load_avg_start": os.getloadavg(), "clips": {}, "live": [], "rss": []}
    sources = [REPO / "src"] + ([Path(args.compare_src).resolve()] if args.compare_src else [])
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.clips:
            clip, cfg_path = CLIPS[name]
            if not clip.is_file():
                print(f"skip {name}: {clip} missing")
                continue
            info = probe_video(clip)
            gated, gated_cpu = run_one(clip, config_for(clip, cfg_path, args.fps, tmp), motion=True)
            row = {
                "video": f"{info.width}x{info.height} {float(info.fps):.1f} fps",
                "gated": gated,
                "gated_cpu_s": gated_cpu,
            }
            # CPU seconds per second of video at the analytic rate -> cameras per machine
            row["cameras_per_machine"] = cores * gated["duration_s"] / max(gated_cpu, 1e-9)
            if not args.no_naive:
                naive_fps = min(60.0, float(info.fps))
                naive, naive_cpu = run_one(clip, config_for(clip, cfg_path, naive_fps, tmp), motion=False)
                row["naive"], row["naive_cpu_s"] = naive, naive_cpu
                row["speedup"] = naive["wall_s"] / gated["wall_s"]
            results["clips"][name] = row
            print(f"{name}: done", flush=True)
        for n in args.live:
            clip = CLIPS[args.live_clip][0]
            for src in sources:
                results["live"].append(live_check(clip, n, args.live_seconds, tmp, src))
                print(f"live {n} ({src}): done", flush=True)
        if args.rss:
            big = make_1080p(Path(tempfile.gettempdir()) / "vigil-bench-1080p25.mp4")
            for n in args.rss:
                for src in sources:
                    results["rss"].append(rss_check(big, n, args.rss_seconds, tmp, src))
                    print(f"rss {n} ({src}): done", flush=True)
    results["load_avg_end"] = os.getloadavg()
    hdr = (
        f"{'clip':14} {'video':22} {'RTF':>7} {'naive RTF':>9} {'speedup':>8} {'cams@5fps':>9}  "
        "incidents (gated | naive)  stage seconds (gated)"
    )
    print("\n" + hdr + "\n" + "-" * len(hdr))
    for name, r in results["clips"].items():
        g, nv = r["gated"], r.get("naive")
        stages = " ".join(f"{k}={v:.1f}" for k, v in g["stage_s"].items())
        print(
            f"{name:14} {r['video']:22} {g['realtime_factor']:7.1f} "
            f"{(nv['realtime_factor'] if nv else float('nan')):9.1f} {r.get('speedup', float('nan')):8.1f} "
            f"{r['cameras_per_machine']:9.1f}  {g['incidents_by_type']} | "
            f"{nv['incidents_by_type'] if nv else '-'}  {stages}"
        )
    for lv in results["live"]:
        stream = lv.get("analysed_per_stream_s_mean")
        extra = f", {stream:.2f} per stream second, reader at {lv['stream_s_per_wall_s_mean']:.2f}x" if stream else ""
        print(
            f"live ({lv['src']}): {lv['cameras']} cameras of {args.live_clip} in real time: analysed fps per camera "
            f"min {lv['analysed_fps_min']:.2f} mean {lv['analysed_fps_mean']:.2f} (target 5){extra}, "
            f"dropped {lv['dropped']}, {lv['cpu_s_per_analysed_frame'] * 1000:.0f} ms CPU per analysed frame, "
            f"{lv['cpu_cores_used']:.2f} cores"
        )
    for r in results["rss"]:
        print(
            f"rss ({r['src']}): {r['cameras']} cameras of 1080p25: peak RSS {r['peak_rss_mb']:.0f} MB while running "
            f"(last {r['last_rss_mb']:.0f} MB), {r['peak_rss_with_stop_mb']:.0f} MB including the stop "
            f"({r['stop_s']:.0f} s), {r['incidents']} incidents; {r['status']}"
        )
    print(f"load average at start {results['load_avg_start']}, at end {results['load_avg_end']} ({cores} cores)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
