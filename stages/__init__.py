"""The two stages, each described once: trainers, checkpoints, inference and configs read these records.

Stage 1, ``segm``, finds the face mask; stage 2, ``facemask``, paints the face back (its
names on the command line are the published ones). Everything else that differs between
the two stages and is not code lives here, so a message, a file name and a config key
cannot disagree about what a stage is called.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Stage:
    """One stage of the system.

    Attributes:
        name: on the command line (``train.py NAME``), in configs (``task``) and checkpoints.
        title: in messages ("no segmentation weights ...").
        prefix: checkpoint files are ``{prefix}{epoch}_{iter}[_interrupted|_best].pth``.
        weights_key: the checkpoint key holding the network inference runs.
        model: the network's kind in ``models.build_model``.
        weights_option / weights_config_key: how inference is told which file to load.
        best_metric: the validation metric (higher is better) that picks ``_best``.
        sample_prefix: sample grids are ``{sample_prefix}{epoch}_{iter}.png``.
    """

    name: str
    title: str
    prefix: str
    weights_key: str
    model: str
    weights_option: str
    weights_config_key: str
    best_metric: str
    sample_prefix: str

    @property
    def train_command(self) -> str:
        return f"python3 train.py {self.name}"

    def checkpoint_name(self, epoch: int, iteration: int, suffix: str = "") -> str:
        return f"{self.prefix}{epoch}_{iteration}{suffix}.pth"

    def parse_checkpoint_name(self, path: Path) -> tuple[int, int] | None:
        """``(epoch, iteration)`` from one of this stage's checkpoint file names, else None."""
        m = re.match(rf"^{re.escape(self.prefix)}(\d+)_(\d+)(_interrupted|_best)?\.pth$", Path(path).name)
        return (int(m.group(1)), int(m.group(2))) if m else None


SEGMENTATION = Stage(name="segm", title="segmentation", prefix="model_segm_", weights_key="model",
                     model="segm", weights_option="--segm-weights", weights_config_key="segm_weights",
                     best_metric="dice", sample_prefix="segm_")
RECONSTRUCTION = Stage(name="facemask", title="reconstruction", prefix="model_", weights_key="G",
                       model="generator", weights_option="--recon-weights",
                       weights_config_key="recon_weights", best_metric="psnr_mask", sample_prefix="")

STAGES: dict[str, Stage] = {s.name: s for s in (SEGMENTATION, RECONSTRUCTION)}
