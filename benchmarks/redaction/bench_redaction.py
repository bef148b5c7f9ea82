#!/usr/bin/env python3
"""Redaction benchmark: Vigil vs deface, side by side, on the same inputs.

Measures, for every variant (deface 1.5.0 at --thresh 0.2 (its default) and
0.05, Vigil at its defaults, plus one row per --vigil-args):

  * throughput in frames/s = frames decoded from the INPUT / wall clock of the
    whole tool command (process start, model load, decode, inference, encode),
    on car-detection.mp4 (768x432) and on a cached 1920x1080 lanczos upscale
    of it (H.264 crf 18, made once under .bench/);
  * face recall on faces_kaggle (VOC), overall and by box min side
    (<16, 16-32, 32-64, >=64 px), and pooled over-redaction;
  * plate recall and pooled over-redaction on openalpr_us/us;
    both scored by ../shared/tools/redaction_score.py.

Run from the repo root:

    .venv/bin/python benchmarks/redaction/bench_redaction.py [--only deface|vigil]
        [--vigil-args "--face-threshold 0.3"]... [--quick] [--skip-video] [--skip-images]

Writes a table to stdout and everything to .bench/redaction_results.json.
Needs Python 3.11 stdlib plus numpy / opencv-python-headless / pillow (for
the scorer) and, preferably, PyAV (video frame counts and the upscale; falls
back to OpenCV / an ffmpeg binary).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
HERE = Path(__file__).resolve().parent

IMG_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
BUCKETS = ("<16", "16-32", "32-64", ">=64")
UPSCALE_W, UPSCALE_H = 1920, 1080
QUICK_FACES, QUICK_PLATES, QUICK_FRAMES = 60, 40, 100


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- video helpers
def count_frames(path: Path) -> int:
    """Number of frames actually decoded from `path` (not the container's claim)."""
    try:
        import av  # type: ignore
    except ImportError:
        av = None
    if av is not None:
        with av.open(str(path)) as c:
            c.streams.video[0].thread_type = "AUTO"
            return sum(1 for _ in c.decode(video=0))
    import cv2  # scorer dependency, always present

    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.grab():
        n += 1
    cap.release()
    return n


def video_size(path: Path) -> tuple[int, int]:
    import cv2

    cap = cv2.VideoCapture(str(path))
    wh = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    cap.release()
    return wh


def find_ffmpeg(deface_venv: Path) -> str | None:
    exe = shutil.which("ffmpeg")
    if exe:
        return exe
    # deface depends on imageio-ffmpeg, which ships a static ffmpeg binary
    for p in sorted(deface_venv.glob("lib/python3*/site-packages/imageio_ffmpeg/binaries/ffmpeg*")):
        if os.access(p, os.X_OK):
            return str(p)
    return None


def transcode(src: Path, dst: Path, size: tuple[int, int] | None, max_frames: int | None, deface_venv: Path) -> None:
    """Re-encode `src` to `dst` (H.264 crf 18, yuv420p, same frame rate), optionally
    lanczos-scaled to `size` and cut to the first `max_frames` frames. Cached: skipped
    when `dst` exists. Written to a temp name first so a killed run leaves no half file."""
    if dst.exists():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.stem + ".part" + dst.suffix)
    log(f"making {dst.name} from {src.name} (size={size}, frames={max_frames or 'all'}) ...")
    try:
        import av  # type: ignore
    except ImportError:
        av = None
    if av is not None and "libx264" in av.codecs_available:
        from fractions import Fraction

        with av.open(str(src)) as inp, av.open(str(tmp), "w") as out:
            ist = inp.streams.video[0]
            ist.thread_type = "AUTO"
            rate = ist.average_rate or ist.guessed_rate or Fraction(25)
            w, h = size or (ist.codec_context.width, ist.codec_context.height)
            ost = out.add_stream("libx264", rate=rate)
            ost.width, ost.height, ost.pix_fmt = w, h, "yuv420p"
            ost.options = {"crf": "18", "preset": "medium"}
            ost.codec_context.time_base = Fraction(1) / Fraction(rate)
            for i, frame in enumerate(inp.decode(ist)):
                if max_frames and i >= max_frames:
                    break
                f = frame.reformat(width=w, height=h, format="yuv420p", interpolation="LANCZOS")
                f.pts, f.time_base = i, ost.codec_context.time_base
                for pkt in ost.encode(f):
                    out.mux(pkt)
            for pkt in ost.encode():
                out.mux(pkt)
    else:
        ff = find_ffmpeg(Path(deface_venv))
        if not ff:
            sys.exit("need PyAV (with libx264) or an ffmpeg binary to make the benchmark videos")
        cmd = [ff, "-y", "-loglevel", "error", "-i", str(src)]
        if size:
            cmd += ["-vf", f"scale={size[0]}:{size[1]}:flags=lanczos"]
        if max_frames:
            cmd += ["-frames:v", str(max_frames)]
        cmd += ["-an", "-c:v", "libx264", "-crf", "18", "-preset", "medium", "-pix_fmt", "yuv420p", str(tmp)]
        subprocess.run(cmd, check=True)
    tmp.replace(dst)


