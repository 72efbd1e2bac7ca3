"""What the loss landscape draws of the theory: the Hessian's eigen-axes through the minimum,
and (a toggle) the noise of SGD: a cloud of minibatch gradients at the current parameters with
the exact covariance ellipse of a minibatch gradient around the full-batch gradient.

The cloud is computed here, on the GUI thread, from the run's display sample (RunInfo.x, y): it
is every training row up to MAX_SCATTER (5,000) rows, so there the ellipse is exact
(core.theory.gradient_noise_covariance of the training set); past that it is estimated from
those 5,000 rows, drawn uniformly. A cloud costs under a millisecond (at most CLOUD_ROWS rows
gathered) and is drawn anew only when the step or the parameters change, with a seed of its
step: the same step always shows the same cloud.

Cloud, ellipse and the gradient arrows share one scale (core.landscape.arrow_scale): the arrows
and the ellipse's far edge fit in ARROW_FRACTION of the view.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from core.analysis import hessian
from core.landscape import objective_of
from core.runinfo import RunInfo
from core.snapshot import Snapshot
from core.theory import gradient_cloud, gradient_noise_covariance
from gui.item_cache import draw_rarely
from gui.series_item import has_points, set_visible_change
from gui.style import DASH, Palette, palette_of

CLOUD_ROWS = 20_000  # rows the minibatches of one cloud hold at most (points x batch size)
MAX_CLOUD_POINTS = 200
MIN_CLOUD_POINTS = 20
SIGMAS = 2.0  # the ellipse: where a Gaussian of that covariance puts 86% of its mass in 2-D
ELLIPSE_POINTS = 73
CLOUD_SEED = 20_240_613  # with the step: the cloud of a step is always the same
TOGGLE_MARGIN = 4

Entry = tuple[object, str]


def cloud_size(batch_size: int) -> int:
    """How many minibatch gradients the cloud draws for this batch size."""
    return int(min(MAX_CLOUD_POINTS, max(MIN_CLOUD_POINTS, CLOUD_ROWS // max(batch_size, 1))))


def ellipse(center: np.ndarray, cov: np.ndarray, sigmas: float = SIGMAS) -> np.ndarray:
    """Points (ELLIPSE_POINTS, 2) of the sigmas-sigma ellipse of a 2x2 covariance, closed."""
    lam, vec = np.linalg.eigh(0.5 * (cov + cov.T))
    t = np.linspace(0.0, 2.0 * math.pi, ELLIPSE_POINTS)
    circle = np.stack([np.cos(t), np.sin(t)], axis=1)
    return center + sigmas * (circle * np.sqrt(np.maximum(lam, 0.0))) @ vec.T


class LandscapeTheory(QtCore.QObject):
    """The eigen-axes and the gradient cloud on a LandscapeView's map (see the module)."""

    changed = QtCore.Signal()  # the cloud was switched on or off: redraw the legend and items

    def __init__(self, view: QtWidgets.QWidget, plot_item: pg.PlotItem) -> None:
        super().__init__(view)
        self._view = view
        self._pi = plot_item
        self.axes = pg.PlotDataItem(connect="finite")
        draw_rarely(self.axes)
        self.axes.setZValue(-6)  # over the contours (-10), under the path (0)
        self.points = pg.ScatterPlotItem(size=5, pxMode=True)
        self.points.setZValue(2.5)
        self.outline = pg.PlotDataItem()
        self.outline.setZValue(2.6)
        for item in (self.axes, self.points, self.outline):
            plot_item.addItem(item, ignoreBounds=True)
        self.points.hide()
        self.outline.hide()
        self.toggle = QtWidgets.QCheckBox("SGD noise", view)
        self.toggle.setObjectName("cloudToggle")
        self.toggle.setToolTip(
            "Show a cloud of minibatch gradients at the current parameters, drawn as training"
            " draws its batches, with the exact covariance ellipse (2σ) of a minibatch gradient"
            " around the full-batch one; it is drawn anew at every step"
        )
        self.toggle.toggled.connect(self._toggled)
        view.installEventFilter(self)
        self._info: RunInfo | None = None
        self._x = np.zeros((0, 0))  # display sample, trained units
        self._y = np.zeros(0)
        self._hessian = np.zeros((0, 0))  # of the objective the map draws (no weight decay)
        self._minimum = np.zeros(0)
        self._key: tuple[int, bytes] | None = None  # (step, theta) of the cloud in hand
        self._grads = np.zeros((0, 0))
        self._mean = np.zeros(0)
        self._cov = np.zeros((0, 0))
        self._palette = palette_of()
        self.set_palette(self._palette)
        self._place_toggle()

    # ---- look --------------------------------------------------------------------------
    def set_palette(self, palette: Palette) -> None:
        """Draw the axes, cloud and ellipse in palette's colours."""
        self._palette = palette
        self.axes.setPen(palette.pen("eigen_axis", 1.5, DASH))
        self.points.setBrush(palette.brush("cloud"))
        self.points.setPen(None)
        self.outline.setPen(palette.pen("cloud_ellipse", 2))

    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:
        """Keep the toggle in the view's top-right corner."""
        if watched is self._view and event.type() == QtCore.QEvent.Type.Resize:
            self._place_toggle()
        return False

    def _place_toggle(self) -> None:
        self.toggle.adjustSize()
        hint = self.toggle.size()
        self.toggle.move(self._view.width() - hint.width() - TOGGLE_MARGIN, TOGGLE_MARGIN)
        self.toggle.raise_()

    # ---- the run -----------------------------------------------------------------------
    def set_run(self, info: RunInfo) -> None:
        """Take a new run's display sample and the Hessian of the objective shown."""
        self._info = info
        x = np.asarray(info.x, dtype=np.float64)
        if info.scale.size == x.shape[1]:
            x = (x - info.shift) / info.scale  # the units the model trains in
        self._x = x
        self._y = np.asarray(info.y, dtype=np.float64)
        self._key = None
        self._grads = np.zeros((0, 0))
        if info.stats is not None:
            self._hessian = hessian(info.stats, info.loss_kind, info.fit_bias, info.l2_penalty)  # type: ignore[arg-type]
            self._minimum = objective_of(info).minimum(info.ols_trained)
        else:
            self._hessian, self._minimum = np.zeros((0, 0)), np.zeros(0)

    @property
    def cloud_shown(self) -> bool:
        """Whether the gradient cloud is switched on."""
        return self.toggle.isChecked()

    def set_cloud_shown(self, on: bool) -> None:
        """Switch the gradient cloud on or off (as the toggle does)."""
        self.toggle.setChecked(on)

    def _toggled(self, on: bool) -> None:
        self._key = None  # drawn anew from the parameters now
        self.changed.emit()

    def exact(self) -> bool:
        """Whether the cloud's sample is the whole training set (the ellipse is then exact)."""
        return self._info is not None and self._y.size == self._info.n_train

    def entries(self, two_d: bool) -> list[Entry]:
        """Legend entries of what is drawn."""
        out: list[Entry] = []
        if two_d and self._hessian.size:
            p = self._hessian.shape[0]
            out.append((self.axes, "Hessian's eigen-axes" if p == 2 else "eigen-axes (slice)"))
        if self.cloud_shown:
            out.append((self.points, "minibatch gradients"))
            out.append((self.outline, f"{SIGMAS:g}σ covariance"))
        return out

    # ---- the cloud ---------------------------------------------------------------------
    def cloud(self, snap: Snapshot, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The cloud at theta (trained units): minibatch gradients (n, d+1), the full-batch
        gradient they scatter around and the exact covariance of one (d+1, d+1)."""
        info = self._info
        theta = np.asarray(theta, dtype=np.float64)
        key = (int(snap.step), theta.tobytes())
        if info is None or key == self._key:
            return self._grads, self._mean, self._cov
        self._key = key
        t, rows = info.train, self._y.size
        replacement = t.sampling == "replacement"
        batch = max(min(info.batch_size or t.batch_size, info.n_train), 1)
        rng = np.random.default_rng([CLOUD_SEED, int(snap.step)])
        draw_batch = min(batch, rows)
        with np.errstate(over="ignore", invalid="ignore"):
            grads, _, _ = gradient_cloud(
                self._x, self._y, theta, draw_batch, cloud_size(batch), rng, info.loss_kind,
                info.fit_bias, info.l2_penalty, replacement or batch > rows,
            )  # fmt: skip
            # One row's spread over the batch size; distinct rows spread less by (N - B)/(N - 1).
            per_row = gradient_noise_covariance(
                self._x, self._y, theta, 1, info.loss_kind, info.fit_bias, True
            )
        n = info.n_train
        fpc = 1.0 if replacement else ((n - batch) / (n - 1) if n > 1 else 0.0)
        self._cov = per_row / batch * fpc
        full = np.asarray(snap.full_grad, dtype=np.float64)
        self._mean = full if full.size == theta.size else grads.mean(axis=0)
        self._grads = grads
        return self._grads, self._mean, self._cov

    def extent(
        self, snap: Snapshot, theta: np.ndarray, pair: tuple[int, int], spans: tuple[float, float]
    ) -> list[np.ndarray]:
        """The gradient [w..., b] at the ellipse's farthest edge from the current point on a
        view of these spans (none while the cloud is off), for the arrows' common scale."""
        if not self.cloud_shown or self._info is None:
            return []
        _, mean, cov = self.cloud(snap, theta)
        if mean.size == 0 or not np.isfinite(cov).all():
            return []
        edge = self._edge(mean, cov, pair)
        far = edge[int(np.argmax(np.hypot(edge[:, 0] / spans[0], edge[:, 1] / spans[1])))]
        out = mean.copy()
        i, j = pair
        out[i] = far[0]
        if j != i:
            out[j] = far[1]
        return [out]

    # ---- drawing -----------------------------------------------------------------------
    def draw(
        self,
        snap: Snapshot,
        theta: np.ndarray,
        point: tuple[float, float],
        pair: tuple[int, int],
        scale: float | None,
        spans: tuple[float, float],
    ) -> bool:
        """Draw the eigen-axes and, when on, the cloud around point (the current parameters
        drawn at point; gradients times scale, as the arrows are); True if anything drawn
        may have moved by a pixel (the cloud is drawn anew whenever shown)."""
        moved = self._draw_axes(np.asarray(theta, dtype=np.float64), pair, spans)
        shown = self.cloud_shown and scale is not None and self._info is not None
        moved = moved or shown != self.points.isVisible()
        self.points.setVisible(shown)
        self.outline.setVisible(shown)
        if not shown:
            return moved
        grads, mean, cov = self.cloud(snap, theta)
        if grads.size == 0 or not np.isfinite(cov).all():
            self.points.setData([], [])
            self.outline.setData([], [])
            return True
        x, y = point
        i, j = pair
        k = float(scale)
        px = x - k * grads[:, i]
        py = np.full(px.shape, y) if i == j else y - k * grads[:, j]
        ok = np.isfinite(px) & np.isfinite(py)
        self.points.setData(px[ok], py[ok])
        edge = self._edge(mean, cov, pair)
        self.outline.setData(x - k * edge[:, 0], y - k * edge[:, 1])
        return True

    def shown_cloud(self) -> tuple[np.ndarray, np.ndarray]:
        """The drawn cloud's points (x, y)."""
        x, y = self.points.getData()
        return (np.zeros(0), np.zeros(0)) if x is None else (np.asarray(x), np.asarray(y))

    def shown_ellipse(self) -> tuple[np.ndarray, np.ndarray]:
        """The drawn ellipse (x, y), closed."""
        x, y = self.outline.getData()
        return (np.zeros(0), np.zeros(0)) if x is None else (np.asarray(x), np.asarray(y))

    def covariance(self) -> np.ndarray:
        """The covariance of a minibatch gradient at the cloud's parameters, (d+1, d+1)."""
        return self._cov.copy()

    @staticmethod
    def _edge(mean: np.ndarray, cov: np.ndarray, pair: tuple[int, int]) -> np.ndarray:
        """The ellipse's edge in gradient units on the pair (a segment along x in 1-D)."""
        i, j = pair
        if i == j:
            half = SIGMAS * math.sqrt(max(float(cov[i, i]), 0.0))
            return np.array([[mean[i] - half, 0.0], [mean[i] + half, 0.0]])
        block = cov[np.ix_([i, j], [i, j])]
        return ellipse(np.array([mean[i], mean[j]]), block)

    def _draw_axes(
        self, theta: np.ndarray, pair: tuple[int, int], spans: tuple[float, float]
    ) -> bool:
        """Draw the eigen-axes through the slice's minimum; True if they moved a pixel."""
        h = self._hessian
        i, j = pair
        p = h.shape[0]
        if i == j or p < 2 or max(i, j) >= p or self._minimum.size < p:
            drawn = has_points(self.axes)
            self.axes.setData([], [])
            return drawn
        sub = h[np.ix_([i, j], [i, j])]
        star = self._minimum[:p]
        center = star[[i, j]].copy()
        rest = [k for k in range(p) if k not in (i, j)]
        if rest and theta.size >= p:
            # The slice's own minimum, with the others held where the map holds them.
            with contextlib.suppress(np.linalg.LinAlgError):  # singular: the minimum's
                off = h[np.ix_([i, j], rest)] @ (theta[rest] - star[rest])
                center -= np.linalg.solve(sub, off)
        _, vec = np.linalg.eigh(sub)
        reach = 2.0 * math.hypot(*spans)
        xs, ys = [], []
        for u in vec.T:
            xs += [center[0] - reach * u[0], center[0] + reach * u[0], math.nan]
            ys += [center[1] - reach * u[1], center[1] + reach * u[1], math.nan]
        return set_visible_change(self.axes, np.array(xs), np.array(ys))
