"""4K cameras on the CPU: plain decode vs ``vigil analyze`` at 5 analytic fps, 1 and N cameras, live capacity.

Makes its own 4K clips (3840x2160, H.264, 25 fps) by upscaling the dev clip
``car-detection.mp4`` with PyAV (there is no ffmpeg binary), one per GOP
structure:

* ``ip``: I and P frames only (what most IP cameras send; every frame is a
  reference, so nothing can be skipped);
* ``b3``: x264's defaults, 3 B-frames with a B-pyramid (some of the B-frames are
  not references and can be skipped).

Then, each in a subprocess of its own (so that peak RSS is the measurement's
own), interleaved so that both see the same load:

* ``decode``: PyAV, threads AUTO, every frame decoded, nothing converted;
* ``analyze``: ``vigil analyze`` as shipped (non-reference frames skipped where
  5 fps allows, analysis scaled down to 1920 px, evidence cut at 4K from the
  packets and redacted);
* ``analyze-full``: the same with ``decode: {skip_nonref: false,
  analysis_max_width: null}`` (every frame decoded, analysis at 4K: how it
  was before);
* N copies of ``analyze`` at once (``--parallel``): the aggregate real-time
  factor of N cameras read as fast as possible;
* the live runner (``vigil run``'s) with N cameras of the clip paced in real
  time (``--live``): analysed fps per camera, frames dropped, cores used, peak
  RSS. A box "keeps N cameras live" when every camera gets at least 95% of its
  5 analytic fps.
* the cost of redacting one 4K evidence frame (faces searched in tiles at full
  resolution), and of one incident's evidence (snapshot and a 4 s clip at
  10 fps, cut at 4K from the packets, redacted under the default deadline).

The machine is shared: the load average is printed at the start and the end,
and variants are compared as ratios within one run. Speed targets live here,
never in unit tests. Run:
``nice -n 10 .venv/bin/python benchmarks/bench_4k.py --json /tmp/bench_4k.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
SOURCE = DATA / "intel_sample_videos" / "car-detection.mp4"
W, H, FPS = 3840, 2160, 25
STRUCTURES = {
    "ip": {"bf": "0"},
    "b3": {"bf": "3"},  # x264's default B-pyramid
}

CONFIG = """
cameras:
{cams}
storage: {{database_url: "sqlite:///{tmp}/{tag}.db", media_dir: "{tmp}/{tag}-media"}}
"""
CAMERA = """  - id: cam{i}
    source: {{url: "{clip}", loop: {loop}, realtime: {loop}, decode: {decode}}}
    analytic_fps: 5
    zones: [{{id: road, kind: roadway, polygon: [[0, 0.3], [1, 0.3], [1, 1], [0, 1]]}}]"""
DECODE = {"analyze": "{}", "analyze-full": "{skip_nonref: false, analysis_max_width: null}"}

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
mode, clip, cfg_path, extra = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]

def usage():
    # VmHWM, not ru_maxrss: Linux carries the parent's peak across fork and exec into ru_maxrss.
    r = resource.getrusage(resource.RUSAGE_SELF)
    hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    return r.ru_utime + r.ru_stime, hwm / 1024

out = {}
t0 = time.perf_counter()
first = None  # (cpu, wall) at the first frame: the loop's own cost, without imports and model loading
if mode == "decode":
    import av
    with av.open(clip) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        n = 0
        for _ in c.decode(s):
            if n == 0:
                first = (usage()[0], time.perf_counter())
            n += 1
        out["frames"] = n
elif mode == "analyze":
    from pathlib import Path
    from vigil.config import load_config_text
    from vigil.pipeline.analyze import analyze_video
    from vigil.pipeline.camera import CameraPipeline
    process = CameraPipeline.process

    def timed(self, frame):
        global first
        if first is None:
            first = (usage()[0], time.perf_counter())
        return process(self, frame)

    CameraPipeline.process = timed
    cfg = load_config_text(open(cfg_path).read())
    t0 = time.perf_counter()  # the models are loaded in analyze_video, as in `vigil analyze`
    rep = analyze_video(Path(clip), cfg, evidence_dir=Path(extra))
    out.update(frames=rep.frames_decoded, analysed=rep.frames_analysed, detected=rep.frames_detected,
               incidents=rep.incidents_by_type, stage_s=rep.stage_s, evidence_files=len(list(Path(extra).rglob("*.*"))))
elif mode == "live":
    from vigil.config import load_config_text
    from vigil.pipeline.runner import LiveRunner
    runner = LiveRunner(load_config_text(open(cfg_path).read()))
    runner.start()
    time.sleep(5)  # warm-up: models loaded, readers running
    before, (c0, _), t0 = runner.status(), usage(), time.perf_counter()
    time.sleep(float(extra))
    after, (c1, _), dt = runner.status(), usage(), time.perf_counter() - t0
    runner.stop()
    cams = after["cameras"]
    per_cam = [(cams[c]["analysed"] - before["cameras"][c]["analysed"]) / dt for c in cams]
    out.update(analysed_fps_min=min(per_cam), analysed_fps_mean=sum(per_cam) / len(per_cam),
               dropped=sum(cams[c]["dropped"] - before["cameras"][c]["dropped"] for c in cams),
               analysis_dropped=sum(cams[c]["analysis_dropped"] - before["cameras"][c]["analysis_dropped"]
                                    for c in cams),
               cores_used=(c1 - c0) / dt, wall_s=dt)
elif mode == "redact":
    import av
    from vigil.core import Frame
    from vigil.redaction import Redactor
    with av.open(clip) as c:
        image = next(c.decode(video=0)).to_ndarray(format="bgr24")
    redactor = Redactor()
    redactor.redact(Frame(image))  # warm-up
    t0 = time.perf_counter()
    n = 3
    for _ in range(n):
        redactor.redact(Frame(image))
    out["s_per_frame"] = (time.perf_counter() - t0) / n
elif mode == "evidence":
    from pathlib import Path
    from vigil.config.models import DecodeConfig, EvidenceConfig
    from vigil.incidents.evidence import EvidenceRecorder, EvidenceWriter
    from vigil.redaction import Redactor
    from vigil.sources.avsource import AvSource
    import av
    redactor = Redactor()  # as vigil run: the 10 s deadline (in proportion to the pixels)
    fails = []
    closed = redactor.fail_closed
    redactor.fail_closed = lambda frame: fails.append(1) or closed(frame)
    writer = EvidenceWriter(redactor)
    recorder = EvidenceRecorder("cam", Path(extra), EvidenceConfig(pre_roll_s=2.0, post_roll_s=2.0), writer, 25)
    source = AvSource("cam", clip, live=False, decode=DecodeConfig())
    source.min_fps = 5
    source.on_encoded = recorder.push_encoded
    from vigil.sources import probe_video
    middle = (probe_video(clip).duration_s or 4.0) / 2
    frames = source.frames(select=lambda pts: pts >= middle)
    incident = next(iter(frames))  # an incident in the middle of the clip, seen on the 1080p analysis copy
    t0 = time.perf_counter()
    recorder.start("inc", incident, None)
    for _ in frames:  # the rest of the file: the clip's post-roll
        pass
    recorder.flush()
    writer.close(timeout=1800)
    with av.open(str(Path(extra) / "cam" / "inc.mp4")) as c:
        s = c.streams.video[0]
        out.update(clip_size=[s.width, s.height], clip_frames=sum(1 for _ in c.decode(s)))
    out.update(fail_closed_frames=len(fails), written=writer.written, failed=writer.failed)
end_wall = time.perf_counter()
if "wall_s" not in out:
    out["wall_s"] = end_wall - t0
out["cpu_s"], out["peak_rss_mb"] = usage()
if first is not None:
    out["loop_cpu_s"], out["loop_wall_s"] = out["cpu_s"] - first[0], end_wall - first[1]
print(json.dumps(out))
"""


