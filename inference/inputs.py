"""What ``--input`` can be, and the stream of images it yields.

(a) a dataset root in the published layout (``image_masked/`` with, where present,
    ``image/`` ground truth and ``image_binary/`` masks), (b) a folder of masked-face
photos, (c) one image file, or (d) a video file. Images are read lazily, one at a time,
so memory does not grow with the input. A file that cannot be used is reported as
``Skipped`` with the reason and the rest go on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from configs import Config
from core.images import (
    MAX_PIXELS,
    ImageReadError,
    check_photo_size,
    check_same_frame,
    is_image_file,
    load_image,
    load_mask,
)
from core.media import VideoError, VideoInfo, VideoReader, is_video_file
from datasets.layout import (
    BINARY_SUFFIX,
    FRAMES_CSV,
    MASKED_SUFFIX,
    index_by_stem,
    read_annotations,
    read_frames_csv,
    resolve_annotations,
    strip_suffix,
)


class InputError(ValueError):
    """An input that cannot be used at all (missing, empty); one line."""


@dataclass
class Item:
    """One masked face to reconstruct, with its ground truth where the dataset has it."""

    name: str
    image: np.ndarray  # (H,W,3) uint8 masked face
    truth: np.ndarray | None = None  # (H,W,3) uint8 clean face, same size as image
    truth_mask: np.ndarray | None = None  # (H,W) bool, True = face mask
    time: float | None = None  # video frames: seconds from the start (for the audio window)


@dataclass(frozen=True)
class Skipped:
    name: str
    reason: str


@dataclass(frozen=True)
class _Entry:
    """Paths of one input image before it is read."""

    name: str
    image: Path
    truth: Path | None = None
    truth_mask: Path | None = None
    time: float | None = None  # a prepared video's frame: seconds from the start (frames.csv)


class Source:
    """An input: ``kind`` ("dataset", "folder", "image" or "video"), ``count`` (images, or
    the estimated frames of a video; None if unknown) and the items, read on iteration.
    ``consecutive``: the items are a video's frames in order (a video file, or a prepared
    video dataset root, ordered by its ``frames.csv``): faces are followed from one to the next."""

    kind = ""
    consecutive = False

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count: int | None = None

    def __iter__(self) -> Iterator[Item | Skipped]:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the source holds open (a video's decoder)."""


class FileSource(Source):
    """A dataset root, a photo folder or one image: a list of files read one by one."""

    def __init__(self, path: Path, kind: str, entries: list[_Entry],
                 skipped: list[Skipped] | None = None, max_pixels: int = MAX_PIXELS) -> None:
        super().__init__(path)
        self.kind = kind
        self.max_pixels = max_pixels
        self.entries = entries
        self.skipped = skipped or []
        self.count = len(entries) + len(self.skipped)

    def __iter__(self) -> Iterator[Item | Skipped]:
        yield from self.skipped
        for entry in self.entries:
            try:
                yield read_entry(entry, self.max_pixels)
            except ImageReadError as err:
                yield Skipped(entry.name, str(err))


class VideoSource(Source):
    """Frames of one video, named ``{stem}_{index:06d}`` (index from 0)."""

    kind = "video"
    consecutive = True

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.reader = VideoReader(path)
        self.info: VideoInfo = self.reader.info
        self.count = self.info.expected_frames

    def __iter__(self) -> Iterator[Item | Skipped]:
        for index, frame in enumerate(self.reader):
            # Constant frame rate: frame k shows time k/fps, as the video preparation counts it.
            time = index / self.info.fps if self.info.fps else None
            yield Item(f"{self.path.stem}_{index:06d}", frame, time=time)

    def close(self) -> None:
        self.reader.close()


def _fit(array: np.ndarray, shape: tuple[int, int], nearest: bool) -> np.ndarray:
    """Resize a ground-truth image / mask to the masked image's (H, W) if it differs
    (same aspect ratio: ``check_same_frame`` refused the others)."""
    if array.shape[:2] == shape:
        return array
    interp = cv2.INTER_NEAREST if nearest else cv2.INTER_AREA
    out = cv2.resize(array.astype(np.uint8), (shape[1], shape[0]), interpolation=interp)
    return out.astype(bool) if nearest else out


