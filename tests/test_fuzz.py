"""Property-based fuzzing of user input: configurations and the command line (CSV files:
test_fuzz_csv.py).

Every configuration generated as valid validates and trains at least one step in every
implementation that offers its optimizer; any other input either works (validates and trains,
exits 0 or 3) or is refused with a UserInputError whose message names what is wrong; nothing
else may escape, and the command line never prints a traceback. Runs are derandomized so CI
sees the same examples.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import main
from core.config import (
    DEVICES,
    DISTRIBUTIONS,
    DTYPES,
    HAND_WRITTEN_OPTIMIZERS,
    IMPLEMENTATIONS,
    INITS,
    LOSSES,
    OPTIMIZERS,
    SAMPLINGS,
    Config,
)
from core.errors import ConfigError, UserInputError, one_line
from core.limits import NESTEROV_MIN_MOMENTUM
from core.presets import PRESETS
from core.report import summary
from core.runinfo import run_info
from core.schedules import SCHEDULES
from core.trainer import Trainer

CUDA = torch.cuda.is_available()


def fuzz(max_examples: int) -> settings:
    """Reproducible, modest settings: the same examples on every run, no time limit each."""
    return settings(
        deadline=None,
        derandomize=True,
        database=None,
        max_examples=max_examples,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


# ---------------------------------------------------------------- value strategies

HUGE_INTS = st.sampled_from([2**31, 2**53 + 1, 2**63, -(2**63), 10**20, 10**400])
ODD_FLOATS = st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, -0.0])
JUNK_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 10),
    HUGE_INTS,
    st.floats(),
    ODD_FLOATS,
    st.text(max_size=8),
)
# Anything JSON can hold, of the wrong type more often than not.
JUNK = st.recursive(
    JUNK_SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)


def floats(lo: float, hi: float) -> st.SearchStrategy[float]:
    """Finite floats in [lo, hi]."""
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def sizes(lo: float, hi: float) -> st.SearchStrategy[float]:
    """Floats in [lo, hi] that are 0 or at least 1e-6 in size: data of magnitude 1e-244 is,
    by design, refused as values float32 cannot train on (core.data.check_magnitudes)."""
    return floats(lo, hi).map(lambda v: v if abs(v) >= 1e-6 else 0.0)


def _rows(width: st.SearchStrategy[int]) -> st.SearchStrategy[list[list[float]]]:
    return width.flatmap(
        lambda w: st.lists(st.lists(floats(-1e13, 1e13), min_size=w, max_size=w), max_size=6)
    )


# Valid schedules: a bare name or an object with some of its parameters in range.
SCHEDULE_VALUES = st.one_of(
    st.sampled_from(list(SCHEDULES)),
    st.builds(
        lambda n, g: {"name": "step", "step_size": n, "gamma": g},
        st.integers(1, 50),
        floats(0.01, 1.0),
    ),
    st.builds(lambda g: {"name": "exponential", "gamma": g}, floats(0.5, 1.0)),
    st.builds(lambda m: {"name": "cosine", "lr_min": m}, floats(0.0, 0.01)),
    st.builds(
        lambda w, m, f: {
            "name": "warmup_cosine",
            "warmup_steps": w,
            "lr_min": m,
            "start_factor": f,
        },
        st.integers(0, 50),
        floats(0.0, 0.01),
        floats(0.01, 1.0),
    ),
    st.builds(
        lambda p, d, f: {
            "name": "one_cycle",
            "pct_start": p,
            "div_factor": d,
            "final_div_factor": f,
        },
        floats(0.01, 0.99),
        floats(1.0, 100.0),
        floats(1.0, 1e4),
    ),
    st.builds(lambda d: {"name": "inverse_time", "decay": d}, floats(0.0, 10.0)),
)
SCHEDULE_EDGES = st.sampled_from(
    [
        {"name": "step", "gamma": 1.5},
        {"name": "step", "step_size": 0},
        {"name": "linear"},
        {"name": "cosine", "lr_min": -1},
        {"name": "one_cycle", "pct_start": 1.0},
        {"name": "step", "decay": 1},
        {"gamma": 0.5},
        "Cosine",
        {"name": "warmup_cosine", "warmup_steps": 1.5},
    ]
)

# Per field: (in range, edge). Edge values sit on or just past a bound, or mismatch another
# field; junk (any JSON, any type) is mixed in separately. In-range sizes stay small so every
# valid configuration trains in milliseconds.
FIELDS: dict[str, dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]]] = {
    "data": {
        "true_weights": (
            st.lists(sizes(-10, 10), min_size=1, max_size=4),
            st.lists(floats(-2e6, 2e6), max_size=3)
            | st.lists(st.just(1.0), min_size=63, max_size=65),
        ),
        "true_bias": (sizes(-10, 10), floats(-2e6, 2e6)),
        "noise_std": (sizes(0, 5), floats(-1, 2e6)),
        "n_samples": (st.integers(2, 300), st.sampled_from([-1, 0, 1, 2, 10_000_001])),
        "seed": (st.integers(0, 2**32 - 1), st.sampled_from([-1, 2**32])),
        "val_fraction": (floats(0, 0.5), floats(0.5, 1.0)),
        "feature_distribution": (
            st.sampled_from(DISTRIBUTIONS),
            st.sampled_from(["cauchy", "Normal", ""]),
        ),
        "feature_correlation": (floats(0, 0.99), floats(0.98, 1.5)),
        "inline_features": (st.none(), _rows(st.integers(0, 3))),
        "csv_path": (st.none(), st.text(max_size=10)),
        "target_column": (st.none(), st.text(max_size=5)),
        "feature_columns": (st.none(), st.lists(st.text(max_size=3), max_size=3)),
        "standardize": (st.booleans(), st.sampled_from([0, 1, "true"])),
    },
    "model": {
        "fit_bias": (st.booleans(), st.sampled_from([0, 1, "no"])),
        "init": (st.sampled_from(INITS), st.sampled_from(["xavier", ""])),
        "init_std": (floats(0, 2), floats(-1, 150)),
        "init_value": (floats(-5, 5), floats(-2e6, 2e6)),
        "dtype": (st.sampled_from(DTYPES), st.sampled_from(["float16", "int32", "double"])),
    },
    "train": {
        "implementation": (st.sampled_from(IMPLEMENTATIONS), st.sampled_from(["jax", "Module"])),
        "optimizer": (st.sampled_from(OPTIMIZERS), st.sampled_from(["lbfgs", "SGD"])),
        "lr": (
            floats(1e-6, 1.0) | st.sampled_from([3.0, 50.0, 1e3]),  # the last ones diverge
            st.sampled_from([-1.0, 0.0, 1e-13, 1e-12, 1e3, 1e4]),
        ),
        "momentum": (floats(0, 0.99), floats(0.99, 2)),
        "betas": (
            st.lists(floats(0, 0.9999), min_size=2, max_size=2),
            st.lists(floats(0.99, 1.5), max_size=3),
        ),
        "weight_decay": (floats(0, 1), floats(0, 12)),
        "l2_penalty": (floats(0, 1), floats(0, 12)),
        "batch_size": (st.integers(1, 400), st.sampled_from([-1, 0, 10_000_000, 10_000_001])),
        "epochs": (st.integers(1, 5), st.sampled_from([0, -1, 10**8, 10**8 + 1, 10**400])),
        "shuffle": (st.booleans(), st.sampled_from([0, "yes"])),
        "loss": (st.sampled_from(LOSSES), st.sampled_from(["mae", "MSE"])),
        # cuda is refused by the trainer where torch sees no CUDA device: an edge value there.
        "device": (
            st.sampled_from([d for d in DEVICES if d != "cuda" or CUDA]),
            st.sampled_from(["cuda", "gpu", "CPU", "cuda:0", ""]),
        ),
        "schedule": (SCHEDULE_VALUES, SCHEDULE_EDGES),
        "sampling": (st.sampled_from(SAMPLINGS), st.sampled_from(["bootstrap", "Replacement", ""])),
    },
}
SECTIONS = tuple(FIELDS)
DOTTED = [f"{s}.{k}" for s, keys in FIELDS.items() for k in keys]


def _value(section: str, key: str, mode: str) -> st.SearchStrategy[Any]:
    good, edge = FIELDS[section][key]
    if mode == "valid":
        return good
    if mode == "edge":
        return good | good | edge
    return good | edge | JUNK


def _coherent(draw: st.DrawFn, raw: dict[str, Any]) -> None:
    """Make a configuration drawn field by field valid across its fields too (in place)."""
    data, train = raw.get("data", {}), raw.get("train", {})
    optimizer = train.get("optimizer", "sgd")
    if (
        train.get("implementation", "module") != "module"
        and optimizer not in HAND_WRITTEN_OPTIMIZERS
    ):
        train["optimizer"] = draw(st.sampled_from(HAND_WRITTEN_OPTIMIZERS))
    if train.get("optimizer") == "nesterov" and train.get("momentum", 0.9) < NESTEROV_MIN_MOMENTUM:
        train["momentum"] = draw(floats(NESTEROV_MIN_MOMENTUM, 0.99))
    n = data.get("n_samples", 200)
    if n - round(n * data.get("val_fraction", 0.0)) < 2:
        data["val_fraction"] = 0.0  # at least two training rows


@st.composite
def generated_configs(draw: st.DrawFn) -> tuple[str, Any]:
    """How a configuration was generated ("valid", "edge" or "junk") and the configuration as
    JSON would give it: often valid, often subtly or grossly wrong."""
    mode = draw(st.sampled_from(["valid", "valid", "edge", "edge", "junk"]))
    if mode == "junk" and draw(st.integers(0, 9)) == 0:
        return mode, draw(JUNK)  # not even an object
    raw: dict[str, Any] = {}
    for section in SECTIONS:
        shape = draw(st.sampled_from(["fields"] * 8 + ["missing", "junk"]))
        if shape == "missing" or (shape == "junk" and mode == "valid"):
            continue
        if shape == "junk":
            raw[section] = draw(JUNK)
            continue
        optional = {key: _value(section, key, mode) for key in FIELDS[section]}
        part = draw(st.fixed_dictionaries({}, optional=optional))
        if mode != "valid" and draw(st.integers(0, 9)) == 0:
            part[draw(st.text(min_size=1, max_size=6))] = draw(JUNK)  # unknown key
        raw[section] = part
    if mode == "valid":
        _coherent(draw, raw)
    if mode == "junk" and draw(st.integers(0, 9)) == 0:
        raw[draw(st.text(max_size=6))] = draw(JUNK)  # unknown section
    return mode, raw


def config_dicts() -> st.SearchStrategy[Any]:
    """Configurations as JSON would give them, however they were generated."""
    return generated_configs().map(lambda case: case[1])


# A message names the field ("train.lr = ..."), the unknown key or section, or the file.
NAMES_FIELD = re.compile(
    r"\b(?:data|model|train)\.\w+|unknown (?:key|section)|section '(?:data|model|train)'"
    r"|configuration must be|invalid JSON"
)


def assert_clean_message(exc: UserInputError, path: str | None = None) -> None:
    """One short line naming the field (or, for a data file, the file)."""
    text = str(exc)
    assert text and "\n" not in text, text
    assert len(text) < 600, text
    if not NAMES_FIELD.search(text):
        # As typed, or with its control characters escaped (they would break the line).
        assert path is not None and one_line(path) in text, text


# ---------------------------------------------------------------- exercising a configuration

# Rows x features above which a fuzzed configuration is validated but not trained (speed).
MAX_TRAINED_VALUES = 20_000


def implementations_for(config: Config) -> list[str]:
    """Implementations that offer the configuration's optimizer."""
    return [
        impl
        for impl in IMPLEMENTATIONS
        if impl == "module" or config.train.optimizer in HAND_WRITTEN_OPTIMIZERS
    ]