def make_4k(dst: Path, seconds: float, bf: str) -> Path:
    """The dev clip upscaled to 4K at 25 fps with x264 ``veryfast`` (CABAC, deblocking: a camera's High profile)."""
    import av

    frames = int(seconds * FPS)
    opts = {"preset": "veryfast", "crf": "23", "g": str(2 * FPS), "bf": bf}
    with av.open(str(SOURCE)) as inp, av.open(str(dst), "w") as out:
        stream = out.add_stream("libx264", rate=FPS, options=opts)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.codec_context.max_b_frames = int(bf)
        n = 0
        while n < frames:
            inp.seek(0)
            for src in inp.decode(video=0):
                frame = src.reformat(width=W, height=H, format="yuv420p", interpolation="BICUBIC")
                # The decoded frame's own type would force x264's choice (no B-frames at all).
                frame.pict_type = av.video.frame.PictureType.NONE
                frame.pts, frame.time_base = n, Fraction(1, FPS)
                out.mux(stream.encode(frame))
                n += 1
                if n >= frames:
                    break
        out.mux(stream.encode(None))
    return dst


def child(mode: str, clip: Path, cfg: Path | str = "-", extra: str = "-") -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(REPO / "src"), mode, str(clip), str(cfg), extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def result(proc: subprocess.Popen, timeout: float = 1800) -> dict:
    out, err = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child failed ({proc.returncode}):\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1])


