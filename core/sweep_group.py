"""One group of a sweep: runs on the same data and batch order, trained as one stack.

GroupRun does for a stack of runs what core.trainer.Trainer does for one: epochs in the seeded
order, chunks of steps, divergence (the first bad step of a run is cut, its parameters roll back
to the last finite ones and the run is frozen; the others go on) and, as the race does, each
run's loss on the whole training set after every step from its sufficient statistics, for the
steps to tolerance (core.race).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core.analysis import SufficientStats, least_squares, loss_scale
from core.batched import StackHyper, StackSpec, make_batched
from core.config import Config
from core.data import Dataset, check_magnitudes, epoch_order, make_dataset
from core.engines import resolve_device
from core.errors import DataError
from core.tolerance import tolerance_margin
from core.trainer import CHUNK, EXPLODE_FACTOR, MAX_LOSS, initial_theta

# Hyper-parameters each run of a stack may have its own value of (the rest is shared).
PER_RUN_TRAIN_KEYS = ("lr", "momentum", "betas", "weight_decay")


def batch_key(config: Config) -> str:
    """What runs must share to train as one stack: everything but their own hyper-parameters
    and, in a fixed design, their noise seed (the batch size as the trainer uses it)."""
    raw = config.to_dict()
    train, data = raw["train"], raw["data"]
    for key in PER_RUN_TRAIN_KEYS:
        train.pop(key)
    # Weight decay is an operation or none for a whole stack (core.batched).
    train["decays"] = config.train.weight_decay != 0.0
    data["noise_seed"] = data["noise_seed"] is not None
    d = config.data
    if not d.csv_path:
        n = d.n_samples if d.inline_features is None else len(d.inline_features)
        train["batch_size"] = min(config.train.batch_size, n - round(n * d.val_fraction))
    return json.dumps(raw, sort_keys=True)


@dataclass(frozen=True)
class RunResult:
    """One run's figures at its end (plain values, safe to send to another process)."""

    cell: int
    initial_loss: float
    final_loss: float
    steps_to_tolerance: int | None
    diverged: bool
    seconds: float
    steps: int
    theta: tuple[float, ...]  # final [w..., b] in the data's original units


@dataclass(frozen=True)
class GroupOutcome:
    """A group's results and where it ran."""

    group: int
    results: tuple[RunResult, ...]
    seconds: float
    pid: int


