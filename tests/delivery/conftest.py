"""Real receivers for delivery tests: a threaded HTTP server and a Mosquitto broker, both on loopback."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from vigil.storage import Store

SECRET = "s3cret-for-tests"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(cond: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'vigil.db'}")
    yield s
    s.close()


# -- webhook receiver ---------------------------------------------------------------------------


class Receiver:
    """A webhook receiver that checks what a real one must check, and records arrivals.

    ``mode`` is ``"ok"`` (204), or an HTTP status to answer with (e.g. 503, 400).
    Each accepted delivery is appended to ``arrivals`` as the CloudEvent; failed
    checks go to ``problems`` (the test asserts there are none). With another
    ``content_type`` (DATEX II, CAP) the body is not a CloudEvent: arrivals are
    ``(headers, raw body)`` and only the signature, content type and event id
    header are checked.
    """

    def __init__(self, secret: str = SECRET, content_type: str = "application/cloudevents+json") -> None:
        self.secret = secret
        self.content_type = content_type
        self.port = free_port()
        self.mode: str | int = "ok"
        self.requests = 0
        self.arrivals: list[dict[str, Any]] = []
        self.problems: list[str] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/vigil"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = receiver.handle(self.path, dict(self.headers.items()), body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            self.requests += 1
            if self.mode != "ok":
                return int(self.mode)
            problems = self._check(headers, body)
            if problems:
                self.problems.extend(problems)
                return 401
            cloudevents = self.content_type.startswith("application/cloudevents+json")
            self.arrivals.append(
                json.loads(body) if cloudevents else ({k.lower(): v for k, v in headers.items()}, body)
            )
            return 204

    def _check(self, headers: dict[str, str], body: bytes) -> list[str]:
        h = {k.lower(): v for k, v in headers.items()}
        ts = h.get("x-vigil-timestamp", "")
        expected = "sha256=" + hmac.new(self.secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        out = []
        if not hmac.compare_digest(expected, h.get("x-vigil-signature", "")):
            out.append("bad signature")
        if abs(time.time() - int(ts or 0)) > 300:
            out.append("stale timestamp")
        if not h.get("content-type", "").startswith(self.content_type):
            out.append(f"content-type {h.get('content-type')}")
        if not self.content_type.startswith("application/cloudevents+json"):
            eid = h.get("x-vigil-event-id")
            return out + ([] if eid and eid == h.get("idempotency-key") else ["event id headers"])
        ce = json.loads(body)
        data = ce.get("data", {})
        for key, want in (
            ("specversion", "1.0"),
            ("id", data.get("event_id")),
            ("source", f"/vigil/cameras/{data.get('camera_id')}"),
            ("type", f"org.vigil.incident.{data.get('state')}"),
            ("subject", data.get("incident_id")),
            ("time", data.get("wall_time")),
            ("datacontenttype", "application/json"),
        ):
            if ce.get(key) != want or want is None:
                out.append(f"{key}={ce.get(key)!r}")
        if h.get("x-vigil-event-id") != ce.get("id") or h.get("idempotency-key") != ce.get("id"):
            out.append("event id headers")
        return out

    def unique(self) -> list[dict[str, Any]]:
        """Arrivals de-duplicated by id (first arrival kept), as a receiver would."""
        seen: set[str] = set()
        out = []
        with self._lock:
            for ce in self.arrivals:
                if ce["id"] not in seen:
                    seen.add(ce["id"])
                    out.append(ce)
        return out


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    r.stop()


# -- Mosquitto -----------------------------------------------------------------------------------------


class Broker:
    """Debian's Mosquitto on 127.0.0.1:<free port>, persistence off, password auth.

    Users not in ``users`` are refused; tests use that to decide who gets back
    in first after a restart.
    """

    def __init__(self, exe: str) -> None:
        self.exe = exe
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="vigil-mqtt-"))
        self.passwd = self.dir / "passwd"
        self.proc: subprocess.Popen[bytes] | None = None
        self.users: dict[str, str] = {}

    def set_users(self, users: dict[str, str]) -> None:
        self.passwd.write_text("")
        for user, password in users.items():
            subprocess.run(["mosquitto_passwd", "-b", str(self.passwd), user, password], check=True, timeout=10)
        self.users = dict(users)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGHUP)  # reloads the password file

    def start(self) -> None:
        conf = self.dir / "mosquitto.conf"
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous false",
            f"password_file {self.passwd}",
            "persistence false",
            f"log_dest file {self.dir / 'mosquitto.log'}",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # keep access to the temp folder instead of dropping to 'mosquitto'
        conf.write_text("\n".join(lines) + "\n")
        self.proc = subprocess.Popen([self.exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start listening")

    def kill(self) -> None:
        """Crash the broker (SIGKILL): no goodbye to anyone, in-flight messages lost."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def log(self) -> str:
        p = self.dir / "mosquitto.log"
        return p.read_text(errors="replace")[-3000:] if p.exists() else ""

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def broker() -> Iterator[Broker]:
    exe = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if exe is None or shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto not installed (apt-get install mosquitto)")
    b = Broker(exe)
    b.set_users({"vigil": "vigil-pw", "sub": "sub-pw"})
    b.start()
    yield b
    b.close()


