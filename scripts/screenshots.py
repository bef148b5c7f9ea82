"""Log in to a running Vigil console and save a PNG screenshot of each page.

    python scripts/screenshots.py --base-url http://127.0.0.1:8000 --user admin --password ... --out docs/screenshots/

Uses Debian's Chromium (/usr/bin/chromium, or --chromium PATH) through Playwright's ``executable_path``;
it never downloads a browser. The incident and camera pages use the first incident and camera the API lists.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def settle(page, seconds: float) -> None:
    """Let the page's JS fetch and draw (network idle never comes on pages with SSE or MJPEG)."""
    page.wait_for_load_state("load")
    time.sleep(seconds)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=800)
    ap.add_argument("--wait", type=float, default=1.5, help="seconds to let each page render")
    ap.add_argument(
        "--feed-state", default="", choices=["open", "ended", ""], help="feed filter for its shot ('' = all recent)"
    )
    ap.add_argument("--full-page", action="store_true", help="capture whole pages, not just the viewport")
    args = ap.parse_args(argv)
    if not Path(args.chromium).exists():
        print(f"no Chromium at {args.chromium} (apt-get install chromium; see .ci/services-web.sh)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    base = args.base_url.rstrip("/")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vigil-shots-") as profile, sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            profile,
            executable_path=args.chromium,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": args.width, "height": args.height},
            device_scale_factor=1,
        )
        page = ctx.new_page()
        page.goto(f"{base}/login")
        page.screenshot(path=str(args.out / "login.png"))
        page.fill("#username", args.user)
        page.fill("#password", args.password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        # First incident and camera, through the browser's session.
        first_incident = page.evaluate(
            "fetch('/api/incidents?limit=1').then((r) => r.json()).then((d) => (d.items[0] || {}).id || null)"
        )
        first_camera = page.evaluate("fetch('/api/cameras').then((r) => r.json()).then((d) => (d[0] || {}).id || null)")
        pages = [("feed", "/"), ("cameras", "/cameras"), ("map", "/map"), ("audit", "/admin/audit")]
        if first_incident:
            pages.insert(1, ("incident", f"/incidents/{first_incident}"))
        if first_camera:
            pages += [("camera", f"/cameras/{first_camera}"), ("zones", f"/cameras/{first_camera}/zones")]
        for name, path in pages:
            page.goto(base + path)
            settle(page, args.wait)
            if name == "feed" and args.feed_state != "open":
                page.select_option("#f-state", args.feed_state)  # the feed opens on open incidents only
                settle(page, args.wait)
            target = args.out / f"{name}.png"
            page.screenshot(path=str(target), full_page=args.full_page)
            print(target)
        ctx.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
