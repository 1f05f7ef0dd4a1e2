"""Video stability: does the reconstruction hold still from frame to frame?

    python3 benchmarks/video_stability.py [--frames 50] [--kinds drift_zoom,rotation,still_face,cut]
        [--segm-weights FILE] [--recon-weights FILE] [--rows 'today:'] [--set key=value ...]
        [--before CHECKOUT] [--size 1280x720] [--work DIR] [--out-dir results]

For example, with 256 px models kept outside the repository::

    python3 benchmarks/video_stability.py --segm-weights SEGM.pth \\
        --recon-weights RECON.pth

1. Clips with known motion (``benchmarks/moving_clips.py``): still frames of
   ``dataset1_train`` (a person at a desk; masked, clean and true mask warped alike) placed
   into a 1280x720 canvas (``--size``) by a known similarity transform per frame, faces about 50-100 px
   wide, encoded as H.264 at 25 fps (``core.media.encode_video``): drift and zoom, a small
   rotation, a still face over a panning background, and a cut between two frames.
2. The codec's floor: the clean clip decoded and measured as an output would be.
3. Each row of settings runs the published command on the masked clip,
   ``python3 infer_jpgs.py --input masked.mp4 --out DIR --save-masks [weights] key=value ...``,
   timed two ways: fps, the rate the command reports (its wall clock from opening the input and
   outputs to closing them: decoding, faces, models, encoding; a checkout before that report
   gives the sum of its stages' times instead), and fps with start-up (the whole command:
   Python, imports and loading the models and detectors included). Its video is decoded and
   every frame warped back into its still frame's pixels with the inverse of the known
   transform, then measured inside the true mask eroded by 2 px (so resampling at the edge
   does not count): flicker (mean absolute gray-level change between consecutive frames, the
   pair across a cut left out), temporal std (per pixel, averaged), in-mask PSNR against the
   clean still frame; the saved masks against the true mask in canvas pixels (Dice per frame,
   its minimum, frames with no mask); and E_warp (``metrics.temporal.warp_error``: consecutive
   output frames aligned by DIS optical flow, inside the true mask dilated by 8 px in canvas
   pixels), which needs no known motion.

Rows: ``--rows 'name:key=value,key=value;name2:key=value'`` (default one row, ``today:``, no
overrides); ``--set key=value`` adds an override to every row; ``--before CHECKOUT`` adds a
first row, ``before``, that runs another checkout's ``infer_jpgs.py`` (an earlier commit, e.g.
``git worktree add ../before COMMIT``) with no overrides, so the code path of then and now are
timed and measured in one run. Today's behaviour against the
temporal stabilisers::

    python3 benchmarks/video_stability.py --rows 'off:temporal=off;on:temporal=on'

Writes ``video_stability.md`` (the table), ``video_stability.json`` (every number, the
transforms' parameters and the command) and ``video_stability_{row}.png`` (per clip: the
clean clip, the output, and the output's mask in red with the true mask's outline in green,
warped back into the still frame, on six frames) in ``--out-dir``, and prints the table.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cli

cli.use_project_venv()

import cv2
import numpy as np
import torch

from benchmarks.moving_clips import KINDS, Clip, Still, make_clip
from core.images import grid, load_image, load_mask, write_image
from core.media import VideoReader, encode_video
from metrics import dice_per_image, flicker_pairs, psnr, warp_error
from metrics.temporal import luma

FIXTURE = REPO.parent / "shared" / "fixtures" / "dataset1_train"
FPS = 25.0
ERODE_PX = 2  # the still-frame region excludes the mask's resampled edge
DILATE_PX = 8  # E_warp's region: the true mask and a margin of the seam around it
STRIP_FRAMES = 6
BEFORE = "before"  # the row of --before
MIN_FLOOR = 0.05  # gray levels; below it the ratio to the floor means nothing


def parse_rows(text: str, shared: list[str]) -> dict[str, list[str]]:
    """``'name:k=v,k=v;name2:...'`` -> ``{name: ['k=v', ...] + shared}`` (in order)."""
    rows: dict[str, list[str]] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        name, _, settings = part.partition(":")
        if not name or name in rows:
            raise ValueError(f"--rows: a row needs a new name before ':' ({part!r})")
        overrides = [s.strip() for s in settings.split(",") if s.strip()]
        if any("=" not in s for s in overrides + shared):
            raise ValueError(f"--rows/--set: overrides are key=value ({part!r})")
        rows[name] = overrides + list(shared)
    if not rows:
        raise ValueError("--rows names no row")
    return rows


def load_still(name: str, root: Path = FIXTURE) -> Still:
    return Still(name, load_image(root / "image_masked" / f"{name}_masked.jpg"),
                 load_image(root / "image" / f"{name}.jpg"),
                 load_mask(root / "image_binary" / f"{name}_binary.jpg"))


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def still_regions(clip: Clip) -> list[np.ndarray]:
    """Each still's true mask eroded by ``ERODE_PX``, ``(S,S)`` bool."""
    return [cv2.erode(s.mask.astype(np.uint8), _disc(ERODE_PX)).astype(bool) for s in clip.stills]


