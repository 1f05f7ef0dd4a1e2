"""Dataset preparation: photos or a video -> clean / masked / binary triplets + annotations.

    python3 -m datasets.prepare images --src DIR --out ROOT [options]
    python3 -m datasets.prepare video --video FILE --out ROOT [--fps 1] [options]
    python3 -m datasets.prepare sheet --src DIR --out FILE.png [--count 4]

Writes the DESIGN.md section 3 layout under ROOT: ``image/NAME.png``,
``image_masked/NAME_masked.png``, ``image_binary/NAME_binary.png`` (255 = mask),
``annotations/{train,val}.csv`` and ``prepare_report.csv`` (one row per input); a video
adds ``raw/``, ``frames/``, ``frames.csv`` and ``audio/TRACK.wav``.

Each input is handled on its own: a file that cannot be used is skipped with a reason in
the report and the run goes on. Finished outputs are skipped on a re-run (``--overwrite``
redoes them); every file is written under a temporary name and renamed; sources are only
read. The same functions serve the CLI and Python callers (``prepare_images``,
``prepare_video``, ``contact_sheet``).
"""

from __future__ import annotations

import argparse
import csv
import io
import multiprocessing
import shutil
import sys
import time
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from datasets.face_crop import (
    Face,
    crop_box,
    crop_square,
    detect_boxes,
    find_faces,
    fit_landmarks,
    square_pad,
)
from datasets.images import IMAGE_EXTS, ImageReadError, grid, load_image, resize_image, write_image
from datasets.layout import BINARY_SUFFIX, MASKED_SUFFIX
from datasets.masks import MASK_TYPES, TEXTURES, MaskFitError, MaskStyle, draw_mask, parse_color, random_style

IMAGE_DIR, MASKED_DIR, BINARY_DIR = "image", "image_masked", "image_binary"
OUTPUT_EXT = ".png"  # lossless for all three: masks must stay exact, images not re-compressed
MIN_IMAGE_SIDE = 64
REPORT_FIELDS = ("source", "name", "status", "reason", "detail", "faces", "mask_type", "variant",
                 "color", "texture", "split", "outputs")


class PrepareError(ValueError):
    """A user mistake or an unusable input that stops the whole command (one line)."""


