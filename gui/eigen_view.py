"""Eigen-directions: the error along each eigen-direction of the Hessian against steps (log
scale), and beside each the rate full-batch gradient descent predicts for it.

On a quadratic, gradient descent moves each eigen-direction vᵢ of the Hessian on its own: the
error eᵢ = <θ − θ*, vᵢ> shrinks by |1 − ηλᵢ| a step (core.theory). The view draws |eᵢ| of the
recorded parameters (whole rows: Snapshot.param_rows) and, dashed, |eᵢ(0)| times the product of
the per-step rates over the rates the run used (Snapshot.lr_values): |1 − ηλᵢ| for plain SGD,
the larger root of the characteristic equation with (Nesterov) momentum. Where the snapshot's
series are thinned, the rate of each drawn step stands for the steps since the one drawn before
it (exact for a constant rate, and wherever the series is not thinned).

Up to MAX_DIRECTIONS directions are drawn; the legend names the largest and smallest few, the
others share one grey curve (one item, NaN-separated, so 64 features cost two items, not 128).
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from core.config import TrainConfig
from core.runinfo import RunInfo
from core.snapshot import Snapshot
from core.theory import RATE_OPTIMIZERS, eigen_directions, eigen_errors, trained_rows
from gui.plot_base import PlotView
from gui.style import DASH, NOTE_SIZE, TITLE_SIZE, Palette

TITLE = "Error along each eigen-direction"
NAMED_ALL = 6  # with at most this many directions, the legend names each
NAMED_EACH_END = 3  # ... with more, the largest and the smallest this many
MAX_DIRECTIONS = 64  # directions drawn at most (the named ones, the others spread by rank)
TINY = 1e-300  # errors at or below this are drawn here (log10 of zero is -inf)
HUGE = 1e300  # ... and a diverging prediction no higher than this


def step_rates(
    eigvals: np.ndarray, lrs: np.ndarray, optimizer: str = "sgd", momentum: float = 0.0
) -> np.ndarray:
    """Per rate (rows) and direction (columns), the factor full-batch gradient descent shrinks
    the error by per step in the long run (core.theory.rate_per_step for many rates at once:
    the larger root of each direction's 2x2 step in modulus); nan without a linear rate."""
    lam = np.asarray(eigvals, dtype=np.float64)[None, :]
    lr = np.asarray(lrs, dtype=np.float64).reshape(-1, 1)
    if optimizer not in RATE_OPTIMIZERS:
        return np.full((lr.shape[0], lam.shape[1]), np.nan)
    mu = 0.0 if optimizer == "sgd" else float(momentum)
    if mu == 0.0:
        return np.abs(1.0 - lr * lam)
    # core.theory.step_matrices: [[1 - a λ, -β], [λ, μ]]; its roots from trace and determinant.
    a, beta = (lr * (1.0 + mu), lr * mu * mu) if optimizer == "nesterov" else (lr, lr * mu)
    half = (1.0 - a * lam + mu) / 2.0
    det = (1.0 - a * lam) * mu + beta * lam
    disc = half * half - det
    with np.errstate(invalid="ignore"):
        real = np.abs(half) + np.sqrt(np.maximum(disc, 0.0))
        return np.where(disc >= 0.0, real, np.sqrt(np.maximum(det, 0.0)))


def predicted_errors_at(
    e0: np.ndarray,
    steps: np.ndarray,
    lrs: np.ndarray,
    eigvals: np.ndarray,
    optimizer: str = "sgd",
    momentum: float = 0.0,
) -> np.ndarray:
    """|eᵢ(0)| times the product of the per-step rates up to each of steps (sorted), the rate
    of steps[k] standing for the steps after steps[k-1] (len(steps), p)."""
    steps = np.asarray(steps, dtype=np.float64)
    counts = np.diff(steps, prepend=0.0)
    rho = step_rates(eigvals, lrs, optimizer, momentum)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        logs = np.cumsum(counts[:, None] * np.log(rho), axis=0)
        return np.abs(np.asarray(e0, dtype=np.float64))[None, :] * np.exp(logs)


def _filled(lrs: np.ndarray, fallback: float) -> np.ndarray:
    """Rates with unknown entries (nan) taken from the one before (the first: fallback)."""
    lrs = np.asarray(lrs, dtype=np.float64).copy()
    bad = ~np.isfinite(lrs)
    if bad.any():
        idx = np.where(~bad, np.arange(lrs.size), -1)
        np.maximum.accumulate(idx, out=idx)
        lrs = np.where(idx >= 0, lrs[np.maximum(idx, 0)], fallback)
    return lrs


def _joined(x: np.ndarray, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Several curves over the same x as one NaN-separated series (one item to paint)."""
    k = columns.shape[1]
    xs = np.tile(np.append(x, np.nan), k)
    ys = np.vstack([columns, np.full((1, k), np.nan)]).T.reshape(-1)
    return xs, ys


class EigenView(PlotView):
    """|<θ − θ*, vᵢ>| per eigen-direction against steps, with gradient descent's rate."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("eigenPlot", TITLE, parent)
        pi = self.plotItem
        pi.setLabel("bottom", "step")
        pi.setLabel("left", "|⟨θ − θ*, v⟩|")
        pi.setLogMode(y=True)
        pi.enableAutoRange(False)
        self._legend_on_top(3)
        self.measured_curves: list[pg.PlotDataItem] = []
        self.predicted_curves: list[pg.PlotDataItem] = []
        # The directions the legend does not name: one grey item each for measured and rate.
        self.others = pg.PlotDataItem(connect="finite")
        self.others_rate = pg.PlotDataItem(connect="finite")
        for item in (self.others, self.others_rate):
            item.setZValue(-5)
            pi.addItem(item)
            # Their x restarts for every direction: no clipping or thinning by sorted x.
            item.setClipToView(False)
            item.setDownsampling(auto=False)
        self.measured_key = pg.PlotDataItem()
        self.rate_key = pg.PlotDataItem()
        self._info: RunInfo | None = None
        self._train: TrainConfig | None = None
        self._eigvals = np.zeros(0)  # ascending, as core.theory gives them
        self._eigvecs = np.zeros((0, 0))
        self._star = np.zeros(0)
        self._e0 = np.zeros(0)
        self._named: list[int] = []  # indices (ascending order) of named directions
        self._rest: list[int] = []  # ... and of the others drawn
        self._measured = (np.zeros(0), np.zeros((0, 0)))
        self._predicted = (np.zeros(0), np.zeros((0, 0)))
        self._planned = 1.0
        self._style_items(self._palette)

    def _style_items(self, palette: Palette) -> None:
        for k, (measured, rate) in enumerate(
            zip(self.measured_curves, self.predicted_curves, strict=True)
        ):
            color = palette.param(k)
            measured.setPen(palette.pen(color, 2))
            rate.setPen(palette.pen(color, 1.5, DASH))
        self.others.setPen(palette.pen("eigen_middle", 1))
        self.others_rate.setPen(palette.pen("eigen_middle", 1, DASH))
        self.measured_key.setPen(palette.pen("reference", 2))
        self.rate_key.setPen(palette.pen("reference", 1.5, DASH))

    # ---- what is shown -------------------------------------------------------------------
    def set_run(self, info: RunInfo) -> None:
        """Start over for a new run: its eigen-directions, one curve pair per named one."""
        self._info = info
        self._train = info.train
        self._last = None
        self._follow = True
        self._x_shown = self._y_shown = None
        self._planned = float(max(info.total_steps, 1))
        self._take_eigen(info.hessian_eigenvalues, info.hessian_eigenvectors, info.theta_star)
        self._set_steps_x(float(max(min(info.n_batches, info.total_steps), 1)))
        if self._e0.size:
            self._keep_y(self._log_bounds(self._e0))

    def set_train(self, train: TrainConfig) -> None:
        """Follow live changes: weight decay moves the Hessian and its minimum; the optimizer's
        momentum changes the predicted rates."""
        info = self._info
        if info is None or train == self._train:
            return
        old, self._train = self._train, train
        if old is None or train.weight_decay != old.weight_decay:
            eig = eigen_directions(
                info.stats, info.loss_kind, info.fit_bias, info.l2_penalty, train.weight_decay
            )
            self._take_eigen(eig.eigenvalues, eig.eigenvectors, eig.theta_star)
        self._set_title()
        if self._last is not None:
            self.update_snapshot(self._last)

    def set_log_steps(self, on: bool) -> None:
        """Show the step on a log10 axis (True; drawn from step 1) or a linear one."""
        self._set_log_steps(on, log_y=True)

    def update_snapshot(self, snap: Snapshot) -> None:
        """Draw the measured errors and the predicted rates up to the snapshot's step."""
        self._last = snap
        info = self._info
        if info is None or not self._eigvals.size:
            return
        rows = snap.param_rows
        if rows.ndim != 2 or rows.shape[0] != snap.loss_steps.size:
            rows = snap.param_values  # exact wherever the series is not thinned
        if rows.ndim != 2 or rows.shape != (snap.loss_steps.size, self._star.size):
            return
        lrs = snap.lr_values if snap.lr_values.shape == snap.loss_steps.shape else None
        lrs = _filled(np.full(rows.shape[0], np.nan) if lrs is None else lrs, self._lr())
        steps, rows, lrs = self._drawn_steps(snap.loss_steps, rows, lrs)
        shown = self._named + self._rest
        with np.errstate(over="ignore", invalid="ignore"):
            thetas = trained_rows(rows, info.shift, info.scale)
            errors = eigen_errors(thetas, self._star, self._eigvecs[:, shown])
        train = self._train or info.train
        predicted = predicted_errors_at(
            self._e0[shown], steps, lrs, self._eigvals[shown], train.optimizer, train.momentum
        )
        self._measured = (steps, errors)
        self._predicted = (steps, predicted)
        self._draw(steps, errors, predicted)
        last = float(steps[-1]) if steps.size else float(snap.step)
        self._keep_steps_x(
            max(last, float(snap.step)), self._planned, snap.stopped_reason is not None
        )
        self._keep_y(self._log_bounds(errors, self._e0[shown]))

    def measured(self) -> tuple[np.ndarray, np.ndarray]:
        """The drawn steps and the error along each drawn direction (columns: directions())."""
        return self._measured

    def predicted(self) -> tuple[np.ndarray, np.ndarray]:
        """The drawn steps and the error gradient descent predicts along each direction."""
        return self._predicted

    def directions(self) -> list[int]:
        """The drawn directions, as indices into the ascending eigenvalues: named ones first
        (largest eigenvalue first), then the others."""
        return self._named + self._rest

    def eigenvalues(self) -> np.ndarray:
        """The Hessian's eigenvalues the view uses, ascending."""
        return self._eigvals.copy()

    def legend_labels(self) -> list[str]:
        """The legend's texts, in order."""
        return [label.text for _, label in self.legend.items]

    # ---- helpers -----------------------------------------------------------------------
    def _lr(self) -> float:
        train = self._train or (self._info.train if self._info is not None else None)
        return float(train.lr) if train is not None else math.nan

    def _take_eigen(self, eigvals: np.ndarray, eigvecs: np.ndarray, star: np.ndarray) -> None:
        info = self._info
        assert info is not None
        self._eigvals = np.asarray(eigvals, dtype=np.float64)
        self._eigvecs = np.asarray(eigvecs, dtype=np.float64)
        self._star = np.asarray(star, dtype=np.float64)
        p = self._eigvals.size
        if p == 0 or info.initial_trained.size != self._star.size:
            self._eigvals = np.zeros(0)
            self._named, self._rest = [], []
            self._e0 = np.zeros(0)
            self._fill_legend()
            return
        self._e0 = eigen_errors(info.initial_trained, self._star, self._eigvecs)[0]
        desc = list(range(p - 1, -1, -1))  # largest eigenvalue first
        if p <= NAMED_ALL:
            self._named, self._rest = desc, []
        else:
            k = NAMED_EACH_END
            self._named = desc[:k] + desc[-k:]
            middle = desc[k:-k]
            room = MAX_DIRECTIONS - len(self._named)
            if len(middle) > room:
                pick = np.unique(np.linspace(0, len(middle) - 1, room).round().astype(int))
                middle = [middle[i] for i in pick]
            self._rest = middle
        self._ensure_items(len(self._named))
        self._fill_legend()
        self._set_title()
        self._measured = self._predicted = (np.zeros(0), np.zeros((0, 0)))

    def _ensure_items(self, n: int) -> None:
        pi = self.plotItem
        while len(self.measured_curves) > n:
            pi.removeItem(self.measured_curves.pop())
            pi.removeItem(self.predicted_curves.pop())
        while len(self.measured_curves) < n:
            self.measured_curves.append(pi.plot())
            self.predicted_curves.append(pi.plot())
        for curve in (*self.measured_curves, *self.predicted_curves, self.others, self.others_rate):
            curve.setData([], [])
        self._style_items(self._palette)

    def _fill_legend(self) -> None:
        self.legend.clear()
        lam = self._eigvals
        p = lam.size
        for k, i in enumerate(self._named):
            tag = ""
            if p > 1 and i == p - 1:
                tag = " (max)"
            elif p > 1 and i == 0:
                tag = " (min)"
            self.legend.addItem(self.measured_curves[k], f"λ = {lam[i]:.3g}{tag}")
        if self._rest:
            self.legend.addItem(self.others, f"{p - len(self._named)} others")
        if p:
            self.legend.addItem(self.measured_key, "measured")
            self.legend.addItem(self.rate_key, "GD predicts")
        self._fit_top_legend()

    def _set_title(self) -> None:
        train = self._train
        note = None
        if train is not None and train.optimizer not in RATE_OPTIMIZERS:
            note = f"no gradient-descent rate for {train.optimizer}: measured only"
        elif self._eigvals.size and self._eigvals[0] > 0:
            note = f"condition number λmax/λmin = {self._eigvals[-1] / self._eigvals[0]:.3g}"
        title = TITLE
        if note is not None:
            title += f"<br><span style='font-size:{NOTE_SIZE}'>{note}</span>"
        self.plotItem.setTitle(title, size=TITLE_SIZE, color=self._palette.text)

    def _draw(self, steps: np.ndarray, errors: np.ndarray, predicted: np.ndarray) -> None:
        shown = np.clip(np.nan_to_num(errors, nan=HUGE, posinf=HUGE), TINY, HUGE)
        rates = np.clip(predicted, TINY, HUGE)
        has_rate = bool(np.isfinite(predicted).any())
        n = len(self._named)
        for k in range(n):
            self.measured_curves[k].setData(steps, shown[:, k])
            if has_rate:
                self.predicted_curves[k].setData(steps, rates[:, k])
            else:
                self.predicted_curves[k].setData([], [])
        if self._rest:
            self.others.setData(*_joined(steps, shown[:, n:]))
            if has_rate:
                self.others_rate.setData(*_joined(steps, rates[:, n:]))
            else:
                self.others_rate.setData([], [])

    @staticmethod
    def _log_bounds(*arrays: np.ndarray) -> tuple[float, float] | None:
        values = np.concatenate([np.ravel(a) for a in arrays])
        values = values[np.isfinite(values) & (values > 0)]
        if not values.size:
            return None
        return math.log10(max(values.min(), TINY)), math.log10(min(values.max(), HUGE))
