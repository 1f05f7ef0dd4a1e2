"""The web app's picture in the docs (``docs/app.jpg``), made with ``make demo``'s models on a
held-out demo photo: ``.venv/bin/python -m demos.app_picture`` after ``make demo``.

It starts ``python3 app.py`` on a free loopback port, opens the page in the system Chromium
(Playwright's client, no browser download), uploads the photo, reconstructs, and saves the
page as a JPEG.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT / "demo_data" / "test" / "image_masked"
OUT = ROOT / "docs" / "app.jpg"
CONFIG = "configs/demo_predict.yaml"
TIMEOUT_MS = 120_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(port: int, log: Path) -> subprocess.Popen:
    """``app.py`` with the demo's models; returns once it serves (or raises with its log)."""
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "app.py", "--config", CONFIG, "--port", str(port)],
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while "serving on" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"the app did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.5)
    return proc


def take_picture(photo: Path, out: Path = OUT) -> Path:
    """Upload ``photo``, reconstruct, save the page at ``out``."""
    from playwright.sync_api import expect, sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise RuntimeError("no Chromium found (Debian: apt-get install chromium)")
    port = free_port()
    proc = start_app(port, out.with_suffix(".log"))
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1200, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/")
            page.set_input_files("#upload input[type=file]", str(photo))
            expect(page.locator("#status")).to_contain_text(photo.name, timeout=TIMEOUT_MS)
            page.click("#reconstruct")
            expect(page.locator("#status")).to_contain_text("0 brush strokes)", timeout=TIMEOUT_MS)
            expect(page.locator("#status")).not_to_contain_text("processing", timeout=TIMEOUT_MS)
            page.screenshot(path=str(out), type="jpeg", quality=70, full_page=True)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        out.with_suffix(".log").unlink(missing_ok=True)
    return out


if __name__ == "__main__":
    photos = sorted(PHOTOS.glob("*_masked.png"))
    if not photos:
        raise SystemExit(f"error: no held-out demo photos in {PHOTOS}: run make demo first")
    print(f"wrote {take_picture(photos[0]).relative_to(ROOT)}")
