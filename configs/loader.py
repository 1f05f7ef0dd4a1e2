"""Load a YAML config, apply ``key=value`` overrides, and check every key and type.

A config file has the published layout, a ``settings:`` mapping::

    settings:
      root_dir: data/celeba
      img_size: 256

Values not given take the defaults in ``configs.schema.KEYS``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from configs.schema import KEYS

CONFIG_DIR = Path(__file__).resolve().parent

# Numbers that must be at least this large; anything smaller is a mistake, not a setting.
MINIMUM = {
    "img_size": 16, "segm_size": 16, "batch_size": 1, "num_workers": 0, "num_epochs": 1, "base_channels": 1,
    "depth": 1, "d_num_layers": 1, "d_base_channels": 1, "visualize_per_iter": 1, "save_per_iter": 1,
    "print_per_iter": 1, "keep_last": 0, "max_nonfinite": 1, "erode_kernel": 0,
    "erode_iters": 0, "dilate_kernel": 0, "dilate_iters": 0, "n_mels": 1, "audio_dim": 1,
    "sample_rate": 1000, "max_iters": 1, "lr": 0.0, "gamma": 0.0, "audio_window": 0.0,
    "hop_ms": 0.1, "win_ms": 1.0, "detect_every": 1, "hole_weight": 0.0, "max_pixels": 1,
    "temporal_mask_decay": 0.0, "temporal_paint_weight": 0.0, "temporal_cut": 0.0, "bare_faces": 0.0,
}


class ConfigError(ValueError):
    """A config problem, worded as one line for the user."""


class Config:
    """Settings with attribute access (``cfg.img_size``); unknown names raise.

    Built only by ``load_config`` / ``Config.from_dict`` so every value is checked.
    ``is_set(name)`` tells a value someone gave (YAML, command line, code) from a default.
    """

    def __init__(self, values: dict[str, Any], source: str = "<defaults>",
                 given: frozenset[str] = frozenset()) -> None:
        object.__setattr__(self, "_values", dict(values))
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "_given", frozenset(given))

    @classmethod
    def from_dict(cls, settings: dict[str, Any] | None = None, source: str = "<dict>") -> Config:
        """Defaults, updated and checked with ``settings``."""
        settings = _translate_published(dict(settings or {}), source)
        values = {name: _copy(key.default) for name, key in KEYS.items()}
        for name, value in settings.items():
            values[name] = check_value(name, value, source)
        _check_consistency(values, source)
        return cls(values, source, frozenset(settings))

    def is_set(self, name: str) -> bool:
        """True when ``name`` was given rather than left at its default."""
        return name in self._given

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"config has no key '{name}'") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._values[name] = check_value(name, value, "assignment")
        object.__setattr__(self, "_given", self._given | {name})

    def to_dict(self) -> dict[str, Any]:
        return {name: _copy(value) for name, value in self._values.items()}

    def replace(self, **changes: Any) -> Config:
        """A checked copy with some keys changed."""
        copy = Config.from_dict({**self._values, **changes}, self.source)
        object.__setattr__(copy, "_given", self._given | set(changes))
        return copy

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"Config({body})"


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


def _valid_keys_hint(name: str) -> str:
    close = difflib.get_close_matches(name, KEYS, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return hint + "valid keys: " + ", ".join(sorted(KEYS))


def check_value(name: str, value: Any, source: str) -> Any:
    """Return ``value`` converted to the key's type, or raise ``ConfigError``."""
    if not isinstance(name, str):
        raise ConfigError(f"config keys in {source} must be names, got {name!r}")
    if name not in KEYS:
        raise ConfigError(f"unknown config key '{name}' in {source}; {_valid_keys_hint(name)}")
    key = KEYS[name]
    kind = key.kind
    optional = kind.endswith("?")
    kind = kind.rstrip("?")
    if optional and (value is None or (isinstance(value, str) and value.lower() in ("none", "null", ""))):
        return None

    def wrong() -> ConfigError:
        want = {"str": "a string", "int": "an integer", "float": "a number",
                "bool": "true or false", "list[int]": "a list of integers like [1000, 2000]"}[kind]
        if optional:
            want += " or none"
        return ConfigError(f"config key '{name}' in {source} must be {want}, "
                           f"got {value!r} ({type(value).__name__})")

    if kind == "bool":
        if not isinstance(value, bool):
            raise wrong()
    elif kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise wrong()
    elif kind == "float":
        if isinstance(value, str):  # YAML 1.1 reads "1e-4" (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                raise wrong() from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong()
        value = float(value)
    elif kind == "str":
        if isinstance(value, bool) and key.choices and {"on", "off"} <= set(key.choices):
            value = "on" if value else "off"  # YAML 1.1 reads a bare on / off as true / false
        if not isinstance(value, str):
            raise wrong()
    elif kind == "list[int]":
        if isinstance(value, int) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, (list, tuple)) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise wrong()
        value = list(value)
    if key.choices is not None and value not in key.choices:
        raise ConfigError(f"config key '{name}' in {source} must be one of "
                          f"{', '.join(key.choices)}; got {value!r}")
    if name in MINIMUM and value is not None and value < MINIMUM[name]:
        raise ConfigError(f"config key '{name}' in {source} must be >= {MINIMUM[name]}, got {value}")
    return value


