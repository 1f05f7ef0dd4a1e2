"""The preparation command line::

    python3 -m prepare images --src DIR --out ROOT [options]
    python3 -m prepare video --video FILE --out ROOT [--fps 1] [options]
    python3 -m prepare sheet --src DIR --out FILE.png [--count 4]
    python3 -m prepare crop --src ROOT --out ROOT2 [--size 512]
    python3 -m prepare clip --out FILE.mp4 [--seconds 60] [--fps 4] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from prepare.crops import crop_dataset
from prepare.masks import MASK_TYPES, TEXTURES, parse_color
from prepare.options import PrepareError, PrepareOptions
from prepare.run import prepare_images, prepare_video
from prepare.sheet import contact_sheet
from prepare.talking_clip import MOUTHS, write_talking_video

DESCRIPTION = "Prepare datasets: photos or a video -> clean / masked / binary triplets + annotations."


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="dataset root to write")
    p.add_argument("--size", type=int, default=512, help="output side in pixels (default 512)")
    p.add_argument("--mask-type", default="surgical", choices=[*MASK_TYPES, "random"])
    p.add_argument("--color", default=None, help="mask colour as hex, e.g. '#7ab0de' (default: per type)")
    p.add_argument("--texture", default="none", choices=["none", *TEXTURES, "random"])
    p.add_argument("--seed", type=int, default=0, help="makes masks and the train/val split repeatable")
    p.add_argument("--val-fraction", type=float, default=0.1, help="share of examples in annotations/val.csv")
    p.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    p.add_argument("--crop", default="face", choices=["face", "none"],
                   help="face: square crop around each face; none: inputs are face crops already")
    p.add_argument("--all-faces", action="store_true", help="mask every face, not only the largest")
    p.add_argument("--overwrite", action="store_true", help="redo examples that are already finished")
    p.add_argument("--shard", default="0/1", help="I/N: handle only every N-th input starting at I (0-based)")
    p.add_argument("--min-face", type=int, default=64, help="skip faces narrower than this (pixels)")
    p.add_argument("--variants", type=int, default=1, help="masks drawn per photo, each its own style "
                   "(NAME, NAME_v2, ...; one photo's variants share its train/val split)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _options(args: argparse.Namespace) -> PrepareOptions:
    try:
        color = parse_color(args.color) if args.color else None
    except ValueError as err:
        raise PrepareError(f"--color: {err}") from None
    try:
        index, count = (int(x) for x in args.shard.split("/"))
    except ValueError:
        raise PrepareError(f"--shard must look like I/N (e.g. 0/4), got {args.shard!r}") from None
    return PrepareOptions(size=args.size, mask_type=args.mask_type, color=color,
                          texture=None if args.texture == "none" else args.texture, seed=args.seed,
                          val_fraction=args.val_fraction, workers=args.workers, crop=args.crop,
                          all_faces=args.all_faces, overwrite=args.overwrite, shard=(index, count),
                          min_face=args.min_face, variants=args.variants, progress=not args.quiet)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python3 -m prepare", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True)
    images = sub.add_parser("images", help="a folder of photos -> dataset root")
    images.add_argument("--src", required=True, help="folder of photos (files directly in it)")
    _add_common(images)
    video = sub.add_parser("video", help="one video -> dataset root with frames, frames.csv and audio")
    video.add_argument("--video", required=True, help="the video file")
    video.add_argument("--fps", type=float, default=1.0, help="frames per second to extract (default 1)")
    _add_common(video)
    sheet = sub.add_parser("sheet", help="contact sheet PNG of all mask types on a few faces")
    sheet.add_argument("--src", required=True, help="folder of face photos")
    sheet.add_argument("--out", required=True, help="PNG file to write")
    sheet.add_argument("--count", type=int, default=4, help="number of faces (rows)")
    sheet.add_argument("--crop", default="none", choices=["face", "none"])
    sheet.add_argument("--seed", type=int, default=0)
    crop = sub.add_parser("crop", help="face crops of a dataset whose masks were drawn elsewhere "
                                       "(e.g. MaskTheFace), keeping its masks and split")
    crop.add_argument("--src", required=True, help="dataset root (triplet folders, or the CelebA layout)")
    crop.add_argument("--out", required=True, help="dataset root to write")
    crop.add_argument("--size", type=int, default=512, help="output side in pixels (default 512)")
    crop.add_argument("--image-dir", default="image", help="clean-image folder (default image)")
    crop.add_argument("--masked-dir", default="image_masked", help="masked-image folder")
    crop.add_argument("--binary-dir", default="image_binary", help="mask folder")
    crop.add_argument("--quiet", action="store_true", help="no progress bar")
    clip = sub.add_parser("clip", help="the synthetic talking clip (an mp4 whose soundtrack says which "
                                       "mouth is under the mask), for the audio ablation")
    clip.add_argument("--out", type=Path, required=True, help="the .mp4 to write")
    clip.add_argument("--seconds", type=float, default=60.0)
    clip.add_argument("--fps", type=int, default=4, help="video frames (and mouth changes) per second")
    clip.add_argument("--size", type=int, default=256, help="side of the square video")
    clip.add_argument("--seed", type=int, default=0, help="seed of the mouth sequence and the motion")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "sheet":
            path = contact_sheet(args.src, args.out, count=args.count, crop=args.crop, seed=args.seed)
            print(f"wrote {path}")
            return 0
        if args.command == "crop":
            summary = crop_dataset(args.src, args.out, args.size, args.image_dir, args.masked_dir,
                                   args.binary_dir, progress=not args.quiet)
            print(summary.line())
            return 0
        if args.command == "clip":
            write_talking_video(args.out, args.seconds, args.fps, args.size, seed=args.seed)
            print(f"wrote {args.out}: {args.seconds:g} s at {args.fps} fps, {len(MOUTHS)} mouths / tones")
            return 0
        options = _options(args)
        if args.command == "images":
            summary = prepare_images(args.src, args.out, options)
        else:
            summary = prepare_video(args.video, args.out, args.fps, options)
    except PrepareError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for notice in summary.notices:
        print(notice, file=sys.stderr)
    print(summary.line())
    return 0

