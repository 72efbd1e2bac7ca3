"""Run configuration: dataclasses, validation and JSON round trip."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from core.errors import ConfigError, one_line

MAX_FEATURES = 64  # synthetic data: one true weight per feature, each a row of the controls
MAX_CSV_FEATURES = 256  # columns of a file: wide real data trains too (1e6 x 100 benchmarked)
MAX_SAMPLES = 10_000_000

IMPLEMENTATIONS = ("numpy", "scratch", "module")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad")
# Optimizers the hand-written engines implement; `module` uses torch.optim for all of them.
HAND_WRITTEN_OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam")
LOSSES = ("mse", "half_mse")
DISTRIBUTIONS = ("normal", "uniform")
INITS = ("normal", "zeros", "constant", "torch_default")
DTYPES = ("float32", "float64")
# auto: CUDA when torch sees a device, else the CPU. The numpy implementation always uses the CPU.
DEVICES = ("auto", "cpu", "cuda")


@dataclass
class DataConfig:
    """Where the training data comes from: a synthetic line or a CSV file."""

    true_weights: list[float] = field(default_factory=lambda: [2.0])
    true_bias: float = 1.0
    noise_std: float = 0.5
    n_samples: int = 200
    seed: int = 0
    val_fraction: float = 0.0
    feature_distribution: str = "normal"
    feature_correlation: float = 0.0
    # Fixed feature rows (seed 004's three-sample matrix); overrides n_samples when set.
    inline_features: list[list[float]] | None = None
    csv_path: str | None = None
    target_column: str | None = None
    feature_columns: list[str] | None = None
    standardize: bool = False


@dataclass
class ModelConfig:
    """The linear model: bias, initialisation and precision."""

    fit_bias: bool = True
    init: str = "normal"
    init_std: float = 0.01
    init_value: float = 0.0
    dtype: str = "float32"


@dataclass
class TrainConfig:
    """How the model is trained."""

    implementation: str = "module"
    optimizer: str = "sgd"
    lr: float = 0.03
    momentum: float = 0.9
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    weight_decay: float = 0.0
    # Explicit penalty lambda * sum(p**2) over all parameters, added to the loss (seed 003).
    l2_penalty: float = 0.0
    batch_size: int = 10
    epochs: int = 20
    shuffle: bool = True
    loss: str = "mse"
    device: str = "auto"


@dataclass
class Config:
    """A whole run: data, model and training sections."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return asdict(self)

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
        """Return a deep copy."""
        return Config.from_dict(json.loads(self.to_json()))

    def with_value(self, dotted: str, value: Any) -> Config:
        """Return a validated copy with `section.key` set to value."""
        section, _, key = dotted.partition(".")
        if section not in ("data", "model", "train") or not key:
            raise ConfigError(f"unknown key {_show(dotted)} (use section.key, e.g. train.lr)")
        raw = self.to_dict()
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
    """A short repr of a user's value for an error message."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**18:
        # repr of an int past 4300 digits raises; the size is what matters to the reader.
        return f"{'-' if value < 0 else ''}an integer of {value.bit_length()} bits"
    return _short(repr(value))


def _fail(name: str, value: Any, allowed: str) -> None:
    raise ConfigError(f"{name} = {_show(value)} is out of range: {allowed}")


def _number(name: str, value: Any, lo: float, hi: float, *, integer: bool = False) -> None:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        _fail(name, value, f"expected {'an integer' if integer else 'a number'} in [{lo}, {hi}]")
    # Range first: ints compare exactly with the float bounds, while math.isfinite would
    # overflow on an int too large for a float. NaN fails every comparison.
    if not lo <= value <= hi:
        _fail(name, value, f"allowed [{lo}, {hi}]")


def _choice(name: str, value: Any, options: tuple[str, ...]) -> None:
    if value not in options:
        _fail(name, value, f"one of {', '.join(options)}")


def _flag(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        _fail(name, value, "true or false")


def _validate_data(d: DataConfig) -> None:
    # With a CSV file the weights are placeholders, one per chosen column.
    limit = MAX_CSV_FEATURES if d.csv_path else MAX_FEATURES
    if not isinstance(d.true_weights, list) or not 1 <= len(d.true_weights) <= limit:
        _fail("data.true_weights", d.true_weights, f"a list of 1 to {limit} numbers")
    for i, w in enumerate(d.true_weights):
        _number(f"data.true_weights[{i}]", w, -1e6, 1e6)
    _number("data.true_bias", d.true_bias, -1e6, 1e6)
    _number("data.noise_std", d.noise_std, 0.0, 1e6)
    _number("data.n_samples", d.n_samples, 2, MAX_SAMPLES, integer=True)
    _number("data.seed", d.seed, 0, 2**32 - 1, integer=True)
    _number("data.val_fraction", d.val_fraction, 0.0, 0.9)
    _choice("data.feature_distribution", d.feature_distribution, DISTRIBUTIONS)
    _number("data.feature_correlation", d.feature_correlation, 0.0, 0.99)
    _flag("data.standardize", d.standardize)
    if d.inline_features is not None:
        rows = d.inline_features
        if not isinstance(rows, list) or not 2 <= len(rows) <= 10_000:
            _fail("data.inline_features", rows, "a list of 2 to 10000 rows")
        for r, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != len(d.true_weights):
                _fail(f"data.inline_features[{r}]", row, f"{len(d.true_weights)} numbers per row")
            for c, v in enumerate(row):
                _number(f"data.inline_features[{r}][{c}]", v, -1e12, 1e12)
    if d.csv_path is not None and (not isinstance(d.csv_path, str) or not d.csv_path):
        _fail("data.csv_path", d.csv_path, "a file path or null")
    if d.target_column is not None and not isinstance(d.target_column, str):
        _fail("data.target_column", d.target_column, "a column name or null")
    if d.feature_columns is not None:
        cols = d.feature_columns
        if (
            not isinstance(cols, list)
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
    _number("model.init_std", m.init_std, 0.0, 100.0)
    _number("model.init_value", m.init_value, -1e6, 1e6)
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
    _number("train.lr", t.lr, 1e-12, 1e3)
    _number("train.momentum", t.momentum, 0.0, 0.999)
    if t.optimizer == "nesterov" and t.momentum == 0:
        _fail("train.momentum", t.momentum, "nesterov needs momentum in (0, 0.999]")
    if not isinstance(t.betas, list) or len(t.betas) != 2:
        _fail("train.betas", t.betas, "two numbers in [0, 0.9999]")
    for i, b in enumerate(t.betas):
        _number(f"train.betas[{i}]", b, 0.0, 0.9999)
    _number("train.weight_decay", t.weight_decay, 0.0, 10.0)
    _number("train.l2_penalty", t.l2_penalty, 0.0, 10.0)
    _number("train.batch_size", t.batch_size, 1, MAX_SAMPLES, integer=True)
    _number("train.epochs", t.epochs, 1, 100_000_000, integer=True)
    _flag("train.shuffle", t.shuffle)
    _choice("train.loss", t.loss, LOSSES)
    _choice("train.device", t.device, DEVICES)


def validate(config: Config) -> None:
    """Raise ConfigError naming the first invalid field, its value and the allowed range."""
    _validate_data(config.data)
    _validate_model(config.model)
    _validate_train(config.train)


def make_config(**sections: dict[str, Any]) -> Config:
    """Build a validated configuration from keyword sections (data=..., model=..., train=...)."""
    return Config.from_dict(sections)


def replace_section(config: Config, section: str, **changes: Any) -> Config:
    """Return a validated copy with some keys of one section changed."""
    part = replace(getattr(config, section), **changes)
    new = replace(config, **{section: part})
    validate(new)
    return new
