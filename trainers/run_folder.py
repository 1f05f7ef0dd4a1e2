"""A training run's folder: ``checkpoint_path/RUN`` (RUN: ``run_name``, or ``{stage}-YYYYmmdd-HHMMSS``).

Claimed when the run starts, so two runs never mix their checkpoints or logs (``--resume
CKPT`` continues in CKPT's folder); cleared of the partial files a run killed while saving
left; its periodic checkpoints rotated to the newest ``keep_last``, with one ``_best`` kept
beside them; and the checkpoints a run starts from (``--resume``, ``init_weights``) read with
their stage checked.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from configs import Config
from configs.loader import parse_overrides
from configs.schema import KEYS
from core.files import is_temp_sibling
from modelfiles.checkpoint import Checkpoint, CheckpointError, list_checkpoints
from stages import Stage
from trainers.distributed import DistContext, broadcast_object


def log_files_in(folder: Path, stage: Stage) -> list[Path]:
    """``stage``'s training and validation logs in ``folder`` (those that exist)."""
    return [p for p in (folder / f"{stage.name}_log.csv", folder / f"{stage.name}_val.csv") if p.is_file()]


def choose_run_dir(cfg: Config, stage: Stage, dist: DistContext, resume: str | Path | None) -> Path:
    """Where this run writes: the resumed checkpoint's folder, or a new run folder.

    A ``run_name`` whose folder already holds a run is refused (resume it instead), so
    one folder's logs and curves always describe one run.
    """
    if resume is not None:
        return Path(resume).parent
    base = Path(cfg.checkpoint_path)
    if cfg.run_name:
        folder = base / cfg.run_name
        if list_checkpoints(folder, stage) or log_files_in(folder, stage):
            raise CheckpointError(
                f"{folder} already holds a {stage.title} run; continue it with --resume "
                f"CKPT, or give another run_name (none: a new timestamped folder)")
        return folder
    name = None
    if dist.is_main:  # the other ranks take rank 0's name (their clocks may differ)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        base.mkdir(parents=True, exist_ok=True)
        for k in range(1, 1000):
            name = f"{stage.name}-{stamp}" + (f"-{k}" if k > 1 else "")
            try:
                (base / name).mkdir()  # claimed: a run started in the same second takes -2
                break
            except FileExistsError:
                continue
    return base / broadcast_object(name, dist)


def remove_partial_saves(run_dir: Path) -> None:
    """Delete the temporary checkpoint files a run killed while saving left behind."""
    if run_dir.is_dir():
        for stale in run_dir.iterdir():
            if is_temp_sibling(stale) and stale.suffix == ".pth":
                stale.unlink(missing_ok=True)


def drop_old_periodic(run_dir: Path, stage: Stage, keep_last: int) -> None:
    """Keep the newest ``keep_last`` periodic checkpoints (not ``_interrupted`` or ``_best``)."""
    periodic = [p for p in list_checkpoints(run_dir, stage)
                if p.stem.endswith(f"_{stage.parse_checkpoint_name(p)[1]}")]
    for old in periodic[:-keep_last]:
        old.unlink(missing_ok=True)


def best_checkpoints(run_dir: Path, stage: Stage) -> list[Path]:
    """``stage``'s ``..._best.pth`` files in ``run_dir`` (one, once a run has validated)."""
    return [p for p in run_dir.glob("*_best.pth") if stage.parse_checkpoint_name(p)]


def read_start(path: str | Path, stage: Stage, what: str) -> Checkpoint:
    """The checkpoint a run starts from (``what``: ``--resume`` or ``init_weights``), refused
    in one line when another stage wrote it."""
    checkpoint = Checkpoint.read(path)
    if checkpoint.kind not in (None, stage.name):
        raise CheckpointError(f"{what} {path} is a '{checkpoint.kind}' checkpoint; it cannot start "
                              f"'{stage.name}' training")
    return checkpoint


def resumed_config(path: str | Path, overrides: list[str]) -> Config | None:
    """The config ``path``'s run was trained with, the command line's ``key=value`` on top, so
    that ``--resume`` continues that run (its size, epochs, data, run folder) rather than the
    YAML file's defaults; None for a checkpoint that records no config (the published ones).

    Keys this version does not know are left out (a checkpoint may outlive a setting).
    """
    recorded = Checkpoint.read(path).config
    if not recorded:
        return None
    kept = {k: v for k, v in recorded.items() if k in KEYS or k == "cuda"}
    return Config.from_dict({**kept, **parse_overrides(overrides)}, f"the config recorded in {path}")