# --------------------------------------------------------------------------- datasets
def annotated_stems(ann_dir: Path, fmt: str) -> list[str]:
    """Image stems in the order redaction_score.py uses (sorted annotation keys)."""
    if fmt == "voc":
        return sorted(p.stem for p in ann_dir.glob("*.xml"))
    stems = set()
    for t in ann_dir.glob("*.txt"):
        for line in t.read_text().splitlines():
            p = line.split()
            if len(p) >= 5:
                stems.add(Path(p[0]).stem)
    return sorted(stems)


def find_image(d: Path, stem: str) -> Path | None:
    for ext in IMG_EXTS + tuple(e.upper() for e in IMG_EXTS):
        p = d / (stem + ext)
        if p.is_file():
            return p
    return None


def link_images(images: list[Path], dst: Path) -> None:
    """Fresh directory holding ONLY the images (symlinks), so no tool sees .txt/.xml files
    and deface's NAME_anonymized outputs from an earlier run cannot be picked up again."""
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    for p in images:
        (dst / p.name).symlink_to(p.resolve())


# --------------------------------------------------------------------------- machine load
def _cpu_ticks() -> tuple[int, int] | None:
    """(busy, total) clock ticks of all CPUs since boot, from /proc/stat (Linux only)."""
    try:
        with Path("/proc/stat").open() as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = v[3] + (v[4] if len(v) > 4 else 0)  # idle + iowait
    total = sum(v[:8])  # guest time is already inside user/nice
    return total - idle, total


def cpu_busy(interval: float = 2.0) -> float | None:
    """Share of all CPUs busy over `interval` seconds (0..1), None where unknown."""
    a = _cpu_ticks()
    time.sleep(interval)
    b = _cpu_ticks()
    if not a or not b or b[1] == a[1]:
        return None
    return (b[0] - a[0]) / (b[1] - a[1])


def wait_idle(max_wait: float, below: float) -> float | None:
    """Wait (up to max_wait s) until the machine is quiet: CPUs < `below` busy over 2 s.
    Returns the last busy share measured."""
    t_end = time.monotonic() + max_wait
    busy = cpu_busy()
    while busy is not None and busy >= below and time.monotonic() < t_end:
        log(f"machine busy ({busy:.0%} of CPUs used by other processes), waiting ...")
        time.sleep(8)
        busy = cpu_busy()
    return busy


# --------------------------------------------------------------------------- running tools
NICE = 0  # set from --nice: niceness increment for the timed tool commands (negative = priority)


