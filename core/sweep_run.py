"""A sweep stepped in slices (for a window's thread), its snapshots, and the map's cell table.

Sweep trains a plan's groups one after another in this process, a slice at a time; a run's
results show as soon as it has finished (a diverged run at once, the others with their group).
cell_table turns results into what the map shows: per grid point, the median over seeds of a
measure, its 10 % and 90 % quantiles, and the share of seeds that diverged.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.data import make_dataset
from core.sweep import Axis, SweepPlan
from core.sweep_group import GroupRun, RunResult
from core.sweep_theory import Theory, applicable, limit_field, limit_records

MEASURES = {
    "steps": "steps to tolerance",
    "loss": "final loss",
    "diverged": "diverged (share of seeds)",
}


@dataclass(frozen=True)
class SweepSnapshot:
    """Plain copied values describing a sweep now (safe to hand to another thread)."""

    axes: tuple[Axis, ...]
    seeds: int
    results: tuple[RunResult | None, ...]  # per run of the plan, None until it has finished
    grid_index: tuple[tuple[int, ...], ...]  # per run
    runs_done: int
    runs: int
    done: bool
    stopped: bool
    seconds: float
    tolerance: float


@dataclass(frozen=True)
class LimitLine:
    """One theoretical limit drawn on the map: where lr / limit crosses 1."""

    key: str
    name: str
    formula: str
    fx: np.ndarray  # cell positions along the first axis
    fy: np.ndarray  # ... and the second
    ratio: np.ndarray  # (len(fy), len(fx))


def theory_of(plan: SweepPlan) -> tuple[Theory, int]:
    """The theory of the plan's base data, and its training rows."""
    base = plan.base
    ds = make_dataset(base.data, dtype="float64")
    return Theory.of(ds, base), ds.n_train


def limit_lines(plan: SweepPlan, theory: Theory, n_train: int) -> list[LimitLine]:
    """The limits that apply to the plan, as fields over its first two axes."""
    batches = [plan.base.train.batch_size]
    for axis in plan.axes:
        if axis.key == "train.batch_size":
            batches = list(axis.values)
    lines = []
    for kind in applicable(plan.base.train.optimizer, batches, n_train):
        fx, fy, ratio = limit_field(theory, plan.base, plan.axes, kind.key, n_train)
        lines.append(LimitLine(kind.key, kind.name, kind.formula, fx, fy, ratio))
    return lines


def plan_limits(plan: SweepPlan) -> tuple[list[dict], list[LimitLine]]:
    """sweep.json's limits and the lines the map draws, for the plan."""
    theory, n_train = theory_of(plan)
    records = limit_records(theory, plan.base, plan.axes, n_train)
    lambda_max = theory.lambda_max(plan.base.train.weight_decay)
    for record in records:
        record["lambda_max"] = lambda_max
    return records, limit_lines(plan, theory, n_train)


