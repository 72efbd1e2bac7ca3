"""A race's runs as the command line and the race tab give them: one run's settings (RaceEntry),
its short label, and the --run specification 'optimizer=sgd,lr=0.03,batch_size=32' parsed and
checked against the ranges the configuration allows (core.limits).

core.race re-exports every name here, so its callers keep importing them from there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from core.config import Config
from core.errors import UserInputError
from core.limits import BATCH_SIZE, LR, MOMENTUM, MOMENTUM_OPTIMIZERS, OPTIMIZERS, Limit

RUN_KEYS = ("optimizer", "lr", "batch_size", "momentum", "label")


class RaceSpecError(UserInputError):
    """A --run specification is malformed; the message names the key or value."""


@dataclass(frozen=True)
class RaceEntry:
    """One run's settings; None keeps the base configuration's value."""

    optimizer: str | None = None
    lr: float | None = None
    batch_size: int | None = None
    momentum: float | None = None
    label: str | None = None

    def changes(self) -> dict[str, Any]:
        """The train-section fields this entry overrides."""
        keys = ("optimizer", "lr", "batch_size", "momentum")
        return {k: getattr(self, k) for k in keys if getattr(self, k) is not None}

    def apply(self, config: Config) -> Config:
        """The base configuration with this entry's settings, validated."""
        # All at once, not one with_value() per key: e.g. optimizer=nesterov with momentum=0.5
        # on a base with momentum 0 is valid only once both are set.
        return config.with_values({f"train.{k}": v for k, v in self.changes().items()})

    def to_spec(self) -> str:
        """The entry as a --run string (parse_run_spec(entry.to_spec()) == entry)."""
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                parts.append(
                    f"{f.name}={value!r}" if isinstance(value, float) else f"{f.name}={value}"
                )
        return ",".join(parts)


def default_label(config: Config) -> str:
    """A short name for a run: optimizer, learning rate, batch size (and momentum)."""
    t = config.train
    text = f"{t.optimizer} lr={t.lr:g} batch={t.batch_size}"
    if t.optimizer in MOMENTUM_OPTIMIZERS:
        text += f" m={t.momentum:g}"
    return text


def _number(key: str, text: str, limit: Limit) -> float | int:
    """A run's number, in the range the configuration allows (core.limits)."""
    kind = "an integer" if limit.integer else "a number"
    try:
        value: float | int = int(text) if limit.integer else float(text)
    except ValueError:
        raise RaceSpecError(f"{key}={text!r}: expected {kind}") from None
    if not math.isfinite(value):
        raise RaceSpecError(f"{key}={text!r}: expected a finite number")
    if not limit.accepts(value):
        raise RaceSpecError(f"{key}={text!r}: must be in {limit.describe()}")
    return value


def parse_run_spec(text: str) -> RaceEntry:
    """Parse 'optimizer=sgd,lr=0.03,batch_size=32[,momentum=0.9][,label=name]' into an entry."""
    values: dict[str, Any] = {}
    if not text.strip():
        raise RaceSpecError("empty run specification (expected e.g. optimizer=sgd,lr=0.03)")
    for item in text.split(","):
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise RaceSpecError(f"{item.strip()!r}: expected KEY=VALUE (e.g. lr=0.03)")
        if key not in RUN_KEYS:
            raise RaceSpecError(f"unknown key {key!r} (allowed: {', '.join(RUN_KEYS)})")
        if key in values:
            raise RaceSpecError(f"key {key!r} given twice")
        if not value:
            raise RaceSpecError(f"{key}: missing value")
        if key == "optimizer":
            value = value.lower()
            if value not in OPTIMIZERS:
                raise RaceSpecError(
                    f"optimizer={value!r}: unknown optimizer (one of {', '.join(OPTIMIZERS)})"
                )
            values[key] = value
        elif key == "lr":
            values[key] = float(_number(key, value, LR))
        elif key == "batch_size":
            values[key] = int(_number(key, value, BATCH_SIZE))
        elif key == "momentum":
            values[key] = float(_number(key, value, MOMENTUM))
        else:
            values[key] = value
    return RaceEntry(**values)