@dataclass(frozen=True)
class PrepareOptions:
    """Settings shared by ``prepare_images`` and ``prepare_video`` (CLI flags in brackets).

    ``mask_type``: one of ``MASK_TYPES`` or "random" [--mask-type]; ``color``: RGB 0-255
    [--color HEX]; ``texture``: one of ``TEXTURES``, "random" or None [--texture];
    ``crop``: "face" (square crop around each face, like CelebA-HQ) or "none" (the image
    is already a face crop: mirrored to a square if needed, resized) [--crop];
    ``shard``: (I, N) handles only inputs I, I+N, I+2N, ... of the sorted list [--shard I/N].
    """

    size: int = 512
    mask_type: str = "surgical"
    color: tuple[int, int, int] | None = None
    texture: str | None = None
    seed: int = 0
    val_fraction: float = 0.1
    workers: int = 1
    crop: str = "face"
    all_faces: bool = False
    overwrite: bool = False
    shard: tuple[int, int] = (0, 1)
    min_face: int = 64
    progress: bool = True

    def check(self) -> None:
        """Raise PrepareError for settings that cannot work."""
        if self.size < MIN_IMAGE_SIDE:
            raise PrepareError(f"--size must be at least {MIN_IMAGE_SIDE}, got {self.size}")
        if self.mask_type not in (*MASK_TYPES, "random"):
            raise PrepareError(f"--mask-type must be one of {', '.join(MASK_TYPES)}, random; "
                               f"got {self.mask_type}")
        if self.texture not in (None, *TEXTURES, "random"):
            raise PrepareError(f"--texture must be one of {', '.join(TEXTURES)}, random, none; "
                               f"got {self.texture}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise PrepareError(f"--val-fraction must be in [0, 1), got {self.val_fraction}")
        if self.workers < 1:
            raise PrepareError(f"--workers must be at least 1, got {self.workers}")
        if self.crop not in ("face", "none"):
            raise PrepareError(f"--crop must be face or none, got {self.crop}")
        index, count = self.shard
        if not (count >= 1 and 0 <= index < count):
            raise PrepareError(f"--shard I/N needs 0 <= I < N, got {index}/{count}")


@dataclass
class ItemResult:
    """What happened to one input; ``status`` is "done", "exists" (finished earlier) or "skipped"."""

    source: str
    name: str
    status: str
    reason: str = ""
    detail: str = ""
    faces: int = 0
    mask_type: str = ""
    variant: str = ""
    color: str = ""
    texture: str = ""
    split: str = ""
    outputs: int = 0
    timings: dict[str, float] = field(default_factory=dict)

    def row(self) -> dict:
        return {f: getattr(self, f) for f in REPORT_FIELDS}


@dataclass
class PrepareSummary:
    """The outcome of a run: one ``ItemResult`` per input, the report path, notices."""

    root: Path
    results: list[ItemResult]
    report: Path
    notices: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def skipped(self) -> Counter:
        return Counter(r.reason for r in self.results if r.status == "skipped")

    def timing(self) -> dict[str, float]:
        """Seconds per stage summed over inputs: read (decode), detect (face detection),
        landmarks, draw (crop, resize and mask), write (PNG encoding and files)."""
        total: Counter = Counter()
        for r in self.results:
            total.update(r.timings)
        return dict(total)

    def line(self) -> str:
        skipped = self.skipped
        reasons = ", ".join(f"{k} {v}" for k, v in skipped.most_common())
        return (f"prepared {self.count('done')}, already done {self.count('exists')}, "
                f"skipped {sum(skipped.values())}" + (f" ({reasons})" if reasons else "")
                + f" in {self.seconds:.1f} s -> {self.root} (report: {self.report.name})")


# ----------------------------------------------------------------------------- one input

def output_paths(root: Path, name: str) -> tuple[Path, Path, Path]:
    """(clean, masked, binary) output paths of example ``name``."""
    return (root / IMAGE_DIR / f"{name}{OUTPUT_EXT}",
            root / MASKED_DIR / f"{name}{MASKED_SUFFIX}{OUTPUT_EXT}",
            root / BINARY_DIR / f"{name}{BINARY_SUFFIX}{OUTPUT_EXT}")


def split_of(name: str, seed: int, val_fraction: float) -> str:
    """"val" or "train", from a hash of the name: stable across runs, shards and workers."""
    return "val" if zlib.crc32(f"{seed}:{name}".encode()) / 2**32 < val_fraction else "train"


def _rng_for(name: str, seed: int) -> np.random.Generator:
    # One generator per example, so the masks do not depend on order, workers or shards.
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


class _Clock:
    """Accumulates seconds per stage for the benchmark (``timings``)."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = self.timings.get(stage, 0.0) + now - self._t
        self._t = now


def _detail(err: Exception, source: Path) -> str:
    """The error's message without the leading path (the report has its own column)."""
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    prefix = f"{source}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def _faces_in_crop(faces: list[Face], origin: np.ndarray, side: float, size: int) -> list[np.ndarray]:
    """Landmarks of the faces whose mask key area lies inside a crop, in output pixels."""
    scale = size / side
    out = []
    for face in faces:
        lm = (face.landmarks - origin) * scale
        key = lm[[8, 27, 2, 14]]
        if np.all((key >= 0) & (key < size)):
            out.append(lm)
    return out


def _masked_views(image: np.ndarray, faces_lm: list[np.ndarray], style: MaskStyle, rng: np.random.Generator,
                  result: ItemResult) -> tuple[np.ndarray, np.ndarray]:
    """Draw one mask per face: the first must fit (MaskFitError otherwise), the others
    are best effort. Returns the masked image and the union of the painted pixels."""
    masked, mask = image, np.zeros(image.shape[:2], bool)
    for k, lm in enumerate(faces_lm):
        try:
            drawn = draw_mask(masked, lm, style, rng)
        except MaskFitError:
            if k == 0:
                raise
            continue
        masked, mask = drawn.image, mask | drawn.mask
        if k == 0:
            result.variant, result.mask_type = drawn.variant, drawn.kind
            result.color = "#" + "".join(f"{c:02x}" for c in drawn.color)
    return masked, mask


def prepare_one(source: Path, name: str, root: Path, options: PrepareOptions) -> ItemResult:
    """Prepare one input file into ``root``; never raises (problems become a skip reason)."""
    result = ItemResult(str(source), name, "skipped",
                        split=split_of(name, options.seed, options.val_fraction))
    try:
        return _prepare_one(source, name, root, options, result)
    except Exception as err:  # the run must go on; the report keeps the reason
        result.status, result.reason = "skipped", "error"
        result.detail = f"{type(err).__name__}: {_detail(err, source)}"
        return result


def _prepare_one(source: Path, name: str, root: Path, options: PrepareOptions,
                 result: ItemResult) -> ItemResult:
    def skip(reason: str, detail: str = "") -> ItemResult:
        result.status, result.reason, result.detail = "skipped", reason, detail
        return result

    if not options.overwrite and all(p.is_file() for p in output_paths(root, name)):
        result.status = "exists"
        return result
    if source.suffix.lower() not in IMAGE_EXTS:
        return skip("not_image", f"extension {source.suffix or '(none)'} is not an image type")
    if source.stat().st_size == 0:
        return skip("empty_file", "0 bytes")
    clock = _Clock()
    try:
        image = load_image(source)
    except ImageReadError as err:
        return skip("unreadable", _detail(err, source))
    h, w = image.shape[:2]
    if min(h, w) < MIN_IMAGE_SIDE:
        return skip("image_too_small", f"{w}x{h} px, under {MIN_IMAGE_SIDE} px")
    if options.crop == "none":
        image = resize_image(square_pad(image), options.size)
    clock.lap("read")

    boxes = detect_boxes(image)
    clock.lap("detect")
    result.faces = len(boxes)
    if not boxes:
        return skip("no_face", "no face found")
    widths = [box[2] - box[0] for box, _ in boxes]
    big = [b for b, width in zip(boxes, widths) if width >= options.min_face]
    if not big:
        return skip("face_too_small", f"largest face {max(widths)} px wide, under {options.min_face} px")
    chosen = fit_landmarks(image, big if options.all_faces else big[:1])
    clock.lap("landmarks")

    rng = _rng_for(name, options.seed)
    style = random_style(rng, options.mask_type, options.color, options.texture)
    result.texture = style.texture or ""
    views = []  # (output name, clean, masked, mask)
    try:
        if options.crop == "none":
            masked, mask = _masked_views(image, [f.landmarks for f in chosen], style, rng, result)
            views.append((name, image, masked, mask))
        else:
            for k, face in enumerate(chosen):
                cx, cy, side = crop_box(face.landmarks)
                crop, origin = crop_square(image, cx, cy, side)
                clean = resize_image(crop, options.size)
                others = _faces_in_crop([f for f in chosen if f is not face], origin, side, options.size)
                own = (face.landmarks - origin) * (options.size / side)
                try:
                    masked, mask = _masked_views(clean, [own, *others], style, rng, result)
                except MaskFitError:
                    if k == 0:
                        raise
                    continue  # another face's crop: best effort
                views.append((name if k == 0 else f"{name}_face{k + 1}", clean, masked, mask))
    except MaskFitError as err:
        return skip("mask_fit", str(err))
    clock.lap("draw")

    for out_name, clean, masked, mask in views:
        clean_path, masked_path, binary_path = output_paths(root, out_name)
        write_image(clean_path, clean)
        write_image(binary_path, mask.astype(np.uint8) * 255)
        write_image(masked_path, masked)  # last: its presence marks a finished example
    clock.lap("write")
    result.status, result.outputs, result.timings = "done", len(views), clock.timings
    return result


def _prepare_task(task: tuple[Path, str, Path, PrepareOptions]) -> ItemResult:
    return prepare_one(*task)


# ----------------------------------------------------------------------------- many inputs

def list_sources(src: Path) -> list[Path]:
    """Every regular file directly in ``src``, sorted by name (non-images get a report row)."""
    return sorted((p for p in src.iterdir() if p.is_file()), key=lambda p: p.name)


def unique_names(sources: list[Path]) -> list[str]:
    """Output names: the file stem, plus ``_ext`` where two sources share a stem."""
    stems = Counter(p.stem for p in sources)
    return [p.stem if stems[p.stem] == 1 else f"{p.stem}_{p.suffix.lstrip('.').lower()}" for p in sources]


def _write_csv(path: Path, header: Iterable[str] | None, rows: Iterable[Iterable]) -> None:
    """Write a CSV atomically (temp name, then rename)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if header is not None:
        writer.writerow(list(header))
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(buf.getvalue(), encoding="utf-8")
    tmp.replace(path)


def write_annotations(root: Path, val_fraction: float, seed: int) -> tuple[int, int]:
    """``annotations/{train,val}.csv`` over every finished example under ``root``.

    Rows ``index,image_masked/NAME_masked.png,image_binary/NAME_binary.png`` (relative to
    ``root``). The split comes from ``split_of``; when it leaves val empty although
    ``val_fraction`` > 0 and there are 2+ examples, the example with the smallest hash
    goes to val. Returns (train rows, val rows).
    """
    masked_dir = root / MASKED_DIR
    names = []
    if masked_dir.is_dir():
        for p in sorted(masked_dir.glob(f"*{MASKED_SUFFIX}{OUTPUT_EXT}")):
            name = p.name[: -len(MASKED_SUFFIX + OUTPUT_EXT)]
            if all(q.is_file() for q in output_paths(root, name)):
                names.append(name)
    splits = {n: split_of(n, seed, val_fraction) for n in names}
    if val_fraction > 0 and len(names) >= 2 and "val" not in splits.values():
        splits[min(names, key=lambda n: zlib.crc32(f"{seed}:{n}".encode()))] = "val"
    rows: dict[str, list] = {"train": [], "val": []}
    for index, name in enumerate(names):
        _, masked, binary = output_paths(root, name)
        relative = [masked.relative_to(root).as_posix(), binary.relative_to(root).as_posix()]
        rows[splits[name]].append([index, *relative])
    for split, split_rows in rows.items():
        _write_csv(root / "annotations" / f"{split}.csv", None, split_rows)
    return len(rows["train"]), len(rows["val"])


def _report_path(root: Path, options: PrepareOptions) -> Path:
    index, count = options.shard
    suffix = "" if count == 1 else f"_shard{index}of{count}"
    return root / f"prepare_report{suffix}.csv"


def _run_inputs(sources: list[Path], names: list[str], root: Path, options: PrepareOptions,
                extra_rows: list[ItemResult], what: str) -> PrepareSummary:
    """Prepare ``sources`` (this shard's part) into ``root`` and write report + annotations."""
    start = time.perf_counter()
    index, count = options.shard
    tasks = [(s, n, root, options) for k, (s, n) in enumerate(zip(sources, names)) if k % count == index]
    root.mkdir(parents=True, exist_ok=True)
    results: list[ItemResult] = []
    from tqdm import tqdm

    with tqdm(total=len(tasks), unit=what, disable=not options.progress, dynamic_ncols=True) as bar:
        if options.workers == 1 or len(tasks) <= 1:
            for task in tasks:
                results.append(_prepare_task(task))
                bar.update()
        else:
            with multiprocessing.get_context("fork").Pool(options.workers) as pool:
                for res in pool.imap_unordered(_prepare_task, tasks, chunksize=2):
                    results.append(res)
                    bar.update()
    order = {n: k for k, n in enumerate(names)}
    results.sort(key=lambda r: order.get(r.name, -1))
    report = _report_path(root, options)
    all_rows = [*extra_rows, *results]
    _write_csv(report, REPORT_FIELDS, ([r.row()[f] for f in REPORT_FIELDS] for r in all_rows))
    write_annotations(root, options.val_fraction, options.seed)
    return PrepareSummary(root, results, report, seconds=time.perf_counter() - start)


def prepare_images(src: str | Path, out: str | Path, options: PrepareOptions | None = None,
                   **overrides) -> PrepareSummary:
    """Prepare every file directly in ``src`` into the dataset root ``out``.

    ``options`` (or keyword ``overrides`` of its fields, e.g. ``crop="none"``) choose the
    size, mask type and the rest. Raises PrepareError for a missing ``src`` or bad settings;
    unusable files are skipped and reported, never raised.
    """
    options = replace(options or PrepareOptions(), **overrides)
    options.check()
    src, root = Path(src), Path(out)
    if not src.is_dir():
        raise PrepareError(f"--src folder not found: {src}")
    if root.resolve() == src.resolve():
        raise PrepareError("--out must not be the --src folder (its report would become an input)")
    sources = list_sources(src)
    if not sources:
        raise PrepareError(f"--src folder has no files: {src}")
    return _run_inputs(sources, unique_names(sources), root, options, [], "img")


def prepare_video(video: str | Path, out: str | Path, fps: float = 1.0, options: PrepareOptions | None = None,
                  **overrides) -> PrepareSummary:
    """Frames of ``video`` at ``fps`` per second, its soundtrack, then masks as for images.

    Writes ``raw/VIDEO`` (a copy), ``frames/frameNNNN.jpg``, ``frames.csv``
    (``name,timestamp_seconds``) and ``audio/TRACK.wav`` (16 kHz mono; TRACK is the video's
    file stem) under ``out``. One video per root: a second video into the same root is
    refused. A video without audio is prepared without a WAV and a notice. Raises
    PrepareError (after writing the report) when the video itself cannot be used.
    """
    from datasets.video import VideoError, extract_audio, extract_frames, is_silent, probe, read_wav

    options = replace(options or PrepareOptions(), **overrides)
    options.check()
    video, root = Path(video), Path(out)
    if fps <= 0:
        raise PrepareError(f"--fps must be > 0, got {fps}")
    if options.shard[1] != 1:
        # Shards would extract the same frames concurrently; one process per video, --workers inside.
        raise PrepareError("--shard is for image folders; prepare a video in one process (use --workers)")
    row = ItemResult(str(video), video.stem, "skipped")
    try:
        info = probe(video)
    except VideoError as err:
        row.reason = "missing_video" if not video.exists() else "unreadable_video"
        row.detail = _detail(err, video)
        root.mkdir(parents=True, exist_ok=True)
        _write_csv(_report_path(root, options), REPORT_FIELDS, [[row.row()[f] for f in REPORT_FIELDS]])
        raise PrepareError(str(err)) from None

    frames_csv = root / "frames.csv"
    raw = root / "raw" / video.name
    previous = sorted((root / "raw").glob("*")) if (root / "raw").is_dir() else []
    if any(p.name != video.name for p in previous):
        raise PrepareError(f"{root} already holds frames of {previous[0].name}; "
                           "give each video its own --out")
    notices = []
    raw.parent.mkdir(parents=True, exist_ok=True)
    if not raw.is_file() or raw.stat().st_size != video.stat().st_size:
        tmp = raw.with_name(f".{raw.name}.tmp")
        shutil.copyfile(video, tmp)
        tmp.replace(raw)

    frames_dir = root / "frames"
    frames = _read_frames_csv(frames_csv) if frames_csv.is_file() and not options.overwrite else None
    if frames is None or not all((frames_dir / f"{n}.jpg").is_file() for n, _ in frames):
        try:
            frames = extract_frames(info, frames_dir, fps)
        except VideoError as err:
            raise PrepareError(str(err)) from None
        _write_csv(frames_csv, ("name", "timestamp_seconds"), frames)

    wav = root / "audio" / f"{video.stem}.wav"
    if not info.has_audio:
        row.reason, row.detail = "no_audio", "the video has no audio stream: no WAV written"
        notices.append(f"notice: {video.name} has no audio track; prepared frames without audio")
    else:
        if options.overwrite or not wav.is_file():
            try:
                extract_audio(info, wav)
            except VideoError as err:
                raise PrepareError(str(err)) from None
        samples, rate = read_wav(wav)
        row.detail = f"audio {len(samples) / rate:.2f} s at {rate} Hz mono -> audio/{wav.name}"
        if is_silent(samples):
            row.reason = "silent_audio"
            notices.append(f"notice: the audio track of {video.name} is silent (peak under -60 dBFS)")
    row.status = "done"
    row.outputs = len(frames)
    row.detail = f"{len(frames)} frames at {fps:g} fps of {info.duration:.2f} s; " + row.detail

    sources = [frames_dir / f"{n}.jpg" for n, _ in frames]
    summary = _run_inputs(sources, [n for n, _ in frames], root, options, [row], "frame")
    summary.notices = notices
    return summary


def _read_frames_csv(path: Path) -> list[tuple[str, float]] | None:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))[1:]
        return [(r[0], float(r[1])) for r in rows if r]
    except (OSError, ValueError, IndexError):
        return None


