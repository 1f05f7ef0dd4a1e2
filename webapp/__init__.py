"""The local web app (``python3 app.py``): the inference pipeline behind a Gradio page."""

from webapp.page import App, Workspace, build
from webapp.serve import load_app, serve

__all__ = ["App", "Workspace", "build", "load_app", "serve"]
