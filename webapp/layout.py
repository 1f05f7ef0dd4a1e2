"""The page's widgets, top to bottom: what a person sees. Built inside a ``gr.Blocks``; the
events that connect them to ``webapp.handlers`` are in ``webapp.events``."""

from __future__ import annotations

from dataclasses import dataclass

from webapp.handlers import MAX_UPLOAD_MB, App

ZOOMS = (100, 400)  # per cent of the view's width the marked photo is drawn at

# The marked photo is drawn at the zoom times the width it has at 100% (its own width, or the
# box's when narrower) inside a wrapper held to the box's size that scrolls, so a photo larger
# than the view can be brushed pixel by pixel (Gradio reports clicks in the photo's own pixels
# whatever size it is drawn at).
ZOOM_JS = """(zoom) => {
  const box = document.querySelector('#marked');
  const img = box && box.querySelector('img');
  if (img && img.naturalWidth) {
    const wrap = img.parentElement;
    wrap.style.overflow = 'auto'; wrap.style.maxWidth = box.clientWidth + 'px'; wrap.style.maxHeight = '80vh';
    const base = Math.min(img.naturalWidth, box.clientWidth);
    img.style.maxWidth = 'none'; img.style.maxHeight = 'none'; img.style.objectFit = 'fill';
    const width = (base * zoom / 100) + 'px';  // fixed, not shrunk by Gradio's flex box
    img.style.width = width; img.style.minWidth = width; img.style.flex = 'none'; img.style.height = 'auto';
  }
  return zoom;
}"""


@dataclass
class Widgets:
    """The page's inputs and outputs, for the handlers to be wired to."""

    upload: object
    mask_upload: object
    paste: object
    status: object
    state: object
    threshold: object
    dilation: object
    radius: object
    mode: object
    undo: object
    redo: object
    zoom: object
    marked_photo: object
    compare: object
    go: object
    download_image: object
    download_mask: object
    video_out: object
    batch_upload: object
    batch_status: object
    gallery: object
    batch_zip: object

    @property
    def opened(self) -> list:
        """What opening a file fills in."""
        return [self.status, self.marked_photo, self.state, self.compare, self.download_image,
                self.download_mask, self.video_out]


def inputs() -> dict:
    import gradio as gr

    with gr.Row():
        upload = gr.File(label=f"drop a photo or a short video (up to {MAX_UPLOAD_MB} MB)",
                         file_count="single", elem_id="upload", scale=3)
        mask_upload = gr.File(label="optional: your own mask for the photo (white = paint), "
                              "used instead of the one found", file_count="single",
                              elem_id="mask-upload", scale=2)
        paste = gr.Image(label="or paste a photo", sources=["clipboard"], type="filepath",
                         elem_id="paste", height=160, scale=1)
    return {"upload": upload, "mask_upload": mask_upload, "paste": paste,
            "status": gr.Markdown(elem_id="status"), "state": gr.State(None)}


def mask_tools(app: App) -> dict:
    import gradio as gr

    with gr.Row():
        threshold = gr.Slider(0.05, 0.95, value=app.cfg.threshold, step=0.05, label="threshold",
                              elem_id="threshold")
        dilation = gr.Slider(0, 31, value=app.cfg.dilate_kernel, step=1, elem_id="dilation",
                             label="dilation (pixels at the model's size)")
        radius = gr.Slider(2, 80, value=12, step=1, label="brush size (pixels)", elem_id="radius")
        mode = gr.Radio(["add to the mask", "erase from the mask"], value="erase from the mask",
                        label="brush: click the photo", elem_id="mode")
    with gr.Row():
        undo = gr.Button("Undo stroke", elem_id="undo", size="sm")
        redo = gr.Button("Redo stroke", elem_id="redo", size="sm")
        zoom = gr.Slider(*ZOOMS, value=ZOOMS[0], step=50, label="zoom (%)", elem_id="zoom")
    return {"threshold": threshold, "dilation": dilation, "radius": radius, "mode": mode,
            "undo": undo, "redo": redo, "zoom": zoom}


def results() -> dict:
    import gradio as gr

    with gr.Row():
        marked_photo = gr.Image(label="the mask found (red) and the faces (green)", interactive=False,
                                format="png", elem_id="marked")
        compare = gr.ImageSlider(label="before / after", format="png", elem_id="compare")
    with gr.Row():
        go = gr.Button("Reconstruct", variant="primary", elem_id="reconstruct")
        download_image = gr.DownloadButton("Download the result (PNG)", elem_id="download-image")
        download_mask = gr.DownloadButton("Download the mask (PNG)", elem_id="download-mask")
    video_out = gr.Video(label="reconstructed video, with its sound", elem_id="video-out")
    return {"marked_photo": marked_photo, "compare": compare, "go": go, "download_image": download_image,
            "download_mask": download_mask, "video_out": video_out}


def batch() -> dict:
    import gradio as gr

    with gr.Accordion("Several photos at once", open=True):
        batch_upload = gr.File(label="drop several photos: each is reconstructed with the mask "
                               "found", file_count="multiple", elem_id="batch-upload")
        batch_status = gr.Markdown(elem_id="batch-status")
        gallery = gr.Gallery(label="results", format="png", columns=4, elem_id="gallery")
        batch_zip = gr.DownloadButton("Download all (zip)", elem_id="batch-zip")
    return {"batch_upload": batch_upload, "batch_status": batch_status, "gallery": gallery,
            "batch_zip": batch_zip}


def lay_out(app: App, loaded: str) -> Widgets:
    """The page's widgets, top to bottom (inside a ``gr.Blocks``)."""
    import gradio as gr

    gr.Markdown(f"## Face-mask reconstruction\n{loaded}")
    return Widgets(**inputs(), **mask_tools(app), **results(), **batch())