def _translate_published(settings: dict[str, Any], source: str) -> dict[str, Any]:
    """The published ``cuda`` key said where to run; ``device`` says it now, so ``cuda: false``
    becomes ``device: cpu`` (unless a device is given) and the key itself is not kept."""
    if "cuda" not in settings:
        return settings
    cuda = settings.pop("cuda")
    if cuda is not None and not isinstance(cuda, bool):
        raise ConfigError(f"config key 'cuda' in {source} must be true or false, got {cuda!r}")
    if cuda is False:
        settings.setdefault("device", "cpu")
    return settings


def _check_consistency(values: dict[str, Any], source: str) -> None:
    if values["step_iters"] != sorted(values["step_iters"]):
        raise ConfigError(f"config key 'step_iters' in {source} must be increasing, "
                          f"got {values['step_iters']}")


def resolve_config_path(name: str) -> Path:
    """A config name in configs/ (``segm``) or a path to a YAML file."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        return path
    path = CONFIG_DIR / f"{name}.yaml"
    if not path.is_file():
        names = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
        raise ConfigError(f"no config named '{name}'; choose one of {', '.join(names)} "
                          "or give a path to a .yaml file")
    return path


def read_settings(path: Path) -> dict[str, Any]:
    """The ``settings:`` mapping of a YAML file (a bare mapping is accepted too)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read config {path}: {err}") from None
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        reason = " ".join(str(getattr(err, "problem", None) or err).split())
        raise ConfigError(f"config {path} is not valid YAML{line}: {reason}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config {path} must be a mapping with a 'settings:' section, "
                          f"got a {type(data).__name__}")
    settings = data.get("settings", data) if "settings" in data else data
    if settings is None:
        return {}
    if not isinstance(settings, dict):
        raise ConfigError(f"'settings:' in {path} must be a mapping of key: value")
    extra = [k for k in data if k != "settings"] if "settings" in data else []
    if extra:
        raise ConfigError(f"config {path} has top-level key '{extra[0]}' outside 'settings:'")
    return settings


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """``["img_size=128", "step_iters=[10,20]"]`` -> typed values (YAML syntax)."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"override '{item}' must look like key=value")
        name, text = item.split("=", 1)
        name = name.strip()
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            value = text
        out[name] = value
    return out


def load_config(name: str, overrides: Iterable[str] = (), **values: Any) -> Config:
    """Config ``name`` (see ``resolve_config_path``) + command-line ``key=value`` overrides.

    Keyword ``values`` are applied last (for code and tests).
    """
    path = resolve_config_path(name)
    source = str(path)
    settings = _translate_published(read_settings(path), source)
    for key in settings:
        check_value(key, settings[key], source)
    cli = _translate_published(parse_overrides(overrides), "the command line")
    for key in cli:
        check_value(key, cli[key], "the command line")
    return Config.from_dict({**settings, **cli, **values}, source)
