"""What a chunk of engine steps leaves behind in a Trainer: the steps kept (cut at the first
divergent one), the history's rows and epochs, the divergence's roll-back and message, and the
checkpoints that make past steps reachable.

StepRecorder is a mixin of core.trainer.Trainer (its own methods, kept here so that the trainer
module holds the run's set-up, stepping loop and reads).
"""

from __future__ import annotations

import math

import numpy as np

from core.config import Config
from core.data import Dataset
from core.engine_base import Engine
from core.history import History
from core.optim import Hyper
from core.state import Checkpoints

# The event a divergence leaves in the history (the loss plot marks it apart from changes).
DIVERGED_EVENT = "diverged"
# A loss this many times the first loss counts as exploding, well before float32 overflows.
EXPLODE_FACTOR = 1e8
# Whatever the first loss, a loss above this explodes: the parameters that give it are still
# small enough for every float64 statistic computed from them to stay finite.
MAX_LOSS = {"float32": 1e36, "float64": 1e250}


def is_divergence(text: str) -> bool:
    """Whether a history event's text marks a divergence (not a change of settings)."""
    return DIVERGED_EVENT in text


class StepRecorder:
    """A Trainer's recording of the steps and epochs it ran, and of a divergence."""

    # What the Trainer this mixes into keeps (core.trainer, named here, not imported: it
    # imports this module). It also provides theta(), train_loss(), val_loss(),
    # max_stable_lr(), state() and done, which the methods below call.
    config: Config
    dataset: Dataset
    engine: Engine
    history: History
    checkpoints: Checkpoints
    hyper: Hyper
    theta0: np.ndarray
    step_count: int
    epoch: int
    batch_in_epoch: int
    seconds: float
    first_loss: float | None
    last_batch_loss: float | None
    stopped_reason: str | None
    message: str | None
    _losses: np.ndarray
    _params: np.ndarray
    _rates: np.ndarray
    _last_theta: np.ndarray

    def _accept(self, k: int) -> int:
        """Record k fresh steps, cutting them at a divergence; return how many were kept."""
        losses, params = self._losses[:k], self._params[:k]
        if self.first_loss is None and k:
            self.first_loss = float(losses[0])
        limit = EXPLODE_FACTOR * max(self.first_loss or 0.0, 1e-12) + 1e3
        limit = min(limit, MAX_LOSS[self.config.model.dtype])
        # Fast path first: the largest loss within bounds (NaN fails the comparison) and finite
        # parameters, two reductions; the exact first bad step only when one exists.
        if k and losses.max() <= limit and np.isfinite(params).all():
            keep = k
        else:
            bad = ~np.isfinite(losses) | (losses > limit) | ~np.isfinite(params).all(axis=1)
            keep = int(np.argmax(bad)) if bad.any() else k
        if keep:
            self._record(self.step_count + 1, losses[:keep], params[:keep], self._rates[:keep])
            self.step_count += keep
            self.batch_in_epoch += keep
            self.last_batch_loss = float(losses[keep - 1])
            self._last_theta = params[keep - 1].copy()
        if keep < k:
            self._diverge(float(losses[keep]), float(self._rates[keep]))
        return keep

    def _record(
        self,
        first_step: int,
        losses: np.ndarray,
        params: np.ndarray,
        lrs: np.ndarray | None = None,
    ) -> None:
        """Append steps to the history (a race's trainer overrides this to watch every step)."""
        # History holds parameters in the data's original units: what users read and export.
        if self.dataset.standardized:
            params = self.dataset.to_original(params)
        self.history.record_steps(first_step, losses, params, lrs)

    def _diverge(self, loss: float, lr: float) -> None:
        """Stop the run at its last finite parameters, with a message saying what to change."""
        # Roll back to the last finite parameters and forget the optimizer's blown-up state;
        # the schedule goes back too, to where the kept steps left it.
        self.engine.set_params(self._last_theta)
        self.engine.seek_schedule(self.step_count)
        self.engine.reset_optimizer()
        self.stopped_reason = "diverged"
        bound = self.max_stable_lr()
        what = "became non-finite" if not math.isfinite(loss) else f"exploded to {loss:.3g}"
        scheduled = "" if lr == self.hyper.lr else f" (scheduled from {self.hyper.lr:g})"
        self.message = (
            f"Training diverged at step {self.step_count + 1}: the loss {what}. "
            f"Learning rate {lr:g}{scheduled} is too large; full-batch gradient descent is "
            f"stable below {bound:.3g}. Lower the learning rate and reset."
        )
        self.history.record_event(self.step_count, DIVERGED_EVENT)

    def _record_epoch_zero(self) -> None:
        """Record step 0 and epoch 0: the initial parameters and their losses."""
        # Step 0 holds the initial parameters, so trajectories start where training did.
        loss0 = self.train_loss(self.theta0)
        # Row 0 holds the rate the first step will use.
        self._record(0, np.array([loss0]), self.theta0[None, :], np.array([self.engine.next_lr()]))
        self.history.record_epoch(0, 0, loss0, self.val_loss(self.theta0), 0.0)

    def _finish_epoch(self) -> None:
        """Close the current epoch: its record, and 'completed' after the last one."""
        self.epoch += 1
        self.batch_in_epoch = 0
        th = self.theta()
        self.history.record_epoch(
            self.epoch, self.step_count, self.train_loss(th), self.val_loss(th), self.seconds
        )
        if self.done and self.stopped_reason is None:
            self.stopped_reason = "completed"

    def _checkpoint(self, pinned: bool = False) -> None:
        """Keep the run's exact state now when one is due (pinned: always, and kept for good)."""
        # Periodic states (and one after every change) make any past step reachable exactly.
        if pinned or self.checkpoints.due(self.step_count):
            self.checkpoints.add(self.state(), pinned=pinned)
