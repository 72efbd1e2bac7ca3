"""Configuration validation, JSON round trip and presets listing."""

import json

import pytest

from core.config import Config, make_config
from core.errors import ConfigError
from core.presets import PRESETS, get_preset, preset_config


def test_default_round_trips_through_json():
    config = Config()
    again = Config.from_json(config.to_json())
    assert again == config


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_validates_and_round_trips(name):
    config = preset_config(name)
    assert Config.from_json(config.to_json()) == config


@pytest.mark.parametrize(
    ("section", "key", "value", "fragment"),
    [
        ("data", "true_weights", [], "1 to 64"),
        ("data", "true_weights", [1.0] * 65, "1 to 64"),
        ("data", "noise_std", -0.1, "data.noise_std"),
        ("data", "n_samples", 1, "[2, 10000000]"),
        ("data", "n_samples", 10_000_001, "[2, 10000000]"),
        ("data", "n_samples", 2.5, "integer"),
        ("data", "val_fraction", 0.95, "[0.0, 0.9]"),
        ("data", "feature_distribution", "cauchy", "normal, uniform"),
        ("data", "feature_correlation", 1.0, "[0.0, 0.99]"),
        ("data", "standardize", "yes", "true or false"),
        ("model", "init", "xavier", "normal, zeros"),
        ("model", "dtype", "float16", "float32, float64"),
        ("train", "implementation", "jax", "numpy, scratch, module"),
        ("train", "optimizer", "lbfgs", "sgd, momentum"),
        ("train", "lr", 0.0, "train.lr"),
        ("train", "lr", float("nan"), "train.lr"),
        ("train", "batch_size", 0, "train.batch_size"),
        ("train", "betas", [0.9], "two numbers"),
        ("train", "loss", "mae", "mse, half_mse"),
    ],
)
def test_invalid_field_names_field_value_and_range(section, key, value, fragment):
    with pytest.raises(ConfigError) as err:
        make_config(**{section: {key: value}})
    text = str(err.value)
    assert f"{section}.{key}" in text
    assert fragment in text


def test_hand_written_engines_reject_torch_only_optimizers():
    with pytest.raises(
        ConfigError, match="numpy implementation offers sgd, momentum, nesterov, adam"
    ):
        make_config(train={"implementation": "numpy", "optimizer": "rmsprop"})
    make_config(train={"implementation": "module", "optimizer": "rmsprop"})


def test_unknown_key_and_section_are_named():
    with pytest.raises(ConfigError, match=r"unknown key train\.learning_rate"):
        Config.from_dict({"train": {"learning_rate": 0.1}})
    with pytest.raises(ConfigError, match="unknown section 'optim'"):
        Config.from_dict({"optim": {}})


def test_with_value_validates_and_leaves_original_untouched():
    config = Config()
    changed = config.with_value("train.lr", 0.5)
    assert changed.train.lr == 0.5 and config.train.lr != 0.5
    with pytest.raises(ConfigError, match=r"train\.nope"):
        config.with_value("train.nope", 1)


def test_load_reports_bad_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="invalid JSON"):
        Config.load(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        Config.load(tmp_path / "missing.json")
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"train": {"lr": 0.2}}))
    assert Config.load(good).train.lr == 0.2


def test_unknown_preset_lists_known_names():
    with pytest.raises(ConfigError, match="d2l-scratch"):
        get_preset("nope")
