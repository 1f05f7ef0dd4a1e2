"""Reconstruct masked faces and compare: ``python3 infer.py [--input PATH] [--out DIR] [key=value ...]``.

Writes ``results/results_{name}.png`` (masked | predicted-mask overlay | reconstructed |
ground truth where it exists), ``results/metrics.csv`` and ``results/summary.json``, and
prints the summary. ``--input`` is a dataset root, a folder of photos, one image or a video.

Examples::

    python3 infer.py --input data/facemask/test
    python3 infer.py --input photos/ --save-masks img_size=256
    python3 infer.py --input clip.mp4 --out results/clip
"""

from __future__ import annotations

import cli

cli.idle_threads_sleep()
cli.use_project_venv()


def main(argv: list[str] | None = None) -> int:
    from inference.command import script_main

    return script_main(argv, "infer.py")


if __name__ == "__main__":
    raise SystemExit(main())
