"""Start-up shared by the command-line scripts: the project's .venv, logging, one-line errors.

Only scripts import this (``train.py``, ``infer.py``, ``python3 -m prepare``, ...); the
library packages never switch interpreters or configure logging themselves.
"""

from __future__ import annotations

import logging
import os
import sys
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"


def use_project_venv() -> None:
    """Re-run this script under ``.venv/bin/python`` when the current Python lacks torch.

    So ``python3 train.py segm`` works as published after ``make setup``, without
    activating the virtual environment first.
    """
    try:
        import torch  # noqa: F401
    except ImportError:
        # A venv's python is a symlink to the base interpreter, so compare prefixes, not
        # executables; orig_argv keeps "-m package.module" (sys.argv[0] is "-m" during -m imports).
        in_venv = Path(sys.prefix).resolve() == VENV_PYTHON.parents[1].resolve()
        if VENV_PYTHON.exists() and not in_venv:
            os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), *sys.orig_argv[1:]])
        sys.exit("error: PyTorch is not installed; run 'make setup' (creates .venv) first")


def idle_threads_sleep() -> None:
    """Let OpenMP's idle threads sleep at once (``OMP_WAIT_POLICY=PASSIVE``, unless it is set).

    Inference interleaves torch's short parallel operations with OpenCV, onnxruntime and the
    video encoder on the same cores; by default torch's OpenMP threads spin for a while after
    each operation, taking those cycles from the rest (docs/speed.md, "On video"). Call before
    torch is imported: OpenMP reads the setting once, when it starts.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class _ProgressAwareHandler(logging.StreamHandler):
    """Log lines printed above a running tqdm progress bar instead of through it."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm import tqdm

            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


def setup_logging() -> None:
    handler = _ProgressAwareHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])


@contextmanager
def one_line_errors(*kinds: type[BaseException]):
    """Turn the expected errors (bad config, missing data, ...) into ``error: ...`` + exit 2."""
    try:
        yield
    except kinds as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
