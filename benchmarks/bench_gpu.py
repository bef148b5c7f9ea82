"""Cameras per NVIDIA GPU: NVDEC decode and onnxruntime CUDA/TensorRT inference, bounded in time.

Prepared for a machine with an NVIDIA GPU (e.g. an H200); without one it
prints every figure as ``unmeasured`` with the reason and exits 0. Nothing
here is measured on the CPU machine this was written on.

With a GPU, within ``--budget-s`` (default 300 s, checked between steps):

1. clips: the dev clip ``car-detection.mp4`` upscaled to 1080p and 4K, H.264,
   25 fps (PyAV; no ffmpeg binary), made on the CPU;
2. decode: ``--decoders`` streams decoded at once with PyAV's ``cuda`` hwaccel
   (no software fallback), each in its own thread, every frame decoded and one
   in five downloaded and scaled to the analysis size, as ``vigil run`` does at
   5 analytic fps. Decoded frames per second / 25 = cameras the decoder keeps
   up with;
3. inference: the detector (``--device`` cuda or tensorrt) on batches of 1..64
   analysis-size frames (NanoDet's batch axis is free, so the shared detector
   pool batches across cameras). Images per second / 5 = cameras the
   detector keeps up with (whole frame only; detail windows add a pass each);
4. live: ``vigil run``'s runner with ``--live`` cameras of the 1080p clip paced
   in real time (``decode.hwaccel: cuda``, ``detector.device`` as given):
   analysed fps per camera, frames dropped, and the detector's batch latency
   p50/p95 (from its own histogram);
5. GPU memory: ``nvidia-smi``'s memory.used, sampled while the steps run;
6. decode vs inference share: seconds of each per camera-second at 5 fps.

Frame-to-event latency needs incidents in the footage and timestamps at both
ends; this script reports the detector's batch latency instead and leaves the
frame-to-event figure unmeasured. Run:
``.venv/bin/python benchmarks/bench_gpu.py --json /tmp/bench_gpu.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))  # bench_4k makes the clips

FIGURES = (
    "cameras_1080p_per_gpu_at_5fps",
    "cameras_4k_per_gpu_at_5fps",
    "frame_to_event_latency_p50_p95_s",
    "gpu_memory_mb",
    "decode_vs_inference_share",
)


def cuda_status() -> str | None:
    """``None`` when NVDEC decoding and the CUDA execution provider both work here; else why not."""
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return f"onnxruntime has no CUDAExecutionProvider (has {ort.get_available_providers()}): no onnxruntime-gpu"
    import av
    import numpy as np
    from av.codec.hwaccel import HWAccel

    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "probe.mp4"
        with av.open(str(clip), "w") as out:
            stream = out.add_stream("libx264", rate=25)
            stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
            for i in range(5):
                out.mux(stream.encode(av.VideoFrame.from_ndarray(np.full((240, 320, 3), 40 * i, np.uint8), "bgr24")))
            out.mux(stream.encode(None))
        try:
            with av.open(str(clip), hwaccel=HWAccel("cuda", allow_software_fallback=False)) as c:
                next(c.decode(video=0))
        except Exception as exc:  # noqa: BLE001 - any failure means: no NVDEC here
            return f"PyAV cannot decode with the cuda hwaccel ({exc})"
    return None


class GpuMemory:
    """Samples nvidia-smi's memory.used (MB) in the background; the peak is the figure."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            values = [int(v) for v in out.stdout.split() if v.isdigit()]
            if values:
                self.peak = max(self.peak, max(values))

    def __enter__(self) -> GpuMemory:
        if shutil.which("nvidia-smi"):
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()


def make_clip(dst: Path, width: int, height: int, seconds: float) -> Path:
    """The dev clip at ``width`` x ``height``, 25 fps, x264 veryfast (as bench_4k.make_4k, other sizes)."""
    import bench_4k

    bench_4k.W, bench_4k.H = width, height
    return bench_4k.make_4k(dst, seconds, "3")


def decode_rate(clip: Path, streams: int, seconds: float) -> float:
    """Frames per second decoded by ``streams`` NVDEC decoders at once (one in five converted, as at 5 fps)."""
    import av
    from av.codec.hwaccel import HWAccel

    from vigil.sources.avsource import analysis_size

    counts = [0] * streams
    stop = time.monotonic() + seconds

    def worker(i: int) -> None:
        while time.monotonic() < stop:
            with av.open(str(clip), hwaccel=HWAccel("cuda", allow_software_fallback=False)) as c:
                for n, frame in enumerate(c.decode(video=0)):
                    if n % 5 == 0:
                        size = analysis_size(frame.width, frame.height, 1920) or (frame.width, frame.height)
                        frame.to_ndarray(width=size[0], height=size[1], format="bgr24")
                    counts[i] += 1
                    if time.monotonic() >= stop:
                        return

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(streams)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.monotonic() - t0)


