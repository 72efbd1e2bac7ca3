"""Stepping a training run: batches, epochs, divergence, live hyper-parameter changes."""

from __future__ import annotations

import math
import time

import numpy as np

from core.analysis import (
    Objective,
    SufficientStats,
    least_squares,
    loss_scale,
    max_stable_lr,
    minibatch_gradients,
    ridge,
)
from core.config import Config, replace_section
from core.data import Dataset, EpochOrders, Progress, check_magnitudes, make_dataset
from core.engines import Engine, EngineSpec, make_engine, resolve_device
from core.errors import ConfigError, DataError
from core.history import History
from core.live_data import LiveData
from core.optim import Hyper
from core.schedules import one_cycle_problem
from core.snapshot import Snapshot
from core.state import Checkpoints, TrainerState, capture_state, resume
from core.trainer_record import EXPLODE_FACTOR as EXPLODE_FACTOR  # core.sweep_group reads these
from core.trainer_record import MAX_LOSS as MAX_LOSS
from core.trainer_record import StepRecorder

CHUNK = 256  # steps per engine call: amortises bookkeeping, keeps command latency low
# Snapshots run ~30 times a second on the training thread: a minibatch gradient over more rows
# than this is estimated from an evenly strided subset of the batch (exact up to this size).
MAX_GRAD_ROWS = 65_536
# Above this many feature values the least-squares fit comes from the sufficient statistics
# when their condition number (of the correlations) is below MAX_NORMAL_COND: the normal
# equations then lose at most ~MAX_NORMAL_COND * 1e-16 in relative accuracy.
LSTSQ_MAX_VALUES = 4_000_000
MAX_NORMAL_COND = 1e6
# Training sets of at least this many rows have their next epoch's order drawn in advance.
PREFETCH_ROWS = 1 << 18


def hyper_from(config: Config) -> Hyper:
    """Optimizer hyper-parameters of a configuration."""
    t = config.train
    return Hyper(
        lr=t.lr,
        momentum=t.momentum,
        beta1=t.betas[0],
        beta2=t.betas[1],
        weight_decay=t.weight_decay,
    )


def initial_theta(config: Config, n_features: int) -> np.ndarray:
    """Seeded initial [w..., b] in trained units, as the seeds initialise them."""
    m = config.model
    rng = np.random.default_rng([config.data.seed, 2])
    theta = np.zeros(n_features + 1)
    if m.init == "normal":
        theta[:n_features] = rng.normal(0.0, m.init_std, n_features)
    elif m.init == "constant":
        theta[:n_features] = m.init_value
    elif m.init == "torch_default":
        # nn.Linear's default: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
        bound = 1.0 / math.sqrt(n_features)
        theta[:] = rng.uniform(-bound, bound, n_features + 1)
    if not m.fit_bias:
        theta[n_features] = 0.0
    return theta