def read_entry(entry: _Entry, max_pixels: int = MAX_PIXELS) -> Item:
    """Decode one entry; ``ImageReadError`` (one line) if any of its files is unusable."""
    image = load_image(entry.image, max_pixels)
    check_photo_size(entry.image, image)
    truth = truth_mask = None
    if entry.truth is not None:
        truth = load_image(entry.truth)
        check_same_frame(entry.image, image.shape, entry.truth, truth.shape)
        truth = _fit(truth, image.shape[:2], nearest=False)
    if entry.truth_mask is not None:
        truth_mask = load_mask(entry.truth_mask)
        check_same_frame(entry.image, image.shape, entry.truth_mask, truth_mask.shape)
        truth_mask = _fit(truth_mask, image.shape[:2], nearest=True)
    return Item(entry.name, image, truth, truth_mask, entry.time)


def _dataset_entries(root: Path, cfg: Config) -> list[_Entry]:
    """``masked_dir/NAME_masked.*`` plus ``image_dir/NAME.*`` and ``binary_dir/NAME_binary.*``
    where they exist (a dataset without ground truth still runs). With ``val_anns`` set,
    only the names in that annotations CSV (the held-out split of a prepared root), when given."""
    masked = index_by_stem(root / cfg.masked_dir)
    # Inference scores every example unless asked for a split: the default names a training split.
    split = resolve_annotations(root, cfg.val_anns, "val_anns", None) if cfg.is_set("val_anns") else None
    if split is not None:
        wanted = {s.name for s in read_annotations(split, root)}
        masked = {k: v for k, v in masked.items() if strip_suffix(k, MASKED_SUFFIX) in wanted}
    clean = index_by_stem(root / cfg.image_dir) if (root / cfg.image_dir).is_dir() else {}
    binary = index_by_stem(root / cfg.binary_dir) if (root / cfg.binary_dir).is_dir() else {}
    entries = []
    for stem, path in masked.items():
        name = strip_suffix(stem, MASKED_SUFFIX)
        entries.append(_Entry(name, path, clean.get(name), binary.get(name + BINARY_SUFFIX)))
    if (root / FRAMES_CSV).is_file():  # a video's frames: in the order they were shown
        times = dict(read_frames_csv(root / FRAMES_CSV))
        entries = sorted((replace(e, time=times.get(e.name)) for e in entries),
                         key=lambda e: (e.time is None, e.time or 0.0, e.name))
    return entries


def _folder_entries(folder: Path) -> tuple[list[_Entry], list[Skipped]]:
    """Every visible file in ``folder``: images become entries, anything else is skipped."""
    entries, skipped, seen = [], [], set()
    for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
        if not is_image_file(path):
            what = "a video: pass it alone as --input" if is_video_file(path) else \
                f"not an image file ({path.suffix or 'no extension'})"
            skipped.append(Skipped(path.name, f"{path}: {what}"))
            continue
        name = path.stem if path.stem not in seen else f"{path.stem}_{path.suffix.lstrip('.')}"
        seen.add(name)
        entries.append(_Entry(name, path))
    return entries, skipped


def open_input(path: str | Path, cfg: Config) -> Source:
    """The source behind ``--input``; ``InputError`` / ``VideoError`` if it cannot be used."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"input not found: {path} (pass --input PATH: a dataset root, a folder "
                         "of photos, an image or a video)")
    if path.is_dir():
        if (path / cfg.masked_dir).is_dir():
            entries = _dataset_entries(path, cfg)
            if not entries:
                raise InputError(f"dataset {path} has no images in {cfg.masked_dir}/")
            source = FileSource(path, "dataset", entries, max_pixels=cfg.max_pixels)
            source.consecutive = (path / FRAMES_CSV).is_file()
            return source
        entries, skipped = _folder_entries(path)
        if not entries:
            extra = f" ({len(skipped)} other file(s) skipped)" if skipped else ""
            raise InputError(f"no images in {path}{extra}")
        return FileSource(path, "folder", entries, skipped, cfg.max_pixels)
    if is_video_file(path):
        try:
            return VideoSource(path)
        except VideoError as err:
            raise InputError(str(err)) from None
    try:  # a single image that cannot be read is the whole input: fail, do not skip
        load_image(path, cfg.max_pixels)
    except ImageReadError as err:
        raise InputError(str(err)) from None
    return FileSource(path, "image", [_Entry(path.stem, path)], max_pixels=cfg.max_pixels)
