"""Start the web app: load the models the way ``infer.py`` does, build the page, serve it
on the loopback interface with no network use (no analytics, no share link, local fonts).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import ctypes
import logging
import os
import time
from pathlib import Path

from configs import Config, load_config
from inference.loading import load_pipeline
from modelfiles.checkpoint import find_latest
from stages import RECONSTRUCTION, SEGMENTATION
from webapp.handlers import MAX_UPLOAD_MB, App
from webapp.page import build
from webapp.workspace import Workspace


class ServeError(ValueError):
    """The page cannot be served (the port is taken, the host is not this machine's)."""


DEMO_CONFIG = "configs/demo_predict.yaml"  # where `make demo` leaves its models
MALLOC_ARENAS = 2
M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)


def few_malloc_arenas() -> None:
    """Cap glibc's malloc arenas. Each thread that serves a request at the same time as
    another gets an arena of its own (up to 8 per core), each keeping the memory freed in it, so
    the app's memory grew with every burst of clients (about 30 MB per four at once, measured);
    with two arenas it stays flat. Not glibc (macOS, musl): nothing to do."""
    try:
        ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, MALLOC_ARENAS)
    except (OSError, AttributeError):
        pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="A local web page: drop a photo or a video, see the mask found, fix it with a "
                    "brush, compare, download.",
        epilog="Overrides use config keys (docs/configuration.md), e.g. threshold=0.4 device=cpu. "
               "Without weights options, the newest run in checkpoint_path ('weights') is used, or "
               "the demo's models after 'make demo'.")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1, "
                        "this machine only)")
    parser.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    parser.add_argument("--config", help="config name or YAML path (default: predict, or the demo's "
                        "when only the demo has weights)")
    parser.add_argument("--segm-weights", metavar="FILE", help="segmentation checkpoint")
    parser.add_argument("--recon-weights", metavar="FILE", help="reconstruction checkpoint")
    return parser


def app_config(args: argparse.Namespace) -> Config:
    """The config ``infer.py`` would use; with nothing chosen and no weights of our own in
    ``weights/``, the demo's config and models."""
    flags = {"segm_weights": args.segm_weights, "recon_weights": args.recon_weights}
    flags = {k: v for k, v in flags.items() if v is not None}
    cfg = load_config(args.config or "predict", args.overrides, **flags)
    if args.config is None and not flags:
        ours = [find_latest(cfg.checkpoint_path, stage) for stage in (SEGMENTATION, RECONSTRUCTION)]
        if None in ours and Path(DEMO_CONFIG).is_file():
            demo = load_config(DEMO_CONFIG, args.overrides)
            if all(find_latest(demo.checkpoint_path, s) for s in (SEGMENTATION, RECONSTRUCTION)):
                return demo
    return cfg


def shown_path(path: str | Path) -> str:
    """A model file as the page names it: relative to the working folder when inside it (no
    machine's absolute paths on a page or in a screenshot), else as given."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_app(args: argparse.Namespace, workspace: Workspace) -> tuple[App, str]:
    """The page's logic with both models loaded, and the line that says which."""
    cfg = app_config(args)
    pipeline = load_pipeline(cfg)
    loaded = "; ".join(f"{stage}: {shown_path(path)}" for stage, path in pipeline.weights.items())
    return App(pipeline.reconstructor, cfg, workspace), f"loaded {loaded} ({pipeline.reconstructor.device})"


def serve(argv: list[str] | None = None, block: bool = True):
    """Parse ``argv``, load, serve; returns Gradio's ``(app, local_url, share_url)``."""
    args = build_parser().parse_intermixed_args(argv)
    few_malloc_arenas()
    workspace = Workspace()
    atexit.register(workspace.remove)
    # Gradio reads these when it is imported: no usage reports, uploads into our folder.
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ["GRADIO_TEMP_DIR"] = str(workspace.root / "gradio")
    app, loaded = load_app(args, workspace)
    print(loaded, flush=True)
    import gradio as gr

    page = build(app, loaded)
    theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["monospace"])
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    try:
        launched = page.launch(server_name=args.host, server_port=args.port, share=False, inbrowser=False,
                               max_file_size=f"{MAX_UPLOAD_MB}mb", ssr_mode=False, theme=theme,
                               footer_links=[], prevent_thread_lock=True, quiet=True, show_error=True)
    except OSError as err:
        workspace.remove()
        raise ServeError(f"cannot serve on {args.host}:{args.port} ({str(err).split('.')[0]}); "
                         "pass --port N for another port") from None
    print(f"serving on {launched[1]} (temporary files in {workspace.root}; Ctrl-C stops it and "
          "deletes them)", flush=True)
    if block:
        try:
            while True:
                time.sleep(0.5)
        except KeyboardInterrupt:
            workspace.remove()
            print("stopped; temporary files deleted", flush=True)
            with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C while closing
                page.close()
    return launched
