"""Run configuration: immutable dataclasses, validation and JSON round trip.

A Config never changes: `with_value`, `with_values` and `replace_section` return a new one, so
it can be shared between threads and views without copies. Sequences are stored as tuples;
JSON (to_dict, to_json) still shows them as lists.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from core import limits
from core.errors import ConfigError, one_line
from core.limits import (
    HAND_WRITTEN_OPTIMIZERS,
    MAX_CSV_FEATURES,
    MAX_FEATURES,
    MAX_SAMPLES,
    NESTEROV_MIN_MOMENTUM,
    OPTIMIZERS,
    SCHEDULE_LIMITS,
    Limit,
)
from core.schedules import SCHEDULES, Schedule

__all__ = [
    "DEVICES",
    "DISTRIBUTIONS",
    "DTYPES",
    "HAND_WRITTEN_OPTIMIZERS",
    "IMPLEMENTATIONS",
    "INITS",
    "LOSSES",
    "MAX_CSV_FEATURES",
    "MAX_FEATURES",
    "MAX_SAMPLES",
    "OPTIMIZERS",
    "SAMPLINGS",
    "Config",
    "DataConfig",
    "ModelConfig",
    "TrainConfig",
    "make_config",
    "replace_section",
    "validate",
]

IMPLEMENTATIONS = ("numpy", "scratch", "module")
LOSSES = ("mse", "half_mse")
DISTRIBUTIONS = ("normal", "uniform")
INITS = ("normal", "zeros", "constant", "torch_default")
DTYPES = ("float32", "float64")
# reshuffle: every epoch visits each row once, in a fresh random order; replacement: each
# minibatch's rows are drawn independently, with replacement (torch's RandomSampler does so
# with replacement=True).
SAMPLINGS = ("reshuffle", "replacement")
# auto: CUDA when torch sees a device, else the CPU. The numpy implementation always uses the CPU.
DEVICES = ("auto", "cpu", "cuda")


def _tuple(value: Any) -> Any:
    """A list (or tuple) as a tuple; anything else as it is, for validation to name."""
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _rows(value: Any) -> Any:
    """Rows of numbers as a tuple of tuples; anything else as it is, for validation to name."""
    return tuple(_tuple(row) for row in value) if isinstance(value, (list, tuple)) else value


def _as_json(value: Any) -> Any:
    """Tuples (nested too) as lists, as JSON shows them."""
    if isinstance(value, (list, tuple)):
        return [_as_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_json(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class DataConfig:
    """Where the training data comes from: a synthetic line or a CSV file."""

    true_weights: tuple[float, ...] = (2.0,)
    true_bias: float = 1.0
    noise_std: float = 0.5
    n_samples: int = 200
    seed: int = 0
    # A fixed design: with a noise seed the features (and the split, initial parameters and
    # batch order) come from `seed` and only the noise from `noise_seed`, so seeds of a sweep
    # redraw the noise alone; None draws everything from `seed` (as before the key existed).
    noise_seed: int | None = None
    val_fraction: float = 0.0
    feature_distribution: str = "normal"
    feature_correlation: float = 0.0
    # Fixed feature rows (seed 004's three-sample matrix); overrides n_samples when set.
    inline_features: tuple[tuple[float, ...], ...] | None = None
    csv_path: str | None = None
    target_column: str | None = None
    feature_columns: tuple[str, ...] | None = None
    standardize: bool = False

    def __post_init__(self) -> None:
        # Lists given by callers (JSON, the controls) are stored as tuples: nothing can change
        # them in place. Frozen: the one sanctioned way to set a field during construction.
        object.__setattr__(self, "true_weights", _tuple(self.true_weights))
        object.__setattr__(self, "inline_features", _rows(self.inline_features))
        object.__setattr__(self, "feature_columns", _tuple(self.feature_columns))


@dataclass(frozen=True)
class ModelConfig:
    """The linear model: bias, initialisation and precision."""

    fit_bias: bool = True
    init: str = "normal"
    init_std: float = 0.01
    init_value: float = 0.0
    dtype: str = "float32"


@dataclass(frozen=True)
class TrainConfig:
    """How the model is trained."""

    implementation: str = "module"
    optimizer: str = "sgd"
    lr: float = 0.03
    momentum: float = 0.9
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    # Explicit penalty lambda * sum(p**2) over all parameters, added to the loss (seed 003).
    l2_penalty: float = 0.0
    batch_size: int = 10
    epochs: int = 20
    shuffle: bool = True
    loss: str = "mse"
    device: str = "auto"
    # A learning-rate schedule over the steps (core.schedules); JSON: {"name": ..., params...}.
    schedule: Schedule = field(default_factory=Schedule)
    sampling: str = "reshuffle"

    def __post_init__(self) -> None:
        object.__setattr__(self, "betas", _tuple(self.betas))
        object.__setattr__(self, "schedule", Schedule.of(self.schedule))


@dataclass(frozen=True)
class Config:
    """A whole run: data, model and training sections."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (sequences as lists)."""
        raw = _as_json(asdict(self))
        schedule = self.train.schedule
        if isinstance(schedule, Schedule):
            raw["train"]["schedule"] = schedule.to_dict()
        return raw

    def to_json(self) -> str:
        """Return the configuration as indented JSON."""
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, raw: Any) -> Config:
        """Build and validate a configuration from a (possibly partial) dict."""
        if not isinstance(raw, dict):
            raise ConfigError("the configuration must be a JSON object with data/model/train")
        unknown = set(raw) - {"data", "model", "train"}
        if unknown:
            first = sorted(unknown, key=str)[0]
            raise ConfigError(f"unknown section {_show(first)} (allowed: data, model, train)")
        sections = {}
        for name, klass in (("data", DataConfig), ("model", ModelConfig), ("train", TrainConfig)):
            part = raw.get(name, {})
            if not isinstance(part, dict):
                raise ConfigError(f"section {name!r} must be an object, got {_show(part)}")
            allowed = {f.name for f in fields(klass)}
            for key in part:
                if key not in allowed:
                    raise ConfigError(f"unknown key {name}.{_short(str(key))}")
            sections[name] = klass(**part)
        config = cls(**sections)
        validate(config)
        return config

    @classmethod
    def from_json(cls, text: str) -> Config:
        """Parse and validate JSON text."""
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"invalid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
            ) from None
        except ValueError as exc:
            # An integer of more than 4300 digits: Python refuses to convert it.
            raise ConfigError(f"invalid JSON: {_short(str(exc))}") from None
        except RecursionError:
            raise ConfigError("invalid JSON: nested too deeply") from None
        return cls.from_dict(raw)

    @classmethod
    def load(cls, path: str | Path) -> Config:
        """Read and validate a JSON configuration file."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"cannot read {path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at "
                f"offset {exc.start})"
            ) from None
        except ValueError as exc:
            # A path holding a NUL byte or an unencodable character cannot name a file.
            raise ConfigError(f"cannot read {str(path)!r}: {exc}") from None
        try:
            return cls.from_json(text)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None

    def copy(self) -> Config:
        """This configuration: it is immutable, so a copy would be equal and never needed."""
        return self

    def with_value(self, dotted: str, value: Any) -> Config:
        """Return a validated configuration with `section.key` set to value."""
        return self.with_values({dotted: value})

    def with_values(self, changes: Mapping[str, Any]) -> Config:
        """Return a validated configuration with several `section.key` values set at once.

        All at once: e.g. optimizer nesterov with momentum 0.5 on a configuration with momentum
        0 is valid only once both are set."""
        raw = self.to_dict()
        for dotted, value in changes.items():
            section, _, key = dotted.partition(".")
            if section not in ("data", "model", "train") or not key:
                raise ConfigError(f"unknown key {_show(dotted)} (use section.key, e.g. train.lr)")
            if key not in raw[section]:
                raise ConfigError(f"unknown key {_short(dotted)}")
            raw[section][key] = value
        return Config.from_dict(raw)

    @property
    def n_features(self) -> int:
        """Number of features the model has (CSV: the chosen feature columns)."""
        if self.data.csv_path and self.data.feature_columns:
            return len(self.data.feature_columns)
        return len(self.data.true_weights)


# Values quoted in messages are cut to this length: a 10,000-row list must not flood a dialog.
_SHOW_CHARS = 60


def _short(text: str) -> str:
    """Text on one line (a key named "\n" made a two-line message), cut to _SHOW_CHARS."""
    text = one_line(text)
    return text if len(text) <= _SHOW_CHARS else text[: _SHOW_CHARS - 1] + "…"


def _show(value: Any) -> str:
    """A short repr of a user's value for an error message (sequences as JSON lists)."""
    value = _as_json(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**18:
        # repr of an int past 4300 digits raises; the size is what matters to the reader.
        return f"{'-' if value < 0 else ''}an integer of {value.bit_length()} bits"
    return _short(repr(value))


def _fail(name: str, value: Any, allowed: str) -> None:
    raise ConfigError(f"{name} = {_show(value)} is out of range: {allowed}")


def _number(name: str, value: Any, limit: Limit) -> None:
    if limit.accepts(value):
        return
    kinds = (int,) if limit.integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        kind = "an integer" if limit.integer else "a number"
        _fail(name, value, f"expected {kind} in {limit.describe()}")
    _fail(name, value, f"allowed {limit.describe()}")


def _choice(name: str, value: Any, options: tuple[str, ...]) -> None:
    if value not in options:
        _fail(name, value, f"one of {', '.join(options)}")


def _flag(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        _fail(name, value, "true or false")


def _validate_data(d: DataConfig) -> None:
    # With a CSV file the weights are placeholders, one per chosen column.
    limit = MAX_CSV_FEATURES if d.csv_path else MAX_FEATURES
    if not isinstance(d.true_weights, tuple) or not 1 <= len(d.true_weights) <= limit:
        _fail("data.true_weights", d.true_weights, f"a list of 1 to {limit} numbers")
    for i, w in enumerate(d.true_weights):
        _number(f"data.true_weights[{i}]", w, limits.TRUE_WEIGHT)
    _number("data.true_bias", d.true_bias, limits.TRUE_BIAS)
    _number("data.noise_std", d.noise_std, limits.NOISE_STD)
    _number("data.n_samples", d.n_samples, limits.N_SAMPLES)
    _number("data.seed", d.seed, limits.SEED)
    if d.noise_seed is not None:
        _number("data.noise_seed", d.noise_seed, limits.SEED)
    _number("data.val_fraction", d.val_fraction, limits.VAL_FRACTION)
    _choice("data.feature_distribution", d.feature_distribution, DISTRIBUTIONS)
    _number("data.feature_correlation", d.feature_correlation, limits.FEATURE_CORRELATION)
    _flag("data.standardize", d.standardize)
    if d.inline_features is not None:
        rows = d.inline_features
        lo, hi = limits.INLINE_ROWS.lo, limits.INLINE_ROWS.hi
        if not isinstance(rows, tuple) or not lo <= len(rows) <= hi:
            _fail("data.inline_features", rows, f"a list of {lo} to {hi} rows")
        for r, row in enumerate(rows):
            if not isinstance(row, tuple) or len(row) != len(d.true_weights):
                _fail(f"data.inline_features[{r}]", row, f"{len(d.true_weights)} numbers per row")
            for c, v in enumerate(row):
                _number(f"data.inline_features[{r}][{c}]", v, limits.INLINE_VALUE)
    if d.csv_path is not None and (not isinstance(d.csv_path, str) or not d.csv_path):
        _fail("data.csv_path", d.csv_path, "a file path or null")
    if d.target_column is not None and not isinstance(d.target_column, str):
        _fail("data.target_column", d.target_column, "a column name or null")
    if d.feature_columns is not None:
        cols = d.feature_columns
        if (
            not isinstance(cols, tuple)
            or not 1 <= len(cols) <= MAX_CSV_FEATURES
            or not all(isinstance(c, str) for c in cols)
        ):
            _fail("data.feature_columns", cols, f"a list of 1 to {MAX_CSV_FEATURES} column names")
        if len(set(cols)) != len(cols):
            _fail("data.feature_columns", cols, "names must be distinct")
    if not d.csv_path:
        # Synthetic rows are counted now; a CSV file's rows only once it is read (data.split).
        n = d.n_samples if d.inline_features is None else len(d.inline_features)
        n_train = n - round(n * d.val_fraction)
        if n_train < 2:
            _fail(
                "data.val_fraction",
                d.val_fraction,
                f"{n} samples leave {n_train} for training; at least 2 are needed",
            )


def _validate_model(m: ModelConfig) -> None:
    _flag("model.fit_bias", m.fit_bias)
    _choice("model.init", m.init, INITS)
    _number("model.init_std", m.init_std, limits.INIT_STD)
    _number("model.init_value", m.init_value, limits.INIT_VALUE)
    _choice("model.dtype", m.dtype, DTYPES)


def _validate_train(t: TrainConfig) -> None:
    _choice("train.implementation", t.implementation, IMPLEMENTATIONS)
    _choice("train.optimizer", t.optimizer, OPTIMIZERS)
    if t.implementation != "module" and t.optimizer not in HAND_WRITTEN_OPTIMIZERS:
        _fail(
            "train.optimizer",
            t.optimizer,
            f"the {t.implementation} implementation offers {', '.join(HAND_WRITTEN_OPTIMIZERS)}"
            " (module offers all)",
        )
    _number("train.lr", t.lr, limits.LR)
    _number("train.momentum", t.momentum, limits.MOMENTUM)
    if t.optimizer == "nesterov" and t.momentum < NESTEROV_MIN_MOMENTUM:
        _fail(
            "train.momentum",
            t.momentum,
            f"nesterov needs momentum in [{NESTEROV_MIN_MOMENTUM}, {limits.MOMENTUM.hi}]",
        )
    if not isinstance(t.betas, tuple) or len(t.betas) != 2:
        _fail("train.betas", t.betas, f"two numbers in {limits.BETA.describe()}")
    for i, b in enumerate(t.betas):
        _number(f"train.betas[{i}]", b, limits.BETA)
    _number("train.weight_decay", t.weight_decay, limits.WEIGHT_DECAY)
    _number("train.l2_penalty", t.l2_penalty, limits.L2_PENALTY)
    _number("train.batch_size", t.batch_size, limits.BATCH_SIZE)
    _number("train.epochs", t.epochs, limits.EPOCHS)
    _flag("train.shuffle", t.shuffle)
    _choice("train.loss", t.loss, LOSSES)
    _choice("train.device", t.device, DEVICES)
    _validate_schedule(t.schedule)
    _choice("train.sampling", t.sampling, SAMPLINGS)


def _validate_schedule(s: Any) -> None:
    if not isinstance(s, Schedule):
        _fail("train.schedule", s, 'an object with a name, e.g. {"name": "cosine"}')
    _choice("train.schedule.name", s.name, tuple(SCHEDULES))
    allowed = SCHEDULES[s.name]
    for key, value in s.params:
        if key not in allowed:
            names = ", ".join(allowed) or "none"
            raise ConfigError(
                f"unknown key train.schedule.{_short(key)} for the {s.name} schedule"
                f" (its parameters: {names})"
            )
        _number(f"train.schedule.{key}", value, SCHEDULE_LIMITS[key])


_VALIDATORS: dict[str, Callable[[Any], None]] = {
    "data": _validate_data,
    "model": _validate_model,
    "train": _validate_train,
}


def validate(config: Config) -> None:
    """Raise ConfigError naming the first invalid field, its value and the allowed range."""
    for name, check in _VALIDATORS.items():
        check(getattr(config, name))


def make_config(**sections: dict[str, Any]) -> Config:
    """Build a validated configuration from keyword sections (data=..., model=..., train=...)."""
    return Config.from_dict(sections)


def replace_section(config: Config, section: str, **changes: Any) -> Config:
    """Return a configuration with some keys of one section changed (that section validated:
    no rule spans two sections)."""
    if section not in _VALIDATORS:
        raise ConfigError(f"unknown section {_show(section)} (allowed: data, model, train)")
    part = replace(getattr(config, section), **changes)
    _VALIDATORS[section](part)
    return replace(config, **{section: part})
