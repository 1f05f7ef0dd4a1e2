"""The web page of ``python3 app.py``: drop a photo or a video, see the mask found, fix it with
a brush, compare, download. Built with Gradio on the shared inference pipeline
(``inference.interactive`` for photos, ``inference.runner.run`` for videos).

Every file the page writes goes into one temporary folder (``Workspace``), a folder per
browser session inside it, removed when that session ends and, all of it, when the app
stops; Gradio keeps its own copies of uploads and downloads in the same folder.
"""

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from configs import Config
from core.images import IMAGE_EXTS, check_photo_size, is_image_file, load_image, write_image
from core.media import VIDEO_EXTS, is_video_file
from inference.errors import USER_ERRORS
from inference.inputs import InputError
from inference.interactive import PhotoSession, paint
from inference.outputs import overlay
from inference.pipeline import MaskReconstructor
from inference.runner import Options, run

MAX_UPLOAD_MB = 50
MAX_PIXELS = 40_000_000  # a photo larger than this (e.g. 8000 x 5000) is refused
BOX_RGB = (0, 220, 0)


class Workspace:
    """The app's temporary folder: one subfolder per browser session."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="facemask-app-"))

    def session(self, key: str) -> Path:
        folder = self.root / "sessions" / "".join(c for c in key if c.isalnum())[:64]
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def end_session(self, key: str) -> None:
        shutil.rmtree(self.session(key), ignore_errors=True)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class PhotoState:
    """What a photo's page keeps between events."""

    session: PhotoSession
    name: str = "photo"
    strokes: list[tuple[float, float, float, bool]] = field(default_factory=list)  # x, y, radius, add
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

    def open(self, path: Path, folder: Path, threshold: float, dilation: int) -> Opened:
        """An uploaded file: a photo gets its faces and mask found, a video is reconstructed.

        Raises one of ``inference.errors.USER_ERRORS`` (one line) for what cannot be used.
        """
        if not path.is_file():
            raise InputError(f"{path.name}: the upload did not arrive; try again")
        if path.stat().st_size > MAX_UPLOAD_MB * 2**20:  # Gradio's "50mb" is 50 MiB
            raise InputError(f"{path.name}: larger than the {MAX_UPLOAD_MB} MB this page takes")
        if is_video_file(path):
            message, video = self.open_video(path, folder / "video")
            return Opened(message, video=video)
        if not is_image_file(path):
            raise InputError(f"{path.name}: not a photo or a video this page reads (photos: "
                             f"{' '.join(IMAGE_EXTS)}; videos: {' '.join(VIDEO_EXTS)})")
        return self.open_photo(path, threshold, dilation)

    def open_photo(self, path: Path, threshold: float, dilation: int) -> Opened:
        image = load_image(path, MAX_PIXELS)
        check_photo_size(path.name, image)
        state = PhotoState(PhotoSession(self.rec, image), name=path.stem)
        mask = self.current_mask(state, threshold, dilation)
        found = state.session.faces_found
        faces = ("the whole photo" if found is None else
                 f"{found} face(s) found" if found else "no face found: the whole photo")
        note = ("; click **Reconstruct**" if mask.any() else
                "; no mask found: paint it with the brush (add to the mask), then reconstruct")
        return Opened(f"{path.name}: {faces}, mask {100 * mask.mean():.1f}% of the photo{note}",
                      marked(image, mask, state.session.boxes), state)

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
        return self.remask(state, threshold, dilation)

    def reconstruct(self, state: PhotoState, folder: Path) -> tuple[np.ndarray, Path, Path]:
        """The generator on the mask as it stands; the full-resolution result and mask written
        as PNGs into ``folder/photo/`` (the session's previous ones replaced). The pixels are
        ``infer.py``'s for the same photo and mask, the seam's feathering included."""
        result = state.session.reconstruct(state.mask, state.threshold, state.dilation)
        folder = folder / "photo"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        image_path, mask_path = folder / f"{state.name}_reconstructed.png", folder / f"{state.name}_mask.png"
        write_image(image_path, result.image)
        write_image(mask_path, result.mask.astype(np.uint8) * 255)
        return result.image, image_path, mask_path


@dataclass
class Widgets:
    """The page's inputs and outputs, for the handlers to be wired to."""

    upload: object
    paste: object
    status: object
    state: object
    threshold: object
    dilation: object
    radius: object
    mode: object
    marked_photo: object
    compare: object
    go: object
    download_image: object
    download_mask: object
    video_out: object

    @property
    def opened(self) -> list:
        """What opening a file fills in."""
        return [self.status, self.marked_photo, self.state, self.compare, self.download_image,
                self.download_mask, self.video_out]


def failed(err: Exception | str, upload: Path | None = None) -> str:
    """The page's error line; an upload is named by its file name, not by where the page
    keeps it (a temporary path means nothing to the person who dropped the file)."""
    text = str(err)
    if upload is not None:
        text = text.replace(str(upload), upload.name)
    return f"**error:** {text}"


