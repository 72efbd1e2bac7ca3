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


def test_control_characters_in_a_key_are_escaped_on_one_line():
    # Found by fuzzing: a key named "\n" made a two-line message.
    with pytest.raises(ConfigError) as info:
        Config.from_dict({"train": {"\n": None, "a\tb": 1}})
    assert str(info.value) == "unknown key train.\\n"
    with pytest.raises(ConfigError) as info:
        Config().with_value("train.x\ry", 1)
    assert "\n" not in str(info.value) and "x\\ry" in str(info.value)


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


# ---- hardening: what fuzzing found -----------------------------------------------


@pytest.mark.parametrize("value", [10**400, -(10**5000), 2**64], ids=["1e400", "-1e5000", "2^64"])
def test_huge_integers_are_out_of_range_not_a_crash(value):
    with pytest.raises(ConfigError, match=r"train\.epochs = -?an integer of \d+ bits"):
        make_config(train={"epochs": value})
    with pytest.raises(ConfigError, match=r"data\.true_bias"):
        make_config(data={"true_bias": value})


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{"train": {"epochs": ' + "9" * 5000 + "}}", "invalid JSON"),
        ("[" * 100_000, "nested too deeply"),
        ('{"train": {"lr": 0.1,,}}', "line 1, column 22"),
    ],
)
def test_json_the_parser_refuses_is_a_config_error(text, fragment):
    with pytest.raises(ConfigError, match=fragment):
        Config.from_json(text)


def test_long_values_are_shortened_in_messages():
    with pytest.raises(ConfigError) as err:
        make_config(data={"true_weights": [1.0] * 1000})
    assert len(str(err.value)) < 200
    assert "data.true_weights" in str(err.value)


def test_validation_split_must_leave_two_training_rows():
    with pytest.raises(ConfigError, match=r"data\.val_fraction = 0\.5 .*3 samples leave 1"):
        make_config(data={"n_samples": 3, "val_fraction": 0.5})
    rows = [[1.0], [2.0], [3.0]]
    with pytest.raises(ConfigError, match=r"data\.val_fraction"):
        make_config(data={"true_weights": [1.0], "inline_features": rows, "val_fraction": 0.5})
    make_config(data={"n_samples": 4, "val_fraction": 0.5})


def test_load_reports_non_utf8_and_impossible_paths(tmp_path):
    bad = tmp_path / "latin.json"
    bad.write_bytes(b'{"train": {"loss": "\xe9"}}')
    with pytest.raises(ConfigError, match="not UTF-8"):
        Config.load(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        Config.load("a\x00b.json")
    with pytest.raises(ConfigError, match="cannot read"):
        Config.load(tmp_path)


# ---- device ----------------------------------------------------------------------


def test_device_defaults_to_auto_and_is_validated():
    assert Config().train.device == "auto"
    for device in ("auto", "cpu", "cuda"):
        assert make_config(train={"device": device}).train.device == device
    with pytest.raises(ConfigError) as err:
        make_config(train={"device": "gpu"})
    assert str(err.value) == "train.device = 'gpu' is out of range: one of auto, cpu, cuda"


def test_config_files_without_a_device_still_load(tmp_path):
    old = Config().to_dict()
    del old["train"]["device"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    config = Config.load(path)
    assert config.train.device == "auto"
    assert Config.from_json(config.to_json()) == config


# ---- immutability --------------------------------------------------------------------------


def test_a_config_cannot_change_in_place():
    import dataclasses

    config = preset_config("tiny-numpy-f64")  # inline feature rows too
    for section, key, value in (
        (config, "train", None),
        (config.train, "lr", 0.5),
        (config.data, "true_weights", [1.0]),
        (config.model, "dtype", "float32"),
    ):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(section, key, value)
    # Sequences are tuples: no append, no item assignment.
    assert isinstance(config.data.true_weights, tuple)
    assert isinstance(config.train.betas, tuple)
    rows = config.data.inline_features
    assert isinstance(rows, tuple) and all(isinstance(row, tuple) for row in rows)
    with pytest.raises(TypeError):
        config.train.betas[0] = 2.0  # type: ignore[index]


def test_lists_given_to_the_dataclasses_are_stored_as_tuples():
    from core.config import DataConfig, TrainConfig, replace_section

    data = DataConfig(true_weights=[1.0, 2.0], inline_features=[[1.0, 2.0], [3.0, 4.0]])
    assert data.true_weights == (1.0, 2.0)
    assert data.inline_features == ((1.0, 2.0), (3.0, 4.0))
    assert TrainConfig(betas=[0.8, 0.9]).betas == (0.8, 0.9)
    config = replace_section(Config(), "data", feature_columns=["a"], csv_path="x.csv")
    assert config.data.feature_columns == ("a",)


def test_configs_are_hashable_and_equal_by_value():
    a = preset_config("d2l-concise-3")
    b = Config.from_json(a.to_json())
    assert a == b and a is not b and hash(a) == hash(b)
    assert len({a, b, a.with_value("train.lr", 0.1)}) == 2
    assert a.copy() is a  # nothing to copy


def test_json_keeps_lists_and_round_trips_unchanged():
    config = preset_config("tiny-numpy-f64")
    raw = config.to_dict()
    assert raw["data"]["true_weights"] == [10.0, 20.0]
    assert isinstance(raw["train"]["betas"], list)
    assert all(isinstance(row, list) for row in raw["data"]["inline_features"])
    text = config.to_json()
    assert "(" not in text
    again = Config.from_json(text)
    assert again == config and again.to_json() == text
    assert json.loads(text) == raw


def test_changes_return_new_configs():
    from core.config import replace_section

    base = Config()
    assert base.with_values({"train.lr": 0.1, "train.optimizer": "adam"}).train.lr == 0.1
    assert replace_section(base, "train", lr=0.2).train.lr == 0.2
    assert base.train.lr == Config().train.lr
    with pytest.raises(ConfigError, match=r"train\.lr"):
        replace_section(base, "train", lr=-1.0)
    with pytest.raises(ConfigError, match="unknown section 'optim'"):
        replace_section(base, "optim", lr=0.1)
    # Both at once: nesterov needs momentum, which this base lacks.
    base = base.with_value("train.momentum", 0.0)
    with pytest.raises(ConfigError, match="nesterov"):
        base.with_value("train.optimizer", "nesterov")
    both = base.with_values({"train.optimizer": "nesterov", "train.momentum": 0.5})
    assert (both.train.optimizer, both.train.momentum) == ("nesterov", 0.5)


def test_messages_show_sequences_as_json_lists():
    with pytest.raises(ConfigError) as err:
        make_config(data={"true_weights": [1.0, "x"]})
    assert "'x'" in str(err.value)
    with pytest.raises(ConfigError) as err:
        make_config(train={"betas": [0.9, 0.9, 0.9]})
    assert "[0.9, 0.9, 0.9]" in str(err.value)


def test_nesterov_minimum_momentum_is_the_declared_one():
    from core.limits import NESTEROV_MIN_MOMENTUM

    ok = make_config(train={"optimizer": "nesterov", "momentum": NESTEROV_MIN_MOMENTUM})
    assert ok.train.momentum == NESTEROV_MIN_MOMENTUM
    with pytest.raises(ConfigError, match=r"nesterov needs momentum in \[0.001, 0.999\]"):
        make_config(train={"optimizer": "nesterov", "momentum": NESTEROV_MIN_MOMENTUM / 2})
