"""The local web app: ``python3 app.py [--host 127.0.0.1] [--port 7860] [key=value ...]``.

Drop a photo or a short video on the page, see the faces and the mask found, fix the mask
with sliders and a brush, reconstruct, compare before / after, download the PNGs.
"""

from __future__ import annotations

import cli

cli.idle_threads_sleep()
cli.use_project_venv()


def main(argv: list[str] | None = None) -> int:
    import signal

    from inference.errors import USER_ERRORS
    from webapp import serve

    # A plain `kill` stops the app as Ctrl-C does, deleting its temporary files.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    cli.setup_logging()
    with cli.one_line_errors(*USER_ERRORS):
        serve(argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
