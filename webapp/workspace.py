"""The app's one temporary folder: a folder per browser session inside it, removed when that
session ends and, all of it, when the app stops. Gradio keeps its own copies of uploads and
downloads in the same folder (``serve`` points ``GRADIO_TEMP_DIR`` at it)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path


class Workspace:
    """The app's temporary folder: one subfolder per browser session."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="facemask-app-"))

    def session(self, key: str) -> Path:
        # A session hash comes from the client: keep only what cannot climb out of the folder.
        folder = self.root / "sessions" / "".join(c for c in key if c.isalnum())[:64]
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def end_session(self, key: str) -> None:
        shutil.rmtree(self.session(key), ignore_errors=True)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