def exercise(config: Config) -> None:
    """Train a few steps with every implementation the way the window and the CLI do."""
    data = config.data
    rows = data.n_samples if data.inline_features is None else len(data.inline_features)
    if not data.csv_path and rows * config.n_features > MAX_TRAINED_VALUES:
        event("valid, too large to train here")
        return
    for impl in implementations_for(config):
        cfg = config.with_value("train.implementation", impl)
        try:
            trainer = Trainer(cfg)
        except UserInputError as exc:
            # Only the data can be refused here (a file, a split, magnitudes the dtype cannot
            # hold); it is refused the same way by every implementation.
            assert_clean_message(exc, data.csv_path)
            event("data refused by the trainer")
            return
        ran = trainer.run_steps(20)  # enough for a too-large learning rate to diverge
        assert ran == 20 or trainer.stopped_reason in ("diverged", "completed")
        event(f"trained: {trainer.stopped_reason or 'running'}")
        assert np.isfinite(trainer.theta()).all()
        trainer.step()
        trainer.set_hyper(lr=cfg.train.lr / 10)  # the fix a divergence message asks for
        trainer.run_steps(2)
        snap = trainer.snapshot()
        assert np.isfinite(snap.theta_trained).all()
        params = trainer.history.steps()[2]
        assert np.isfinite(params).all()
        json.dumps(summary(trainer), allow_nan=False)
        run_info(trainer)


