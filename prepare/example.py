"""One input photo -> its clean / masked / binary triplet(s), never raising: a problem
becomes the skip reason in the report.

With ``--crop face`` each face gets the square crop ``faces.crop.Region.around`` defines
(the one inference cuts too); with ``--crop none`` the photo is the face crop: its faces
are found and its masks drawn at its own resolution, then it is resized. Outputs are PNG
(lossless: masks stay exact) and the masked image is written last, so its presence marks a
finished example.
"""

from __future__ import annotations

import time
import zlib
from pathlib import Path

import numpy as np

from core.images import IMAGE_EXTS, ImageReadError, load_image, resize_image, resize_mask, write_image
from datasets.layout import BINARY_DIR, BINARY_SUFFIX, IMAGE_DIR, MASKED_DIR, MASKED_SUFFIX
from faces.crop import Region, square_pad
from faces.detect import PREPARE, Face, detect, fit_landmarks
from prepare.masks import MaskFitError, MaskStyle, draw_mask, random_style
from prepare.options import MIN_IMAGE_SIDE, PrepareOptions
from prepare.report import ItemResult

OUTPUT_EXT = ".png"  # lossless for all three: masks must stay exact, images not re-compressed
VARIANT_MARK = "_v"  # NAME_v2, NAME_v3, ...: more masks drawn on the same photo (--variants)


def output_paths(root: Path, name: str) -> tuple[Path, Path, Path]:
    """(clean, masked, binary) output paths of example ``name``."""
    return (root / IMAGE_DIR / f"{name}{OUTPUT_EXT}",
            root / MASKED_DIR / f"{name}{MASKED_SUFFIX}{OUTPUT_EXT}",
            root / BINARY_DIR / f"{name}{BINARY_SUFFIX}{OUTPUT_EXT}")


def split_hash(name: str, seed: int) -> float:
    """A number in [0, 1) fixed by the name and seed: stable across runs, shards and workers."""
    return zlib.crc32(f"{seed}:{name}".encode()) / 2**32


def split_of(name: str, seed: int, val_fraction: float) -> str:
    """"val" or "train", from ``split_hash`` of the photo's name: the variants of one photo
    (``NAME_v2``, ...) share its split, so no face is both trained and validated on."""
    return "val" if split_hash(source_name(name), seed) < val_fraction else "train"


def source_name(name: str) -> str:
    """``NAME_v3`` -> ``NAME``: the photo an example was made from."""
    stem, mark, number = name.rpartition(VARIANT_MARK)
    return stem if mark and number.isdigit() else name


def rng_for(name: str, seed: int) -> np.random.Generator:
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


def detail_of(err: Exception, source: Path) -> str:
    """The error's message without the leading path (the report has its own column)."""
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    prefix = f"{source}: "
    return text[len(prefix):] if text.startswith(prefix) else text


class _Skip(Exception):
    """An input that cannot be used: ``reason`` and ``detail`` for its report row."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def _faces_in(region: Region, faces: list[Face], size: int) -> list[np.ndarray]:
    """Landmarks of the faces whose mask key area lies inside ``region``, in pixels of its
    cut at ``size``."""
    out = []
    for face in faces:
        lm = region.to_cut(face.landmarks, size)
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


def _resized(clean: np.ndarray, masked: np.ndarray, mask: np.ndarray,
             size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A square photo and its mask drawn at the photo's resolution, resized to ``size``;
    outside the resized mask the masked image is the resized clean one, bit for bit."""
    small_clean, small_mask = resize_image(clean, size), resize_mask(mask, size)
    small_masked = np.where(small_mask[..., None], resize_image(masked, size), small_clean)
    return small_clean, small_masked, small_mask


def prepare_one(source: Path, name: str, root: Path, options: PrepareOptions) -> ItemResult:
    """Prepare one input file into ``root``; never raises (problems become a skip reason)."""
    result = ItemResult(str(source), name, "skipped",
                        split=split_of(name, options.seed, options.val_fraction))
    try:
        return _prepare_one(source, name, root, options, result)
    except _Skip as skip:
        result.status, result.reason, result.detail = "skipped", skip.reason, skip.detail
        return result
    except Exception as err:  # the run must go on; the report keeps the reason
        result.status, result.reason = "skipped", "error"
        result.detail = f"{type(err).__name__}: {detail_of(err, source)}"
        return result