def lay_out(app: App, loaded: str) -> Widgets:
    """The page's widgets, top to bottom (inside a ``gr.Blocks``)."""
    import gradio as gr

    gr.Markdown(f"## Face-mask reconstruction\n{loaded}")
    with gr.Row():
        upload = gr.File(label=f"drop a photo or a short video (up to {MAX_UPLOAD_MB} MB)",
                         file_count="single", elem_id="upload", scale=3)
        paste = gr.Image(label="or paste a photo", sources=["clipboard"], type="filepath",
                         elem_id="paste", height=160, scale=1)
    status = gr.Markdown(elem_id="status")
    state = gr.State(None)
    with gr.Row():
        threshold = gr.Slider(0.05, 0.95, value=app.cfg.threshold, step=0.05, label="threshold",
                              elem_id="threshold")
        dilation = gr.Slider(0, 31, value=app.cfg.dilate_kernel, step=1, elem_id="dilation",
                             label="dilation (pixels at the model's size)")
        radius = gr.Slider(2, 80, value=12, step=1, label="brush size (pixels)", elem_id="radius")
        mode = gr.Radio(["add to the mask", "erase from the mask"], value="erase from the mask",
                        label="brush: click the photo", elem_id="mode")
    with gr.Row():
        marked_photo = gr.Image(label="the mask found (red) and the faces (green)", interactive=False,
                                format="png", elem_id="marked")
        compare = gr.ImageSlider(label="before / after", format="png", elem_id="compare")
    with gr.Row():
        go = gr.Button("Reconstruct", variant="primary", elem_id="reconstruct")
        download_image = gr.DownloadButton("Download the result (PNG)", elem_id="download-image")
        download_mask = gr.DownloadButton("Download the mask (PNG)", elem_id="download-mask")
    video_out = gr.Video(label="reconstructed video, with its sound", elem_id="video-out")
    return Widgets(upload, paste, status, state, threshold, dilation, radius, mode, marked_photo,
                   compare, go, download_image, download_mask, video_out)


def wire_opening(app: App, w: Widgets) -> None:
    """Uploads and pastes open a file; the sliders and the brush redraw the mask."""
    import gradio as gr

    # Gradio shows a progress bar for a handler whose argument defaults to gr.Progress.
    def on_open(file, t, d, request: gr.Request, progress=gr.Progress(track_tqdm=True)):  # noqa: B008
        if file is None:
            return (gr.skip(),) * len(w.opened)
        try:
            shown = app.open(Path(file), app.workspace.session(request.session_hash), t, int(d))
        except USER_ERRORS as err:
            return (failed(err, Path(file)), None, None, None, None, None, None)
        return (shown.message, shown.picture, shown.state, None, None, None, shown.video)

    def on_upload(file, t, d, request: gr.Request, progress=gr.Progress(track_tqdm=True)):  # noqa: B008
        # The file box is emptied again, ready for the next drop.
        return (*on_open(file, t, d, request, progress), None)

    w.upload.upload(on_upload, [w.upload, w.threshold, w.dilation], [*w.opened, w.upload])
    w.paste.change(on_open, [w.paste, w.threshold, w.dilation], w.opened)
    w.threshold.release(app.remask, [w.state, w.threshold, w.dilation], [w.marked_photo])
    w.dilation.release(app.remask, [w.state, w.threshold, w.dilation], [w.marked_photo])

    def on_click(photo, r, m, t, d, evt: gr.SelectData):
        x, y = evt.index
        return app.brush(photo, x, y, r, m.startswith("add"), t, int(d))

    w.marked_photo.select(on_click, [w.state, w.radius, w.mode, w.threshold, w.dilation], [w.marked_photo])


def wire_reconstruct(app: App, w: Widgets) -> None:
    """The button runs the generator and offers the downloads."""
    import gradio as gr

    def on_reconstruct(photo, request: gr.Request):
        if photo is None:
            return failed("upload a photo first"), None, None, None
        try:
            folder = app.workspace.session(request.session_hash)
            result, image_path, mask_path = app.reconstruct(photo, folder)
        except USER_ERRORS as err:
            return failed(err), None, None, None
        strokes, share = len(photo.strokes), 100 * photo.mask.mean()
        said = (f"{photo.name}: reconstructed inside the mask as it stands ({share:.1f}% of the photo, "
                f"{strokes} brush stroke{'s' * (strokes != 1)}); download the result and the mask below")
        return said, (photo.session.image, result), str(image_path), str(mask_path)

    w.go.click(on_reconstruct, [w.state], [w.status, w.compare, w.download_image, w.download_mask])


def build(app: App, loaded: str):
    """The Gradio page; every handler is a line or two around an ``App`` method."""
    import gradio as gr

    with gr.Blocks(title="facemask reconstruction", delete_cache=(60, 600)) as page:
        widgets = lay_out(app, loaded)
        wire_opening(app, widgets)
        wire_reconstruct(app, widgets)

        def on_unload(request: gr.Request):
            app.workspace.end_session(request.session_hash)

        page.unload(on_unload)
    return page
