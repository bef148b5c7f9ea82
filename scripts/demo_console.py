"""Run the bundled demo with the API and console, seed a little operator activity, optionally take screenshots.

    .venv/bin/python scripts/demo_console.py --data /tmp/vigil-console-demo --screenshots docs/screenshots/

The bundled clip (demo.yaml's camera and restricted zone) is analysed to its end
by a :class:`LiveRunner`, with the API served over its store by
:func:`vigil.api.serve.start_for_runner` on 127.0.0.1. Two accounts are created
(``admin`` / ``operator``, passwords below). The operator acknowledges and
comments on the newest incident and plays its clip, so the audit log has
entries. With ``--screenshots`` ``scripts/screenshots.py`` is then run as the
admin and the script exits; without it the console stays up until Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

from vigil.api.serve import start_for_runner
from vigil.assets import DEMO_CONFIG, SAMPLE_CLIP
from vigil.config import load_config
from vigil.pipeline.runner import LiveRunner
from vigil.storage import accounts
from vigil.storage.store import Store

USERS = {"admin": ("admin", "admin-demo-pass"), "operator": ("operator", "operator-demo-pass")}


def write_config(data: Path) -> Path:
    """demo.yaml with the clip's absolute path and storage under ``data``."""
    config = yaml.safe_load(DEMO_CONFIG.read_text())
    config["cameras"][0]["source"]["url"] = str(SAMPLE_CLIP)
    config["storage"] = {"database_url": f"sqlite:///{data / 'vigil.db'}", "media_dir": str(data / "media")}
    path = data / "vigil.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def operator_activity(base: str) -> None:
    """Acknowledge and comment on the newest incident and fetch its clip, as the operator."""
    with httpx.Client(base_url=base, timeout=10) as http:
        name, password = USERS["operator"]
        csrf = http.post("/api/auth/login", json={"username": name, "password": password}).json()["csrf_token"]
        items = http.get("/api/incidents", params={"limit": 1}).json()["items"]
        if not items:
            return
        iid = items[0]["id"]
        headers = {"X-CSRF-Token": csrf}
        http.post(f"/api/incidents/{iid}/ack", headers=headers).raise_for_status()
        text = "Person left the restricted area on their own."
        http.post(f"/api/incidents/{iid}/comments", json={"text": text}, headers=headers).raise_for_status()
        http.get(f"/api/incidents/{iid}/clip", headers={"Range": "bytes=0-"}).raise_for_status()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, help="folder for the database and evidence (default: a temporary one)")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--screenshots", type=Path, help="save console screenshots here, then exit")
    ap.add_argument("--timeout", type=float, default=300, help="seconds to wait for the clip to be analysed")
    args = ap.parse_args(argv)
    data = args.data or Path(tempfile.mkdtemp(prefix="vigil-console-demo-"))
    data.mkdir(parents=True, exist_ok=True)
    config_path = write_config(data)
    config = load_config(config_path)
    with Store(config.storage.database_url) as store:
        for role, (name, password) in USERS.items():
            if accounts.get_user(store, name) is None:
                accounts.create_user(store, name, password, role)

    runner = LiveRunner(config)
    handle = start_for_runner(runner, config_path, port=args.port)
    base = f"http://127.0.0.1:{args.port}"
    try:
        runner.start()
        print(f"console: {base}/  (admin / {USERS['admin'][1]}, operator / {USERS['operator'][1]}); data in {data}")
        deadline = time.monotonic() + args.timeout
        while not runner.finished():
            if time.monotonic() > deadline:
                print("the clip was not analysed in time", file=sys.stderr)
                return 1
            time.sleep(0.5)
        time.sleep(4.0)  # the last incident's end and post-roll
        operator_activity(base)
        if args.screenshots is None:
            print("analysed the clip; serving until Ctrl-C")
            while True:
                time.sleep(1.0)
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import screenshots

        name, password = USERS["admin"]
        shot_args = ["--base-url", base, "--user", name, "--password", password, "--out", str(args.screenshots)]
        return screenshots.main(shot_args)
    except KeyboardInterrupt:
        return 0
    finally:
        handle.stop()
        runner.stop()


if __name__ == "__main__":
    raise SystemExit(main())