class Sweep:
    """Trains a plan's groups in this process, one slice at a time."""

    def __init__(self, plan: SweepPlan) -> None:
        self.plan = plan
        self.results: list[RunResult | None] = [None] * len(plan.cells)
        self._group: GroupRun | None = None
        self._next = 0
        self.stopped = False
        self.seconds = 0.0
        self.runs_done = 0

    @property
    def done(self) -> bool:
        """Whether every group has run (or the sweep was stopped)."""
        return self.stopped or (self._group is None and self._next >= len(self.plan.groups))

    def advance(self, deadline: float, step_budget: int | None = None) -> int:
        """Train until the perf_counter deadline, step_budget steps (of a stack) or the end;
        return the steps run."""
        ran = 0
        t0 = time.perf_counter()
        while not self.done:
            if self._group is None:
                g = self.plan.groups[self._next]
                self._next += 1
                self._group = GroupRun(g.configs, g.tolerance, g.cells)
            group = self._group
            budget = None if step_budget is None else step_budget - ran
            ran += group.advance(max_steps=budget, deadline=deadline)
            self._collect(group)
            if group.done:
                self._group = None
            if time.perf_counter() >= deadline or (step_budget is not None and ran >= step_budget):
                break
        self.seconds += time.perf_counter() - t0
        return ran

    def _collect(self, group: GroupRun) -> None:
        for j in group.finished_runs():
            cell = group.cells[j]
            if self.results[cell] is None:
                self.results[cell] = group.result(j)
                self.runs_done += 1

    def run_to_end(self) -> None:
        """Train every group (scripts and tests)."""
        while not self.done:
            self.advance(time.perf_counter() + 1.0)

    def stop(self) -> None:
        """Stop: the runs finished keep their results; the others have none."""
        self.stopped = True
        self._group = None

    def snapshot(self) -> SweepSnapshot:
        """Copy what the map needs now."""
        plan = self.plan
        return SweepSnapshot(
            axes=plan.axes,
            seeds=plan.seeds,
            results=tuple(self.results),
            grid_index=tuple(c.grid_index for c in plan.cells),
            runs_done=self.runs_done,
            runs=len(plan.cells),
            done=self.done,
            stopped=self.stopped,
            seconds=self.seconds,
            tolerance=plan.tolerance,
        )


@dataclass(frozen=True)
class CellTable:
    """What the map shows, per grid point of the first two axes (x = axis 0, y = axis 1)."""

    median: np.ndarray  # (nx, ny); nan: no result yet; inf: never reached (steps)
    low: np.ndarray  # 10 % quantile over seeds
    high: np.ndarray  # 90 % quantile over seeds
    diverged: np.ndarray  # share of finished seeds that diverged
    finished: np.ndarray  # seeds finished
    measure: str


def _measure(result: RunResult, measure: str) -> float:
    if measure == "steps":
        s = result.steps_to_tolerance
        return math.inf if s is None else float(s)
    if measure == "loss":
        return result.final_loss if math.isfinite(result.final_loss) else math.inf
    return 1.0 if result.diverged else 0.0


def _median(values: np.ndarray) -> float:
    """The median; when a middle value is inf (never reached), inf."""
    v = np.sort(values)
    n = v.size
    if n % 2:
        return float(v[n // 2])
    a, b = v[n // 2 - 1], v[n // 2]
    return float(a + (b - a) / 2) if math.isfinite(b) else math.inf


def cell_table(
    axes: Sequence[Axis],
    grid_index: Sequence[tuple[int, ...]],
    results: Sequence[RunResult | None],
    measure: str = "steps",
) -> CellTable:
    """Per grid point of the first two axes, the measure over seeds (other axes: the best)."""
    if measure not in MEASURES:
        raise ValueError(f"unknown measure {measure!r} (one of {', '.join(MEASURES)})")
    nx = len(axes[0].values)
    ny = len(axes[1].values) if len(axes) > 1 else 1
    points: dict[tuple[int, ...], list[RunResult]] = {}
    for index, result in zip(grid_index, results, strict=True):
        if result is not None:
            points.setdefault(index, []).append(result)
    shape = (nx, ny)
    median = np.full(shape, np.nan)
    low, high = np.full(shape, np.nan), np.full(shape, np.nan)
    diverged, finished = np.zeros(shape), np.zeros(shape)
    for index, found in points.items():
        i, j = index[0], (index[1] if len(index) > 1 else 0)
        values = np.array([_measure(r, measure) for r in found])
        med = _median(values)
        # More than two axes: each map cell shows the best point along the others.
        if not np.isnan(median[i, j]) and not med < median[i, j]:
            continue
        median[i, j] = med
        low[i, j] = float(np.quantile(values, 0.1, method="inverted_cdf"))
        high[i, j] = float(np.quantile(values, 0.9, method="inverted_cdf"))
        diverged[i, j] = float(np.mean([r.diverged for r in found]))
        finished[i, j] = len(found)
    return CellTable(median, low, high, diverged, finished, measure)
