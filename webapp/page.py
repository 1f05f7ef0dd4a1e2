"""The web page of ``python3 app.py``: drop a photo or a video, see the mask found (or give
your own), fix it with a brush, compare, download; or drop several photos for a gallery and
a zip. Its parts: the widgets (``webapp.layout``), the events (``webapp.events``), the logic
(``webapp.handlers``, ``webapp.batches``) and the API for scripts (``webapp.api``).
"""

# No `from __future__ import annotations`: Gradio finds gr.Request parameters by their
# annotation objects.
from webapp.api import add_api
from webapp.events import QUEUE_SIZE, wire_batch, wire_brush, wire_opening, wire_reconstruct
from webapp.handlers import App
from webapp.layout import lay_out


def build(app: App, loaded: str):
    """The Gradio page with its API, queued: one model run at a time (``events.MODEL_RUNS``),
    up to ``QUEUE_SIZE`` requests waiting."""
    import gradio as gr

    with gr.Blocks(title="facemask reconstruction", delete_cache=(60, 600)) as page:
        widgets = lay_out(app, loaded)
        wire_opening(app, widgets)
        wire_brush(app, widgets)
        wire_reconstruct(app, widgets)
        wire_batch(app, widgets)
        add_api(app)

        def on_unload(request: gr.Request):
            app.workspace.end_session(request.session_hash)

        page.unload(on_unload)
    # Cheap events (sliders, brush) may run side by side; the model events are limited by
    # their own group (events.MODELS).
    page.queue(max_size=QUEUE_SIZE, default_concurrency_limit=4)
    return page
