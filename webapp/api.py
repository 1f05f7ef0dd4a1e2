"""The app's stable API for scripts (``gradio_client``), beside the page:

- ``/unmask``: (photo file, mask file or None, threshold, dilation) -> (result PNG, mask PNG,
  faces found). The mask given is white where to paint; without one the segmenter finds it.
  It is the page's pipeline (``App.unmask``): at the configured threshold and dilation the
  pixels are ``infer.py``'s, and with a mask ``infer.py --masks``'s.
- ``/unmask_video``: video file -> the reconstructed video (with its sound), as ``infer.py``.

The endpoints' widgets are hidden: the page does not show them, the API docs do. Errors come
back as one ``error:`` line (``gr.Error``), and the app goes on serving.
"""

# No `from __future__ import annotations`: Gradio finds gr.Request parameters by their
# annotation objects.
from pathlib import Path

import numpy as np

from core.media import is_video_file
from inference.errors import USER_ERRORS
from inference.inputs import InputError
from webapp.events import MODELS
from webapp.handlers import App, check_upload

UNMASK, UNMASK_VIDEO = "unmask", "unmask_video"


def one_line(err: Exception, *uploads: Path | None) -> str:
    """An error as the API's one line, naming uploads by file name, not by where they are kept."""
    text = str(err)
    for upload in uploads:
        if upload is not None:
            text = text.replace(str(upload), upload.name)
    return "error: " + " ".join(text.split())


def unmask_handler(app: App):
    """``/unmask``'s function: ``(photo, mask, threshold, dilation) -> ((H,W,3) uint8, (H,W) uint8
    0/255, faces found)``; faces found is -1 where faces were not searched (``faces=none``)."""
    import gradio as gr

    def unmask(photo: str | None, mask: str | None, threshold: float | None, dilation: float | None):
        if photo is None:
            raise gr.Error("error: no photo given", print_exception=False)
        photo_path, mask_path = Path(photo), None if mask is None else Path(mask)
        t = app.cfg.threshold if threshold is None else float(threshold)
        d = app.cfg.dilate_kernel if dilation is None else int(dilation)
        try:
            result = app.unmask(photo_path, t, d, mask_path)
        except USER_ERRORS as err:
            raise gr.Error(one_line(err, photo_path, mask_path), print_exception=False) from None
        faces = -1 if result.faces_found is None else result.faces_found
        return result.image, result.mask.astype(np.uint8) * 255, faces

    return unmask


def unmask_video_handler(app: App):
    """``/unmask_video``'s function: a video file -> the reconstructed video's path (the
    session's folder keeps only its latest)."""
    import gradio as gr

    def unmask_video(video: str | None, request: gr.Request) -> str:
        if video is None:
            raise gr.Error("error: no video given", print_exception=False)
        path = Path(video)
        try:
            check_upload(path)
            if not is_video_file(path):
                raise InputError(f"{path.name}: not a video (for a photo, call /unmask)")
            _, out = app.open_video(path, app.workspace.session(request.session_hash) / "video")
        except USER_ERRORS as err:
            raise gr.Error(one_line(err, path), print_exception=False) from None
        return out

    return unmask_video


def add_api(app: App) -> None:
    """The two endpoints, their widgets hidden (inside a ``gr.Blocks``)."""
    import gradio as gr

    with gr.Column(visible=False):
        photo = gr.File(label="photo", file_count="single")
        mask = gr.File(label="mask (optional; white = paint)", file_count="single")
        threshold = gr.Number(app.cfg.threshold, label="threshold (0-1; unused with a mask)")
        dilation = gr.Number(app.cfg.dilate_kernel, label="dilation (pixels at the model's side; "
                             "unused with a mask)", precision=0)
        result = gr.Image(label="result", format="png", type="numpy")
        mask_out = gr.Image(label="mask used (255 = painted)", format="png", type="numpy")
        faces = gr.Number(label="faces found (-1: not searched)", precision=0)
        video, video_out = gr.File(label="video", file_count="single"), gr.File(label="reconstructed video")
        run_photo, run_video = gr.Button(), gr.Button()
    run_photo.click(unmask_handler(app), [photo, mask, threshold, dilation], [result, mask_out, faces],
                    api_name=UNMASK, **MODELS)
    run_video.click(unmask_video_handler(app), [video], [video_out], api_name=UNMASK_VIDEO, **MODELS)
