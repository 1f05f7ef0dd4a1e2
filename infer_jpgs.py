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

cli.use_project_venv()


def main(argv: list[str] | None = None) -> int:
    from inference.command import main as run_command

    return run_command(argv, comparison=False, default_ext="jpg",
                       description="Find the face mask and paint the face back; write the "
                                   "reconstructed images only.")


if __name__ == "__main__":
    raise SystemExit(main())