def why_untrainable(raw: Any) -> str | None:
    """Why a configuration does not train a step in every implementation offering its
    optimizer (refused, or no step taken); None if it does."""
    try:
        config = Config.from_dict(raw)
    except ConfigError as exc:
        return f"refused: {exc}"
    for impl in implementations_for(config):
        try:
            trainer = Trainer(config.with_value("train.implementation", impl))
        except UserInputError as exc:
            return f"refused by the {impl} trainer: {exc}"
        if trainer.run_steps(1) != 1:
            return f"the {impl} implementation trained no step ({trainer.stopped_reason})"
    return None


def failing_fields(raw: dict[str, Any]) -> list[str]:
    """The fields of raw each of which, put back to its default, lets the configuration train."""
    found = []
    for section, part in raw.items():
        for key in part:
            trial = {name: dict(fields) for name, fields in raw.items()}
            del trial[section][key]
            if why_untrainable(trial) is None:
                found.append(f"{section}.{key} = {part[key]!r}")
    return found


@fuzz(250)
@given(case=generated_configs())
def test_any_configuration_trains_or_is_refused_naming_the_field(case: tuple[str, Any]) -> None:
    mode, raw = case
    if mode == "valid":
        why = why_untrainable(raw)
        if why is not None:
            fields = failing_fields(raw) or ["none alone: a combination of fields"]
            pytest.fail(
                f"a configuration generated as valid does not train ({why}); the field that "
                f"makes it fail: {'; '.join(fields)}; the configuration: {raw!r}"
            )
    try:
        config = Config.from_dict(raw)
    except ConfigError as exc:
        assert_clean_message(exc)
        event("refused")
        return
    assert Config.from_json(config.to_json()) == config
    exercise(config)


