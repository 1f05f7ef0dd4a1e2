"""The config loader: shipped configs load, mistakes are refused with a useful line."""

from __future__ import annotations

import pytest

from configs import KEYS, Config, ConfigError, load_config
from configs.loader import CONFIG_DIR


@pytest.mark.parametrize("path", sorted(CONFIG_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_loads(path):
    cfg = load_config(str(path))
    assert cfg.task in ("segm", "facemask", "predict")
    assert cfg.img_size >= 16


def test_published_keys_present():
    for key in ("root_dir", "checkpoint_path", "sample_folder", "lr", "batch_size", "num_workers",
                "step_iters", "gamma", "d_num_layers", "visualize_per_iter", "save_per_iter",
                "print_per_iter", "num_epochs", "lambda_G", "lambda_rc", "lambda_per", "img_size",
                "device", "seed", "arch"):
        assert key in KEYS


def test_overrides_are_typed():
    cfg = load_config("segm", ["img_size=128", "num_epochs=2", "lr=1e-4", "step_iters=[10, 20]",
                               "flip=false", "val_anns=none", "arch=flat"])
    assert (cfg.img_size, cfg.num_epochs, cfg.lr, cfg.step_iters) == (128, 2, 1e-4, [10, 20])
    assert cfg.flip is False and cfg.val_anns is None and cfg.arch == "flat"
    assert isinstance(cfg.lr, float)


def test_unknown_key_names_it_and_the_valid_ones():
    with pytest.raises(ConfigError) as err:
        load_config("facemask", ["lamda_G=2"])
    msg = str(err.value)
    assert "'lamda_G'" in msg and "did you mean 'lambda_G'" in msg and "img_size" in msg
    assert "\n" not in msg


def test_unknown_key_in_file(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("settings:\n  img_size: 64\n  imgsize: 32\n")
    with pytest.raises(ConfigError, match=r"unknown config key 'imgsize' in .*mine.yaml"):
        load_config(str(path))


@pytest.mark.parametrize("override, fragment", [
    ("img_size=big", "'img_size' .* must be an integer"),
    ("lr=fast", "'lr' .* must be a number"),
    ("flip=3", "'flip' .* must be true or false"),
    ("step_iters=[a]", "'step_iters' .* list of integers"),
    ("arch=resnet", "'arch' .* one of unet, flat"),
    ("img_size=4", "'img_size' .* >= 16"),
    ("step_iters=[20, 10]", "'step_iters' .* increasing"),
    ("img_size", "key=value"),
])
def test_wrong_values_are_refused(override, fragment):
    with pytest.raises(ConfigError, match=fragment):
        load_config("segm", [override])


def test_config_by_path_and_bad_files(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("settings:\n  task: segm\n  img_size: 96\n")
    assert load_config(str(good)).img_size == 96
    for text, fragment in [("- a\n- b\n", "must be a mapping"),
                           ("settings: [1, 2]\n", "must be a mapping"),
                           ("settings:\n  img_size: [\n", "not valid YAML"),
                           ("settings: {}\nextra: 1\n", "outside 'settings:'")]:
        bad = tmp_path / "bad.yaml"
        bad.write_text(text)
        with pytest.raises(ConfigError, match=fragment):
            load_config(str(bad))
    with pytest.raises(ConfigError, match="no config named 'nope'"):
        load_config("nope")
    with pytest.raises(ConfigError, match="not found"):
        load_config(str(tmp_path / "missing.yaml"))


def test_attribute_access_and_published_cuda_key():
    cfg = Config.from_dict({"cuda": False})
    assert cfg.device == "cpu"
    with pytest.raises(AttributeError):
        _ = cfg.no_such_key
    with pytest.raises(ConfigError):
        cfg.img_size = "large"
