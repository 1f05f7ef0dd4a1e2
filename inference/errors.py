"""The errors a user can cause (a bad option, file, input or output folder): the scripts and
the web app print each as one line, where anything else is a bug and keeps its traceback."""

from __future__ import annotations

from configs import ConfigError
from core.images import ImageReadError
from core.media import VideoError
from inference.inputs import InputError
from inference.outputs import OutputError
from modelfiles.checkpoint import CheckpointError


class NothingProcessed(RuntimeError):
    """Every input was skipped."""


USER_ERRORS = (ConfigError, CheckpointError, InputError, VideoError, ImageReadError, OutputError,
               NothingProcessed, ValueError)