def saved_mask(folder: Path | None, stem: str, t: int, shape: tuple[int, int]) -> np.ndarray:
    path = folder / f"{stem}_{t:06d}_mask.png" if folder else None
    return load_mask(path) if path and path.is_file() else np.zeros(shape, bool)


def _dice(found: np.ndarray, true: np.ndarray) -> float:
    as_tensor = lambda m: torch.from_numpy(m)[None, None].float()  # noqa: E731
    return float(dice_per_image(as_tensor(found), as_tensor(true))[0])


def _in_still_scores(clip: Clip, views: list[np.ndarray]) -> dict[str, float]:
    """Flicker, temporal std and in-mask PSNR of frames already warped back, per shot."""
    regions, pairs, stds, weights, psnrs = still_regions(clip), [], [], [], []
    for shot in clip.segments():
        still, region = clip.stills[clip.source[shot[0]]], regions[clip.source[shot[0]]]
        frames = [views[t] for t in shot]
        pairs += flicker_pairs(frames, region)
        stds.append(float(np.stack([luma(f)[region] for f in frames]).std(axis=0).mean()))
        weights.append(len(frames))
        as_batch = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).double() / 255
        truth = torch.from_numpy(still.clean).permute(2, 0, 1)[None].double() / 255
        psnrs += psnr(as_batch, truth.expand_as(as_batch), torch.from_numpy(region)[None, None]).tolist()
    return {"flicker": float(np.mean(pairs)), "temporal_std": float(np.average(stds, weights=weights)),
            "psnr_mask": float(np.mean(psnrs))}


