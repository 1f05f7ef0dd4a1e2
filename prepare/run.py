"""Dataset preparation: photos or a video -> clean / masked / binary triplets + annotations.

Writes the published layout under ROOT: ``image/NAME.png``, ``image_masked/NAME_masked.png``,
``image_binary/NAME_binary.png`` (255 = mask), ``annotations/{train,val}.csv`` and
``prepare_report.csv`` (one row per input); a video adds ``raw/``, ``frames/``,
``frames.csv`` and ``audio/TRACK.wav``.

Each input is handled on its own (``prepare.example``): a file that cannot be used is
skipped with a reason in the report and the run goes on. Finished outputs are skipped on a
re-run (``overwrite`` redoes them); every file is written under a temporary name and
renamed; sources are only read. ``prepare_images`` and ``prepare_video`` serve the command
line (``python3 -m prepare``) and Python callers alike.
"""

from __future__ import annotations

import multiprocessing
import shutil
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from core.files import atomic_path
from core.media import VideoError, VideoInfo, extract_audio, extract_frames, probe
from core.wav import is_silent, read_wav
from datasets.layout import (
    FRAMES_CSV,
    MASKED_DIR,
    MASKED_SUFFIX,
    DatasetError,
    read_frames_csv,
    write_annotations,
    write_frames_csv,
)
from prepare.example import (
    OUTPUT_EXT,
    detail_of,
    output_paths,
    prepare_one,
    source_name,
    split_hash,
    split_of,
)
from prepare.options import PrepareError, PrepareOptions
from prepare.report import ItemResult, PrepareSummary, write_report


def _prepare_task(task: tuple[Path, str, Path, PrepareOptions]) -> ItemResult:
    return prepare_one(*task)


def list_sources(src: Path) -> list[Path]:
    """Every regular file directly in ``src``, sorted by name (non-images get a report row)."""
    return sorted((p for p in src.iterdir() if p.is_file()), key=lambda p: p.name)


def unique_names(sources: list[Path]) -> list[str]:
    """Output names: the file stem, plus ``_ext`` where two sources share a stem."""
    stems = Counter(p.stem for p in sources)
    return [p.stem if stems[p.stem] == 1 else f"{p.stem}_{p.suffix.lstrip('.').lower()}" for p in sources]


def write_split(root: Path, val_fraction: float, seed: int) -> tuple[int, int]:
    """The annotation CSVs (``datasets.layout.write_annotations``) over every finished
    example under ``root``, in name order.

    The split comes from ``split_of``; when it leaves val empty although ``val_fraction``
    > 0 and there are 2+ examples, the example with the smallest hash goes to val.
    Returns (train rows, val rows).
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
        first = min((source_name(n) for n in names), key=lambda n: split_hash(n, seed))
        splits.update({n: "val" for n in names if source_name(n) == first})
    counts = write_annotations(root, [(splits[n], *output_paths(root, n)[1:]) for n in names])
    return counts["train"], counts["val"]


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
    write_report(report, [*extra_rows, *results])
    write_split(root, options.val_fraction, options.seed)
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
        row.detail = detail_of(err, video)
        write_report(_report_path(root, options), [row])
        raise PrepareError(str(err)) from None
    _copy_video(video, root)
    frames = _frames(info, root, fps, options.overwrite)
    notices = _soundtrack(info, video, root, options.overwrite, row)
    row.status = "done"
    row.outputs = len(frames)
    row.detail = f"{len(frames)} frames at {fps:g} fps of {info.duration:.2f} s; " + row.detail
    sources = [root / "frames" / f"{n}.jpg" for n, _ in frames]
    summary = _run_inputs(sources, [n for n, _ in frames], root, options, [row], "frame")
    summary.notices = notices
    return summary


def _copy_video(video: Path, root: Path) -> None:
    """``raw/VIDEO``: a copy of the video; PrepareError when ``root`` holds another one."""
    raw = root / "raw" / video.name
    previous = sorted((root / "raw").glob("*")) if (root / "raw").is_dir() else []
    if any(p.name != video.name for p in previous):
        raise PrepareError(f"{root} already holds frames of {previous[0].name}; "
                           "give each video its own --out")
    raw.parent.mkdir(parents=True, exist_ok=True)
    if not raw.is_file() or raw.stat().st_size != video.stat().st_size:
        with atomic_path(raw) as tmp:
            shutil.copyfile(video, tmp)


def _frames(info: VideoInfo, root: Path, fps: float, overwrite: bool) -> list[tuple[str, float]]:
    """``frames/frameNNNN.jpg`` and ``frames.csv``, extracted unless an earlier run did."""
    frames_csv, frames_dir = root / FRAMES_CSV, root / "frames"
    frames = _extracted_frames(frames_csv, frames_dir) if not overwrite else None
    if frames is None:
        try:
            frames = extract_frames(info, frames_dir, fps)
        except VideoError as err:
            raise PrepareError(str(err)) from None
        write_frames_csv(frames_csv, frames)
    return frames


def _soundtrack(info: VideoInfo, video: Path, root: Path, overwrite: bool, row: ItemResult) -> list[str]:
    """``audio/TRACK.wav`` (16 kHz mono) when the video has sound; its notices (no or silent
    audio), also told in the video's report ``row``."""
    wav = root / "audio" / f"{video.stem}.wav"
    if not info.has_audio:
        row.reason, row.detail = "no_audio", "the video has no audio stream: no WAV written"
        return [f"notice: {video.name} has no audio track; prepared frames without audio"]
    if overwrite or not wav.is_file():
        try:
            extract_audio(info, wav)
        except VideoError as err:
            raise PrepareError(str(err)) from None
    samples, rate = read_wav(wav)
    row.detail = f"audio {len(samples) / rate:.2f} s at {rate} Hz mono -> audio/{wav.name}"
    if is_silent(samples):
        row.reason = "silent_audio"
        return [f"notice: the audio track of {video.name} is silent (peak under -60 dBFS)"]
    return []


def _extracted_frames(frames_csv: Path, frames_dir: Path) -> list[tuple[str, float]] | None:
    """The frames an earlier run extracted, when its ``frames.csv`` and every frame are there."""
    if not frames_csv.is_file():
        return None
    try:
        frames = read_frames_csv(frames_csv)
    except DatasetError:
        return None
    return frames if all((frames_dir / f"{n}.jpg").is_file() for n, _ in frames) else None
