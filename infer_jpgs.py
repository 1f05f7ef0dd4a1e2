"""Reconstruct masked faces, images only.

``python3 infer_jpgs.py [--input PATH] [--out DIR] [key=value ...]``: the same options and
pipeline as ``infer.py``; writes only ``results/results2_{name}.jpg`` (``--ext png`` for
lossless files), or ``{stem}_reconstructed.mp4`` for a video.

Examples::

    python3 infer_jpgs.py --input photos/
    python3 infer_jpgs.py --input clip.mp4 --batch-size 8
"""

from __future__ import annotations

import cli

cli.idle_threads_sleep()
cli.use_project_venv()


def main(argv: list[str] | None = None) -> int:
    from inference.command import script_main

    return script_main(argv, "infer_jpgs.py")


if __name__ == "__main__":
    raise SystemExit(main())
