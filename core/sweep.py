"""Sweeps: a grid of settings, each cell over N seeds, planned as groups trained together.

A grid has one axis per configuration key (`train.lr`, `train.batch_size`, `train.momentum`,
`train.weight_decay`, `train.betas[0]`, ...), each a comma list (`1,4,16`), a log range
(`log:START:STOP:COUNT`) or a linear range (`lin:START:STOP:COUNT`). Every cell is repeated
over N seeds: the seeds vary `data.noise_seed` when the configuration sets one (a fixed
design: the features held, the noise redrawn), else `data.seed` (everything redrawn).

Cells whose runs share data and batch order (core.sweep_group.batch_key) form groups of at
most MAX_GROUP_RUNS runs, each trained as one computation (core.batched). The groups are the
same however they are executed (in this process, local processes or a Dask cluster), so the
results are too.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.config import Config
from core.errors import UserInputError
from core.limits import LIMITS, SEED, Limit
from core.sweep_group import batch_key
from core.tolerance import DEFAULT_TOLERANCE

MAX_GROUP_RUNS = 64  # runs trained as one stack: enough to amortise every call, few to wait for
MAX_CELLS = 1_000_000  # cells x seeds of one sweep (the plan itself must fit in memory)
MAX_SEEDS = 100_000
LIST_KEYS = ("data.true_weights", "train.betas")  # list keys: one element per axis, key[i]
# Keys an axis may not take: the list keys whole, and the rows of inline features.
NOT_AXES = ("data.inline_features", *LIST_KEYS)
# Axes the window offers (the command line takes any numeric key).
WINDOW_AXES = (
    "train.lr",
    "train.batch_size",
    "train.momentum",
    "train.betas[0]",
    "train.weight_decay",
)
_INDEXED = re.compile(r"^([a-z_]+\.[a-z_]+)\[(\d+)\]$")


class SweepError(UserInputError):
    """A grid, a seed count or a tolerance is unusable; the message says which and why."""


def axis_limit(key: str) -> Limit:
    """The range a grid key's values must lie in (SweepError for a key no grid can take)."""
    match = _INDEXED.match(key)
    if match and match.group(1) in LIST_KEYS:
        return LIMITS[match.group(1)]
    if key in LIMITS and key not in NOT_AXES:
        return LIMITS[key]
    if key in NOT_AXES:
        raise SweepError(f"grid key {key!r} is a list: sweep one element, e.g. {key}[0]")
    raise SweepError(
        f"unknown grid key {key!r} (a numeric configuration key, e.g. train.lr, "
        "train.batch_size, train.momentum, train.weight_decay, train.betas[0])"
    )


@dataclass(frozen=True)
class Axis:
    """One key of a grid and its values, in order."""

    key: str
    values: tuple[float, ...]
    spec: str  # as given: "log:1e-3:1:8", "lin:0:0.9:4" or "1,4,16"

    @property
    def kind(self) -> str:
        """'log', 'lin' or 'list'."""
        head = self.spec.split(":", 1)[0]
        return head if head in ("log", "lin") else "list"

    @property
    def log_scale(self) -> bool:
        """Whether the axis reads naturally on a log scale (log ranges; positive lists of keys
        whose controls are logarithmic)."""
        if self.kind != "list":
            return self.kind == "log"
        return axis_limit(self.key).log and all(v > 0 for v in self.values)

    def value_at(self, position: float | np.ndarray) -> float | np.ndarray:
        """The value at a fractional cell position (0 = first value), interpolated between
        values on the axis's scale (log or linear), held beyond the ends."""
        vals = np.asarray(self.values, dtype=np.float64)
        if vals.size == 1:
            return np.full(np.shape(position), vals[0]) if np.ndim(position) else float(vals[0])
        at = np.clip(position, 0, vals.size - 1)
        ref = np.log(vals) if self.log_scale else vals
        out = np.interp(at, np.arange(vals.size), ref)
        out = np.exp(out) if self.log_scale else out
        return out if np.ndim(position) else float(out)

    def label(self, value: float) -> str:
        """A value as the axis's ticks and hover show it."""
        if axis_limit(self.key).integer:
            return f"{int(value):,}"
        return f"{value:.3g}"


