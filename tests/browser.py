"""Headless Chromium for the page tests and screenshots: a fresh profile, no network.

``python tests/browser.py PAGE.html OUT.png`` writes a screenshot (used by make targets).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--hide-scrollbars",
         # No name resolves and no proxy answers: a page that tried to fetch would fail.
         "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9")


def screenshot(page: Path, out: Path, profile: Path, width: int = 1100,
               height: int = 2400) -> Path:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise RuntimeError("chromium is not installed (apt-get install -y chromium)")
    subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}",
                    f"--window-size={width},{height}", f"--screenshot={out.resolve()}",
                    page.resolve().as_uri()],
                   check=True, capture_output=True, timeout=120)
    return out


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as profile:
        size = [int(x) for x in sys.argv[3].split(",")] if len(sys.argv) > 3 else [1100, 2400]
        screenshot(Path(sys.argv[1]), Path(sys.argv[2]), Path(profile), *size)
