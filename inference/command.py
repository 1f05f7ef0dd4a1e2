"""The command line ``infer.py`` and ``infer_jpgs.py`` share: the same options, the same run
(``inference.runner``); they differ only in what they write (``SCRIPTS``).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cli
from configs import Config, load_config
from inference.errors import USER_ERRORS
from inference.inputs import InputError
from inference.runner import Options, run


@dataclass(frozen=True)
class Script:
    """What one script writes, and what its ``--help`` says."""

    description: str
    default_ext: str  # the per-image files' format unless --ext says otherwise
    comparison: bool  # panels + metrics.csv + summary.json, or the reconstructed images alone


SCRIPTS = {
    "infer.py": Script("Find the face mask, paint the face back, write comparison panels and metrics.",
                       "png", comparison=True),
    "infer_jpgs.py": Script("Find the face mask and paint the face back; write the reconstructed "
                            "images only.", "jpg", comparison=False),
}


def build_parser(description: str, default_ext: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=description,
        epilog="Overrides use config keys (docs/configuration.md), e.g. threshold=0.4 device=cpu. "
               "By default the newest run's weights in checkpoint_path ('weights') are used, each "
               "model at the size it was trained at (img_size=N overrides).")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    parser.add_argument("--input", help="dataset root, folder of photos, one image or a video "
                        "(default: 'input' in the config)")
    parser.add_argument("--out", help="output folder (default: results_dir, 'results')")
    parser.add_argument("--config", default="predict", help="config name or YAML path (default: predict)")
    parser.add_argument("--segm-weights", metavar="FILE", help="segmentation checkpoint")
    parser.add_argument("--recon-weights", metavar="FILE", help="reconstruction checkpoint")
    parser.add_argument("--batch-size", type=int, metavar="N", help="images per batch")
    parser.add_argument("--masks", metavar="PATH", help="your own masks instead of the segmenter's: a "
                        "folder with one per image (NAME.png or NAME_mask.png, white = paint) or one "
                        "mask file for every image or frame")
    parser.add_argument("--save-masks", action="store_true",
                        help="also write masks/{name}_mask.png (255 = mask, input resolution)")
    parser.add_argument("--ext", choices=("jpg", "png"), default=default_ext,
                        help=f"format of the per-image files (default: {default_ext})")
    return parser


def config_from_args(args: argparse.Namespace) -> Config:
    """The config with ``key=value`` overrides, then the dedicated options on top."""
    flags = {"segm_weights": args.segm_weights, "recon_weights": args.recon_weights,
             "batch_size": args.batch_size, "input": args.input, "results_dir": args.out}
    if args.save_masks:
        flags["save_masks"] = True
    return load_config(args.config, args.overrides, **{k: v for k, v in flags.items() if v is not None})


def options_from_config(cfg: Config, comparison: bool, ext: str, masks: Path | None = None) -> Options:
    if not cfg.input:
        raise InputError("no input: pass --input PATH (a dataset root, a folder of photos, "
                         "an image or a video) or set 'input' in the config")
    return Options(Path(cfg.input), Path(cfg.results_dir), comparison, ext, cfg.save_masks, masks)


def main(argv: list[str] | None, script: Script) -> dict[str, Any]:
    """Parse the command line and run; returns the summary."""
    # intermixed: key=value overrides may come before, between or after the options
    args = build_parser(script.description, script.default_ext).parse_intermixed_args(argv)
    cfg = config_from_args(args)
    masks = Path(args.masks) if args.masks else None
    return run(cfg, options_from_config(cfg, script.comparison, args.ext, masks))


def script_main(argv: list[str] | None, name: str) -> int:
    """What the script ``name`` (a key of ``SCRIPTS``) runs: ``main`` with logging set up and
    the user's errors as one line (exit status 2)."""
    cli.setup_logging()
    with cli.one_line_errors(*USER_ERRORS):
        main(argv, SCRIPTS[name])
    return 0