def _draw_views(image: np.ndarray, chosen: list[Face], name: str, suffix: str, style: MaskStyle,
                rng: np.random.Generator, options: PrepareOptions,
                result: ItemResult) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """``(output name, clean, masked, mask)`` of one mask style on the chosen faces: the
    image itself (``--crop none``), or one crop per face; MaskFitError when the first fails."""
    if options.crop == "none":
        masked, mask = _masked_views(image, [f.landmarks for f in chosen], style, rng, result)
        return [(name + suffix, *_resized(image, masked, mask, options.size))]
    views = []
    for k, face in enumerate(chosen):
        region = Region.around(face)
        clean = region.cut(image, options.size)
        others = _faces_in(region, [f for f in chosen if f is not face], options.size)
        own = region.to_cut(face.landmarks, options.size)
        try:
            masked, mask = _masked_views(clean, [own, *others], style, rng, result)
        except MaskFitError:
            if k == 0:
                raise
            continue  # another face's crop: best effort
        views.append(((name if k == 0 else f"{name}_face{k + 1}") + suffix, clean, masked, mask))
    return views


def _read(source: Path, options: PrepareOptions) -> np.ndarray:
    """The photo at its own resolution, mirrored out to a square for ``--crop none``."""
    if source.suffix.lower() not in IMAGE_EXTS:
        raise _Skip("not_image", f"extension {source.suffix or '(none)'} is not an image type")
    if source.stat().st_size == 0:
        raise _Skip("empty_file", "0 bytes")
    try:
        image = load_image(source)
    except ImageReadError as err:
        raise _Skip("unreadable", detail_of(err, source)) from None
    h, w = image.shape[:2]
    if min(h, w) < MIN_IMAGE_SIDE:
        raise _Skip("image_too_small", f"{w}x{h} px, under {MIN_IMAGE_SIDE} px")
    return square_pad(image) if options.crop == "none" else image


def _chosen_faces(image: np.ndarray, options: PrepareOptions, result: ItemResult,
                  clock: _Clock) -> list[Face]:
    """The faces to mask (the largest, or all with ``all_faces``) at least ``min_face`` wide."""
    detections = detect(image, PREPARE)
    clock.lap("detect")
    result.faces = len(detections)
    if not detections:
        raise _Skip("no_face", "no face found")
    big = [d for d in detections if d.width >= options.min_face]
    if not big:
        widest = max(d.width for d in detections)
        raise _Skip("face_too_small", f"largest face {widest} px wide, under {options.min_face} px")
    chosen = fit_landmarks(image, big if options.all_faces else big[:1])
    clock.lap("landmarks")
    return chosen


def _draw_variants(image: np.ndarray, chosen: list[Face], name: str, options: PrepareOptions,
                   result: ItemResult) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """``(output name, clean, masked, mask)`` of every mask variant of the photo."""
    views = []
    for variant in range(options.variants):
        # Variant 0 draws from the example's own generator (as without --variants), the
        # others from their own, so adding variants leaves the first one as it was.
        suffix = "" if variant == 0 else f"{VARIANT_MARK}{variant + 1}"
        rng = rng_for(name + suffix, options.seed)
        style = random_style(rng, options.mask_type, options.color, options.texture)
        if variant == 0:
            result.texture = style.texture or ""
        try:
            views += _draw_views(image, chosen, name, suffix, style, rng, options, result)
        except MaskFitError as err:
            if variant == 0:
                raise _Skip("mask_fit", str(err)) from None
    return views


def _prepare_one(source: Path, name: str, root: Path, options: PrepareOptions,
                 result: ItemResult) -> ItemResult:
    names = [name] + [f"{name}{VARIANT_MARK}{v + 1}" for v in range(1, options.variants)]
    if not options.overwrite and all(p.is_file() for n in names for p in output_paths(root, n)):
        result.status = "exists"
        return result
    clock = _Clock()
    image = _read(source, options)
    clock.lap("read")
    chosen = _chosen_faces(image, options, result, clock)
    views = _draw_variants(image, chosen, name, options, result)
    clock.lap("draw")
    for out_name, clean, masked, mask in views:
        clean_path, masked_path, binary_path = output_paths(root, out_name)
        write_image(clean_path, clean)
        write_image(binary_path, mask.astype(np.uint8) * 255)
        write_image(masked_path, masked)  # last: its presence marks a finished example
    clock.lap("write")
    result.status, result.outputs, result.timings = "done", len(views), clock.timings
    return result
