"""The demo's two training runs: where they live, resuming one that Ctrl-C cut short, and
clearing an abandoned one before training from scratch."""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from pathlib import Path

from configs import load_config
from modelfiles.checkpoint import list_checkpoints
from stages import STAGES


@dataclass(frozen=True)
class DemoRuns:
    """The demo trains stage ``kind`` (``segm`` / ``facemask``) in ``weights / kind`` with the
    config ``configs/demo_{kind}.yaml`` on the photos prepared in ``train_root``."""

    weights: Path
    samples: Path
    train_root: Path

    def folder(self, kind: str) -> Path:
        """The run folder (the demo configs' ``run_name`` is the stage's name)."""
        return self.weights / kind

    def interrupted(self, kind: str) -> Path | None:
        """The newest checkpoint of ``kind`` when it is an ``_interrupted`` one (Ctrl-C)."""
        found = list_checkpoints(self.folder(kind), STAGES[kind])
        return found[-1] if found and found[-1].stem.endswith("_interrupted") else None

    def resume_option(self, kind: str) -> str:
        """``--resume PATH`` to continue an interrupted training, else nothing."""
        path = self.interrupted(kind)
        return f" --resume {path}" if path is not None else ""

    def clear(self, kind: str) -> None:
        """Before training ``kind`` from scratch: drop the run folder of an earlier attempt (the
        trainer refuses to start a second run in it)."""
        if self.interrupted(kind) is not None:
            return  # resuming: the trainer trims the logs to the checkpoint itself
        shutil.rmtree(self.folder(kind), ignore_errors=True)
        shutil.rmtree(self.samples / kind, ignore_errors=True)

    def final_checkpoint(self, kind: str) -> Path:
        """The checkpoint at the demo config's last iteration (not an ``_interrupted`` one); its
        expected name when training has not got there."""
        stage = STAGES[kind]
        cfg = load_config(f"configs/demo_{kind}.yaml")
        annotations = self.train_root / "annotations" / "train.csv"
        examples = sum(1 for line in annotations.open() if line.strip()) if annotations.is_file() else 0
        iterations = cfg.num_epochs * math.ceil(examples / cfg.batch_size)
        for path in list_checkpoints(self.folder(kind), stage):
            if stage.parse_checkpoint_name(path)[1] == iterations and not path.stem.endswith("_interrupted"):
                return path
        return self.folder(kind) / stage.checkpoint_name(cfg.num_epochs, iterations)

    def outputs(self, kind: str) -> list[Path]:
        """What a finished training leaves: its last checkpoint and its curves."""
        return [self.final_checkpoint(kind), self.folder(kind) / f"{kind}_curves.png"]