@fuzz(100)
@given(raw=config_dicts(), dotted=st.sampled_from(DOTTED), value=JUNK)
def test_with_value_validates_or_refuses_naming_the_field(
    raw: Any, dotted: str, value: Any
) -> None:
    # The window's controls and --set change one field of a valid configuration.
    try:
        config = Config.from_dict(raw)
    except ConfigError:
        config = Config()
    try:
        changed = config.with_value(dotted, value)
    except ConfigError as exc:
        assert_clean_message(exc)
        return
    section, key = dotted.split(".")
    # As JSON shows it: the configuration keeps lists as tuples.
    assert changed.to_dict()[section][key] == value


TEXTS = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            "null",
            "[]",
            "{}",
            "NaN",
            '{"train": {"lr": Infinity}}',
            "1" * 5000,
            "[" * 5000,
            '{"data": ' * 3000,
            '{"train": {"epochs": ' + "9" * 400 + "}}",
            "\ufeff{}",
        ]
    ),
)


@fuzz(100)
@given(text=TEXTS | config_dicts().map(json.dumps))
def test_any_json_text_parses_or_is_refused(text: str) -> None:
    try:
        config = Config.from_json(text)
    except ConfigError as exc:
        assert_clean_message(exc)
        return
    assert Config.from_json(config.to_json()) == config


@fuzz(100)
@given(content=st.binary(max_size=200) | TEXTS.map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_any_config_file_loads_or_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(content)
    try:
        Config.load(path)
    except ConfigError as exc:
        assert_clean_message(exc, str(path))
        assert str(path) in str(exc)


@pytest.mark.parametrize("path", ["a\x00b.json", "\ud800.json", "", ".", "/"])
def test_unopenable_config_paths_are_refused(path: str) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        Config.load(path)


# ---------------------------------------------------------------- the command line, in-process

BAD_EPOCHS = st.sampled_from(["0", "-1", "many", "", "3.5", "1e3", "9" * 400, "9" * 5000])
# Not JSON, or JSON of the wrong kind. Text json.loads refuses with something other than a
# JSONDecodeError (too many digits, too deep) crashes main.parse_value: see UNPARSED_SET_VALUES.
SET_TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "null", "NaN", "-Infinity", "9" * 400, "[" * 50, '"', "{}", "[1,"]),
)


@st.composite
def set_items(draw: st.DrawFn) -> str:
    """One --set argument: usually section.key=JSON, sometimes malformed."""
    kind = draw(st.sampled_from(["field"] * 5 + ["unknown", "text", "text", "nosep"]))
    if kind == "nosep":
        return draw(st.sampled_from([*DOTTED, "train", ""]))
    if kind == "unknown":
        key = draw(st.sampled_from(["train.nope", "nope", "data.", ".lr", "", "model.dtype.x"]))
    else:
        key = draw(st.sampled_from(DOTTED))
    if kind == "text" or key not in DOTTED:
        return f"{key}={draw(SET_TEXT)}"
    section, name = key.split(".")
    # The valid CSV written by the test stands in for a real file path.
    if name == "csv_path":
        value = draw(st.sampled_from(["{good_csv}", "{bad_csv}", "{missing}", "{folder}"]))
        return f"{key}={value}"
    mode = draw(st.sampled_from(["valid", "valid", "edge", "junk"]))
    value = draw(_value(section, name, mode))
    return f"{key}={json.dumps(value)}"


