"""Rewind: rebuild what the views show at a past step from a run's recorded history."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from core.decimate import envelope
from core.history import History, epoch_series, rates_at
from core.runinfo import RunInfo
from core.snapshot import Snapshot

MAX_POINTS = 2000  # display points per series when the live snapshot does not say


@dataclass(frozen=True)
class Recording:
    """A frozen copy of a run's history to scrub through (step rows plus epoch records)."""

    steps: np.ndarray  # int64 (m,)
    # (m, d + 2): the minibatch loss, then [w..., b] in original units, after each recorded
    # step (History.rows); lows/highs: the least and the most in each row's merged cell, None
    # when nothing was merged.
    values: np.ndarray
    lows: np.ndarray | None
    highs: np.ndarray | None
    epochs: dict[str, np.ndarray]
    events: tuple[tuple[int, str], ...]
    # The rate each recorded row's step used (History.lrs; nan where unknown, empty if not kept).
    lrs: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @classmethod
    def of(cls, history: History) -> Recording:
        """Copy a history (its arrays are copies: later training does not change them)."""
        steps, values, lows, highs = history.rows()
        epochs, events = history.epochs(), tuple(history.events())
        return cls(steps, values, lows, highs, epochs, events, history.lrs())

    @property
    def losses(self) -> np.ndarray:
        """The minibatch loss of each recorded row (a view)."""
        return self.values[:, 0]

    @property
    def params(self) -> np.ndarray:
        """[w..., b] in original units of each recorded row (a view)."""
        return self.values[:, 1:]

    @property
    def last_step(self) -> int:
        """The newest recorded step (0 when nothing was trained yet)."""
        return int(self.steps[-1]) if self.steps.size else 0


def to_trained(info: RunInfo, theta: np.ndarray) -> np.ndarray:
    """Convert [w..., b] from original to trained units (the inverse of the data's scaling)."""
    theta = np.asarray(theta, dtype=np.float64)
    if info.scale.size != theta.size - 1:
        return theta.copy()
    w = theta[:-1]
    return np.append(w * info.scale, theta[-1] + w @ info.shift)


def snapshot_at(
    rec: Recording, info: RunInfo, live: Snapshot, step: int, max_points: int | None = None
) -> Snapshot:
    """The run as it stood after `step` (the nearest recorded step at or before it).

    Its series are drawn as live snapshots draw theirs (History.series, epoch_series), with
    the live snapshot's max_points unless given: rewound to the live step, the views show
    exactly the live curves, and at an earlier step the same run's envelope up to there.
    """
    if max_points is None:
        max_points = live.series_points or MAX_POINTS
    step = int(min(max(step, 0), rec.last_step))
    i = int(np.searchsorted(rec.steps, step, side="right")) - 1  # -1: before the first row
    if i >= 0:
        shown_step = int(rec.steps[i])
        theta_orig = rec.params[i].astype(np.float64)
        batch_loss: float | None = float(rec.losses[i])
    else:
        shown_step = 0
        theta_orig = _to_original(info, info.initial_trained)
        batch_loss = None
    theta = to_trained(info, theta_orig)
    rows = slice(0, i + 1)
    summary = (rec.lows[rows], rec.highs[rows]) if rec.lows is not None else (None, None)
    loss_x, loss_y = envelope(rec.steps[rows], rec.values[rows], max_points, *summary)
    if rec.lrs.shape == rec.steps.shape:
        lr_values = rates_at(rec.steps[rows], rec.lrs[rows], loss_x)
    else:
        lr_values = np.full(loss_x.shape, np.nan)
    # Whole recorded rows at the drawn steps (the envelope mixes each column's extremes).
    at = np.searchsorted(rec.steps[rows], loss_x, side="right") - 1
    param_rows = rec.params[rows][np.maximum(at, 0)] if i >= 0 else np.zeros((0, 0))
    ep_n = int(np.searchsorted(rec.epochs["step"], shown_step, side="right"))
    ep_x, ep_train, ep_val = epoch_series(rec.epochs, ep_n, max_points)
    epoch = max(ep_n - 1, 0)  # the epoch-zero record sits at step 0
    epoch_start = int(rec.epochs["step"][ep_n - 1]) if ep_n else 0
    return replace(
        live,
        step=shown_step,
        epoch=epoch,
        batch_in_epoch=shown_step - epoch_start,
        train_loss=_loss(info, theta),
        val_loss=None,
        batch_loss=batch_loss,
        weights=theta_orig[:-1].copy(),
        bias=float(theta_orig[-1]),
        theta_trained=theta,
        stopped_reason=None,
        message=None,
        batch_indices=np.zeros(0, dtype=np.int64),
        loss_steps=loss_x.astype(np.float64),
        loss_values=np.ascontiguousarray(loss_y[:, 0]),
        param_values=np.ascontiguousarray(loss_y[:, 1:]),
        epoch_steps=ep_x.astype(np.float64),
        epoch_train=ep_train,
        epoch_val=ep_val,
        events=tuple(e for e in rec.events if e[0] <= shown_step),
        lr_values=lr_values,
        param_rows=param_rows,
        batch_grad=np.zeros(0),
        full_grad=_gradient(info, theta),
    )


def _to_original(info: RunInfo, theta: np.ndarray) -> np.ndarray:
    theta = np.asarray(theta, dtype=np.float64)
    if info.scale.size != theta.size - 1:
        return theta.copy()
    w = theta[:-1] / info.scale
    return np.append(w, theta[-1] - w @ info.shift)


def _loss(info: RunInfo, theta: np.ndarray) -> float:
    if info.stats is None:
        return float("nan")
    # The same figure live snapshots show: the data loss, without the l2 penalty.
    return info.stats.loss(theta[:-1], float(theta[-1]), info.loss_kind)  # type: ignore[arg-type]


def _gradient(info: RunInfo, theta: np.ndarray) -> np.ndarray:
    if info.stats is None:
        return np.zeros(0)
    gw, gb = info.stats.gradient(theta[:-1], float(theta[-1]), info.loss_kind, info.fit_bias)  # type: ignore[arg-type]
    grad = np.append(gw, gb)
    # As the trainer's gradient: the objective adds l2 * |params|^2; a fixed bias is not one.
    grad[:-1] += 2.0 * info.l2_penalty * theta[:-1]
    if info.fit_bias:
        grad[-1] += 2.0 * info.l2_penalty * theta[-1]
    return grad
