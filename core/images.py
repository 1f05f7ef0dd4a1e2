"""Reading images and masks from disk, whatever their format, as RGB uint8 / binary masks.

Every failure becomes an ``ImageReadError`` with one line naming the file and the reason,
so callers can skip the file and go on.
"""

from __future__ import annotations

import io
import warnings
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from core.files import write_bytes

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
MASK_THRESHOLD = 127  # mask pixels are > 127: JPEG noise around 0 stays background
MAX_GREY_FRACTION = 0.10  # JPEG edges of a real mask stay well under this
OPENCV_LOG_FATAL = 1  # OpenCV's log level "fatal only" (errors are 2, warnings 3)
MAX_PIXELS = 100_000_000  # default refusal for a decoded image (100 megapixels: 300 MB as RGB)
MIN_SIDE = 16  # an image narrower than this holds no face a model could paint (the smallest img_size)


class ImageReadError(ValueError):
    """An image file that cannot be used; the message says which and why."""


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTS and not path.name.startswith(".")


def _read_bytes(path: Path) -> np.ndarray:
    try:
        data = np.fromfile(str(path), dtype=np.uint8)  # np.fromfile copes with unicode paths
    except FileNotFoundError:
        raise ImageReadError(f"{path}: file not found") from None
    except OSError as err:
        raise ImageReadError(f"{path}: cannot read ({err.strerror or err})") from None
    if data.size == 0:
        raise ImageReadError(f"{path}: empty file (0 bytes)")
    return data


def _check_jpeg_complete(path: Path, data: np.ndarray) -> None:
    # libjpeg pads a truncated JPEG with grey and only warns; catch it by the missing
    # end-of-image marker so a half-downloaded photo is not used as training data.
    if data.size >= 2 and data[0] == 0xFF and data[1] == 0xD8:
        tail = data[-64:].tobytes().rstrip(b"\x00")
        if not tail.endswith(b"\xff\xd9"):
            raise ImageReadError(f"{path}: truncated JPEG (no end-of-image marker)")


@cache
def _quiet_opencv() -> None:
    # A damaged file is reported once, by us, as one line; OpenCV's own "[ WARN:0@...]" and
    # "[ERROR:0@...]" lines about it would only repeat it, through the progress bar.
    cv2.setLogLevel(OPENCV_LOG_FATAL)


def header_size(data: np.ndarray) -> tuple[int, int] | None:
    """``(width, height)`` from an encoded image's header, without decoding its pixels (Pillow
    reads headers lazily); None when Pillow does not know the format."""
    from PIL import Image

    limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None  # Pillow's own bomb check raises
    try:                                                          # before it tells the size
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data.tobytes())) as image:
                return image.size
    except Exception:  # noqa: BLE001 - an unreadable header is for the decoder to report
        return None
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def _check_pixels(path: Path, data: np.ndarray, max_pixels: int) -> None:
    # A small file can decode to gigabytes (a PNG of one colour compresses ~1000:1): refuse it
    # from its header, before the decoder allocates anything.
    size = header_size(data)
    if size is not None and size[0] * size[1] > max_pixels:
        raise ImageReadError(f"{path}: {size[0]}x{size[1]} is {size[0] * size[1] / 1e6:.0f} megapixels, more "
                             f"than max_pixels={max_pixels} (raise max_pixels to read it)")


