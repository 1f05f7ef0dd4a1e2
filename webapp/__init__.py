"""The local web app (``python3 app.py``): the inference pipeline behind a Gradio page and API."""

from webapp.handlers import App
from webapp.page import build
from webapp.serve import load_app, serve
from webapp.workspace import Workspace

__all__ = ["App", "Workspace", "build", "load_app", "serve"]
