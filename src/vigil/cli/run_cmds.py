"""``vigil run``: the live pipeline with a status line (``vigil demo`` is in :mod:`vigil.cli.demo_cmds`)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vigil.config import ConfigError, VigilConfig, load_config
from vigil.core.events import IncidentEvent


def _print_event(event: IncidentEvent) -> None:
    where = ""
    if event.state == "new" and "clip" in event.details:
        where = f"  snapshot {event.details['snapshot']}  clip {event.details['clip']}"
    end = f" end {event.end_s:.1f}s" if event.end_s is not None else ""
    print(
        f"[{event.camera_id}] {event.state.upper():6} {event.type:16} start {event.start_s:6.1f}s{end} "
        f"conf {event.confidence:.2f} sev {event.severity} id {event.incident_id[:8]}{where}",
        flush=True,
    )


def _status_line(status: dict) -> str:
    cams = status["cameras"]
    online = sum(1 for c in cams.values() if c["state"] == "online")
    analysed = sum(c["analysed"] for c in cams.values())
    dropped = sum(c["dropped"] for c in cams.values())
    open_inc = sum(c["open_incidents"] for c in cams.values())
    backlog = sum(status["delivery_backlog"].values())
    nodes = {c["node"] for c in cams.values() if c.get("node")}
    on = f" on {len(nodes)} node(s)" if "groups" in status else ""
    return (
        f"{online}/{len(cams)} cameras online{on} | {analysed} frames analysed | {dropped} dropped | "
        f"{open_inc} open incidents | {status['events']} events | delivery backlog {backlog} | "
        f"up {status['uptime_s']:.0f}s"
    )


def run_until_stopped(
    config_path: Path,
    stop_at_end: bool,
    status_every_s: float = 2.0,
    api: tuple[str, int] | None = None,
    *,
    config: VigilConfig | None = None,
    on_serving: Callable[[str], None] | None = None,
    cluster: str | None = None,
) -> int:
    """Run the live pipeline until SIGINT/SIGTERM (or, for files, the end of every clip).

    ``api`` is (host, port) to also serve the REST API and console, or None;
    ``on_serving`` is told its URL (by default a hint about ``vigil user add`` is
    printed). ``config`` is ``config_path`` already loaded, if the caller has it.
    ``cluster`` (``local``, ``auto`` or a Ray address) runs the cameras in groups on
    a Ray cluster instead of in this process.
    """
    from vigil.pipeline.runner import LiveRunner

    if config is None:
        try:
            config = load_config(config_path)
        except ConfigError as exc:
            print(str(exc), file=sys.stderr)
            return 2
    runner: Any
    if cluster is None:
        runner = LiveRunner(config, listeners=[_print_event])
    else:
        from vigil.cluster import ClusterError

        try:
            from vigil.cluster.runner import ClusterRunner

            runner = ClusterRunner(config, cluster, listeners=[_print_event])
        except ClusterError as exc:
            print(str(exc), file=sys.stderr)
            return 2
        try:
            runner.start()
        except ClusterError as exc:
            runner.store.close()
            print(str(exc), file=sys.stderr)
            return 2
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    tty = sys.stderr.isatty()
    if cluster is None:
        runner.start()
    api_handle = None
    last_line = 0.0
    code = 0
    try:
        if api is not None:
            from vigil.api.serve import start_for_runner

            try:
                api_handle = start_for_runner(runner, config_path, api[0], api[1])
            except (RuntimeError, OSError) as exc:
                print(f"cannot serve the console on {api[0]}:{api[1]} ({exc}); is the port in use?", file=sys.stderr)
                code = 2
                stop.set()
            else:
                scheme = "https" if config.api.tls_certfile else "http"
                url = f"{scheme}://{api[0]}:{api[1]}/"
                if on_serving is not None:
                    on_serving(url)
                else:
                    print(f"console and API on {url} (create a user with: vigil user add)", file=sys.stderr)
        while not stop.wait(0.2):
            if stop_at_end and runner.finished():
                break
            if time.monotonic() - last_line >= (status_every_s if tty else 10 * status_every_s):
                last_line = time.monotonic()
                line = _status_line(runner.status())
                print(("\r" + line + "\x1b[K") if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)
    finally:
        if tty:
            print(file=sys.stderr)
        print("stopping: ending open incidents and writing their clips...", file=sys.stderr, flush=True)
        if api_handle is not None:
            api_handle.stop()  # before the runner closes the store
        runner.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(_status_line(runner.status()), file=sys.stderr)
    return code


def cmd_run(args: argparse.Namespace) -> int:
    api = None if args.no_api else (args.host, args.port)
    return run_until_stopped(Path(args.config), stop_at_end=args.exit_at_end, api=api, cluster=args.cluster)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="watch the configured cameras until stopped (SIGINT/SIGTERM)")
    run.add_argument("-c", "--config", required=True, help="YAML configuration file")
    run.add_argument("--exit-at-end", action="store_true", help="stop when every (file) camera has ended")
    run.add_argument("--no-api", action="store_true", help="do not serve the REST API and console")
    run.add_argument("--host", default="127.0.0.1", help="API/console address (default 127.0.0.1)")
    run.add_argument("--port", type=int, default=8080, help="API/console port (default 8080)")
    run.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="run the cameras in groups on a Ray cluster: 'local' starts one on this machine, 'auto' joins the "
        "running one, or its address (needs PostgreSQL and the cluster extra: pip install -e .[cluster])",
    )
    run.set_defaults(func=cmd_run)