def inference_rate(device: str, width: int, height: int, batch: int, seconds: float) -> float:
    """Images per second through the detector on ``device`` in batches of ``batch`` analysis-size frames."""
    import numpy as np

    from vigil.detection import ObjectDetectorConfig, build_detector

    det = build_detector(ObjectDetectorConfig(device=device))
    images = [np.random.default_rng(i).integers(0, 255, (height, width, 3), np.uint8) for i in range(batch)]
    det.detect_batch(images)  # warm-up (TensorRT builds its engine here)
    n, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < seconds:
        det.detect_batch(images)
        n += batch
    return n / (time.monotonic() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget-s", type=float, default=300.0)
    ap.add_argument("--device", default="cuda", choices=["cuda", "tensorrt"])
    ap.add_argument("--decoders", type=int, nargs="*", default=[8, 32])
    ap.add_argument("--batches", type=int, nargs="*", default=[1, 8, 32, 64])
    ap.add_argument("--live", type=int, default=0, help="cameras for the live check (0: skip it)")
    ap.add_argument("--step-s", type=float, default=10.0, help="length of each timed step")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    res: dict = {"figures": dict.fromkeys(FIGURES, "unmeasured")}
    why = cuda_status()
    if why is not None:
        res["reason"] = f"no GPU: {why}"
        for name in FIGURES:
            print(f"{name}: unmeasured ({res['reason']})")
        if args.json:
            Path(args.json).write_text(json.dumps(res, indent=2))
        return 0
    deadline = time.monotonic() + args.budget_s
    with tempfile.TemporaryDirectory(prefix="vigil-benchgpu-") as tmp, GpuMemory() as memory:
        clips = {
            "1080p": make_clip(Path(tmp) / "1080p.mp4", 1920, 1080, 10.0),
            "4k": make_clip(Path(tmp) / "4k.mp4", 3840, 2160, 10.0),
        }
        for name, clip in clips.items():
            for k in args.decoders:
                if time.monotonic() + args.step_s > deadline:
                    break
                fps = decode_rate(clip, k, args.step_s)
                res[f"decode_{name}_{k}_streams_fps"] = fps
                print(f"NVDEC {name}, {k} streams: {fps:.0f} frames/s = {fps / 25:.0f} cameras at 25 fps", flush=True)
        for b in args.batches:
            if time.monotonic() + args.step_s > deadline:
                break
            rate = inference_rate(args.device, 1920, 1080, b, args.step_s)
            res[f"infer_batch_{b}_img_s"] = rate
            print(f"{args.device} detector, batch {b}: {rate:.0f} images/s = {rate / 5:.0f} cameras at 5 fps")
        if args.live and time.monotonic() + 60 < deadline:
            res["live"] = live_check(clips["1080p"], args.live, args.device, min(60.0, args.step_s * 3), tmp)
            print(f"live {args.live} cameras: {res['live']}", flush=True)
    res["gpu_memory_peak_mb"] = memory.peak or "unmeasured (no nvidia-smi)"
    summarise(res)
    for name, value in res["figures"].items():
        print(f"{name}: {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2, default=str))
    return 0


def summarise(res: dict) -> None:
    """Cameras per GPU = the lower of what the decoder and the detector keep up with (whole-frame pass)."""
    infer = max((v for k, v in res.items() if k.startswith("infer_batch_")), default=None)
    for name in ("1080p", "4k"):
        dec = max((v for k, v in res.items() if k.startswith(f"decode_{name}_")), default=None)
        if dec is not None and infer is not None:
            res["figures"][f"cameras_{name}_per_gpu_at_5fps"] = int(min(dec / 25, infer / 5))
            per_cam_decode, per_cam_infer = 25 / dec, 5 / infer
            share = per_cam_decode / (per_cam_decode + per_cam_infer)
            res["figures"].setdefault("decode_vs_inference_share", {})
            if isinstance(res["figures"]["decode_vs_inference_share"], dict):
                res["figures"]["decode_vs_inference_share"][name] = f"decode {share:.0%} / inference {1 - share:.0%}"
    if isinstance(res.get("gpu_memory_peak_mb"), int):
        res["figures"]["gpu_memory_mb"] = res["gpu_memory_peak_mb"]
    res["figures"]["frame_to_event_latency_p50_p95_s"] = "unmeasured (needs incident footage; see the docstring)"


LIVE = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from vigil.config import load_config_text
from vigil.pipeline.runner import LiveRunner
runner = LiveRunner(load_config_text(open(sys.argv[2]).read()))
runner.start()
time.sleep(10)
before, t0 = runner.status(), time.monotonic()
time.sleep(float(sys.argv[3]))
after, dt = runner.status(), time.monotonic() - t0
runner.stop()
cams = after["cameras"]
per = [(cams[c]["analysed"] - before["cameras"][c]["analysed"]) / dt for c in cams]
print(json.dumps({"analysed_fps_min": min(per), "analysed_fps_mean": sum(per) / len(per),
                  "dropped": sum(cams[c]["dropped"] - before["cameras"][c]["dropped"] for c in cams),
                  "detector": after.get("detector")}))
"""


def live_check(clip: Path, n: int, device: str, seconds: float, tmp: str) -> dict:
    cams = "\n".join(
        f'  - id: cam{i}\n    source: {{url: "{clip}", loop: true, realtime: true, decode: {{hwaccel: cuda}}}}\n'
        "    analytic_fps: 5"
        for i in range(n)
    )
    cfg = Path(tmp) / "live.yaml"
    cfg.write_text(
        f"cameras:\n{cams}\ndetector: {{device: {device}}}\nredaction: {{detector: {{device: {device}}}}}\n"
        f"storage: {{database_url: 'sqlite:///{tmp}/live.db', media_dir: '{tmp}/media'}}\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", LIVE, str(REPO / "src"), str(cfg), str(seconds)],
        capture_output=True, text=True, check=True, timeout=seconds + 180,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    raise SystemExit(main())
