"""Optimizer race: up to four runs on identical data from identical initial parameters.

Each run is its own core.trainer.Trainer, differing from the base configuration only in its
optimizer, learning rate, batch size and momentum. Runs share one Dataset object and one
initial parameter vector, so every run starts from the same initial loss.

Tolerance. A run has reached the least-squares loss when, for the first time,

    train_loss - ols_loss <= tolerance * max(ols_loss, NOISELESS_FRACTION * initial_loss)

where train_loss is the loss on the whole training set (the configured loss, without any L2
penalty) after a step, ols_loss that of the closed-form least-squares fit, and initial_loss that
of the shared initial parameters. The default tolerance 0.01 means "within 1 % of the best
possible training loss". The second term only matters for (nearly) noiseless data, whose
least-squares loss is ~0: there a run must remove all but a billionth of the initial loss.
Every step is checked, from the run's sufficient statistics (O(d^2) per step, no pass over the
data). Steps count minibatch updates; seconds count the run's own training time (time inside
the engine, interpolated within the chunk of steps that crossed), not the time other runs took.
With an L2 penalty or weight decay a run may never reach the least-squares loss: it then has
no steps to tolerance (null).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.analysis import SufficientStats, least_squares
from core.config import Config
from core.data import Dataset, make_dataset
from core.errors import UserInputError
from core.files import atomic_write_text, json_clean
from core.history import History
from core.limits import MOMENTUM_OPTIMIZERS
from core.limits import optimizers_for as optimizers_for
from core.race_spec import RUN_KEYS as RUN_KEYS
from core.race_spec import RaceEntry as RaceEntry
from core.race_spec import RaceSpecError as RaceSpecError
from core.race_spec import default_label as default_label
from core.race_spec import parse_run_spec as parse_run_spec
from core.tolerance import DEFAULT_TOLERANCE as DEFAULT_TOLERANCE
from core.tolerance import NOISELESS_FRACTION as NOISELESS_FRACTION
from core.tolerance import tolerance_margin as tolerance_margin
from core.trainer import Trainer, initial_theta

if TYPE_CHECKING:
    from core.seed_band import SeedBand

MAX_RUNS = 4
MAX_SEEDS = 1000  # seeds per run of a race (each run's seeds train as one stack)
# Each run's loss curve and path live in a History of this size: small enough that building a
# snapshot (a scan of the stored rows) stays well under a millisecond per run.
TRACE_BYTES = 2 * 2**20
SLICE_SECONDS = 0.005  # one run's turn in the round robin (checked between engine chunks)
RACE_JSON = "race.json"


class _Tracker:
    """Per-step full training loss of one run: the tolerance check and a bounded loss/path trace."""

    def __init__(
        self, stats: SufficientStats, dataset: Dataset, kind: str, ols_loss: float, margin: float
    ) -> None:
        self.stats = stats
        self.dataset = dataset
        self.kind = kind
        self.ols_loss = ols_loss
        self.margin = margin
        self.steps_to_tolerance: int | None = None
        self.seconds_to_tolerance: float | None = None
        self.last_loss = math.nan
        self._seconds = 0.0
        d = dataset.n_features
        # Columns: seconds, then the parameters [w..., b] in original units (as History keeps).
        names = ["seconds", *(f"w_{n}" for n in dataset.feature_names[:d]), "b"]
        self.trace = History(d + 2, names, max_bytes=TRACE_BYTES)

    def record(self, first_step: int, params: np.ndarray, seconds: float) -> None:
        """Note steps first_step.. with their parameters (trained units) after `seconds`."""
        k = params.shape[0]
        if k == 0:
            return
        full = self.stats.losses(params, self.kind)
        if first_step == 0:
            secs = np.zeros(k)
        else:
            # The engine ran the chunk in one call: spread its time evenly over its steps.
            secs = self._seconds + (seconds - self._seconds) * np.arange(1, k + 1) / k
        self._seconds = seconds
        original = self.dataset.to_original(params) if self.dataset.standardized else params
        self.trace.record_steps(first_step, full, np.column_stack([secs, original]))
        self.last_loss = float(full[-1])
        if self.steps_to_tolerance is None:
            hit = np.flatnonzero(full - self.ols_loss <= self.margin)
            if hit.size:
                self.steps_to_tolerance = first_step + int(hit[0])
                self.seconds_to_tolerance = float(secs[hit[0]])


class _TrackedTrainer(Trainer):
    """A Trainer that shows every recorded step (trained units) to a tracker."""

    def __init__(
        self, config: Config, dataset: Dataset, theta0: np.ndarray, tracker: _Tracker
    ) -> None:
        # Set before Trainer.__init__, which records step 0 (the initial parameters).
        self._tracker = tracker
        super().__init__(config, dataset=dataset, theta0=theta0)

    def _record(
        self,
        first_step: int,
        losses: np.ndarray,
        params: np.ndarray,
        lrs: np.ndarray | None = None,
    ) -> None:
        self._tracker.record(first_step, params, getattr(self, "seconds", 0.0))
        super()._record(first_step, losses, params, lrs)


@dataclass(frozen=True)
class RunSnapshot:
    """Plain copied values describing one run of a race at one moment."""

    index: int
    label: str
    optimizer: str
    lr: float
    batch_size: int
    momentum: float
    step: int
    epoch: int
    n_batches: int
    total_steps: int
    train_loss: float
    seconds: float
    steps_to_tolerance: int | None
    seconds_to_tolerance: float | None
    stopped_reason: str | None
    message: str | None
    theta_trained: np.ndarray  # [w..., b] now, trained units
    loss_steps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    loss_values: np.ndarray = field(default_factory=lambda: np.zeros(0))  # full training loss
    loss_seconds: np.ndarray = field(default_factory=lambda: np.zeros(0))
    path: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # [w..., b], original
    # Over N seeds (core.seed_band): the median and 10-90 % band of the seeds' losses; empty
    # for a run of one seed.
    band_steps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    band_median: np.ndarray = field(default_factory=lambda: np.zeros(0))
    band_low: np.ndarray = field(default_factory=lambda: np.zeros(0))
    band_high: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def finished(self) -> bool:
        """Whether this run has stopped (completed, diverged or stopped by the user)."""
        return self.stopped_reason is not None


@dataclass(frozen=True)
class RaceSnapshot:
    """Plain copied values describing a whole race (safe to hand to another thread)."""

    runs: tuple[RunSnapshot, ...]
    initial_loss: float
    ols_loss: float
    tolerance: float
    threshold: float  # the training loss at or below which a run has reached tolerance
    loss_kind: str
    done: bool


class RaceRun:
    """One run of a race: its entry, configuration, trainer and tolerance tracker."""

    def __init__(
        self, index: int, entry: RaceEntry, config: Config, trainer: Trainer, tracker: _Tracker
    ) -> None:
        self.index = index
        self.entry = entry
        self.config = config
        self.trainer = trainer
        self.tracker = tracker
        self.label = entry.label or default_label(config)
        self.band: SeedBand | None = None  # the run over N seeds, when the race has seeds

    @property
    def band_done(self) -> bool:
        """Whether the run's seeds (if any) have all finished."""
        return self.band is None or self.band.done

    @property
    def finished(self) -> bool:
        """Whether the run trains no further (completed, diverged or stopped)."""
        t = self.trainer
        return t.done or t.stopped_reason in ("completed", "diverged", "stopped")

    @property
    def steps_to_tolerance(self) -> int | None:
        """First step whose training loss was within tolerance, or None."""
        return self.tracker.steps_to_tolerance

    @property
    def seconds_to_tolerance(self) -> float | None:
        """Training seconds this run needed to reach tolerance, or None."""
        return self.tracker.seconds_to_tolerance

    def settings(self) -> dict[str, Any]:
        """The effective optimizer settings of this run."""
        t = self.config.train
        return {
            "optimizer": t.optimizer,
            "lr": t.lr,
            "batch_size": self.trainer.batch_size,
            # Only momentum and nesterov use it; None says so rather than show a dead value.
            "momentum": t.momentum if t.optimizer in MOMENTUM_OPTIMIZERS else None,
            "implementation": t.implementation,
        }

    def result(self) -> dict[str, Any]:
        """This run's figures as a plain, JSON-safe dict."""
        tr = self.trainer
        final = tr.theta_original()
        reason = tr.stopped_reason or ("completed" if tr.done else "stopped")
        steps = self.steps_to_tolerance
        return json_clean(
            {
                "run": self.index + 1,
                "label": self.label,
                "spec": self.entry.to_spec(),
                "settings": self.settings(),
                "initial_loss": tr.train_loss(tr.theta0),
                "final_loss": tr.train_loss(),
                "steps_to_tolerance": steps,
                "seconds_to_tolerance": self.seconds_to_tolerance,
                "epochs_to_tolerance": None if steps is None else steps / tr.n_batches,
                "steps": tr.step_count,
                "epochs": tr.epoch,
                "steps_per_epoch": tr.n_batches,
                "seconds": tr.seconds,
                "stopped_reason": reason,
                "message": tr.message,
                "final_weights": final[:-1],
                "final_bias": float(final[-1]),
            }
        )

    def snapshot(self, max_points: int) -> RunSnapshot:
        """Copy what a view needs to draw this run now."""
        tr = self.trainer
        t = self.config.train
        steps, losses, cols = self.tracker.trace.decimated(max_points)
        band = self.band.series(max_points) if self.band is not None else (np.zeros(0),) * 4
        return RunSnapshot(
            index=self.index,
            label=self.label,
            optimizer=t.optimizer,
            lr=t.lr,
            batch_size=tr.batch_size,
            momentum=t.momentum,
            step=tr.step_count,
            epoch=tr.epoch,
            n_batches=tr.n_batches,
            total_steps=tr.total_steps,
            train_loss=self.tracker.last_loss,
            seconds=tr.seconds,
            steps_to_tolerance=self.steps_to_tolerance,
            seconds_to_tolerance=self.seconds_to_tolerance,
            stopped_reason=(tr.stopped_reason or ("completed" if tr.done else None)),
            message=tr.message,
            theta_trained=tr.theta(),
            loss_steps=steps.astype(np.float64),
            loss_values=losses.copy(),
            loss_seconds=cols[:, 0].copy(),
            path=cols[:, 1:].copy(),
            band_steps=band[0],
            band_median=band[1],
            band_low=band[2],
            band_high=band[3],
        )