def run_cmd(cmd: list[str], log_path: Path, nice: int = 0) -> tuple[int, float, str, dict]:
    """Run `cmd`, return (returncode, wall seconds, combined output, load info). Output goes
    to a log file (not a pipe we read while it runs) so the child is never blocked on our
    side. Load info: `other_cpu_share` = CPU time used by processes OTHER than this command
    during its run, as a share of all CPUs x wall (>~0.1 means the timing was disturbed)."""
    import resource

    log_path.parent.mkdir(parents=True, exist_ok=True)
    with Path(log_path).open("w") as f:
        f.write("$ " + shlex.join(cmd) + "\n")
        f.flush()
        ru0, st0 = resource.getrusage(resource.RUSAGE_CHILDREN), _cpu_ticks()
        t0 = time.perf_counter()
        rc = subprocess.run(
            cmd,
            stdout=f,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=(lambda: os.nice(nice)) if nice else None,
        ).returncode
        wall = time.perf_counter() - t0
        ru1, st1 = resource.getrusage(resource.RUSAGE_CHILDREN), _cpu_ticks()
    own = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    load = {"cpu_s": round(own, 2), "cpu_per_wall": round(own / wall, 2) if wall else None}
    if st0 and st1 and st1[1] > st0[1]:
        tck = os.sysconf("SC_CLK_TCK")
        ncpu = os.cpu_count() or 1
        sys_busy_s = (st1[0] - st0[0]) / tck
        load["other_cpu_share"] = round(max(0.0, sys_busy_s - own) / (wall * ncpu), 3)
    return rc, wall, log_path.read_text(errors="replace"), load


def tail(text: str, n: int = 15) -> str:
    # progress bars write \r-separated updates; keep the last state of each line
    lines = [ln.split("\r")[-1] for ln in text.splitlines()]
    return "\n".join(lines[-n:])


class Variant:
    def __init__(self, name: str, tool: str, args: list[str], exe: str):
        self.name, self.tool, self.args, self.exe = name, tool, args, exe

    def video_cmd(self, src: Path, outdir: Path) -> tuple[list[str], Path, Path | None]:
        """(command, expected output video, report file or None)."""
        if self.tool == "deface":
            out = outdir / (src.stem + ".mp4")
            return [self.exe, str(src), "-o", str(out), *self.args], out, None
        rep = outdir.parent / (outdir.name + "_report.json")
        return (
            [self.exe, "redact", str(src), "-o", str(outdir), "--report", str(rep), *self.args],
            outdir / (src.stem + ".mp4"),
            rep,
        )

    def images_cmd(self, indir: Path, outdir: Path) -> tuple[list[str], Path, str, Path | None]:
        """(command, directory the redacted copies land in, file-name suffix, report)."""
        if self.tool == "deface":
            # With a directory input and -o, deface 1.5.0 writes EVERY image to that one
            # path. Without -o it writes DIR/NAME_anonymized.EXT next to each input.
            return [self.exe, str(indir), *self.args], indir, "_anonymized", None
        rep = outdir.parent / (outdir.name + "_report.json")
        return ([self.exe, "redact", str(indir), "-o", str(outdir), "--report", str(rep), *self.args], outdir, "", rep)


def slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "_", s).strip("_")[:80]


def deface_backend(output: str) -> str:
    m = re.search(r"Running on (\S+?)\.?$", output, re.M)
    # deface prints "Running on <EP>." only on its onnxruntime path; the OpenCV fallback is silent
    return f"onnxruntime ({m.group(1)})" if m else "opencv-dnn (fallback: onnx/onnxruntime missing?)"


def read_json(p: Path | None):
    if p and p.is_file():
        try:
            return json.loads(p.read_text())
        except ValueError:
            return {"unparsable": p.read_text()[:2000]}
    return None


