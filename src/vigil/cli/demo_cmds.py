"""``vigil demo``: the incident pipeline on the bundled clip, and the operator console over it.

By default the demo camera replays the clip in real time, in a loop, like a live
camera, and the console is served on 127.0.0.1 with two demo accounts (an
operator and an administrator, fresh passwords each run, printed) until Ctrl-C.
Every console page then has something to show: incidents arriving in the feed,
each with its redacted snapshot and clip, the camera online with a redacted
thumbnail and live view, its zone, its place on the map, and the audit log.

``--no-serve`` analyses the clip once, as fast as possible, prints the
incidents and where their clips are, and exits (what CI runs).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

import yaml

DEMO_USERS = (("operator", "operator"), ("admin", "admin"))  # (user name, role)


def _demo_dir(args: argparse.Namespace) -> Path:
    if args.output is not None:
        os.environ["VIGIL_DEMO_DIR"] = args.output
    else:
        os.environ.setdefault("VIGIL_DEMO_DIR", "vigil-demo-output")
    return Path(os.environ["VIGIL_DEMO_DIR"])


def write_live_config(folder: Path) -> Path:
    """The demo configuration as a live camera (looping, real time), written beside the demo's data.

    Served from a copy so the zone editor saves to it, never into the installed package.
    """
    from vigil.assets import DEMO_CONFIG, SAMPLE_CLIP

    config = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))
    for cam in config["cameras"]:
        cam["source"].update({"url": str(SAMPLE_CLIP), "loop": True, "realtime": True})
    data = folder.resolve()
    config["storage"] = {"database_url": f"sqlite:///{data / 'vigil.db'}", "media_dir": str(data / "media")}
    path = folder / "demo-live.yaml"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# Written by `vigil demo` on every start (zone edits in the console land here until the next start).\n"
        + yaml.safe_dump(config, sort_keys=False),
        encoding="utf-8",
    )
    return path


def demo_accounts(database_url: str) -> dict[str, str]:
    """Create or reset the demo accounts with new random passwords; returns {user: password}."""
    from vigil.storage import accounts
    from vigil.storage.store import Store

    out = {}
    with Store(database_url) as store:
        for name, role in DEMO_USERS:
            password = secrets.token_urlsafe(9)
            if accounts.get_user(store, name) is None:
                accounts.create_user(store, name, password, role)
            else:
                accounts.set_password(store, name, password)
                accounts.set_disabled(store, name, False)
            out[name] = password
    return out


def _summary(folder: Path) -> None:
    media = folder / "media"
    clips = sorted(media.rglob("*.mp4"))
    print(f"{len(clips)} redacted incident clip(s) and their snapshots are in {media.resolve()}")
    print(f"incidents are stored in {folder.resolve() / 'vigil.db'}")


def cmd_demo(args: argparse.Namespace) -> int:
    from vigil.assets import DEMO_CONFIG, SAMPLE_CLIP
    from vigil.cli.run_cmds import run_until_stopped
    from vigil.config import ConfigError, load_config

    folder = _demo_dir(args)
    print(f"Vigil demo: {SAMPLE_CLIP} with zones from {DEMO_CONFIG}", flush=True)
    if args.no_serve:
        code = run_until_stopped(DEMO_CONFIG, stop_at_end=True)
        if code == 0:
            _summary(folder)
        return code

    config_path = write_live_config(folder)
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    passwords = demo_accounts(config.storage.database_url)

    def banner(url: str) -> None:
        print(f"Console: {url}", flush=True)
        print(f"  operator account: operator / {passwords['operator']}   (acknowledge, resolve, comment)")
        print(f"  admin account:    admin / {passwords['admin']}   (also the zone editor and the audit log)")
        print(
            "The demo camera replays the clip in real time, in a loop: incidents appear in the feed as they are "
            "detected. Press Ctrl-C to stop.",
            flush=True,
        )

    code = run_until_stopped(
        config_path, stop_at_end=False, api=(args.host, args.port), config=config, on_serving=banner
    )
    if code == 0:
        _summary(folder)
    return code


def add_parsers(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser(
        "demo", help="run the incident pipeline on the bundled clip and serve the console over it (until Ctrl-C)"
    )
    demo.add_argument("-o", "--output", help="folder for the database and clips (default vigil-demo-output)")
    demo.add_argument(
        "--no-serve", action="store_true", help="analyse the clip once as fast as possible, print incidents and exit"
    )
    demo.add_argument("--host", default="127.0.0.1", help="console address (default 127.0.0.1)")
    demo.add_argument("--port", type=int, default=8080, help="console port (default 8080)")
    demo.set_defaults(func=cmd_demo)
