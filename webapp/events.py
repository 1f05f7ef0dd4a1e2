"""The page's events: each connects widgets (``webapp.layout``) to a handler
(``webapp.handlers``) in a line or two, turning a person's error into the page's one line.

Every event that runs a model shares one concurrency group, ``MODELS``: one model run at a
time (the models and the face tracker are one copy, shared by every session), the others
waiting in Gradio's queue.
"""

# No `from __future__ import annotations`: Gradio finds gr.Request parameters by their
# annotation objects.
from pathlib import Path

from inference.errors import USER_ERRORS
from webapp.batches import run_batch
from webapp.handlers import App, failed
from webapp.layout import ZOOM_JS, Widgets

MODEL_RUNS = 1  # events running a model at once, the page's and the API's together
QUEUE_SIZE = 32  # requests waiting beyond these; more are told the queue is full
MODELS = {"concurrency_id": "models", "concurrency_limit": MODEL_RUNS}
PAGE_ONLY = {"api_visibility": "undocumented"}  # the stable API is webapp.api's


def wire_opening(app: App, w: Widgets) -> None:
    """Uploads and pastes open a file (with the person's mask, when given)."""
    import gradio as gr

    # Gradio shows a progress bar for a handler whose argument defaults to gr.Progress.
    def on_open(file, mask, t, d, request: gr.Request, progress=gr.Progress(track_tqdm=True)):  # noqa: B008
        if file is None:
            return (gr.skip(),) * len(w.opened)
        folder = app.workspace.session(request.session_hash)
        try:
            shown = app.open(Path(file), folder, t, int(d), None if mask is None else Path(mask))
        except USER_ERRORS as err:
            return (failed(err, Path(file)), None, None, None, None, None, None)
        return (shown.message, shown.picture, shown.state, None, None, None, shown.video)

    def on_upload(file, mask, t, d, request: gr.Request, progress=gr.Progress(track_tqdm=True)):  # noqa: B008
        # The file box is emptied again, ready for the next drop.
        return (*on_open(file, mask, t, d, request, progress), None)

    given = [w.mask_upload, w.threshold, w.dilation]
    w.upload.upload(on_upload, [w.upload, *given], [*w.opened, w.upload], **MODELS, **PAGE_ONLY)
    w.paste.change(on_open, [w.paste, *given], w.opened, **MODELS, **PAGE_ONLY)


def wire_brush(app: App, w: Widgets) -> None:
    """The sliders, the brush, undo / redo and zoom redraw the mask (no model runs)."""
    import gradio as gr

    for slider in (w.threshold, w.dilation):
        slider.release(app.remask, [w.state, w.threshold, w.dilation], [w.marked_photo], **PAGE_ONLY)

    def on_click(photo, r, m, t, d, evt: gr.SelectData):
        x, y = evt.index
        return app.brush(photo, x, y, r, m.startswith("add"), t, int(d))

    w.marked_photo.select(on_click, [w.state, w.radius, w.mode, w.threshold, w.dilation], [w.marked_photo],
                          **PAGE_ONLY)
    w.undo.click(app.undo, [w.state, w.threshold, w.dilation], [w.marked_photo], **PAGE_ONLY)
    w.redo.click(app.redo, [w.state, w.threshold, w.dilation], [w.marked_photo], **PAGE_ONLY)
    w.zoom.change(None, [w.zoom], [w.zoom], js=ZOOM_JS, **PAGE_ONLY)
    # A new picture is drawn at the view's width again; keep the zoom asked for.
    w.marked_photo.change(None, [w.zoom], [w.zoom], js=ZOOM_JS, **PAGE_ONLY)


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

    w.go.click(on_reconstruct, [w.state], [w.status, w.compare, w.download_image, w.download_mask],
               **MODELS, **PAGE_ONLY)


def wire_batch(app: App, w: Widgets) -> None:
    """Several photos dropped at once: a gallery and one zip."""
    import gradio as gr

    def on_batch(files, t, d, request: gr.Request, progress=gr.Progress(track_tqdm=True)):  # noqa: B008
        if not files:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        folder = app.workspace.session(request.session_hash)
        done = run_batch(app, [Path(f) for f in files], folder, t, int(d))
        archive = None if done.archive is None else str(done.archive)
        return done.message, done.gallery, archive, None  # the drop box emptied for the next

    w.batch_upload.upload(on_batch, [w.batch_upload, w.threshold, w.dilation],
                          [w.batch_status, w.gallery, w.batch_zip, w.batch_upload], **MODELS, **PAGE_ONLY)
