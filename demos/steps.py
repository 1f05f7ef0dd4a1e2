"""Run the demo as named steps that are skipped on a second run once their outputs exist.

A step is done when its stamp file (written after it succeeded) and all its outputs
exist; deleting an output, or ``--fresh``, makes it run again, and every step after it
(each step may use what the earlier ones wrote). Commands run as a user
would type them (``python3 train.py ...``), with this Python in place of ``python3`` so
the same environment runs them.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


class StepFailed(RuntimeError):
    """A step's command failed; the message names the step and how to rerun it."""


@dataclass
class Step:
    """One stage of the demo.

    ``command``: a shell-style command line (``python3 X.py ...``) run as a subprocess; or
    ``action``: a Python function, for what has no command of its own (making the demo
    photos, the table). ``outputs``: files whose presence means the step is done.
    """

    def output_paths(self) -> list[Path]:
        return self.outputs() if callable(self.outputs) else list(self.outputs)

    name: str
    outputs: list[Path] | Callable[[], list[Path]]  # a function: paths known only once earlier steps ran
    command: str | None = None
    action: Callable[[], None] | None = None
    before: Callable[[], None] | None = None  # clears what an abandoned earlier attempt left


@dataclass
class StepLog:
    """Wall time per step (None: skipped because done)."""

    seconds: dict[str, float | None] = field(default_factory=dict)


def argv_for(command: str) -> list[str]:
    """``python3 X.py ...`` -> ``[sys.executable, X.py, ...]``: the README's command, run
    with the interpreter running the demo."""
    args = shlex.split(command)
    if args and args[0] in ("python3", "python"):
        args[0] = sys.executable
    return args


class StepRunner:
    """Runs ``Step``s in order, printing a header per step and skipping finished ones."""

    def __init__(self, stamp_dir: Path, env: dict[str, str] | None = None) -> None:
        self.stamp_dir = stamp_dir
        self.env = {**os.environ, **(env or {})}
        self.log = StepLog()

    def stamp(self, step: Step) -> Path:
        return self.stamp_dir / f"{step.name.replace(' ', '_')}.done"

    def is_done(self, step: Step) -> bool:
        return self.stamp(step).is_file() and all(p.exists() for p in step.output_paths())

    def run(self, steps: list[Step]) -> StepLog:
        redo_rest = False
        for k, step in enumerate(steps, 1):
            header = f"[{k}/{len(steps)}] {step.name}"
            if not redo_rest and self.is_done(step):
                print(f"{header}: done already, skipped (--fresh redoes it)", flush=True)
                self.log.seconds[step.name] = None
                continue
            redo_rest = True
            print(f"\n{header}" + (f": {step.command}" if step.command else ""), flush=True)
            start = time.perf_counter()
            self.stamp(step).unlink(missing_ok=True)
            if step.before is not None:
                step.before()
            if step.command is not None:
                self._run_command(step)
            if step.action is not None:
                step.action()
            missing = [str(p) for p in step.output_paths() if not p.exists()]
            if missing:
                raise StepFailed(f"step '{step.name}' finished but did not write {', '.join(missing)}")
            self.stamp_dir.mkdir(parents=True, exist_ok=True)
            self.stamp(step).write_text(step.command or step.name)
            self.log.seconds[step.name] = time.perf_counter() - start
        return self.log

    def _run_command(self, step: Step) -> None:
        """Run the step's command. Ctrl-C reaches the command too (same terminal): it is left
        to the command (training saves an ``_interrupted`` checkpoint, which the next demo
        run resumes) and the demo stops once the command has exited."""
        interrupted = []
        previous = signal.signal(signal.SIGINT, lambda signum, frame: interrupted.append(signum))
        try:
            result = subprocess.run(argv_for(step.command), env=self.env)
        finally:
            signal.signal(signal.SIGINT, previous)
        if interrupted:
            raise StepFailed(f"interrupted during '{step.name}'; run the demo again to continue from here")
        if result.returncode != 0:
            raise StepFailed(f"step '{step.name}' failed (exit {result.returncode}): {step.command}")
