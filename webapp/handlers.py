"""What the page does, without the page: each ``App`` method is one event's handler (an upload,
a slider, a brush stroke, undo, Reconstruct, an API call), on the shared inference pipeline
(``inference.interactive`` for photos, ``inference.runner.run`` for videos). Gradio is not
imported here, so the handlers are tested as plain functions.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from configs import Config
from core.images import IMAGE_EXTS, check_photo_size, is_image_file, load_image, write_image
from core.media import VIDEO_EXTS, is_video_file
from inference.inputs import InputError
from inference.interactive import PhotoSession, paint
from inference.outputs import overlay
from inference.paste import Reconstruction
from inference.pipeline import MaskReconstructor
from inference.runner import Options, run
from inference.user_masks import UserMasks
from webapp.workspace import Workspace

MAX_UPLOAD_MB = 50
MAX_PIXELS = 40_000_000  # a photo larger than this (e.g. 8000 x 5000) is refused
BOX_RGB = (0, 220, 0)

Stroke = tuple[float, float, float, bool]  # x, y (photo pixels), radius, add (else erase)


@dataclass
class PhotoState:
    """What a photo's page keeps between events."""

    session: PhotoSession
    name: str = "photo"
    strokes: list[Stroke] = field(default_factory=list)
    undone: list[Stroke] = field(default_factory=list)  # most recently undone last, for redo
    mask: np.ndarray | None = None
    threshold: float = 0.5  # the sliders the mask was drawn with
    dilation: int = 0


@dataclass
class Opened:
    """What an upload puts on the page: a message, and a marked photo or a video."""

    message: str
    picture: np.ndarray | None = None
    state: PhotoState | None = None
    video: str | None = None


def marked(image: np.ndarray, mask: np.ndarray, boxes) -> np.ndarray:
    """The photo with the mask tinted red and the faces found boxed."""
    out = overlay(image, mask)
    thickness = max(1, round(max(image.shape[:2]) / 300))
    for left, top, right, bottom in boxes:
        cv2.rectangle(out, (left, top), (right, bottom), BOX_RGB, thickness)
    return out


def failed(err: Exception | str, upload: Path | None = None) -> str:
    """The page's error line; an upload is named by its file name, not by where the page
    keeps it (a temporary path means nothing to the person who dropped the file)."""
    text = str(err)
    if upload is not None:
        text = text.replace(str(upload), upload.name)
    return f"**error:** {text}"


def check_upload(path: Path) -> None:
    """Refuse, in one line, an upload that did not arrive or is over the page's size limit."""
    if not path.is_file():
        raise InputError(f"{path.name}: the upload did not arrive; try again")
    if path.stat().st_size > MAX_UPLOAD_MB * 2**20:  # Gradio's "50mb" is 50 MiB
        raise InputError(f"{path.name}: larger than the {MAX_UPLOAD_MB} MB this page takes")


def read_photo(path: Path) -> np.ndarray:
    """An uploaded photo ``(H,W,3)`` uint8 RGB; its size is checked from the header before any
    pixel is decoded (``MAX_PIXELS``), so a small file that decodes to gigabytes is refused."""
    check_upload(path)
    if not is_image_file(path):
        raise InputError(f"{path.name}: not a photo or a video this page reads (photos: "
                         f"{' '.join(IMAGE_EXTS)}; videos: {' '.join(VIDEO_EXTS)})")
    image = load_image(path, MAX_PIXELS)
    check_photo_size(path.name, image)
    return image


def given_mask(path: Path, image: np.ndarray, name: str) -> np.ndarray:
    """A mask image the person gave, ``(H,W)`` bool at ``image``'s size (white = paint), read and
    checked as ``infer.py --masks`` reads one."""
    check_upload(path)
    return UserMasks(path).mask_for(name, image)