def measure(clip: Clip, video: Path, masks: Path | None, stem: str = "masked") -> dict:
    """Every number of one output video of ``clip`` (``masks``: its ``--save-masks`` folder,
    None for the clean clip, which has no predicted mask)."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    views, dice, warp, previous = [], [], [], None
    for t, frame in enumerate(VideoReader(video)):
        views.append(clip.to_still(t, frame))
        true = clip.frame(t, "mask")
        if masks is not None:
            dice.append(_dice(saved_mask(masks, stem, t, true.shape), true))
        if previous is not None and t not in clip.cuts:
            region = cv2.dilate(true.astype(np.uint8), _disc(DILATE_PX)) > 0
            warp.append(warp_error(previous, frame, region, dis))
        previous = frame
    if len(views) != len(clip):
        raise RuntimeError(f"{video}: {len(views)} frames decoded, the clip has {len(clip)}")
    scores = {**_in_still_scores(clip, views), "e_warp": float(np.nanmean(warp))}
    if masks is not None:
        scores.update(dice_mean=float(np.mean(dice)), dice_min=float(np.min(dice)),
                      no_mask=int(sum(d == 0 for d in dice)), dice=[round(d, 4) for d in dice])
    return scores


def run_row(masked: Path, out: Path, overrides: list[str], weights: list[str],
            repo: Path = REPO) -> tuple[float, float, Path, Path]:
    """``infer_jpgs.py`` (of the checkout ``repo``) on ``masked``; (seconds, the frames per second
    it reports after loading, output video, masks folder)."""
    command = [sys.executable, str(repo / "infer_jpgs.py"), "--input", str(masked), "--out", str(out),
               "--save-masks", *weights, *overrides]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=repo)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{shlex.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    rate = re.search(r"overall ([0-9.]+) img/s", done.stdout)
    if rate is None:
        raise RuntimeError(f"{shlex.join(command)} printed no frame rate:\n{done.stdout[-2000:]}")
    return seconds, float(rate.group(1)), out / f"{masked.stem}_reconstructed.mp4", out / "masks"


def _crop_box(still: Still, width: int = 144, height: int = 136) -> tuple[slice, slice]:
    """A fixed-size box around the mask, reaching up to the eyes."""
    side = still.mask.shape[0]
    cx, cy = still.anchor
    left = int(np.clip(round(cx) - width // 2, 0, side - width))
    top = int(np.clip(round(cy) - 3 * height // 5, 0, side - height))
    return slice(top, top + height), slice(left, left + width)


def strip(clip: Clip, clean: Path, video: Path, masks: Path, stem: str = "masked") -> np.ndarray:
    """Rows: the clean clip, the output, the output's mask (red) with the true mask's outline
    (green), each warped back into the still frame and cut around the mask, on
    ``STRIP_FRAMES`` frames spread over the clip."""
    picks = set(np.linspace(0, len(clip) - 1, STRIP_FRAMES).round().astype(int).tolist())
    rows: list[list[np.ndarray]] = [[], [], []]
    for t, (a, b) in enumerate(zip(VideoReader(clean), VideoReader(video))):
        if t not in picks:
            continue
        still = clip.stills[clip.source[t]]
        box = _crop_box(still)
        found = clip.to_still(t, saved_mask(masks, stem, t, a.shape[:2]).astype(np.uint8), nearest=True) > 0
        out = clip.to_still(t, b)
        tinted = out.copy()
        tinted[found] = (0.5 * tinted[found] + [127, 0, 0]).astype(np.uint8)
        edge = still.mask ^ (cv2.erode(still.mask.astype(np.uint8), _disc(1)) > 0)
        tinted[edge] = (0, 255, 0)
        for row, image in zip(rows, (clip.to_still(t, a), out, tinted)):
            row.append(cv2.resize(image[box], None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST))
    return grid(rows)


def _ratio(value: float, floor: float) -> str:
    """``value / floor``, or "-" where the codec leaves the region untouched (a still face)."""
    return f"{value / floor:.1f}x" if floor >= MIN_FLOOR else "-"


def table(results: dict) -> str:
    lines = ["| settings | clip | frames | no mask | mask Dice mean / min | flicker | floor | "
             "flicker / floor | temporal std | PSNR in mask (dB) | E_warp | E_warp, clean | fps | "
             "fps with start-up |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for kind, by_clip in results.items():
        floor = by_clip["floor"]
        lines.append(f"| clean clip (codec floor) | {kind} | {by_clip['frames']} | - | - | - | "
                     f"{floor['flicker']:.2f} | 1.0x | {floor['temporal_std']:.2f} | "
                     f"{floor['psnr_mask']:.1f} | - | {floor['e_warp']:.2f} | - | - |")
        for name, s in by_clip["rows"].items():
            lines.append(f"| {name} | {kind} | {by_clip['frames']} | {s['no_mask']} | {s['dice_mean']:.2f} / "
                         f"{s['dice_min']:.2f} | **{s['flicker']:.2f}** | {floor['flicker']:.2f} | "
                         f"{_ratio(s['flicker'], floor['flicker'])} | {s['temporal_std']:.2f} | "
                         f"{s['psnr_mask']:.1f} | "
                         f"{s['e_warp']:.2f} | {floor['e_warp']:.2f} | {s['fps']:.2f} | "
                         f"{s['fps_with_start']:.2f} |")
    return "\n".join(lines)


def bench_clip(clip: Clip, work: Path, rows: dict[str, list[str]], weights: list[str],
               before: Path | None = None) -> tuple[dict, dict]:
    """Floor and every row on one clip; (numbers, strip pictures per row)."""
    folder = work / clip.kind
    folder.mkdir(parents=True, exist_ok=True)
    masked = encode_video(folder / "masked.mp4", clip.frames("masked"), FPS)
    clean = encode_video(folder / "clean.mp4", clip.frames("clean"), FPS)
    result = {"frames": len(clip), "cuts": clip.cuts, "stills": [s.name for s in clip.stills],
              "matrices": [np.round(m, 5).tolist() for m in clip.matrices],
              "floor": measure(clip, clean, None), "rows": {}}
    pictures = {}
    for name, overrides in rows.items():
        repo = before if before is not None and name == BEFORE else REPO
        seconds, rate, video, masks = run_row(masked, folder / name, overrides, weights, repo)
        result["rows"][name] = {**measure(clip, video, masks), "seconds": seconds, "fps": rate,
                                "fps_with_start": len(clip) / seconds}
        pictures[name] = strip(clip, clean, video, masks)
        print(f"{clip.kind} / {name}: flicker {result['rows'][name]['flicker']:.2f} "
              f"(floor {result['floor']['flicker']:.2f}), {seconds:.0f} s", flush=True)
    return result, pictures


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=50, help="frames per clip (25 fps)")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"clip kinds, of {', '.join(KINDS)}")
    parser.add_argument("--stills", default="frame0015,frame0018",
                        help="fixture frames: the first for every clip, the second after the cut")
    parser.add_argument("--face-scale", type=float, default=0.6, help="the still frame's scale in the canvas")
    parser.add_argument("--size", default="1280x720", help="the clips' frame size, WIDTHxHEIGHT")
    parser.add_argument("--segm-weights", help="segmentation checkpoint (default: infer_jpgs.py's)")
    parser.add_argument("--recon-weights", help="reconstruction checkpoint (default: infer_jpgs.py's)")
    parser.add_argument("--rows", default="today:", help="'name:key=value,key=value;name2:...'")
    parser.add_argument("--before", type=Path, metavar="CHECKOUT",
                        help="a first row, 'before': this checkout's infer_jpgs.py (an earlier commit, "
                             "e.g. a git worktree) with no overrides")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="an override for every row (repeatable)")
    parser.add_argument("--work", type=Path, help="keep the clips and outputs here (default: temporary)")
    parser.add_argument("--out-dir", type=Path, default=REPO / "results")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rows = parse_rows(args.rows, args.set)
    if args.before is not None:
        if not (args.before / "infer_jpgs.py").is_file():
            print(f"error: --before {args.before}: no infer_jpgs.py there", file=sys.stderr)
            return 2
        rows = {BEFORE: [], **rows}
    if not FIXTURE.is_dir():
        print(f"error: the fixture is not in {FIXTURE}", file=sys.stderr)
        return 2
    weights = [*(["--segm-weights", args.segm_weights] if args.segm_weights else []),
               *(["--recon-weights", args.recon_weights] if args.recon_weights else [])]
    stills = [load_still(name) for name in args.stills.split(",")]
    try:
        canvas = tuple(int(v) for v in args.size.lower().split("x"))
        assert len(canvas) == 2 and min(canvas) >= 256
    except (ValueError, AssertionError):
        print(f"error: --size {args.size}: expected WIDTHxHEIGHT, each at least 256", file=sys.stderr)
        return 2
    start, results = time.perf_counter(), {}
    args.out_dir.mkdir(parents=True, exist_ok=True)
    pictures: dict[str, list[np.ndarray]] = {name: [] for name in rows}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.kinds.split(","):
            clip = make_clip(kind, stills, args.frames, args.face_scale, canvas)
            results[kind], strips = bench_clip(clip, args.work or Path(tmp), rows, weights, args.before)
            for name, picture in strips.items():
                pictures[name].append(picture)
    for name, strips in pictures.items():
        width = max(p.shape[1] for p in strips)
        write_image(args.out_dir / f"video_stability_{name}.png",
                    np.vstack([np.pad(p, ((0, 8), (0, width - p.shape[1]), (0, 0))) for p in strips]))
    text = table(results)
    given = argv if argv is not None else sys.argv[1:]
    command = shlex.join(["python3", "benchmarks/video_stability.py", *given])
    (args.out_dir / "video_stability.md").write_text(f"`{command}`\n\n{text}\n")
    summary = {"command": command, "rows": rows, "clips": results, "seconds": time.perf_counter() - start}
    (args.out_dir / "video_stability.json").write_text(json.dumps(summary, indent=1) + "\n")
    print("\n" + text + f"\n\nwrote {args.out_dir}/video_stability.* ({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