def _number(key: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SweepError(f"--grid {key}: {text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise SweepError(f"--grid {key}: {text.strip()!r} is not a finite number")
    return value


def _checked(key: str, value: float, limit: Limit) -> float | int:
    if limit.integer:
        if value != round(value):
            raise SweepError(f"--grid {key}: {value:g} is not an integer")
        value = round(value)
    if not limit.accepts(value):
        raise SweepError(f"--grid {key}: {value:g} is out of range {limit.describe()}")
    return value


def parse_axis(text: str) -> Axis:
    """Parse KEY=VALUES: a comma list, log:START:STOP:COUNT or lin:START:STOP:COUNT."""
    key, sep, spec = text.partition("=")
    key, spec = key.strip(), spec.strip()
    if not sep or not key:
        raise SweepError(f"--grid {text!r}: expected KEY=VALUES (e.g. train.lr=log:1e-3:1:8)")
    limit = axis_limit(key)
    if not spec:
        raise SweepError(f"--grid {key}: no values")
    head = spec.split(":", 1)[0]
    if head in ("log", "lin"):
        parts = spec.split(":")
        if len(parts) != 4:
            raise SweepError(f"--grid {key}: expected {head}:START:STOP:COUNT, got {spec!r}")
        start, stop = (_number(key, p) for p in parts[1:3])
        try:
            count = int(parts[3])
        except ValueError:
            raise SweepError(f"--grid {key}: COUNT {parts[3]!r} is not an integer") from None
        if count < 1:
            raise SweepError(f"--grid {key}: an empty range (COUNT {count})")
        if head == "log" and not (start > 0 and stop > 0):
            raise SweepError(f"--grid {key}: a log range needs START and STOP above 0")
        raw = np.geomspace(start, stop, count) if head == "log" else np.linspace(start, stop, count)
        if limit.integer:
            raw = np.round(raw)
        values = [_checked(key, float(v), limit) for v in raw]
        values = list(dict.fromkeys(values))  # rounding to integers may repeat a value
    else:
        items = [item for item in spec.split(",")]
        if any(not item.strip() for item in items):
            raise SweepError(f"--grid {key}: an empty value in {spec!r}")
        values = [_checked(key, _number(key, item), limit) for item in items]
        if len(set(values)) != len(values):
            raise SweepError(f"--grid {key}: a value appears twice in {spec!r}")
    return Axis(key, tuple(values), spec)


def parse_grid(texts: Sequence[str]) -> tuple[Axis, ...]:
    """Parse every --grid KEY=VALUES; at least one, each key once."""
    if not texts:
        raise SweepError("a sweep needs at least one --grid KEY=VALUES (e.g. train.lr=1e-3,1e-2)")
    axes = tuple(parse_axis(t) for t in texts)
    keys = [a.key for a in axes]
    for key in keys:
        if keys.count(key) > 1:
            raise SweepError(f"--grid {key} given twice")
    return axes


def apply_values(config: Config, values: dict[str, float]) -> Config:
    """config with grid keys set (list elements by index), validated at once."""
    changes: dict[str, Any] = {}
    for key, value in values.items():
        match = _INDEXED.match(key)
        if match:
            base, i = match.group(1), int(match.group(2))
            section, _, name = base.partition(".")
            current = list(changes.get(base, getattr(getattr(config, section), name)))
            if i >= len(current):
                raise SweepError(f"grid key {key}: {base} has only {len(current)} elements")
            current[i] = value
            changes[base] = current
        else:
            changes[key] = value
    return config.with_values(changes)


def seed_key(config: Config) -> str:
    """The key a sweep's seeds vary: data.noise_seed in a fixed design, else data.seed."""
    return "data.noise_seed" if config.data.noise_seed is not None else "data.seed"


def seed_values(config: Config, seeds: int) -> tuple[int, ...]:
    """The values of seed_key for seeds 0..seeds-1: the configuration's own, then onwards."""
    key = seed_key(config)
    first = config.data.noise_seed if key == "data.noise_seed" else config.data.seed
    top = int(SEED.hi) + 1
    return tuple((int(first) + i) % top for i in range(seeds))


@dataclass(frozen=True)
class SweepCell:
    """One run of a sweep: a grid point and a seed."""

    index: int  # row of sweep.csv
    grid_index: tuple[int, ...]
    values: tuple[float, ...]
    seed_index: int
    seed: int
    config: Config


@dataclass(frozen=True)
class SweepGroup:
    """Runs trained as one computation: the same data and batch order."""

    index: int
    cells: tuple[int, ...]
    configs: tuple[Config, ...]
    tolerance: float

    @property
    def cost(self) -> int:
        """About how much work the group is: steps times runs (for ordering work)."""
        t = self.configs[0].train
        n = _n_train(self.configs[0]) or 1000
        return t.epochs * -(-n // max(min(t.batch_size, n), 1)) * (len(self.cells) + 8)


def _n_train(config: Config) -> int | None:
    """Training rows of synthetic data (None for a file: known once it is read)."""
    d = config.data
    if d.csv_path:
        return None
    n = d.n_samples if d.inline_features is None else len(d.inline_features)
    return n - round(n * d.val_fraction)


class SweepPlan:
    """The cells of a grid over seeds, and the groups they train in."""

    def __init__(
        self,
        base: Config,
        axes: Sequence[Axis],
        seeds: int = 1,
        tolerance: float = DEFAULT_TOLERANCE,
        max_group_runs: int = MAX_GROUP_RUNS,
    ) -> None:
        if not axes:
            raise SweepError("a sweep needs at least one axis")
        if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= MAX_SEEDS:
            raise SweepError(f"--seeds {seeds!r}: expected an integer from 1 to {MAX_SEEDS}")
        if not (isinstance(tolerance, (int, float)) and math.isfinite(tolerance) and tolerance > 0):
            raise SweepError(f"--tolerance {tolerance!r}: must be a positive number")
        self.base = base
        self.axes = tuple(axes)
        self.seeds = seeds
        self.tolerance = float(tolerance)
        self.seed_key = seed_key(base)
        if seeds > 1 and self.seed_key in self.keys:
            raise SweepError(f"--grid {self.seed_key} and --seeds {seeds}: the seeds vary it")
        self.seed_values = seed_values(base, seeds)
        self.shape = tuple(len(a.values) for a in self.axes)
        total = math.prod(self.shape) * seeds
        if total > MAX_CELLS:
            raise SweepError(f"{total:,} runs (cells x seeds): at most {MAX_CELLS:,}")
        self.cells = self._make_cells()
        self.groups = self._make_groups(max_group_runs)

    @property
    def keys(self) -> tuple[str, ...]:
        """The grid's keys, in axis order."""
        return tuple(a.key for a in self.axes)

    def _make_cells(self) -> list[SweepCell]:
        cells = []
        point_configs: dict[tuple[int, ...], Config] = {}
        for grid_index in itertools.product(*(range(n) for n in self.shape)):
            values = tuple(a.values[i] for a, i in zip(self.axes, grid_index, strict=True))
            try:
                config = apply_values(self.base, dict(zip(self.keys, values, strict=True)))
            except UserInputError as exc:
                where = ", ".join(f"{k}={v:g}" for k, v in zip(self.keys, values, strict=True))
                raise SweepError(f"cell {where}: {exc}") from None
            point_configs[grid_index] = config
            for s, seed in enumerate(self.seed_values):
                cfg = config if s == 0 else config.with_value(self.seed_key, seed)
                cells.append(SweepCell(len(cells), grid_index, values, s, seed, cfg))
        return cells

    def _make_groups(self, max_runs: int) -> list[SweepGroup]:
        by_key: dict[str, list[int]] = {}
        for cell in self.cells:
            by_key.setdefault(batch_key(cell.config), []).append(cell.index)
        groups = []
        for members in by_key.values():
            for lo in range(0, len(members), max_runs):
                part = tuple(members[lo : lo + max_runs])
                configs = tuple(self.cells[i].config for i in part)
                groups.append(SweepGroup(len(groups), part, configs, self.tolerance))
        return groups

    def to_dict(self) -> dict[str, Any]:
        """The grid, the seeds and the tolerance, as sweep.json holds them."""
        return {
            "grid": {a.key: list(a.values) for a in self.axes},
            "grid_specs": {a.key: a.spec for a in self.axes},
            "seeds": self.seeds,
            "seed_key": self.seed_key,
            "seed_values": list(self.seed_values),
            "tolerance": self.tolerance,
            "cells": math.prod(self.shape),
            "runs": len(self.cells),
            "groups": len(self.groups),
        }
