"""Configs: YAML files in this folder plus a checked loader (see ``configs.loader``)."""

from configs.loader import Config, ConfigError, load_config
from configs.schema import KEYS

__all__ = ["Config", "ConfigError", "KEYS", "load_config"]