def bench_video(
    v: Variant, label: str, src: Path, n_in: int, work: Path, repeat: int, idle: tuple[float, float]
) -> dict:
    res: dict = {"input": str(src), "input_frames": n_in, "walls_s": [], "load": []}
    for r in range(repeat):
        outdir = work / slug(v.name) / f"video_{label}"
        if outdir.exists():
            shutil.rmtree(outdir)
        outdir.mkdir(parents=True)
        cmd, out, rep = v.video_cmd(src, outdir)
        res["cmd"] = shlex.join(cmd)
        busy = wait_idle(*idle) if idle[0] > 0 else cpu_busy(1.0)
        log(f"{v.name}: video {label} (run {r + 1}/{repeat}) ...")
        rc, wall, text, load = run_cmd(cmd, work / slug(v.name) / f"video_{label}.log", NICE)
        load["cpu_busy_before"] = None if busy is None else round(busy, 3)
        res["load"].append(load)
        if v.tool == "deface":
            res["backend"] = deface_backend(text)
        if rc != 0 or not out.is_file():
            res["error"] = f"rc={rc}, output {'present' if out.is_file() else 'MISSING'}: {out}\n{tail(text)}"
            log(f"{v.name}: video {label} FAILED\n{res['error']}")
            return res
        res["walls_s"].append(round(wall, 3))
        res["output"] = str(out)
        res["report"] = read_json(rep)
    # best of the runs: on a shared machine the fastest run is the least disturbed one
    best = min(range(len(res["walls_s"])), key=res["walls_s"].__getitem__)
    wall = res["walls_s"][best]
    res["wall_s"] = round(wall, 3)
    res["fps"] = round(n_in / wall, 3)
    res["cpu_s_per_frame"] = round(min(x["cpu_s"] for x in res["load"]) / n_in, 4)
    res["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    res["nice"] = NICE
    res["output_frames"] = count_frames(Path(res["output"]))
    if res["output_frames"] != n_in:
        res["warning"] = f"output has {res['output_frames']} frames, input {n_in}"
        log(f"{v.name}: WARNING {res['warning']}")
    other = res["load"][best].get("other_cpu_share") or 0.0
    res["other_cpu_share"] = other  # during the run that is reported
    log(
        f"{v.name}: video {label}: {n_in} frames in {wall:.1f} s = {res['fps']:.2f} frames/s"
        f" (other processes used {other:.0%} of the CPUs meanwhile)"
    )
    return res


def bench_images(v: Variant, ds: dict, work: Path, scorer: Path, jobs: int) -> dict:
    base = work / slug(v.name) / ds["key"]
    indir, outdir = base / "input", base / "redacted"
    link_images(ds["images"], indir)
    if outdir.exists():
        shutil.rmtree(outdir)
    if v.tool != "deface":
        outdir.mkdir(parents=True)
    cmd, red_dir, suffix, rep = v.images_cmd(indir, outdir)
    res: dict = {"cmd": shlex.join(cmd), "images": len(ds["images"])}
    log(f"{v.name}: {ds['key']} ({len(ds['images'])} images) ...")
    rc, wall, text, load = run_cmd(cmd, base / "tool.log")
    res["wall_s"], res["load"] = round(wall, 3), load
    if v.tool == "deface":
        res["backend"] = deface_backend(text)
    res["report"] = read_json(rep)
    if rc != 0:
        res["error"] = f"rc={rc}\n{tail(text)}"
        log(f"{v.name}: {ds['key']} FAILED\n{res['error']}")
        return res
    score_json = base / "score.json"
    scmd = [
        sys.executable,
        str(scorer),
        "--images",
        str(indir),
        "--annotations",
        str(ds["ann"]),
        "--format",
        ds["format"],
        "--redacted",
        str(red_dir),
        "--suffix",
        suffix,
        "--per-box",
        str(base / "per_box.csv"),
        "--json",
        str(score_json),
        "--jobs",
        str(jobs),
        "--name",
        f"{v.name} / {ds['key']}",
    ]
    src, _, stext, _ = run_cmd(scmd, base / "score.log")
    if src != 0 or not score_json.is_file():
        res["error"] = f"scorer rc={src}\n{tail(stext)}"
        log(f"{v.name}: scoring {ds['key']} FAILED\n{res['error']}")
        return res
    s = json.loads(score_json.read_text())
    res["score"] = s
    res["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    for k in ("missing_outputs", "size_mismatch", "images_with_global_luma_shift_gt_1.5"):
        if s.get(k):
            log(f"{v.name}: {ds['key']}: WARNING scorer {k} = {s[k]}")
    log(
        f"{v.name}: {ds['key']}: recall {s['recall']:.3f}, over-redaction {s['over_redaction_pooled']:.4f}"
        f" ({s['boxes']} boxes, tool wall {wall:.1f} s)"
    )
    return res


# --------------------------------------------------------------------------- report
def fmt(x, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def table(results: dict) -> str:
    cols = [
        ("variant", 30),
        ("fps 768x432", 11),
        ("fps 1080p", 9),
        ("face R", 6),
        ("<16", 5),
        ("16-32", 5),
        ("32-64", 5),
        (">=64", 5),
        ("face over", 9),
        ("plate R", 7),
        ("plate over", 10),
    ]
    head = "  ".join(f"{n:<{w}}" if i == 0 else f"{n:>{w}}" for i, (n, w) in enumerate(cols))
    lines = [head, "-" * len(head)]
    for name, r in results["variants"].items():
        vid = r.get("video", {})
        f = r.get("faces", {}).get("score") or {}
        p = r.get("plates", {}).get("score") or {}
        fb = f.get("recall_by_min_side", {})

        def vfps(label, vid=vid):
            v = vid.get(label)
            if v is None:
                return "-"
            return "ERR" if "error" in v else fmt(v.get("fps"), ".2f")

        def err(key, val, r=r):
            return "ERR" if "error" in r.get(key, {}) else val

        cells = [name, vfps("768x432"), vfps("1920x1080"), err("faces", fmt(f.get("recall"), ".3f"))]
        cells += [err("faces", fmt((fb.get(b) or {}).get("recall"), ".3f")) for b in BUCKETS]
        cells += [
            err("faces", fmt(f.get("over_redaction_pooled"), ".4f")),
            err("plates", fmt(p.get("recall"), ".3f")),
            err("plates", fmt(p.get("over_redaction_pooled"), ".4f")),
        ]
        pairs = enumerate(zip(cells, cols, strict=False))
        lines.append("  ".join(f"{c:<{w}}" if i == 0 else f"{c:>{w}}" for i, (c, (_, w)) in pairs))
    return "\n".join(lines)


def counts_line(results: dict) -> str:
    for r in results["variants"].values():
        f = (r.get("faces") or {}).get("score")
        p = (r.get("plates") or {}).get("score")
        if f or p:
            parts = []
            if f:
                b = ", ".join(f"{k}: {v['boxes']}" for k, v in f["recall_by_min_side"].items())
                parts.append(f"faces: {f['images']} images, {f['boxes']} boxes ({b})")
            if p:
                parts.append(f"plates: {p['images']} images, {p['boxes']} boxes")
            return "; ".join(parts)
    return ""


def ratios(results: dict) -> list[str]:
    ref = results["variants"].get("deface default (t=0.2)", {}).get("video", {})
    out = []
    for name, r in results["variants"].items():
        if not name.startswith("vigil"):
            continue
        parts = []
        for label in ("768x432", "1920x1080"):
            a, b = r.get("video", {}).get(label, {}), ref.get(label, {})
            if a.get("fps") and b.get("fps"):
                x = a["fps"] / b["fps"]
                parts.append(f"{label}: x{x:.2f}")
                r.setdefault("fps_ratio_vs_deface_default", {})[label] = round(x, 3)
        if parts:
            out.append(f"{name + ' / deface default fps':<48}" + "   ".join(parts))
    return out


# --------------------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    ap.add_argument("--only", choices=["deface", "vigil"], help="run only this tool's variants")
    ap.add_argument(
        "--vigil-bin", default=str(ROOT / ".venv/bin/vigil"), help="vigil executable (default: %(default)s)"
    )
    ap.add_argument(
        "--vigil-args",
        action="append",
        default=[],
        metavar="ARGS",
        help='extra Vigil variant, e.g. --vigil-args "--face-threshold 0.3" (repeatable; one row each)',
    )
    ap.add_argument(
        "--deface-venv",
        default=str(ROOT / ".bench/deface-venv"),
        help="venv with deface==1.5.0 + onnx + onnxruntime; made by setup_deface.sh if missing",
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: first {QUICK_FACES} face images, {QUICK_PLATES} plates, {QUICK_FRAMES} video frames",
    )
    ap.add_argument("--skip-video", action="store_true")
    ap.add_argument("--skip-images", action="store_true")
    ap.add_argument(
        "--match",
        action="append",
        metavar="TEXT",
        help="run only the variants whose row name contains TEXT (repeatable), "
        "e.g. --match default; useful with --update",
    )
    ap.add_argument(
        "--video",
        action="append",
        choices=["768x432", "1920x1080"],
        help="time only this video (repeatable; default both)",
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="video runs per variant; the fastest (least disturbed) run is reported, all are in the JSON",
    )
    ap.add_argument(
        "--wait-idle",
        type=float,
        default=0,
        metavar="SECONDS",
        help="before each timed video run, wait up to SECONDS for the machine to be quiet "
        "(other processes using < --idle-below of the CPUs); for shared machines",
    )
    ap.add_argument("--idle-below", type=float, default=0.15, metavar="SHARE", help="default: %(default)s")
    ap.add_argument(
        "--nice",
        type=int,
        default=0,
        metavar="N",
        help="run the timed video commands with this niceness increment (e.g. -10 as root "
        "gives them priority over other work on a shared machine); recorded in the JSON",
    )
    ap.add_argument(
        "--update",
        action="store_true",
        help="merge into the existing results JSON: what this run measured replaces the old "
        "entries, the rest (other variants, skipped parts) is kept with its own measured_at",
    )
    ap.add_argument("--data", default=str(SHARED / "data"), help="shared data dir (default: %(default)s)")
    ap.add_argument("--scorer", default=str(SHARED / "tools/redaction_score.py"))
    ap.add_argument("--bench-dir", default=str(ROOT / ".bench"), help="cache / work / results dir")
    ap.add_argument("--json-out", help="results JSON (default: BENCH_DIR/redaction_results.json)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="scorer worker processes")
    a = ap.parse_args(argv)
    global NICE
    NICE = a.nice

    bench, data, scorer = Path(a.bench_dir).resolve(), Path(a.data).resolve(), Path(a.scorer).resolve()
    work = bench / ("work_quick" if a.quick else "work")
    json_out = Path(a.json_out) if a.json_out else bench / "redaction_results.json"
    if not scorer.is_file():
        sys.exit(f"scorer not found: {scorer}")

    # ---- variants
    variants: list[Variant] = []
    tool_info: dict = {}
    if a.only != "vigil":
        dv = Path(a.deface_venv).resolve()
        if (
            not (dv / "bin/deface").exists()
            or subprocess.run(
                [str(dv / "bin/python"), "-c", "import onnx, onnxruntime"], capture_output=True
            ).returncode
        ):
            log(f"setting up deface venv at {dv} ...")
            subprocess.run(["bash", str(HERE / "setup_deface.sh"), str(dv)], check=True)
        exe = str(dv / "bin/deface")
        ver = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
        ort = subprocess.run(
            [str(dv / "bin/python"), "-c", "import onnx, onnxruntime as o; print(onnx.__version__, o.__version__)"],
            capture_output=True,
            text=True,
        )
        tool_info["deface"] = {
            "exe": exe,
            "version": ver,
            "onnx_onnxruntime": ort.stdout.strip() if ort.returncode == 0 else "MISSING",
        }
        if ver != "1.5.0":
            log(f"WARNING: deface version is {ver!r}, expected 1.5.0")
        variants += [
            Variant("deface default (t=0.2)", "deface", [], exe),
            Variant("deface t=0.05", "deface", ["--thresh", "0.05"], exe),
        ]
    if a.only != "deface":
        vb = Path(a.vigil_bin)
        if not (vb.is_file() and os.access(vb, os.X_OK)):
            sys.exit(f"vigil executable not found: {vb}\n(use --vigil-bin PATH, or --only deface)")
        vr = subprocess.run([str(vb), "--version"], capture_output=True, text=True)
        tool_info["vigil"] = {
            "exe": str(vb),
            "version": (vr.stdout or vr.stderr).strip()[:200] if vr.returncode == 0 else None,
        }
        variants.append(Variant("vigil default", "vigil", [], str(vb)))
        for s in a.vigil_args:
            variants.append(Variant(f"vigil {s}", "vigil", shlex.split(s), str(vb)))
    elif a.vigil_args:
        log("note: --vigil-args ignored with --only deface")

    if a.match:
        variants = [v for v in variants if any(m in v.name for m in a.match)]
        if not variants:
            sys.exit(f"no variant matches {a.match}")
        log("variants: " + ", ".join(v.name for v in variants))

    # ---- inputs
    videos: dict[str, Path] = {}
    if not a.skip_video:
        src = data / "intel_sample_videos/car-detection.mp4"
        dv_ = Path(a.deface_venv)
        if a.quick:
            videos["768x432"] = bench / f"{src.stem}_first{QUICK_FRAMES}.mp4"
            transcode(src, videos["768x432"], None, QUICK_FRAMES, dv_)
            videos["1920x1080"] = bench / f"{src.stem}_{UPSCALE_W}x{UPSCALE_H}_first{QUICK_FRAMES}.mp4"
            transcode(src, videos["1920x1080"], (UPSCALE_W, UPSCALE_H), QUICK_FRAMES, dv_)
        else:
            videos["768x432"] = src
            videos["1920x1080"] = bench / f"{src.stem}_{UPSCALE_W}x{UPSCALE_H}.mp4"
            transcode(src, videos["1920x1080"], (UPSCALE_W, UPSCALE_H), None, dv_)
    if a.video:
        videos = {k: p for k, p in videos.items() if k in a.video}
    video_frames = {k: count_frames(p) for k, p in videos.items()}
    for k, p in videos.items():
        log(f"video {k}: {p} {video_size(p)} {video_frames[k]} frames")

    datasets = []
    if not a.skip_images:
        faces_img, faces_ann = data / "faces_kaggle/images", data / "faces_kaggle/annotations"
        plates_dir = data / "openalpr_us/us"
        for key, imgdir, ann, fmt_, lim in (
            ("faces", faces_img, faces_ann, "voc", QUICK_FACES),
            ("plates", plates_dir, plates_dir, "openalpr", QUICK_PLATES),
        ):
            stems = annotated_stems(ann, fmt_)
            imgs = [p for p in (find_image(imgdir, s) for s in stems) if p is not None]
            if a.quick:
                imgs = imgs[:lim]
            datasets.append({"key": key, "images": imgs, "ann": ann, "format": fmt_, "source": str(imgdir)})
            log(f"{key}: {len(imgs)} annotated images from {imgdir}")

    # ---- run
    results: dict = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if a.quick else "full",
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "processor": platform.processor(),
        },
        "tools": tool_info,
        "inputs": {
            "videos": {k: {"path": str(p), "frames": video_frames[k]} for k, p in videos.items()},
            "image_sets": {
                d["key"]: {
                    "source": d["source"],
                    "annotations": str(d["ann"]),
                    "format": d["format"],
                    "images": len(d["images"]),
                }
                for d in datasets
            },
        },
        "method": {
            "fps": "input frames (decoded count) / wall clock of the whole tool command "
            "(start-up, model load, decode, inference, encode); fastest of --repeat runs",
            "scorer": str(scorer),
        },
        "variants": {},
    }
    for v in variants:
        r: dict = {"tool": v.tool, "args": v.args}
        results["variants"][v.name] = r
        if videos:
            r["video"] = {
                label: bench_video(v, label, p, video_frames[label], work, a.repeat, (a.wait_idle, a.idle_below))
                for label, p in videos.items()
            }
        for ds in datasets:
            r[ds["key"]] = bench_images(v, ds, work, scorer, a.jobs)

    # ---- merge with an earlier run (--update)
    if a.update and json_out.is_file():
        old = json.loads(json_out.read_text())
        if old.get("mode") != results["mode"]:
            log(f"--update: {json_out} is a {old.get('mode')} run, this is {results['mode']}: not merged")
        else:
            merged = dict(old.get("variants", {}))
            for name, r in results["variants"].items():
                o = dict(merged.get(name, {}))
                for k, x in r.items():
                    if k == "video" and isinstance(o.get("video"), dict):
                        o["video"] = {**o["video"], **x}
                    else:
                        o[k] = x
                merged[name] = o
            for r in merged.values():
                r.pop("fps_ratio_vs_deface_default", None)
            results["variants"] = merged
            for sec in ("videos", "image_sets"):
                results["inputs"][sec] = {**old.get("inputs", {}).get(sec, {}), **results["inputs"][sec]}
            results["tools"] = {**old.get("tools", {}), **results["tools"]}
            results["runs_merged"] = [*old.get("runs_merged", [old.get("created")]), results["created"]]
            log(f"--update: merged into {json_out} (runs: {', '.join(map(str, results['runs_merged']))})")

    # ---- report
    rat = ratios(results)
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(json.dumps(results, indent=2) + "\n")

    print()
    print(
        f"Redaction benchmark ({results['mode']}), {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, {results['created']}"
    )
    for k, x in results["inputs"]["videos"].items():
        print(f"  video {k}: {Path(x['path']).name}, {x['frames']} frames")
    c = counts_line(results)
    if c:
        print("  " + c)
    for name, info in tool_info.items():
        print(f"  {name}: {info.get('version')}  ({info.get('exe')})")
    backends = {
        r.get("video", {}).get("768x432", {}).get("backend") or r.get("faces", {}).get("backend")
        for r in results["variants"].values()
        if r["tool"] == "deface"
    } - {None}
    if backends:
        print(f"  deface backend: {', '.join(sorted(backends))}")
    print()
    print(table(results))
    print("  R = recall (share of GT boxes >= 80% obscured); <16 .. >=64 = face recall by box min side (px);")
    print(
        "  over = pooled share of pixels changed outside the GT boxes (+10%/side);"
        " fps = input frames / command wall clock"
    )
    if rat:
        print()
        print("\n".join(rat))
    cpu = [
        f"{n}: "
        + ", ".join(
            f"{lbl} {x['cpu_s_per_frame']:.3f}" for lbl, x in r.get("video", {}).items() if x.get("cpu_s_per_frame")
        )
        for n, r in results["variants"].items()
        if any(x.get("cpu_s_per_frame") for x in r.get("video", {}).values())
    ]
    if cpu:
        print("\nCPU seconds per frame (tool process tree, less sensitive to other load than fps):")
        print("\n".join("  " + c for c in cpu))
    disturbed = [
        (n, lbl, x["other_cpu_share"])
        for n, r in results["variants"].items()
        for lbl, x in r.get("video", {}).items()
        if (x.get("other_cpu_share") or 0) > 0.10
    ]
    if disturbed:
        print(
            "\nWARNING: other processes used CPU during these timed runs (fps understated): "
            + ", ".join(f"{n} {lbl} {s:.0%}" for n, lbl, s in disturbed)
        )
    errs = [
        (n, k)
        for n, r in results["variants"].items()
        for k, x in r.items()
        if isinstance(x, dict) and ("error" in x or any(isinstance(y, dict) and "error" in y for y in x.values()))
    ]
    if errs:
        print("\nERRORS in: " + ", ".join(f"{n} / {k}" for n, k in errs) + f" (see {json_out} and logs under {work})")
    print(f"\nresults: {json_out}")
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