def config(tmp: Path, tag: str, clip: Path, n: int, variant: str, live: bool) -> Path:
    loop = "true" if live else "false"
    cams = "\n".join(CAMERA.format(i=i, clip=clip, loop=loop, decode=DECODE[variant]) for i in range(n))
    path = tmp / f"{tag}.yaml"
    path.write_text(CONFIG.format(cams=cams, tmp=tmp, tag=tag))
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=12.0, help="length of the 4K clips")
    ap.add_argument("--structures", nargs="*", default=list(STRUCTURES), choices=list(STRUCTURES))
    ap.add_argument("--parallel", type=int, nargs="*", default=[2], help="N copies of analyze at once")
    ap.add_argument("--live", type=int, nargs="*", default=[1, 2, 3], help="camera counts for the live check")
    ap.add_argument("--live-seconds", type=float, default=20.0)
    ap.add_argument("--live-structure", default="b3", choices=list(STRUCTURES))
    ap.add_argument("--keep", help="folder for the clips (kept and reused between runs)")
    ap.add_argument("--json", help="write every figure here")
    args = ap.parse_args()
    if not SOURCE.is_file():
        print(f"skipped: {SOURCE} is not present")
        return 0
    cores = os.cpu_count() or 1
    res: dict = {"cores": cores, "load_avg_start": os.getloadavg(), "seconds": args.seconds, "clips": {}}
    print(f"{cores} cores, load average at start {res['load_avg_start']}", flush=True)
    with tempfile.TemporaryDirectory(prefix="vigil-bench4k-") as scratch:
        tmp = Path(scratch)
        clips_dir = Path(args.keep) if args.keep else tmp
        clips_dir.mkdir(parents=True, exist_ok=True)
        clips = {}
        for name in args.structures:
            clip = clips_dir / f"4k-{name}-{args.seconds:g}s.mp4"
            if not clip.is_file():
                t = time.perf_counter()
                make_4k(clip, args.seconds, STRUCTURES[name]["bf"])
                print(f"made {clip.name} in {time.perf_counter() - t:.0f} s", flush=True)
            clips[name] = clip
        for name, clip in clips.items():
            row: dict = {}
            # Interleaved, twice, so that a load change on the shared machine hits every variant alike.
            for rep in range(2):
                for mode in ("decode", "analyze", "analyze-full"):
                    if mode == "decode":
                        r = result(child("decode", clip))
                    else:
                        cfg = config(tmp, f"{name}-{mode}-{rep}", clip, 1, mode, live=False)
                        r = result(child("analyze", clip, cfg, str(tmp / f"{name}-{mode}-{rep}-ev")))
                    r["realtime_factor"] = args.seconds / r["wall_s"]
                    # The loop's CPU (from the first frame on): what a camera costs once running, without start-up.
                    r["cameras_per_box_by_cpu"] = cores / (r["loop_cpu_s"] / args.seconds)
                    row.setdefault(mode, []).append(r)
                    print(f"{name} {mode} #{rep + 1}: {r['realtime_factor']:.2f}x real time", flush=True)
            for n in args.parallel:
                cfg = config(tmp, f"{name}-par{n}", clip, 1, "analyze", live=False)
                t = time.perf_counter()
                procs = [child("analyze", clip, cfg, str(tmp / f"{name}-par{n}-{i}-ev")) for i in range(n)]
                rs = [result(p) for p in procs]
                wall = time.perf_counter() - t
                row[f"analyze x{n}"] = {
                    "aggregate_realtime_factor": n * args.seconds / wall,
                    "per_camera_realtime_factor": args.seconds / wall,
                    "peak_rss_mb_each": max(r["peak_rss_mb"] for r in rs),
                }
            res["clips"][name] = row
        live_clip = clips[args.live_structure]
        res["live"] = []
        for n in args.live:
            cfg = config(tmp, f"live{n}", live_clip, n, "analyze", live=True)
            r = result(child("live", live_clip, cfg, str(args.live_seconds)))
            r["cameras"] = n
            res["live"].append(r)
            print(f"live {n}: min {r['analysed_fps_min']:.2f} analysed fps per camera", flush=True)
        res["redact_4k_frame"] = result(child("redact", clips[args.structures[0]]))
        res["evidence_4k"] = result(child("evidence", clips[args.structures[0]], "-", str(tmp / "evidence")))
    res["load_avg_end"] = os.getloadavg()
    report(res)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2, default=str))
    return 0