@st.composite
def command_lines(draw: st.DrawFn) -> tuple[list[str], str | None, bool]:
    """A train command line (before --out), the config file content it needs, and --quiet."""
    opts: list[str] = []
    config_text: str | None = None
    source = draw(st.sampled_from(["none", "preset", "preset", "config", "config", "bad_preset"]))
    if source == "preset":
        opts += ["--preset", draw(st.sampled_from(sorted(PRESETS)))]
    elif source == "bad_preset":
        opts += ["--preset", draw(st.text(max_size=10))]
    elif source == "config":
        config_text = draw(st.one_of(*[config_dicts().map(json.dumps)] * 3, TEXTS))
        opts += ["--config", "{config}"]
    for _ in range(draw(st.integers(0, 3))):
        opts += ["--set", draw(set_items())]
    if draw(st.integers(0, 3)) == 0:
        opts += ["--set", "train.lr=50"]  # a run that diverges (exit 3) unless refused first
    # --epochs always comes last so every run is short (presets run up to 10^6 epochs).
    epochs = draw(st.one_of(*[st.integers(1, 2).map(str)] * 4, BAD_EPOCHS))
    opts += ["--epochs", epochs]
    before = draw(st.booleans())
    quiet = draw(st.booleans())
    argv = [*opts, "train"] if before else ["train", *opts]
    argv += ["--no-plots"] + (["--quiet"] if quiet else [])
    return argv, config_text, quiet


@pytest.fixture(scope="module")
def csv_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Paths the command-line fuzzing points data.csv_path at."""
    d = tmp_path_factory.mktemp("cli_csv")
    (d / "good.csv").write_text("a,b,y\n" + "".join(f"{i},{i % 3},{2 * i}\n" for i in range(30)))
    (d / "bad.csv").write_text("a,b,y\n1,2,3\n4,oops,6\n")
    (d / "folder.csv").mkdir()
    return {
        "{good_csv}": str(d / "good.csv"),
        "{bad_csv}": str(d / "bad.csv"),
        "{missing}": str(d / "missing.csv"),
        "{folder}": str(d / "folder.csv"),
    }


def _fill(arg: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        arg = arg.replace(key, json.dumps(value) if "=" in arg else value)
    return arg


@fuzz(120)
@given(case=command_lines())
def test_command_line_never_raises_or_prints_a_traceback(
    case: tuple[list[str], str | None, bool],
    tmp_path: Path,
    csv_files: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv, config_text, quiet = case
    run_dir = Path(tempfile.mkdtemp(dir=tmp_path))
    values = dict(csv_files)
    if config_text is not None:
        values["{config}"] = str(run_dir / "config.json")
        (run_dir / "config.json").write_text(config_text, encoding="utf-8", errors="replace")
    argv = [_fill(arg, values) for arg in argv] + ["--out", str(run_dir / "out")]
    code = main.main(argv)
    out, err = capsys.readouterr()
    event(f"exit {code}")
    assert "Traceback" not in out + err
    assert code in (main.EXIT_OK, main.EXIT_BAD_INPUT, main.EXIT_DIVERGED), (code, argv, err)
    if code == main.EXIT_BAD_INPUT:
        last = err.rstrip("\n").rsplit("\n", 1)[-1]
        assert last.startswith("linreg-viz: error: "), err
        if quiet:
            assert err.count("\n") == 1, err
    else:
        assert (run_dir / "out" / "summary.json").is_file()


# Found by the fuzzing above: json.loads raises a plain ValueError for an integer of more than
# 4300 digits and RecursionError for deep nesting; both once escaped main() as tracebacks.
UNPARSED_SET_VALUES = {"4301 digits": "1" * 4301, "deep nesting": "[" * 100_000}


@pytest.mark.parametrize("value", list(UNPARSED_SET_VALUES.values()), ids=list(UNPARSED_SET_VALUES))
def test_set_values_json_cannot_parse_are_bad_input(
    value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", "--set", f"train.lr={value}", "--out", str(tmp_path), "--no-plots"]
    assert main.main([*argv, "--quiet"]) == main.EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "train.lr" in err
    assert err.count("\n") == 1 and len(err) < 500, err


@pytest.mark.parametrize("command", ["train", "race"])
def test_out_folder_the_os_cannot_take_is_bad_input(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [command, "--epochs", "1", "--out", str(tmp_path / "a\x00b"), "--no-plots", "--quiet"]
    if command == "race":
        argv += ["--run", "optimizer=sgd,lr=0.03"]
    assert main.main(argv) == main.EXIT_BAD_INPUT
    assert "cannot write to" in capsys.readouterr().err
