"""Train a stage: ``python3 train.py segm|facemask|CONFIG.yaml [--resume CKPT] [key=value ...]``.

Examples::

    python3 train.py segm img_size=128 num_epochs=2
    python3 train.py facemask root_dir=data/video/train val_dir=data/video/test
    python3 train.py facemask --resume weights/model_3_1500_interrupted.pth
    torchrun --nproc_per_node 2 train.py facemask
"""

from __future__ import annotations

import argparse

import cli

cli.use_project_venv()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Train the mask segmenter (segm) or the face reconstructor (facemask).",
        epilog="Overrides use config keys, e.g. img_size=128 num_epochs=2 device=cpu; "
               "docs/configuration.md lists every key. Each run writes into its own folder under "
               "checkpoint_path (weights/STAGE-YYYYmmdd-HHMMSS unless run_name=NAME).")
    parser.add_argument("name", help="config name in configs/ (segm, facemask, ...) or a YAML path")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    parser.add_argument("--config", help="YAML file to use instead of configs/NAME.yaml")
    parser.add_argument("--resume", metavar="CKPT", help="continue from this checkpoint")
    args = parser.parse_intermixed_args(argv)  # overrides may follow --resume

    cli.setup_logging()
    from configs import ConfigError, load_config
    from datasets.layout import DatasetError
    from modelfiles.checkpoint import CheckpointError
    from models import PerceptualUnavailable
    from trainers import TRAINERS, TrainingStopped
    from trainers.run_folder import resumed_config

    with cli.one_line_errors(ConfigError, DatasetError, CheckpointError, PerceptualUnavailable,
                             TrainingStopped, ValueError, FileNotFoundError):
        task = args.name if args.name in TRAINERS else None
        # A resumed run goes on with the config it was trained with (unless a YAML is named).
        cfg = resumed_config(args.resume, args.overrides) if args.resume and not args.config else None
        cfg = cfg or load_config(args.config or args.name, args.overrides)
        if task is not None and args.config is None and cfg.task != task:
            raise ConfigError(f"config '{args.name}' is for task '{cfg.task}'")
        task = task or cfg.task
        if task not in TRAINERS:
            raise ConfigError(f"config {cfg.source} has task '{cfg.task}'; train.py trains "
                              f"{' or '.join(TRAINERS)}")
        trainer = TRAINERS[task](cfg, resume=args.resume)
        trainer.fit()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
