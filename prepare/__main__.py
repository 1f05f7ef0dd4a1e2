"""``python3 -m prepare images|video|sheet ...`` (see ``prepare.command``)."""

import cli

cli.use_project_venv()

from prepare.command import main  # noqa: E402 (after the .venv switch)

raise SystemExit(main())