class Trainer(StepRecorder, LiveData):
    """Owns one run: data, engine, history; steps it one batch or one epoch at a time (its data
    and parameters can change under it: core.live_data; what its steps leave behind:
    core.trainer_record)."""

    def __init__(
        self,
        config: Config,
        dataset: Dataset | None = None,
        theta0: np.ndarray | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.config = config
        t, m = self.config.train, self.config.model
        # Refused here, not at validation: a configuration asking for CUDA stays valid on a
        # machine without it (it is read, shown and saved); only training on it is impossible.
        # First, before the data is made: no need to generate ten million rows to say so.
        self.device = resolve_device(t.device, t.implementation)
        self.dataset = (
            dataset
            if dataset is not None
            else make_dataset(self.config.data, dtype=m.dtype, progress=progress)
        )
        ds = self.dataset
        check_magnitudes(ds, m.dtype)
        self.loss_kind = t.loss
        self.stats, self.val_stats = _data_stats(ds)
        # What the engines minimise: the loss plus l2 * |params|^2 (a fixed bias is no param).
        self.objective = Objective(self.stats, t.loss, t.l2_penalty, m.fit_bias)
        d = ds.n_features
        self.theta0 = (
            np.asarray(theta0, dtype=np.float64).copy()
            if theta0 is not None
            else initial_theta(self.config, d)
        )
        self.batch_size = min(t.batch_size, ds.n_train)
        self.n_batches = -(-ds.n_train // self.batch_size)
        self.hyper = hyper_from(self.config)
        # Schedules over the run's total steps span the steps of the epochs configured now (a
        # trainer resumed from a state takes the horizon the state's schedule had).
        self.schedule_horizon = t.epochs * self.n_batches
        problem = one_cycle_problem(t.schedule, self.schedule_horizon)
        if problem:
            raise ConfigError(problem)
        spec = EngineSpec(
            optimizer=t.optimizer,
            hyper=self.hyper,
            fit_bias=m.fit_bias,
            loss_scale=loss_scale(t.loss),
            l2_penalty=t.l2_penalty,
            dtype=m.dtype,
            device=self.device,
            schedule=t.schedule,
            horizon=self.schedule_horizon,
        )
        self.engine: Engine = make_engine(
            t.implementation, ds.x_train, ds.y_train, self.theta0, spec
        )
        names = [*ds.feature_names, "bias"]
        self.history = History(d + 1, [f"w_{n}" for n in ds.feature_names[:d]] + ["b"])
        self.param_names = names
        self.step_count = 0
        self.epoch = 0
        self.batch_in_epoch = 0
        self.stopped_reason: str | None = None
        self.message: str | None = None
        self.last_batch_loss: float | None = None
        self.first_loss: float | None = None
        self.seconds = 0.0  # time spent inside engine steps
        self.wall_seconds = 0.0  # wall time inside run_steps, bookkeeping included: as timed
        self.wall_steps = 0  # ... by a user, and as the window measures its rate
        self._recent: list[tuple[float, int]] = []  # (time, step) for a smoothed rate
        self._losses = np.zeros(CHUNK)
        self._params = np.zeros((CHUNK, d + 1))
        self._rates = np.zeros(CHUNK)  # the learning rate each step of a chunk used
        self._last_theta = self.theta0.copy()
        self._fresh_engine = True
        self._orders = EpochOrders(ds.n_train, self.config.data.seed, t.shuffle, t.sampling)
        self._ols: np.ndarray | None = None
        self._record_epoch_zero()
        # Exact states to come back to: branching at a past step replays from the nearest.
        self.checkpoints = Checkpoints(self.state())

    # ---- derived facts -------------------------------------------------------------
    @property
    def total_steps(self) -> int:
        """Steps the configured number of epochs takes."""
        return self.step_count + self.steps_left

    @property
    def steps_left(self) -> int:
        """Steps to the end of the configured epochs (counted in this run's batches: a branch
        with another batch size restarts its epoch)."""
        left = (self.config.train.epochs - self.epoch) * self.n_batches - self.batch_in_epoch
        return max(left, 0)

    @property
    def done(self) -> bool:
        """Whether the configured epochs are complete."""
        return self.epoch >= self.config.train.epochs

    def theta(self) -> np.ndarray:
        """Current [w..., b] in trained units (float64 copy)."""
        return self.engine.params()

    def theta_original(self) -> np.ndarray:
        """Current [w..., b] in the data's original units."""
        return self.dataset.to_original(self.theta())

    def train_loss(self, theta: np.ndarray | None = None) -> float:
        """Loss on the whole training set, in the configured loss (float64)."""
        th = self.theta() if theta is None else theta
        return self.stats.loss(th[:-1], th[-1], self.loss_kind)

    def val_loss(self, theta: np.ndarray | None = None) -> float | None:
        """Loss on the validation set, or None without one."""
        if self.val_stats is None:
            return None
        th = self.theta() if theta is None else theta
        return self.val_stats.loss(th[:-1], th[-1], self.loss_kind)

    def max_stable_lr(self) -> float:
        """Largest stable full-batch gradient-descent learning rate for this data and loss."""
        t = self.config.train
        return max_stable_lr(
            self.stats,
            self.loss_kind,
            self.config.model.fit_bias,
            l2=t.l2_penalty,
            weight_decay=t.weight_decay,
        )

    def least_squares(self, from_stats: bool = False) -> np.ndarray:
        """Closed-form [w..., b] in trained units (computed once per data; from_stats: from the
        statistics, whatever the data's size, unless they are ill-conditioned)."""
        if self._ols is None:
            ds, fit_bias = self.dataset, self.config.model.fit_bias
            big = from_stats or ds.x_train.size > LSTSQ_MAX_VALUES
            if big and _well_conditioned(self.stats, fit_bias):
                # A million rows of 100 features: lstsq takes ~10 s and 1.5 GB; the normal
                # equations from the statistics take milliseconds, and with the columns'
                # correlations this well conditioned they lose no digits that matter.
                w, b = ridge(self.stats, 0.0, fit_bias)
            else:
                w, b = least_squares(ds.x_train, ds.y_train, fit_bias)
            self._ols = np.append(w, b)
            self._ols.setflags(write=False)
        return self._ols.copy()

    def batch_indices(self) -> np.ndarray:
        """Training rows of the most recent minibatch (empty before the first step)."""
        if self.step_count == 0:
            return np.zeros(0, dtype=np.int64)
        epoch, index = self.epoch, self.batch_in_epoch - 1
        if index < 0:
            epoch, index = epoch - 1, self.n_batches - 1
        lo = index * self.batch_size
        hi = min(lo + self.batch_size, self.dataset.n_train)
        order = self._order(epoch)
        return np.arange(lo, hi) if order is None else order[lo:hi].copy()

    def _order(self, epoch: int) -> np.ndarray | None:
        return self._orders.get(epoch)

    def full_gradient(self, theta: np.ndarray | None = None) -> np.ndarray:
        """Full-batch gradient [w..., b] of the training objective, in trained units."""
        th = self.theta() if theta is None else np.asarray(theta, dtype=np.float64)
        return self.objective.gradient(th)

    def batch_gradient(self, rows: np.ndarray, theta: np.ndarray | None = None) -> np.ndarray:
        """Gradient [w..., b] of the objective on the given training rows (zeros(0) if none).

        Batches of more than MAX_GRAD_ROWS rows are estimated from an evenly strided subset of
        those rows (a batch holding the whole training set is exact, from the statistics)."""
        th = self.theta() if theta is None else np.asarray(theta, dtype=np.float64)
        rows = np.asarray(rows)
        if rows.size == 0:
            return np.zeros(0)
        # Distinct rows as many as the data are all of it; rows drawn with replacement are not.
        if rows.size >= self.dataset.n_train and self.config.train.sampling == "reshuffle":
            return self.full_gradient(th)
        if rows.size > MAX_GRAD_ROWS:
            rows = rows[:: -(-rows.size // MAX_GRAD_ROWS)]
        # Far-out parameters (a run near divergence) give inf or nan, quietly: the views skip
        # a gradient that is not finite.
        t, ds = self.config.train, self.dataset
        return minibatch_gradients(
            ds.x_train, ds.y_train, th, rows[None, :], t.loss, self.config.model.fit_bias,
            t.l2_penalty,
        )[0]  # fmt: skip

    # ---- stepping ------------------------------------------------------------------
    def step(self) -> int:
        """Run one minibatch; return steps run (0 if stopped by divergence)."""
        return self.run_steps(1)

    def run_epoch(self) -> int:
        """Run to the end of the current epoch (a whole epoch from its start)."""
        return self.run_steps(self.n_batches - self.batch_in_epoch)

    def run_steps(self, n: int, deadline: float | None = None) -> int:
        """Run up to n minibatches, stopping at the configured epochs, on divergence or past a
        perf_counter deadline."""
        if self.stopped_reason == "diverged":
            return 0
        start = time.perf_counter()
        done = self._run_steps(min(n, self.steps_left), deadline)
        self.wall_seconds += time.perf_counter() - start
        self.wall_steps += done
        return done

    def _run_steps(self, n: int, deadline: float | None) -> int:
        if self.n_batches == 1 and self.config.train.sampling == "reshuffle":
            return self._run_full_batch(n, deadline)
        done = 0
        while done < n:
            if self.batch_in_epoch == 0:
                self._fresh_engine = False
                self.engine.begin_epoch(self._order(self.epoch))
                if self.epoch + 1 < self.config.train.epochs:
                    self._orders.prefetch(self.epoch + 1, PREFETCH_ROWS)
            k = min(n - done, self.n_batches - self.batch_in_epoch, CHUNK)
            t0 = time.perf_counter()
            self.engine.run(
                self.batch_in_epoch, k, self.batch_size, self._losses, self._params, self._rates
            )
            t1 = time.perf_counter()
            self.seconds += t1 - t0
            k = self._accept(k)
            done += k
            if self.stopped_reason == "diverged":
                break
            if self.batch_in_epoch == self.n_batches:
                self._finish_epoch()
            self._checkpoint()
            if deadline is not None and t1 >= deadline:
                break
        self._recent.append((time.perf_counter(), self.step_count))
        del self._recent[:-20]
        return done

    def _run_full_batch(self, n: int, deadline: float | None) -> int:
        # Every step is a whole epoch: run many in one engine call and record their epochs in
        # bulk, so 1e6-step full-batch runs (seed 004) cost what the arithmetic costs.
        if self.step_count == 0 or self._fresh_engine:
            self.engine.begin_epoch(None)  # one batch holds every row: order cannot matter
            self._fresh_engine = False
        done = 0
        while done < n:
            k = min(n - done, CHUNK)
            first = self.step_count
            t0 = time.perf_counter()
            self.engine.run(0, k, self.batch_size, self._losses, self._params, self._rates)
            t1 = time.perf_counter()
            self.seconds += t1 - t0
            k = self._accept(k)
            done += k
            if k:
                thetas = self._params[:k]
                val = (
                    np.full(k, np.nan)
                    if self.val_stats is None
                    else self.val_stats.losses(thetas, self.loss_kind)
                )
                self.history.record_epochs(
                    np.arange(self.epoch + 1, self.epoch + k + 1),
                    np.arange(first + 1, first + k + 1),
                    self.stats.losses(thetas, self.loss_kind),
                    val,
                    self.seconds,
                )
                self.epoch += k
                self.batch_in_epoch = 0
                if self.done and self.stopped_reason is None:
                    self.stopped_reason = "completed"
            self._checkpoint()
            if self.stopped_reason == "diverged" or (deadline is not None and t1 >= deadline):
                break
        self._recent.append((time.perf_counter(), self.step_count))
        del self._recent[:-20]
        return done

    # ---- live changes --------------------------------------------------------------
    def set_hyper(self, record: bool = True, **changes: float) -> None:
        """Change lr, momentum, beta1, beta2 or weight_decay between steps, without a reset;
        record=False leaves no event in the history (a drag still under way: note() records
        the whole gesture once it ends)."""
        old = self.hyper
        new = Hyper(**{**old.__dict__, **changes})
        if new == old:
            return
        # Validated before anything changes: a value out of range leaves the run as it was.
        # A new rate scales the schedule (its lr_min with it), as the engine does.
        self.config = replace_section(
            self.config,
            "train",
            lr=new.lr,
            momentum=new.momentum,
            weight_decay=new.weight_decay,
            betas=(new.beta1, new.beta2),
            schedule=self.config.train.schedule.scaled(new.lr / old.lr),
        )
        self.hyper = new
        self.engine.set_hyper(new)
        text = ", ".join(
            f"{k} {getattr(old, k):g} -> {v:g}" for k, v in changes.items() if getattr(old, k) != v
        )
        if record:
            self.history.record_event(self.step_count, text)
        if self.stopped_reason == "diverged":
            # A new learning rate is the fix the message asks for: let the run continue.
            self.stopped_reason = None
            self.message = None
            # The rolled-back parameters already gave an exploding loss: measure explosions
            # afresh from where the run resumes, or its first step would be refused again.
            self.first_loss = None
        self._checkpoint(pinned=True)

    def note(self, text: str) -> None:
        """Record an event at the current step (a change the history should show)."""
        self.history.record_event(self.step_count, text)

    def extend_epochs(self, epochs: int) -> None:
        """Set a new epoch target so a completed run can continue."""
        self.config = replace_section(self.config, "train", epochs=epochs)
        if not self.done and self.stopped_reason == "completed":
            self.stopped_reason = None
        self._checkpoint(pinned=True)

    def request_stop(self) -> None:
        """Mark the run as stopped by the user."""
        if self.stopped_reason is None:
            self.stopped_reason = "stopped"

    # ---- exact state -----------------------------------------------------------------
    def state(self, with_history: bool = False) -> TrainerState:
        """The run's exact state now (with a copy of its history if asked): a trainer built
        from it with from_state continues as this one would, bit for bit."""
        return capture_state(self, with_history)

    @classmethod
    def from_state(
        cls, state: TrainerState, dataset: Dataset | None = None, history: History | None = None
    ) -> Trainer:
        """A trainer standing exactly where state stood, on dataset (built from the state's
        configuration if not given), recording into history (else a copy of the state's own,
        else an empty one)."""
        trainer = cls(state.config, dataset=dataset, theta0=state.theta)
        resume(trainer, state, history)
        return trainer

    # ---- reporting -----------------------------------------------------------------
    def steps_per_second(self) -> float:
        """Recent training throughput (engine time only)."""
        if self.seconds <= 0:
            return 0.0
        return self.step_count / self.seconds

    def wall_steps_per_second(self) -> float:
        """Steps run per second of run_steps' wall time, bookkeeping included."""
        return self.wall_steps / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def snapshot(self, max_points: int = 2000) -> Snapshot:
        """Copy what a view needs to draw the run now."""
        th = self.theta()
        orig = self.dataset.to_original(th)
        steps, losses, params = self.history.series(max_points)
        ep_steps, ep_train, ep_val = self.history.epoch_series(max_points)
        rows = self.batch_indices()
        return Snapshot(
            step=self.step_count,
            epoch=self.epoch,
            batch_in_epoch=self.batch_in_epoch,
            n_batches=self.n_batches,
            train_loss=self.train_loss(th),
            val_loss=self.val_loss(th),
            batch_loss=self.last_batch_loss,
            weights=orig[:-1].copy(),
            bias=float(orig[-1]),
            theta_trained=th,
            steps_per_second=self.steps_per_second(),
            stopped_reason=self.stopped_reason,
            message=self.message,
            batch_indices=rows,
            loss_steps=steps.astype(np.float64),
            loss_values=losses,
            param_values=params,
            epoch_steps=ep_steps.astype(np.float64),
            epoch_train=ep_train,
            epoch_val=ep_val,
            events=tuple(self.history.events()),
            series_points=max_points,
            lr_values=self.history.lrs_at(steps),
            param_rows=self.history.rows_at(steps),
            batch_grad=self.batch_gradient(rows, th),
            full_grad=self.full_gradient(th),
            path_start=self.path_start,
            path_origin=self.path_origin.copy(),
        )


def _data_stats(ds: Dataset) -> tuple[SufficientStats, SufficientStats | None]:
    """The training and validation statistics of a dataset, computed once per dataset: the
    branches of a run, and the replays that reach their past steps, share one."""
    cached = getattr(ds, "_trainer_stats", None)
    if cached is not None:
        return cached
    try:
        stats = SufficientStats.from_data(ds.x_train, ds.y_train)
        val = SufficientStats.from_data(ds.x_val, ds.y_val) if len(ds.y_val) >= 1 else None
    except ValueError as exc:  # overflow despite the magnitude check: still the data's fault
        raise DataError(f"{ds.source}: {exc}") from None
    ds._trainer_stats = (stats, val)  # type: ignore[attr-defined]
    return stats, val


def _well_conditioned(stats: SufficientStats, fit_bias: bool) -> bool:
    """Whether the normal equations of these statistics are safe to solve directly."""
    m = stats.cxx if fit_bias else stats._second_moment(fit_bias=False)
    sd = np.sqrt(np.diag(m))
    if not np.all(sd > 0.0):
        return False  # a constant column: leave the rank deficiency to lstsq
    lam = np.linalg.eigvalsh(m / np.outer(sd, sd))
    return bool(lam[0] > 0.0 and lam[-1] / lam[0] < MAX_NORMAL_COND)
