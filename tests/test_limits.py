"""core.limits: every limit declared once, and the configuration validating against it."""

from __future__ import annotations

import math
import re

import pytest

from core import limits
from core.config import Config
from core.errors import ConfigError
from core.limits import (
    HAND_WRITTEN_OPTIMIZERS,
    LIMITS,
    MOMENTUM,
    MOMENTUM_OPTIMIZERS,
    NESTEROV_MIN_MOMENTUM,
    OPTIMIZER_FALLBACK,
    OPTIMIZERS,
    Limit,
    optimizer_for,
    optimizers_for,
)

# Keys whose value is a list: the limit is that of each element.
LISTS = {"data.true_weights", "train.betas", "data.inline_features"}


def _config_with(key: str, value: float) -> Config:
    if key == "data.inline_features":
        rows = [[value], [0.0], [1.0]]
        return Config().with_values({"data.true_weights": [1.0], key: rows})
    if key == "train.betas":
        return Config().with_value(key, [value, value])
    if key == "data.true_weights":
        return Config().with_value(key, [value])
    return Config().with_value(key, value)


@pytest.mark.parametrize("key", list(LIMITS))
def test_configuration_accepts_exactly_the_declared_range(key: str) -> None:
    limit = LIMITS[key]
    section, _, name = key.partition(".")
    for value in (limit.lo, limit.hi):
        config = _config_with(key, value)
        got = getattr(getattr(config, section), name)
        if key in LISTS:
            got = got[0][0] if key == "data.inline_features" else got[0]
        assert got == value
    step = 1 if limit.integer else max(abs(limit.hi), abs(limit.lo), 1.0) * 1e-6
    for value in (limit.lo - step, limit.hi + step):
        with pytest.raises(ConfigError, match=rf"{re.escape(key)}.*{re.escape(limit.describe())}"):
            _config_with(key, value)


def test_every_numeric_field_has_a_limit() -> None:
    numeric = {
        f"{section}.{name}"
        for section, part in Config().to_dict().items()
        for name, value in part.items()
        if isinstance(value, (int, float, list)) and not isinstance(value, bool)
    }
    assert numeric <= set(LIMITS)


def test_limit_records() -> None:
    lr = limits.LR
    assert lr.log and lr.slider_range == (1e-5, 10.0) and (lr.lo, lr.hi) == (1e-12, 1e3)
    assert MOMENTUM.slider_range == (MOMENTUM.lo, MOMENTUM.hi)
    assert limits.BATCH_SIZE.integer and limits.BATCH_SIZE.accepts(32)
    assert not limits.BATCH_SIZE.accepts(2.0) and not limits.BATCH_SIZE.accepts(True)
    assert not lr.accepts(math.nan) and not lr.accepts(0.0)
    assert limits.SEED.accepts(2**32 - 1) and not limits.SEED.accepts(2**5000)
    for bad in (
        {"lo": 1.0, "hi": 0.0},
        {"lo": 0.0, "hi": 1.0, "log": True},
        {"lo": 1.0, "hi": 2.0, "slider": (0.5, 2.0)},
    ):
        with pytest.raises(ValueError):
            Limit(**bad)


def test_optimizer_facts_agree() -> None:
    assert set(HAND_WRITTEN_OPTIMIZERS) < set(OPTIMIZERS)
    assert set(OPTIMIZER_FALLBACK) == set(OPTIMIZERS) - set(HAND_WRITTEN_OPTIMIZERS)
    assert set(OPTIMIZER_FALLBACK.values()) <= set(HAND_WRITTEN_OPTIMIZERS)
    assert set(MOMENTUM_OPTIMIZERS) <= set(HAND_WRITTEN_OPTIMIZERS)
    assert MOMENTUM.lo < NESTEROV_MIN_MOMENTUM <= MOMENTUM.hi
    assert optimizers_for("module") == OPTIMIZERS
    assert optimizers_for("numpy") == optimizers_for("scratch") == HAND_WRITTEN_OPTIMIZERS
    assert optimizer_for("numpy", "rmsprop") == "adam"
    assert optimizer_for("module", "rmsprop") == "rmsprop"
    assert optimizer_for("scratch", "nesterov") == "nesterov"
    # Every optimizer an implementation falls back to validates with it.
    for implementation in ("numpy", "scratch", "module"):
        for optimizer in OPTIMIZERS:
            chosen = optimizer_for(implementation, optimizer)
            Config().with_values(
                {"train.implementation": implementation, "train.optimizer": chosen}
            )
