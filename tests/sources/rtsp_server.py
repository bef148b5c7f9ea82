"""A real RTSP server for the tests: GStreamer's gst-rtsp-server serving an H.264 MP4 on loopback.

Two halves in one file:

- run as a script with the SYSTEM Python, which has PyGObject (the test virtual
  environment does not)::

      /usr/bin/python3 rtsp_server.py PORT CLIP [MOUNT]

  It prints ``READY rtsp://127.0.0.1:PORT/MOUNT`` once it listens. Each client
  gets its own pipeline from the start of the clip (not shared), paced at the
  clip's frame rate like a live camera, so a reconnecting client sees the
  stream clock start again near 0, as from a restarted camera.
- imported by the tests: :class:`RtspServer` starts, kills and restarts that
  script on a free port and always cleans up.

Debian packages (see ``.ci/services.sh``): python3-gi, gir1.2-gst-rtsp-server-1.0,
gstreamer1.0-plugins-base, -good (qtdemux, rtph264pay, udp) and -bad (h264parse).
"""

from __future__ import annotations

import functools
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SYSTEM_PYTHON = Path("/usr/bin/python3")
ELEMENTS = ("filesrc", "qtdemux", "queue", "h264parse", "rtph264pay")
_PROBE = f"""
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer
Gst.init(None)
missing = [e for e in {ELEMENTS!r} if Gst.ElementFactory.find(e) is None]
print("missing GStreamer elements: " + ", ".join(missing) if missing else "ok")
"""


@functools.cache
def unavailable_reason() -> str | None:
    """Why the GStreamer RTSP server cannot run here, or None when it can."""
    if not SYSTEM_PYTHON.exists():
        return f"{SYSTEM_PYTHON} not found (the RTSP test server runs with the system Python + PyGObject)"
    try:
        out = subprocess.run(
            [str(SYSTEM_PYTHON), "-c", _PROBE], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run {SYSTEM_PYTHON}: {exc}"
    if out.returncode != 0 or out.stdout.strip() != "ok":
        lines = (out.stdout + out.stderr).strip().splitlines()
        detail = lines[-1] if lines else f"exit code {out.returncode}"
        return f"GStreamer RTSP server not usable ({detail}); install the packages in .ci/services.sh"
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RtspServer:
    """The script above as a subprocess: ``start()``, ``kill()``, ``freeze()``, ``stop()``.

    Output goes to a temporary log file rather than a pipe, so a chatty
    GStreamer can never block on a full pipe.
    """

    def __init__(self, clip: Path, port: int | None = None, mount: str = "cam") -> None:
        self.clip = Path(clip).resolve()
        self.port = port or free_port()
        self.mount = mount
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = Path(tempfile.mkstemp(prefix="vigil-rtsp-", suffix=".log")[1])

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/{self.mount}"

    def start(self, timeout: float = 15.0) -> RtspServer:
        self.stop()
        with self._log.open("wb") as log:
            self.proc = subprocess.Popen(
                [str(SYSTEM_PYTHON), __file__, str(self.port), str(self.clip), self.mount],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self._log.read_text(errors="replace")
            if "READY" in text:
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        output = self._log.read_text(errors="replace")
        self.stop()
        raise RuntimeError(f"RTSP test server did not start on port {self.port}:\n{output}")

    def kill(self) -> None:
        """Die at once, like a camera losing power: no RTSP TEARDOWN, sockets reset."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def freeze(self) -> None:
        """Stop sending without closing anything, like a cable pulled mid-stream."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGSTOP)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)  # a frozen process cannot act on SIGTERM
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def close(self) -> None:
        self.stop()
        self._log.unlink(missing_ok=True)

    def __enter__(self) -> RtspServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def main() -> int:
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    port, clip = sys.argv[1], sys.argv[2]
    mount = sys.argv[3] if len(sys.argv) > 3 else "cam"
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f'( filesrc location="{clip}" ! qtdemux name=d d.video_0 ! queue ! h264parse '
        "! rtph264pay name=pay0 pt=96 config-interval=1 )"
    )
    factory.set_shared(False)
    server.get_mount_points().add_factory(f"/{mount}", factory)
    if server.attach(None) == 0:
        print(f"ERROR cannot listen on 127.0.0.1:{port}", flush=True)
        return 1
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    print(f"READY rtsp://127.0.0.1:{port}/{mount}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
