"""Regenerate docs/app.png from the real app: `python app.py` started on a free port, one example clip
recognized in headless Chromium (Playwright, as tests/test_app.py drives it), the page captured.

    .venv/bin/python docs/screenshot.py [--clip gym_gesture/examples/squat.mp4] [--out docs/app.png]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
START_TIMEOUT_S = 180


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", default=str(ROOT / "gym_gesture" / "examples" / "squat.mp4"))
    parser.add_argument("--out", default=str(ROOT / "docs" / "app.png"))
    args = parser.parse_args()
    from playwright.sync_api import expect, sync_playwright

    port = _free_port()
    log = tempfile.NamedTemporaryFile("w", suffix=".log", delete=False)
    server = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, stdout=log,
                              stderr=subprocess.STDOUT, env=dict(os.environ, GRADIO_ANALYTICS_ENABLED="False"))
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the app did not start; its log: {log.name}")
                time.sleep(0.5)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url)
            page.locator("#clip input[type=file]").set_input_files(args.clip)
            page.get_by_role("button", name="Recognise").click()
            expect(page.locator("#verdict .headline")).not_to_be_empty(timeout=120_000)
            page.wait_for_function("() => { const v = document.querySelector('#overlay video');"
                                   " return v && v.readyState >= 2; }", timeout=30_000)
            # A frame a second in, with its caption showing, rather than the first.
            page.locator("#overlay video").evaluate("v => { v.currentTime = Math.min(1, v.duration / 2); }")
            page.wait_for_timeout(1000)
            page.screenshot(path=args.out, full_page=True)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
