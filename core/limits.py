"""Every numeric limit of a configuration, and the optimizer facts, declared once.

core.config validates against these records, core.race parses its runs with them, and the
controls take their ranges from them, so a limit written here is the limit everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "BATCH_SIZE",
    "BETA",
    "EPOCHS",
    "FEATURE_CORRELATION",
    "HAND_WRITTEN_OPTIMIZERS",
    "INIT_STD",
    "INIT_VALUE",
    "INLINE_ROWS",
    "INLINE_VALUE",
    "L2_PENALTY",
    "LIMITS",
    "LR",
    "MAX_CSV_FEATURES",
    "MAX_FEATURES",
    "MAX_SAMPLES",
    "MOMENTUM",
    "MOMENTUM_OPTIMIZERS",
    "NESTEROV_MIN_MOMENTUM",
    "NOISE_STD",
    "N_SAMPLES",
    "OPTIMIZERS",
    "OPTIMIZER_FALLBACK",
    "SCHEDULE_LIMITS",
    "SEED",
    "TRUE_BIAS",
    "TRUE_WEIGHT",
    "VAL_FRACTION",
    "WEIGHT_DECAY",
    "Limit",
    "optimizer_for",
    "optimizers_for",
]


@dataclass(frozen=True)
class Limit:
    """The closed range [lo, hi] a setting may take, and how a control should span it."""

    lo: float
    hi: float
    integer: bool = False
    log: bool = False  # a slider over this setting reads naturally on a log scale
    # The part of [lo, hi] a slider covers when the whole would be unwieldy (a spin box beside
    # it still takes every valid value); None: the whole range.
    slider: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if not self.lo <= self.hi:
            raise ValueError(f"empty limit [{self.lo}, {self.hi}]")
        if self.log and not self.lo > 0:
            raise ValueError(f"a log-scale limit needs lo > 0, got {self.lo}")
        if self.slider is not None and not self.lo <= self.slider[0] < self.slider[1] <= self.hi:
            raise ValueError(f"slider range {self.slider} outside [{self.lo}, {self.hi}]")

    @property
    def slider_range(self) -> tuple[float, float]:
        """The range a slider spans."""
        return self.slider if self.slider is not None else (self.lo, self.hi)

    def accepts(self, value: object) -> bool:
        """Whether value is a number of the right kind (an integer if integer) in [lo, hi]."""
        kinds = (int,) if self.integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds):
            return False
        # Ints compare exactly with float bounds (math.isfinite would overflow on a huge int);
        # NaN fails every comparison.
        return self.lo <= value <= self.hi

    def describe(self) -> str:
        """The range as messages show it, e.g. '[0.0, 0.999]'."""
        return f"[{self.lo}, {self.hi}]"


MAX_FEATURES = 64  # synthetic data: one true weight per feature, each a row of the controls
MAX_CSV_FEATURES = 256  # columns of a file: wide real data trains too (1e6 x 100 benchmarked)
MAX_SAMPLES = 10_000_000

# data
TRUE_WEIGHT = Limit(-1e6, 1e6)  # each of data.true_weights
TRUE_BIAS = Limit(-1e6, 1e6)
NOISE_STD = Limit(0.0, 1e6)
N_SAMPLES = Limit(2, MAX_SAMPLES, integer=True, log=True)
SEED = Limit(0, 2**32 - 1, integer=True)
VAL_FRACTION = Limit(0.0, 0.9)
FEATURE_CORRELATION = Limit(0.0, 0.99)
INLINE_ROWS = Limit(2, 10_000, integer=True)  # rows of data.inline_features
INLINE_VALUE = Limit(-1e12, 1e12)  # each value of data.inline_features
# model
INIT_STD = Limit(0.0, 100.0)
INIT_VALUE = Limit(-1e6, 1e6)
# train
LR = Limit(1e-12, 1e3, log=True, slider=(1e-5, 10.0))
MOMENTUM = Limit(0.0, 0.999)
BETA = Limit(0.0, 0.9999)  # each of train.betas
WEIGHT_DECAY = Limit(0.0, 10.0)
L2_PENALTY = Limit(0.0, 10.0)
BATCH_SIZE = Limit(1, MAX_SAMPLES, integer=True, log=True)
EPOCHS = Limit(1, 100_000_000, integer=True, log=True)
# train.schedule's parameters (the schedules and their defaults: core.schedules)
SCHEDULE_STEP_SIZE = Limit(1, 100_000_000, integer=True, log=True)
SCHEDULE_GAMMA = Limit(1e-6, 1.0)  # a decay: 1 keeps the rate, below 1 lowers it
SCHEDULE_LR_MIN = Limit(0.0, LR.hi)
SCHEDULE_WARMUP_STEPS = Limit(0, 100_000_000, integer=True)
# torch's LinearLR takes a start factor in (0, 1].
SCHEDULE_START_FACTOR = Limit(1e-6, 1.0, log=True)
# OneCycleLR: at 0 or 1 one of its two phases is empty and torch divides by zero.
SCHEDULE_PCT_START = Limit(0.01, 0.99)
SCHEDULE_DIV_FACTOR = Limit(1.0, 1e6, log=True)
SCHEDULE_FINAL_DIV_FACTOR = Limit(1.0, 1e12, log=True)
SCHEDULE_DECAY = Limit(0.0, 1e6)

# The limit of each numeric configuration key (list keys: the limit of each element).
LIMITS = MappingProxyType(
    {
        "data.true_weights": TRUE_WEIGHT,
        "data.true_bias": TRUE_BIAS,
        "data.noise_std": NOISE_STD,
        "data.n_samples": N_SAMPLES,
        "data.seed": SEED,
        "data.noise_seed": SEED,
        "data.val_fraction": VAL_FRACTION,
        "data.feature_correlation": FEATURE_CORRELATION,
        "data.inline_features": INLINE_VALUE,
        "model.init_std": INIT_STD,
        "model.init_value": INIT_VALUE,
        "train.lr": LR,
        "train.momentum": MOMENTUM,
        "train.betas": BETA,
        "train.weight_decay": WEIGHT_DECAY,
        "train.l2_penalty": L2_PENALTY,
        "train.batch_size": BATCH_SIZE,
        "train.epochs": EPOCHS,
    }
)

# The limit of each schedule parameter, by name (train.schedule.<name>).
SCHEDULE_LIMITS = MappingProxyType(
    {
        "step_size": SCHEDULE_STEP_SIZE,
        "gamma": SCHEDULE_GAMMA,
        "lr_min": SCHEDULE_LR_MIN,
        "warmup_steps": SCHEDULE_WARMUP_STEPS,
        "start_factor": SCHEDULE_START_FACTOR,
        "pct_start": SCHEDULE_PCT_START,
        "div_factor": SCHEDULE_DIV_FACTOR,
        "final_div_factor": SCHEDULE_FINAL_DIV_FACTOR,
        "decay": SCHEDULE_DECAY,
    }
)

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad")
# Optimizers the hand-written engines (numpy, scratch) implement; `module` uses torch.optim
# for all of them.
HAND_WRITTEN_OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam")
# When numpy/scratch cannot run the chosen optimizer: its closest hand-written kin.
OPTIMIZER_FALLBACK = MappingProxyType({"adamw": "adam", "rmsprop": "adam", "adagrad": "adam"})
# Optimizers that read train.momentum (the others ignore it).
MOMENTUM_OPTIMIZERS = ("momentum", "nesterov")
# Nesterov without momentum is plain SGD, and torch refuses it: at least this much.
NESTEROV_MIN_MOMENTUM = 0.001


def optimizers_for(implementation: str) -> tuple[str, ...]:
    """Optimizers an implementation offers."""
    return OPTIMIZERS if implementation == "module" else HAND_WRITTEN_OPTIMIZERS


def optimizer_for(implementation: str, optimizer: str) -> str:
    """The optimizer an implementation runs for the one asked: itself, or its fallback."""
    if optimizer in optimizers_for(implementation):
        return optimizer
    return OPTIMIZER_FALLBACK.get(optimizer, "sgd")