# ----------------------------------------------------------------------------- contact sheet

def contact_sheet(src: str | Path, out: str | Path, count: int = 4, tile: int = 256, crop: str = "none",
                  seed: int = 0) -> Path:
    """A PNG grid: one row per face (the first ``count`` images of ``src`` with a face),
    columns = clean face, the five mask types, then the four textures (on cloth and
    surgical masks, alternating). Returns ``out``."""
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise PrepareError(f"--src folder not found: {src}")
    rows = []
    size = 512
    for source in list_sources(src):
        if len(rows) == count:
            break
        if source.suffix.lower() not in IMAGE_EXTS:
            continue
        try:
            image = load_image(source)
        except ImageReadError:
            continue
        image = resize_image(square_pad(image), size) if crop == "none" else image
        faces = find_faces(image)
        if not faces:
            continue
        lm = faces[0].landmarks
        if crop == "face":
            cx, cy, side = crop_box(lm)
            image, origin = crop_square(image, cx, cy, side)
            image, lm = resize_image(image, size), (lm - origin) * (size / side)
        rng = _rng_for(source.stem, seed)
        styles = [random_style(rng, kind) for kind in MASK_TYPES]
        styles += [random_style(rng, "cloth" if k % 2 else "surgical", texture=t)
                   for k, t in enumerate(TEXTURES)]
        row = [image] + [draw_mask(image, lm, s, rng).image for s in styles]
        rows.append([resize_image(x, tile) for x in row])
    if not rows:
        raise PrepareError(f"no face found in the images of {src}")
    write_image(out, grid(rows))
    return out


# ----------------------------------------------------------------------------- CLI

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
                          min_face=args.min_face, progress=not args.quiet)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python3 -m datasets.prepare", description=__doc__.split("\n\n")[0])
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "sheet":
            path = contact_sheet(args.src, args.out, count=args.count, crop=args.crop, seed=args.seed)
            print(f"wrote {path}")
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


if __name__ == "__main__":
    sys.exit(main())