class App:
    """The page's logic, without the page: each method is one event's handler."""

    def __init__(self, reconstructor: MaskReconstructor, cfg: Config, workspace: Workspace) -> None:
        self.rec, self.cfg, self.workspace = reconstructor, cfg, workspace

    def current_mask(self, state: PhotoState, threshold: float, dilation: int) -> np.ndarray:
        state.threshold, state.dilation = threshold, int(dilation)
        mask = state.session.mask(threshold, int(dilation))
        for x, y, radius, add in state.strokes:
            mask = paint(mask, x, y, radius, add)
        state.mask = mask
        return mask

    def open(self, path: Path, folder: Path, threshold: float, dilation: int,
             mask: Path | None = None) -> Opened:
        """An uploaded file: a photo gets its faces and mask found (or takes ``mask``, a mask
        image of the person's), a video is reconstructed.

        Raises one of ``inference.errors.USER_ERRORS`` (one line) for what cannot be used.
        """
        check_upload(path)
        if is_video_file(path):
            message, video = self.open_video(path, folder / "video")
            return Opened(message, video=video)
        return self.open_photo(path, threshold, dilation, mask)

    def photo_state(self, path: Path, threshold: float, dilation: int,
                    mask: Path | None = None) -> PhotoState:
        """A photo ready to be worked on: faces found, then the segmenter's mask, or ``mask``."""
        image = read_photo(path)
        given = None if mask is None else given_mask(mask, image, path.stem)
        state = PhotoState(PhotoSession(self.rec, image, given), name=path.stem)
        self.current_mask(state, threshold, dilation)
        return state

    def open_photo(self, path: Path, threshold: float, dilation: int, mask: Path | None = None) -> Opened:
        state = self.photo_state(path, threshold, dilation, mask)
        found, drawn = state.session.faces_found, state.mask
        faces = ("the whole photo" if found is None else
                 f"{found} face(s) found" if found else "no face found: the whole photo")
        source = "your mask" if mask is not None else "mask"
        note = ("; click **Reconstruct**" if drawn.any() else
                "; no mask found: paint it with the brush (add to the mask), then reconstruct")
        return Opened(f"{path.name}: {faces}, {source} {100 * drawn.mean():.1f}% of the photo{note}",
                      marked(state.session.image, drawn, state.session.boxes), state)

    def open_video(self, path: Path, folder: Path) -> tuple[str, str]:
        shutil.rmtree(folder, ignore_errors=True)  # the session's previous video
        folder.mkdir(parents=True)
        options = Options(path, folder, comparison=False, ext="png", save_masks=False)
        with open(folder / "log.txt", "w") as log:
            summary = run(self.cfg, options, self.rec, out=log)
        for frame in folder.glob("*.png"):  # the video is what the page offers; frames cost disk
            frame.unlink()
        return (f"{path.name}: {summary['processed']} frames reconstructed, "
                f"{summary['no_mask_found']['count']} without a mask", summary["outputs"]["video"])

    def remask(self, state: PhotoState | None, threshold: float, dilation: int):
        if state is None:
            return None
        return marked(state.session.image, self.current_mask(state, threshold, dilation), state.session.boxes)

    def brush(self, state: PhotoState | None, x: float, y: float, radius: float, add: bool,
              threshold: float, dilation: int):
        if state is None:
            return None
        state.strokes.append((x, y, radius, add))
        state.undone.clear()  # a new stroke ends the redo history, as in any editor
        return self.remask(state, threshold, dilation)

    def undo(self, state: PhotoState | None, threshold: float, dilation: int):
        """Take back the latest brush stroke (kept for ``redo``); nothing to undo: no change."""
        if state is not None and state.strokes:
            state.undone.append(state.strokes.pop())
        return self.remask(state, threshold, dilation)

    def redo(self, state: PhotoState | None, threshold: float, dilation: int):
        if state is not None and state.undone:
            state.strokes.append(state.undone.pop())
        return self.remask(state, threshold, dilation)

    def reconstruct(self, state: PhotoState, folder: Path) -> tuple[np.ndarray, Path, Path]:
        """The generator on the mask as it stands; the full-resolution result and mask written
        as PNGs into ``folder/photo/`` (the session's previous ones replaced). The pixels are
        ``infer.py``'s for the same photo and mask, the seam's feathering included."""
        result = self.reconstruction(state)
        folder = folder / "photo"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        image_path, mask_path = folder / f"{state.name}_reconstructed.png", folder / f"{state.name}_mask.png"
        write_image(image_path, result.image)
        write_image(mask_path, result.mask.astype(np.uint8) * 255)
        return result.image, image_path, mask_path

    def reconstruction(self, state: PhotoState) -> Reconstruction:
        return state.session.reconstruct(state.mask, state.threshold, state.dilation)

    def unmask(self, photo: Path, threshold: float, dilation: int,
               mask: Path | None = None) -> Reconstruction:
        """One photo start to finish (the API's ``/unmask``): the segmenter's mask with these
        settings, or ``mask``; nothing written. Without a mask and at the configured threshold
        and dilation it is ``infer.py``'s result; with one, ``infer.py --masks``'s."""
        return self.reconstruction(self.photo_state(photo, threshold, dilation, mask))