class _StackedLosses:
    """Each run's loss on the whole training set from its statistics, for many steps at once."""

    def __init__(self, stats: Sequence[SufficientStats], kind: str) -> None:
        first = stats[0]
        self.cxx, self.x_mean = first.cxx, first.x_mean
        self.cxy = np.array([s.cxy for s in stats])
        self.syy = np.array([s.syy for s in stats])
        self.y_mean = np.array([s.y_mean for s in stats])
        self.scale = loss_scale(kind)

    def losses(self, params: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Losses (k, R) of parameters (k, R, d + 1) of the runs rows."""
        w, b = params[..., :-1], params[..., -1]
        with np.errstate(over="ignore", invalid="ignore"):
            quad = np.einsum("kri,kri->kr", w @ self.cxx, w)
            centred = quad - 2.0 * np.einsum("kri,ri->kr", w, self.cxy[rows]) + self.syy[rows]
            r = w @ self.x_mean + b - self.y_mean[rows]
            loss = np.maximum(centred, 0.0) + r * r
            if self.scale != 1.0:
                loss *= self.scale
        loss[np.isnan(loss)] = np.inf
        return loss


class GroupRun:
    """Trains the runs of a group together (see the module docstring)."""

    def __init__(
        self,
        configs: Sequence[Config],
        tolerance: float,
        cells: Sequence[int] | None = None,
        dataset: Dataset | None = None,
    ) -> None:
        if not configs:
            raise ValueError("a group needs at least one run")
        keys = {batch_key(c) for c in configs}
        if len(keys) != 1:
            raise ValueError("the runs of a group must share data and batch order")
        self.configs = list(configs)
        self.cells = list(cells) if cells is not None else list(range(len(configs)))
        base = self.configs[0]
        t, m = base.train, base.model
        self.kind = t.loss
        self.dtype = m.dtype
        device = resolve_device(t.device, t.implementation)
        # One dataset per noise seed: a fixed design holds the features, so they are equal.
        by_noise: dict[int | None, Dataset] = {}
        for cfg in self.configs:
            key = cfg.data.noise_seed
            if key not in by_noise:
                by_noise[key] = (
                    dataset
                    if dataset is not None and not by_noise
                    else make_dataset(cfg.data, dtype=m.dtype)
                )
        sets = list(by_noise.values())
        ds = self.dataset = sets[0]
        check_magnitudes(ds, m.dtype)
        for other in sets[1:]:
            if not np.array_equal(other.x_train, ds.x_train):
                raise RuntimeError("a fixed design gave different features for two noise seeds")
        which = [list(by_noise).index(cfg.data.noise_seed) for cfg in self.configs]
        try:
            stats = [SufficientStats.from_data(ds.x_train, s.y_train) for s in sets]
        except ValueError as exc:
            raise DataError(f"{ds.source}: {exc}") from None
        self.stats = [stats[k] for k in which]
        ols = [least_squares(ds.x_train, s.y_train, m.fit_bias) for s in sets]
        ols_losses = [stats[k].loss(w, b, self.kind) for k, (w, b) in enumerate(ols)]
        d = ds.n_features
        self.theta0 = np.array([initial_theta(cfg, d) for cfg in self.configs])
        self.initial_loss = np.array(
            [
                s.loss(th[:-1], th[-1], self.kind)
                for s, th in zip(self.stats, self.theta0, strict=True)
            ]
        )
        self.ols_loss = np.array([ols_losses[k] for k in which])
        self.margin = np.array(
            [
                tolerance_margin(o, i, tolerance)
                for o, i in zip(self.ols_loss, self.initial_loss, strict=True)
            ]
        )
        self._tracker = _StackedLosses(self.stats, self.kind)
        ys = ds.y_train if len(sets) == 1 else np.array([sets[k].y_train for k in which])
        self.batch_size = min(t.batch_size, ds.n_train)
        self.n_batches = -(-ds.n_train // self.batch_size)
        self.total_steps = t.epochs * self.n_batches
        self.seed, self.shuffle = base.data.seed, t.shuffle
        hyper = StackHyper(
            lr=np.array([c.train.lr for c in self.configs], dtype=np.float64),
            momentum=np.array([c.train.momentum for c in self.configs], dtype=np.float64),
            beta1=np.array([c.train.betas[0] for c in self.configs], dtype=np.float64),
            beta2=np.array([c.train.betas[1] for c in self.configs], dtype=np.float64),
            weight_decay=np.array([c.train.weight_decay for c in self.configs], dtype=np.float64),
        )
        spec = StackSpec(
            optimizer=t.optimizer,
            fit_bias=m.fit_bias,
            loss_scale=loss_scale(t.loss),
            l2_penalty=t.l2_penalty,
            dtype=m.dtype,
            device=device,
            implementation=t.implementation,
        )
        self.engine = make_batched(ds.x_train, ys, self.theta0, spec, hyper)
        r = len(self.configs)
        self.rows = np.arange(r)  # the runs still in the engine's stack, in its order
        self.step_count = np.zeros(r, dtype=np.int64)
        self.steps_to_tolerance = np.full(r, -1, dtype=np.int64)
        self.diverged = np.zeros(r, dtype=bool)
        self.first_loss: list[float | None] = [None] * r
        # Each run's latest accepted parameters (trained units), as its engine holds them (a
        # float32 run starts from its initial parameters rounded to float32, as Trainer's).
        self.theta = self.engine.params()
        self.seconds = np.zeros(r)
        self.step = 0  # steps of the runs still training
        self.epoch = 0
        self.batch_in_epoch = 0
        self._begun = False
        # Told each chunk's losses on the whole training set: (first step, (k, runs), rows),
        # inf past a run's divergence (the race's seed band listens).
        self.loss_sink: Callable[[int, np.ndarray, np.ndarray], None] | None = None
        self._losses = np.zeros((CHUNK, r))
        self._params = np.zeros((CHUNK, r, d + 1))
        reached = self.initial_loss - self.ols_loss <= self.margin
        self.steps_to_tolerance[reached] = 0

    # ---- state -----------------------------------------------------------------------
    @property
    def done(self) -> bool:
        """Whether every run has finished (completed its epochs or diverged)."""
        return self.rows.size == 0 or self.step >= self.total_steps

    @property
    def runs(self) -> int:
        """Runs in the group."""
        return len(self.configs)

    def steps_left(self) -> int:
        """Steps the runs still training have to go."""
        return 0 if self.done else self.total_steps - self.step

    # ---- training --------------------------------------------------------------------
    def advance(self, max_steps: int | None = None, deadline: float | None = None) -> int:
        """Train up to max_steps steps (all runs together), stopping at the end, or past a
        perf_counter deadline (checked between chunks); return the steps run."""
        done = 0
        budget = self.steps_left() if max_steps is None else min(max_steps, self.steps_left())
        while done < budget and not self.done:
            if self.n_batches == 1:
                if not self._begun:
                    self.engine.begin_epoch(None)  # one batch holds every row
                    self._begun = True
                k = min(budget - done, CHUNK)
            else:
                if self.batch_in_epoch == 0:
                    order = epoch_order(self.dataset.n_train, self.seed, self.epoch, self.shuffle)
                    self.engine.begin_epoch(order)
                k = min(budget - done, self.n_batches - self.batch_in_epoch, CHUNK)
            start = 0 if self.n_batches == 1 else self.batch_in_epoch
            count = self.rows.size
            losses, params = self._losses[:k, :count], self._params[:k, :count]
            t0 = time.perf_counter()
            self.engine.run(start, k, self.batch_size, losses, params)
            t1 = time.perf_counter()
            self.seconds[self.rows] += (t1 - t0) / count
            self._accept(k, losses, params)
            done += k
            self.step += k
            if self.n_batches == 1:
                self.epoch += k
            else:
                self.batch_in_epoch += k
                if self.batch_in_epoch == self.n_batches:
                    self.epoch += 1
                    self.batch_in_epoch = 0
            if deadline is not None and t1 >= deadline:
                break
        return done

    def _accept(self, k: int, losses: np.ndarray, params: np.ndarray) -> None:
        """Cut each run at its first bad step (Trainer._accept's rule), track the rest."""
        keep = np.full(self.rows.size, k, dtype=np.int64)
        limit_cap = MAX_LOSS[self.dtype]
        finite = np.isfinite(params).all(axis=2)
        for j, run in enumerate(self.rows):
            if self.first_loss[run] is None:
                self.first_loss[run] = float(losses[0, j])
            limit = EXPLODE_FACTOR * max(self.first_loss[run] or 0.0, 1e-12) + 1e3
            limit = min(limit, limit_cap)
            col = losses[:, j]
            if col.max() <= limit and finite[:, j].all():
                continue
            bad = ~np.isfinite(col) | (col > limit) | ~finite[:, j]
            keep[j] = int(np.argmax(bad))
        full = self._tracker.losses(params, self.rows)
        open_ = self.steps_to_tolerance[self.rows] < 0
        if open_.any():
            hit = full - self.ols_loss[self.rows] <= self.margin[self.rows]
            hit &= np.arange(k)[:, None] < keep[None, :]
            first = np.argmax(hit, axis=0)
            found = open_ & hit.any(axis=0)
            self.steps_to_tolerance[self.rows[found]] = self.step + 1 + first[found]
        if self.loss_sink is not None:
            cut = np.where(np.arange(k)[:, None] < keep[None, :], full, np.inf)
            self.loss_sink(self.step + 1, cut, self.rows.copy())
        for j, run in enumerate(self.rows):
            if keep[j]:
                self.theta[run] = params[keep[j] - 1, j]
            self.step_count[run] += keep[j]
        bad_runs = keep < k
        if bad_runs.any():
            self.diverged[self.rows[bad_runs]] = True
            self.engine.keep(~bad_runs)
            self.rows = self.rows[~bad_runs]

    def run_to_end(self) -> None:
        """Train every run to its end."""
        while not self.done:
            self.advance()

    # ---- results ---------------------------------------------------------------------
    def result(self, j: int) -> RunResult:
        """Run j's figures now (its final ones once it has finished)."""
        th = self.theta[j]
        steps = int(self.steps_to_tolerance[j])
        return RunResult(
            cell=self.cells[j],
            initial_loss=float(self.initial_loss[j]),
            final_loss=self.stats[j].loss(th[:-1], th[-1], self.kind),
            steps_to_tolerance=None if steps < 0 else steps,
            diverged=bool(self.diverged[j]),
            seconds=float(self.seconds[j]),
            steps=int(self.step_count[j]),
            theta=tuple(float(v) for v in self.dataset.to_original(th)),
        )

    def finished_runs(self) -> list[int]:
        """The runs that train no further (all of them once the group is done)."""
        if self.done:
            return list(range(self.runs))
        return [int(j) for j in np.flatnonzero(self.diverged)]

    def results(self) -> tuple[RunResult, ...]:
        """Every run's figures, in the group's order."""
        return tuple(self.result(j) for j in range(self.runs))


def run_group(
    group_index: int,
    configs: Sequence[Config],
    cells: Sequence[int],
    tolerance: float,
    dataset: Dataset | None = None,
) -> GroupOutcome:
    """Train one group to its end and return its results (the unit of work of every executor)."""
    t0 = time.perf_counter()
    if configs and configs[0].train.implementation != "numpy":
        import torch

        # One thread, as the app's training threads: the same reduction order everywhere.
        torch.set_num_threads(1)
    group = GroupRun(configs, tolerance, cells, dataset)
    group.run_to_end()
    return GroupOutcome(group_index, group.results(), time.perf_counter() - t0, os.getpid())


def median_or_none(values: Sequence[float | None]) -> float | None:
    """The median of values, a None counting as larger than any number (never reached);
    None when the median itself is None."""
    ordered = sorted(math.inf if v is None else v for v in values)
    if not ordered:
        return None
    mid = ordered[(len(ordered) - 1) // 2] if len(ordered) % 2 else None
    if mid is None:
        a, b = ordered[len(ordered) // 2 - 1], ordered[len(ordered) // 2]
        mid = (a + b) / 2 if math.isfinite(a) and math.isfinite(b) else math.inf
    return None if math.isinf(mid) else mid