def _mean(rows: list[dict], key: str) -> float:
    return sum(r[key] for r in rows) / len(rows)


def report(res: dict) -> None:
    print(f"\n4K (3840x2160) H.264 25 fps, {res['seconds']:g} s clips, {res['cores']} cores")
    print(f"load average: start {res['load_avg_start']}, end {res['load_avg_end']}")
    print("x real time: whole process (with start-up); loop cpu s: CPU from the first frame on; cams/box: cores "
          "over the loop's CPU per second of video")
    print(f"{'clip':<5} {'variant':<13} {'x real time':>11} {'cpu s':>7} {'loop cpu s':>10} {'peak RSS MB':>11} "
          f"{'decoded':>8} {'analysed':>8} {'cams/box':>8}")  # fmt: skip
    for name, row in res["clips"].items():
        for mode in ("decode", "analyze", "analyze-full"):
            rows = row[mode]
            print(
                f"{name:<5} {mode:<13} {_mean(rows, 'realtime_factor'):>11.2f} {_mean(rows, 'cpu_s'):>7.1f} "
                f"{_mean(rows, 'loop_cpu_s'):>10.1f} "
                f"{max(r['peak_rss_mb'] for r in rows):>11.0f} {rows[0]['frames']:>8} "
                f"{rows[0].get('analysed', '-'):>8} {_mean(rows, 'cameras_per_box_by_cpu'):>8.2f}"
            )
        dec, dec_cpu = _mean(row["decode"], "wall_s"), _mean(row["decode"], "loop_cpu_s")
        print(
            f"{name:<5} analyze / plain decode: wall {_mean(row['analyze'], 'wall_s') / dec:.2f}, loop CPU "
            f"{_mean(row['analyze'], 'loop_cpu_s') / dec_cpu:.2f} (every frame decoded, analysed at 4K: wall "
            f"{_mean(row['analyze-full'], 'wall_s') / dec:.2f}, "
            f"loop CPU {_mean(row['analyze-full'], 'loop_cpu_s') / dec_cpu:.2f}); "
            f"incidents {row['analyze'][0]['incidents']}, evidence files {row['analyze'][0]['evidence_files']}"
        )
        for key, val in row.items():
            if key.startswith("analyze x"):
                print(
                    f"{name:<5} {key}: aggregate {val['aggregate_realtime_factor']:.2f}x real time "
                    f"({val['per_camera_realtime_factor']:.2f}x per camera), "
                    f"peak RSS {val['peak_rss_mb_each']:.0f} MB each"
                )
    for r in res.get("live", []):
        print(
            f"live {r['cameras']} camera(s): analysed fps per camera min {r['analysed_fps_min']:.2f} / mean "
            f"{r['analysed_fps_mean']:.2f} (of 5), frames dropped {r['dropped']} "
            f"(analysed ones {r['analysis_dropped']}), "
            f"{r['cores_used']:.2f} cores, peak RSS {r['peak_rss_mb']:.0f} MB -> "
            f"{'live' if r['analysed_fps_min'] >= 0.95 * 5 else 'NOT live'}"
        )
    red = res.get("redact_4k_frame")
    if red:
        print(f"redacting one 4K evidence frame (faces in tiles at full resolution): {red['s_per_frame']:.2f} s")
    ev = res.get("evidence_4k")
    if ev:
        print(
            f"one 4K incident's evidence (snapshot + 4 s clip at 10 fps, redacted at {ev['clip_size']}): "
            f"{ev['wall_s']:.1f} s wall, {ev['cpu_s']:.1f} s CPU, {ev['clip_frames']} clip frames, "
            f"{ev['fail_closed_frames']} obscured whole (late), {ev['failed']} failed"
        )


if __name__ == "__main__":
    raise SystemExit(main())