def _decode(path: Path, flags: int, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    _quiet_opencv()
    data = _read_bytes(path)
    _check_pixels(path, data, max_pixels)
    _check_jpeg_complete(path, data)
    try:
        image = cv2.imdecode(data, flags)
    except cv2.error as err:
        raise ImageReadError(f"{path}: cannot decode ({str(err).strip().splitlines()[-1]})") from None
    if image is None:
        raise ImageReadError(f"{path}: not a readable image (unknown format or damaged data)")
    return image


def check_photo_size(name: str | Path, image: np.ndarray) -> None:
    """Refuse, in one line, an image too small on either side to hold a face (``MIN_SIDE``)."""
    h, w = image.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise ImageReadError(f"{name}: {w}x{h} is too small (a photo needs at least {MIN_SIDE} px a side)")


def load_image(path: str | Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Any image file -> ``(H,W,3)`` uint8 RGB.

    Grayscale, palette, RGBA (alpha dropped), CMYK and 16-bit files all come out as 8-bit
    RGB; EXIF orientation is applied. A file whose header says more than ``max_pixels`` is
    refused before it is decoded.
    """
    path = Path(path)
    image = _decode(path, cv2.IMREAD_COLOR, max_pixels)  # converts depth/channels, applies EXIF rotation
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def load_mask(path: str | Path) -> np.ndarray:
    """A mask image -> ``(H,W)`` bool, True where the pixel value is > 127.

    A mask saved with values 0/1 (not 0/255) is read as such. A file with many mid-grey
    pixels is not a mask (a photo saved in the wrong folder, say): ``ImageReadError``.
    """
    path = Path(path)
    image = _decode(path, cv2.IMREAD_GRAYSCALE)
    top = int(image.max())
    if 0 < top <= 1:
        return image > 0
    grey = float(((image > 63) & (image < 192)).mean())
    if grey > MAX_GREY_FRACTION:
        raise ImageReadError(f"{path}: not a binary mask ({grey:.0%} of pixels are mid-grey; "
                             "masks are 0 = face, 255 = mask)")
    return image > MASK_THRESHOLD


def check_same_frame(reference: Path, ref_shape: tuple, path: Path, shape: tuple) -> None:
    """Refuse a partner file (mask, clean image) whose aspect ratio differs from the masked
    image's: resizing both would silently misalign them. Same aspect at another scale is fine."""
    (h0, w0), (h1, w1) = ref_shape[:2], shape[:2]
    if abs(h0 / w0 - h1 / w1) > 0.02 * (h0 / w0):
        raise ImageReadError(f"{path}: size {w1}x{h1} does not match {reference.name} ({w0}x{h0})")


def resize_image(image: np.ndarray, size: int) -> np.ndarray:
    """``(H,W,3)`` uint8 -> ``(size,size,3)``: area averaging down, bilinear up."""
    h, w = image.shape[:2]
    if (h, w) == (size, size):
        return image
    interp = cv2.INTER_AREA if size < min(h, w) else cv2.INTER_LINEAR
    return cv2.resize(image, (size, size), interpolation=interp)


def resize_mask(mask: np.ndarray, size: int) -> np.ndarray:
    """``(H,W)`` bool -> ``(size,size)`` bool, by averaging then thresholding at one half."""
    h, w = mask.shape[:2]
    if (h, w) == (size, size):
        return mask
    interp = cv2.INTER_AREA if size < min(h, w) else cv2.INTER_LINEAR
    return cv2.resize(mask.astype(np.uint8) * 255, (size, size), interpolation=interp) > MASK_THRESHOLD


def tensor_to_image(x) -> np.ndarray:
    """``(3,H,W)`` or ``(1,H,W)`` float in [0,1] (torch or numpy) -> ``(H,W,3)`` uint8."""
    a = x.detach().float().cpu().numpy() if hasattr(x, "detach") else np.asarray(x, dtype=np.float32)
    if a.shape[0] == 1:
        a = np.repeat(a, 3, axis=0)
    return (np.clip(a.transpose(1, 2, 0), 0, 1) * 255 + 0.5).astype(np.uint8)


def grid(rows: list[list[np.ndarray]], gap: int = 2) -> np.ndarray:
    """Tile equally sized ``(H,W,3)`` uint8 images, ``rows[r][c]``, with white gaps."""
    h, w = rows[0][0].shape[:2]
    ncols = max(len(r) for r in rows)
    out = np.full((len(rows) * (h + gap) - gap, ncols * (w + gap) - gap, 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            out[r * (h + gap): r * (h + gap) + h, c * (w + gap): c * (w + gap) + w] = image
    return out


def write_image(path: str | Path, image: np.ndarray, quality: int = 95,
                png_compression: int | None = None) -> None:
    """Write ``(H,W,3)`` RGB or ``(H,W)`` gray uint8, atomically (temp name, then rename).

    The format follows the extension; a crash never leaves a half-written file behind.
    ``quality``: JPEG quality; ``png_compression``: 0-9 (None: OpenCV's fast default).
    """
    path = Path(path)
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    ext = path.suffix.lower()
    params = ([cv2.IMWRITE_JPEG_QUALITY, quality] if ext in (".jpg", ".jpeg") else
              [cv2.IMWRITE_PNG_COMPRESSION, png_compression] if ext == ".png" and png_compression is not None
              else [])
    ok, buf = cv2.imencode(path.suffix.lower() or ".png", bgr, params)
    if not ok:
        raise ImageReadError(f"{path}: cannot encode image as {path.suffix}")
    write_bytes(path, buf.tobytes())
