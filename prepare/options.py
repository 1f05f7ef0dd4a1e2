"""What a preparation run is asked to do: ``PrepareOptions``, and the error that stops it."""

from __future__ import annotations

from dataclasses import dataclass

from prepare.masks import MASK_TYPES, TEXTURES

MIN_IMAGE_SIDE = 64


class PrepareError(ValueError):
    """A user mistake or an unusable input that stops the whole command (one line)."""


@dataclass(frozen=True)
class PrepareOptions:
    """Settings shared by ``prepare_images`` and ``prepare_video`` (CLI flags in brackets).

    ``mask_type``: one of ``MASK_TYPES`` or "random" [--mask-type]; ``color``: RGB 0-255
    [--color HEX]; ``texture``: one of ``TEXTURES``, "random" or None [--texture];
    ``crop``: "face" (square crop around each face, like CelebA-HQ) or "none" (the image
    is already a face crop: mirrored to a square if needed, resized) [--crop];
    ``shard``: (I, N) handles only inputs I, I+N, I+2N, ... of the sorted list [--shard I/N];
    ``variants``: masks drawn per photo, each a style of its own (``NAME``, ``NAME_v2``, ...)
    [--variants].
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
    variants: int = 1
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
        if self.variants < 1:
            raise PrepareError(f"--variants must be at least 1, got {self.variants}")
        if self.workers < 1:
            raise PrepareError(f"--workers must be at least 1, got {self.workers}")
        if self.crop not in ("face", "none"):
            raise PrepareError(f"--crop must be face or none, got {self.crop}")
        index, count = self.shard
        if not (count >= 1 and 0 <= index < count):
            raise PrepareError(f"--shard I/N needs 0 <= I < N, got {index}/{count}")