class Race:
    """Up to four Trainers on one dataset from one initial point, advanced in turn."""

    def __init__(
        self,
        config: Config,
        entries: Sequence[RaceEntry],
        tolerance: float = DEFAULT_TOLERANCE,
        seeds: int = 1,
    ) -> None:
        if not 1 <= len(entries) <= MAX_RUNS:
            raise RaceSpecError(f"a race needs 1 to {MAX_RUNS} runs, got {len(entries)}")
        if not (isinstance(tolerance, (int, float)) and math.isfinite(tolerance) and tolerance > 0):
            raise RaceSpecError(f"tolerance {tolerance!r}: must be a positive number")
        self.tolerance = float(tolerance)
        self.config = config
        configs = []
        for i, entry in enumerate(entries):
            try:
                configs.append(entry.apply(self.config))
            except UserInputError as exc:
                raise type(exc)(
                    f"run {i + 1} ({entry.to_spec() or 'base settings'}): {exc}"
                ) from None
        # One dataset and one initial point for every run: identical data, identical start.
        self.dataset = make_dataset(self.config.data)
        ds = self.dataset
        self.loss_kind = self.config.train.loss
        self.stats = SufficientStats.from_data(ds.x_train, ds.y_train)
        self.theta0 = initial_theta(self.config, ds.n_features)
        w, b = least_squares(ds.x_train, ds.y_train, self.config.model.fit_bias)
        self.ols_theta = np.append(w, b)
        self.ols_loss = self.stats.loss(w, b, self.loss_kind)
        self.initial_loss = self.stats.loss(
            self.theta0[:-1], float(self.theta0[-1]), self.loss_kind
        )
        self.margin = tolerance_margin(self.ols_loss, self.initial_loss, self.tolerance)
        self.runs: list[RaceRun] = []
        for i, (entry, cfg) in enumerate(zip(entries, configs, strict=True)):
            tracker = _Tracker(self.stats, ds, self.loss_kind, self.ols_loss, self.margin)
            trainer = _TrackedTrainer(cfg, ds, self.theta0, tracker)
            self.runs.append(RaceRun(i, entry, cfg, trainer, tracker))
        self._check_same_start()
        if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= MAX_SEEDS:
            raise RaceSpecError(f"seeds {seeds!r}: must be an integer from 1 to {MAX_SEEDS}")
        self.seeds = seeds
        if seeds > 1:
            # Here, not at the top: core.seed_band builds on core.sweep, which reads this module.
            from core.seed_band import SeedBand

            for run in self.runs:
                run.band = SeedBand(run.config, seeds, self.tolerance)
        self._next = 0
        self._warm = False

    def _check_same_start(self) -> None:
        """Every run must start from the same initial loss (same data, same parameters)."""
        for run in self.runs:
            loss0 = run.trainer.train_loss(run.trainer.theta0)
            traced = (
                float(run.tracker.trace.steps()[1][0])
                if run.tracker.trace.n_steps_recorded
                else None
            )
            if traced is None:
                raise RuntimeError("the race's step hook did not see step 0 (Trainer changed?)")
            if loss0 != self.initial_loss or not math.isclose(
                traced, loss0, rel_tol=1e-9, abs_tol=1e-300
            ):
                raise RuntimeError(
                    f"run {run.index + 1} starts from loss {loss0!r}, not {self.initial_loss!r}"
                )

    # ---- facts ---------------------------------------------------------------------
    @property
    def threshold(self) -> float:
        """Training loss at or below which a run has reached tolerance."""
        return self.ols_loss + self.margin

    @property
    def done(self) -> bool:
        """Whether every run (and its seeds) has finished."""
        return all(run.finished and run.band_done for run in self.runs)

    @property
    def total_steps(self) -> int:
        """Steps all runs take together if none diverges."""
        return sum(run.trainer.total_steps for run in self.runs)

    @property
    def step_count(self) -> int:
        """Steps run so far, all runs together."""
        return sum(run.trainer.step_count for run in self.runs)

    @property
    def implementations(self) -> set[str]:
        """The engines the runs use (the same for all: the base configuration's)."""
        return {run.trainer.engine.name for run in self.runs}

    def initial_losses(self) -> list[float]:
        """Each run's training loss at its initial parameters (all equal by construction)."""
        return [run.trainer.train_loss(run.trainer.theta0) for run in self.runs]

    # ---- advancing -----------------------------------------------------------------
    def warm_up(self) -> None:
        """Pay each optimizer's first-call costs on throwaway trainers, not on the clock."""
        if self._warm:
            return
        self._warm = True
        seen = set()
        for run in self.runs:
            key = run.config.train.optimizer
            if key in seen:
                continue
            seen.add(key)
            Trainer(run.config, dataset=self.dataset, theta0=self.theta0).run_steps(2)

    def advance(self, deadline: float, slice_seconds: float = SLICE_SECONDS) -> int:
        """Give unfinished runs turns of about slice_seconds in rotation until the perf_counter
        deadline or the end of the race; return the steps run."""
        self.warm_up()
        ran = 0
        n = len(self.runs)
        while True:
            active = [r for r in self.runs if not (r.finished and r.band_done)]
            if not active:
                return ran
            # Rotation survives across calls, so short deadlines still share turns fairly.
            run = self.runs[self._next % n]
            self._next = (self._next + 1) % n
            if run.finished and run.band_done:
                continue
            if run.finished:  # its seeds go on to the end of the race
                band = run.band
                band.advance_to(
                    band.total_steps, min(time.perf_counter() + slice_seconds, deadline)
                )
                if time.perf_counter() >= deadline:
                    return ran
                continue
            now = time.perf_counter()
            tr = run.trainer
            # Trainer.run_steps checks its deadline only between engine chunks (up to an epoch
            # of steps): a step budget sized from the run's own rate keeps turns short.
            rate = tr.step_count / tr.seconds if tr.seconds > 0 else 0.0
            budget = max(1, int(rate * slice_seconds)) if rate > 0 else 8
            ran += tr.run_steps(
                min(budget, tr.total_steps - tr.step_count),
                deadline=min(now + slice_seconds, deadline),
            )
            if run.band is not None:
                run.band.advance_to(tr.step_count if not run.finished else tr.total_steps)
            if time.perf_counter() >= deadline:
                return ran

    def run_to_end(self) -> None:
        """Advance until every run has finished (for scripts and tests)."""
        while not self.done:
            self.advance(time.perf_counter() + 1.0)

    def stop(self) -> None:
        """Stop every unfinished run (its reason becomes 'stopped')."""
        for run in self.runs:
            if not run.finished:
                run.trainer.request_stop()

    # ---- reporting -----------------------------------------------------------------
    def results(self) -> list[dict[str, Any]]:
        """Per-run figures as plain dicts, in run order."""
        return [run.result() for run in self.runs]

    def to_dict(self) -> dict[str, Any]:
        """The whole race as a JSON-safe dict: shared facts, per-run results, base config."""
        results = self.results()

        def fastest(key: str) -> int | None:
            done = [r for r in results if r[key] is not None]
            return min(done, key=lambda r: r[key])["run"] if done else None

        return json_clean(
            {
                "tolerance": self.tolerance,
                "tolerance_rule": (
                    "a run reaches tolerance at the first step where train_loss - ols_loss <= "
                    "tolerance * max(ols_loss, 1e-9 * initial_loss); train_loss is the loss on "
                    "the whole training set; seconds are the run's own training time"
                ),
                "threshold_loss": self.threshold,
                "ols_loss": self.ols_loss,
                "initial_loss": self.initial_loss,
                "loss": self.loss_kind,
                "n_train": self.dataset.n_train,
                "epochs": self.config.train.epochs,
                "seeds": self.seeds,
                "fastest_by_steps": fastest("steps_to_tolerance"),
                "fastest_by_seconds": fastest("seconds_to_tolerance"),
                "runs": results,
                "config": self.config.to_dict(),
            }
        )

    def to_json(self) -> str:
        """The race as indented, strict JSON."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    def snapshot(self, max_points: int = 1000) -> RaceSnapshot:
        """Copy what the views need to draw the race now."""
        return RaceSnapshot(
            runs=tuple(run.snapshot(max_points) for run in self.runs),
            initial_loss=self.initial_loss,
            ols_loss=self.ols_loss,
            tolerance=self.tolerance,
            threshold=self.threshold,
            loss_kind=self.loss_kind,
            done=self.done,
        )


def write_race_json(race: Race, path: str | Path) -> Path:
    """Write the race's results as JSON, atomically; return the path."""
    path = Path(path)
    atomic_write_text(path, race.to_json() + "\n")
    return path
