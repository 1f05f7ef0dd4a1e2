"""Serving the real app (``python3 app.py``) from a test: start it on a free loopback port with
given weights, read its memory, stop it with SIGTERM as a user's ``kill`` would."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers_infer import ONE_THREAD_ENV

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """A process's resident memory (VmRSS), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def start_app(weights: tuple[Path, Path], folder: Path, *extra: str) -> dict:
    """``app.py`` with these checkpoints, serving; its URL, process, temporary folder and log."""
    port, log = free_port(), folder / "app.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, str(REPO / "app.py"), "--port", str(port), "--segm-weights",
                                 str(weights[0]), "--recon-weights", str(weights[1]), "dilate_kernel=3",
                                 *extra], cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=ONE_THREAD_ENV)
    deadline = time.monotonic() + 120
    while "serving on" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the app did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.5)
    text = log.read_text()
    workspace = Path(re.search(r"temporary files in (\S+);", text).group(1))
    return {"url": f"http://127.0.0.1:{port}/", "proc": proc, "workspace": workspace, "log": log}


def stop_app(server: dict) -> None:
    """SIGTERM, as ``kill`` sends; the app must exit and leave its temporary folder deleted."""
    proc = server["proc"]
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert not server["workspace"].exists(), "stopping the app deletes its temporary folder"