class Subscriber:
    """A QoS 1 subscriber to ``<prefix>/#`` that records (topic, payload, qos, retain)."""

    def __init__(self, port: int, prefix: str) -> None:
        self.messages: list[tuple[str, str, int, bool]] = []
        self.trigger: tuple[int, Callable[[], None]] | None = None  # (after N messages, call this)
        self.subscribed = threading.Event()
        self.disconnected = threading.Event()  # set once the connection is gone and every byte read
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"sub-{free_port()}")
        self.client.username_pw_set("sub", "sub-pw")
        self.client.on_connect = lambda c, *_: c.subscribe(f"{prefix}/#", qos=1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.on_disconnect = lambda *_: self.disconnected.set()
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        if not self.subscribed.wait(10):
            raise AssertionError("subscriber did not get its SUBACK")

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((msg.topic, msg.payload.decode(), msg.qos, bool(msg.retain)))
            fire = self.trigger is not None and len(self.messages) == self.trigger[0]
        if fire and self.trigger is not None:
            self.trigger[1]()

    def on(self, topic: str) -> list[tuple[str, int, bool]]:
        with self._lock:
            return [(p, q, r) for t, p, q, r in self.messages if t == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


# -- NATS with JetStream -------------------------------------------------------------------------------


class NatsServer:
    """Debian's nats-server on 127.0.0.1:<free port> with JetStream storing in a temporary folder.

    :meth:`restart` keeps the port and the store folder, as a server restart in
    production does, so streams and durable consumers survive it.
    """

    def __init__(self, exe: str) -> None:
        self.exe = exe
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="vigil-nats-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = (self.dir / "nats.log").open("ab")
        self.proc = subprocess.Popen(
            [self.exe, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.dir / "store")],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nats-server exited: {self.log()}")
            if "Server is ready" in self.log():
                return
            time.sleep(0.05)
        raise RuntimeError(f"nats-server did not get ready: {self.log()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None:
            self.proc.send_signal(sig)
            self.proc.wait(15)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        (self.dir / "nats.log").write_text("")
        self.start()

    def log(self) -> str:
        p = self.dir / "nats.log"
        return p.read_text(errors="replace")[-3000:] if p.exists() else ""

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def nats_server() -> Iterator[NatsServer]:
    pytest.importorskip("nats", reason="nats-py is not installed (pip install -e .[nats])")
    exe = shutil.which("nats-server") or ("/usr/sbin/nats-server" if Path("/usr/sbin/nats-server").exists() else None)
    if exe is None:
        pytest.skip("nats-server not installed (apt-get install nats-server; .ci/services-db.sh)")
    server = NatsServer(exe)
    server.start()
    yield server
    server.close()
