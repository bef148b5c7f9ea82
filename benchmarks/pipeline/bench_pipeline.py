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
  camera and dropped frames.

Prints a table; ``--json FILE`` keeps every figure. Speed targets live here,
never in unit tests. Run: ``.venv/bin/python benchmarks/pipeline/bench_pipeline.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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


def live_check(clip: Path, n: int, seconds: float, tmp: str) -> dict:
    from vigil.pipeline.runner import LiveRunner

    cams = "\n".join(
        f"""  - id: cam{i}
    source: {{url: "{clip}", loop: true, realtime: true}}
    analytic_fps: 5
    zones: [{{id: road, kind: roadway, polygon: [[0, 0.3], [1, 0.3], [1, 1], [0, 1]]}}]"""
        for i in range(n)
    )
    cfg = load_config_text(
        f"cameras:\n{cams}\nstorage: {{database_url: 'sqlite:///{tmp}/live{n}.db', media_dir: '{tmp}/m{n}'}}\n"
    )
    runner = LiveRunner(cfg)
    runner.start()
    time.sleep(5)  # warm-up
    before = runner.status()
    t0 = time.monotonic()
    time.sleep(seconds)
    after = runner.status()
    dt = time.monotonic() - t0
    runner.stop()
    per_cam = [(after["cameras"][c]["analysed"] - before["cameras"][c]["analysed"]) / dt for c in after["cameras"]]
    dropped = sum(after["cameras"][c]["dropped"] - before["cameras"][c]["dropped"] for c in after["cameras"])
    return {"cameras": n, "analysed_fps_min": min(per_cam), "analysed_fps_mean": sum(per_cam) / n, "dropped": dropped}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", nargs="*", default=list(CLIPS), help="subset of: " + ", ".join(CLIPS))
    ap.add_argument("--fps", type=float, default=5.0, help="analytic fps of the gated run")
    ap.add_argument("--no-naive", action="store_true", help="skip the naive pipeline")
    ap.add_argument("--live", type=int, nargs="*", default=[], help="camera counts for the live check")
    ap.add_argument("--live-seconds", type=float, default=30.0)
    ap.add_argument("--live-clip", default="car-detection")
    ap.add_argument("--json", help="write all figures here")
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    results: dict = {"cores": cores, "clips": {}, "live": []}
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
            results["live"].append(live_check(clip, n, args.live_seconds, tmp))
            print(f"live {n}: done", flush=True)
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
        print(
            f"live: {lv['cameras']} cameras of {args.live_clip} in real time: analysed fps per camera "
            f"min {lv['analysed_fps_min']:.2f} mean {lv['analysed_fps_mean']:.2f} (target 5), dropped {lv['dropped']}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
