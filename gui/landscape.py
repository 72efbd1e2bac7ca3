"""Loss landscape: the training objective over two parameters, with the optimizer's path on it.

The loss of a linear model is quadratic in its parameters, so the whole 200 x 200 grid follows
from the run's sufficient statistics in O(grid) work whatever the number of samples (about a
millisecond). It is still recomputed only when the run, the chosen pair or (at most every
RECOMPUTE_SECONDS) the held parameters change, never per frame: a frame only moves the path,
the current point and the two gradient arrows.

Everything is drawn in trained units, the space the optimizer moves in (standardised when the
data is); the path, given in original units, is converted.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters  # registers pg.exporters
from PySide6 import QtCore, QtGui, QtWidgets

from core.analysis import ridge
from core.runinfo import RunInfo
from core.snapshot import Snapshot
from gui.export import export_plot_png, export_plot_svg
from gui.legend import HIDDEN_HINT, fit_legend

GRID = 200  # grid points per axis
MARGIN = 0.3  # fraction of the span of the marked points left free on each side
SQUARE_RATIO = 3.0  # axes whose spans are within this ratio get the same span (true shapes)
N_CONTOURS = 9
DECADES = 4.0  # colour range below the largest excess loss shown (log scale)
ARROW_FRACTION = 0.2  # the longer gradient arrow spans this fraction of the view
RECOMPUTE_SECONDS = 0.5  # held parameters drifting re-grid at most this often
DRIFT = 0.01  # ... and only once one has moved by this fraction of its axis span
CURVE_POINTS = 400  # points of the 1-D loss curve
MAX_PATH_SYMBOLS = 300  # 1-D path: dots up to this many points, a line beyond

TEXT = "#222222"
AXIS = "#555555"
PATH_COLOR = "#d62728"
FULL_COLOR = "#111111"
BATCH_COLOR = "#ff7f0e"
# Viridis lightened towards white, so dark and saturated marks read on every part of it.
PASTEL = 0.35


def _pen(color: object, width: float = 2, style: QtCore.Qt.PenStyle | None = None) -> QtGui.QPen:
    pen = pg.mkPen(color, width=width)
    if style is not None:
        pen.setStyle(style)
    pen.setCosmetic(True)
    return pen


def _colormap() -> pg.ColorMap:
    base = pg.colormap.get("viridis")
    colors = base.getLookupTable(nPts=64, alpha=False).astype(np.float64)
    colors = (1.0 - PASTEL) * colors + PASTEL * 255.0
    return pg.ColorMap(np.linspace(0.0, 1.0, 64), colors.astype(np.uint8))


def _title(text: str, note: str | None) -> str:
    """A plot title with an optional smaller second line (a narrow view would clip one line)."""
    return text if note is None else f"{text}<br><span style='font-size:9pt'>{note}</span>"


def contour_segments(
    u: np.ndarray, v: np.ndarray, z: np.ndarray, levels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Line segments of the level sets of z[row=v, col=u], as point pairs (marching squares)."""
    levels = np.sort(np.asarray(levels, dtype=np.float64))
    # band = how many levels lie below each value: a cell is crossed by level k exactly when
    # its corners' bands straddle k, so only the few cells on a contour are worked on.
    band = np.searchsorted(levels, z, side="left")
    corners = (band[:-1, :-1], band[:-1, 1:], band[1:, 1:], band[1:, :-1])  # a, b, c, d
    lo = np.minimum(np.minimum(corners[0], corners[1]), np.minimum(corners[2], corners[3]))
    hi = np.maximum(np.maximum(corners[0], corners[1]), np.maximum(corners[2], corners[3]))
    rows, cols = np.nonzero(hi > lo)
    if rows.size == 0:
        return np.zeros(0), np.zeros(0)
    # One entry per (cell, level) pair.
    counts = (hi - lo)[rows, cols]
    rows, cols = np.repeat(rows, counts), np.repeat(cols, counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    k = lo[rows, cols] + (np.arange(rows.size) - first)
    level = levels[k]
    za, zb = z[rows, cols], z[rows, cols + 1]
    zc, zd = z[rows + 1, cols + 1], z[rows + 1, cols]
    u0, u1, v0, v1 = u[cols], u[cols + 1], v[rows], v[rows + 1]
    # Edges in order bottom (a-b), right (b-c), top (d-c), left (a-d).
    ends = ((za, zb), (zb, zc), (zd, zc), (za, zd))
    crossed = np.stack([(p > level) != (q > level) for p, q in ends])
    with np.errstate(divide="ignore", invalid="ignore"):
        t = [np.clip((level - p) / (q - p), 0.0, 1.0) for p, q in ends]
    ex = np.stack([u0 + t[0] * (u1 - u0), u1, u0 + t[2] * (u1 - u0), u0])
    ey = np.stack([v0, v0 + t[1] * (v1 - v0), v1, v0 + t[3] * (v1 - v0)])
    count = crossed.sum(axis=0)
    # Two crossed edges hold one segment; four (a saddle, which a convex loss never has) two,
    # paired bottom-right and top-left.
    two = np.nonzero(count == 2)[0]
    e1 = np.argmax(crossed[:, two], axis=0)
    e2 = 3 - np.argmax(crossed[::-1, two], axis=0)
    four = np.nonzero(count == 4)[0]
    sel = np.concatenate([two, four, four])
    e1 = np.concatenate([e1, np.zeros(four.size, np.int64), np.full(four.size, 2)])
    e2 = np.concatenate([e2, np.ones(four.size, np.int64), np.full(four.size, 3)])
    xs = np.empty(2 * sel.size)
    ys = np.empty(2 * sel.size)
    xs[0::2], xs[1::2] = ex[e1, sel], ex[e2, sel]
    ys[0::2], ys[1::2] = ey[e1, sel], ey[e2, sel]
    return xs, ys


class LandscapeView(QtWidgets.QWidget):
    """Training loss over two chosen parameters (a curve for one), path, minimum and gradients."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("landscapePlot")
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.chooser = QtWidgets.QWidget()
        row = QtWidgets.QHBoxLayout(self.chooser)
        row.setContentsMargins(30, 2, 6, 0)  # room for the explain button
        self.x_combo = QtWidgets.QComboBox()
        self.x_combo.setObjectName("xParamCombo")
        self.x_combo.setToolTip("Parameter along the horizontal axis")
        self.y_combo = QtWidgets.QComboBox()
        self.y_combo.setObjectName("yParamCombo")
        self.y_combo.setToolTip("Parameter along the vertical axis")
        row.addWidget(QtWidgets.QLabel("Landscape x axis:"))
        row.addWidget(self.x_combo)
        row.addSpacing(12)
        row.addWidget(QtWidgets.QLabel("y axis:"))
        row.addWidget(self.y_combo)
        row.addStretch(1)
        layout.addWidget(self.chooser)
        self.chooser.hide()

        self.plot = pg.PlotWidget(background="w")
        self.plot.setObjectName("landscapePlotWidget")
        layout.addWidget(self.plot, 1)
        pi = self.plotItem = self.plot.plotItem
        pi.setTitle("Loss landscape", color=TEXT, size="11pt")
        for name in ("left", "bottom"):
            axis = pi.getAxis(name)
            axis.setPen(pg.mkPen(AXIS))
            axis.setTextPen(pg.mkPen(TEXT))
        pi.enableAutoRange(False)
        pi.hideButtons()
        pi.setMenuEnabled(False, enableViewBoxMenu=True)

        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setZValue(-20)
        pi.addItem(self.image)
        cmap = _colormap()
        self.colorbar = pg.ColorBarItem(
            values=(0.0, 1.0),
            width=12,
            colorMap=cmap,
            interactive=False,
        )
        self.colorbar.setImageItem(self.image, insert_in=pi)
        bar_axis = self.colorbar.getAxis("right")
        bar_axis.setTextPen(pg.mkPen(TEXT))
        bar_axis.setPen(pg.mkPen(AXIS))
        bar_axis.setLabel("log₁₀(loss − minimum loss)", color=TEXT)
        self.contours = pg.PlotCurveItem(connect="pairs", pen=_pen((255, 255, 255, 200), 1))
        self.contours.setZValue(-10)
        pi.addItem(self.contours)
        self.curve = pg.PlotDataItem(pen=_pen("#1f77b4", 2))  # the 1-D loss curve
        pi.addItem(self.curve)

        # Symbol options are given only with a symbol (1-D): alone they would switch dots on.
        self.path = pg.PlotDataItem(pen=_pen(PATH_COLOR, 2))
        self._path_symbols = False
        self.minimum = pg.ScatterPlotItem(
            symbol="star", size=20, brush=pg.mkBrush("#ffd92f"), pen=_pen("#111111", 1.2)
        )
        self.true_point = pg.ScatterPlotItem(
            symbol="x", size=13, brush=pg.mkBrush("#1a9641"), pen=_pen("#ffffff", 0.8)
        )
        self.current = pg.ScatterPlotItem(
            symbol="o", size=11, brush=pg.mkBrush("#ffffff"), pen=_pen("#111111", 1.5)
        )
        self.full_shaft = pg.PlotDataItem(pen=_pen(FULL_COLOR, 2.5))
        self.batch_shaft = pg.PlotDataItem(pen=_pen(BATCH_COLOR, 2.5, QtCore.Qt.PenStyle.DashLine))
        self.full_head = pg.ArrowItem(
            angle=0, headLen=13, tipAngle=32, tailLen=None, pen=None, brush=FULL_COLOR
        )
        self.batch_head = pg.ArrowItem(
            angle=0, headLen=13, tipAngle=32, tailLen=None, pen=None, brush=BATCH_COLOR
        )
        for z, item in enumerate(
            (
                self.path,
                self.true_point,
                self.minimum,
                self.full_shaft,
                self.batch_shaft,
                self.full_head,
                self.batch_head,
                self.current,
            )
        ):
            item.setZValue(z)
            pi.addItem(item)
        self.legend = pg.LegendItem(
            offset=(-10, 10),
            labelTextColor=TEXT,
            brush=pg.mkBrush(255, 255, 255, 215),
            pen=pg.mkPen("#bbbbbb"),
            verSpacing=-4,
        )
        self.legend.setParentItem(pi.getViewBox())
        self.legend.setZValue(100)
        self._legend_key: tuple[str, ...] = ()
        pi.getViewBox().sigResized.connect(self._fit_legend)

        self._info: RunInfo | None = None
        self._d = 0
        self._n_params = 0
        self._pair: tuple[int, int] = (0, 0)  # (i, i) in the 1-D case
        self._theta = np.zeros(0)  # current [w..., b], trained units: the held values
        self._grid_theta = np.zeros(0)  # held values of the last grid
        self._min_theta = np.zeros(0)  # minimum of the objective, trained units
        self._true = np.zeros(0)  # true [w..., b] in trained units, or empty
        self._spans = np.zeros(0)  # per-parameter axis span, for the drift test
        self._range: tuple[tuple[float, float], tuple[float, float]] = ((0, 1), (0, 1))
        self._u = self._v = np.zeros(0)
        self._z = np.zeros((0, 0))
        self._curve_coef = np.zeros(3)  # 1-D objective a*w^2 + b*w + c
        self._last_grid_time = -math.inf
        self._last: Snapshot | None = None
        self.grid_seconds = 0.0  # duration of the last grid computation and image update
        self._timer = QtCore.QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._maybe_regrid)
        self.x_combo.currentIndexChanged.connect(lambda _: self._combo_changed(0))
        self.y_combo.currentIndexChanged.connect(lambda _: self._combo_changed(1))
        vb = pi.getViewBox()
        vb.sigRangeChanged.connect(self._place_heads)
        vb.sigResized.connect(self._place_heads)
        self._heads: list[tuple[pg.ArrowItem, float, float, float, float]] = []
        self._show_2d(True)

    # ---- public API ----------------------------------------------------------------
    def set_run(self, info: RunInfo) -> None:
        """Show a new run: its landscape over the default pair, with nothing drawn on it yet."""
        if info.stats is None or info.ols_trained.size == 0:
            raise ValueError("RunInfo lacks the statistics a landscape needs (use run_info)")
        self._timer.stop()
        self._info = info
        self._last = None
        d = self._d = info.stats.n_features
        self._n_params = d + 1 if info.fit_bias else d
        self._theta = np.asarray(info.initial_trained, dtype=np.float64).copy()
        if self._theta.size != d + 1:
            self._theta = np.zeros(d + 1)
        self._min_theta = self._objective_minimum(info)
        self._true = np.zeros(0)
        if info.true_theta is not None and info.shift.size == d:
            t = np.asarray(info.true_theta, dtype=np.float64)
            self._true = np.append(t[:-1] * info.scale, t[-1] + t[:-1] @ info.shift)
        ranges = [self._param_range(k) for k in range(d + 1)]
        self._spans = np.array([hi - lo for lo, hi in ranges])
        names = self._labels()
        for combo in (self.x_combo, self.y_combo):
            with QtCore.QSignalBlocker(combo):
                combo.clear()
                combo.addItems(names[: self._n_params])
        self.chooser.setVisible(self._n_params > 2)
        for item in (self.path, self.current, self.full_shaft, self.batch_shaft):
            item.setData([], [])
        self._heads = []
        self.full_head.hide()
        self.batch_head.hide()
        # Default pair: first weight and bias; two weights without a bias; one weight alone.
        if self._n_params == 1:
            self._set_pair((0, 0))
        else:
            self._set_pair((0, d) if info.fit_bias else (0, 1))

    def update_snapshot(self, snap: Snapshot) -> None:
        """Draw the live path, current point and gradients; re-grid if held values drifted."""
        self._last = snap
        if self._info is None:
            return
        theta = np.asarray(snap.theta_trained, dtype=np.float64)
        if theta.size == self._d + 1 and np.isfinite(theta).all():
            self._theta = theta.copy()
        self._draw_live(snap)
        self._maybe_regrid()

    def grid_params(self) -> tuple[int, int]:
        """Indices (x axis, y axis) into [w..., b] of the shown pair ((0, 0) for a 1-D curve)."""
        return self._pair

    def grid(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The last grid: u (x axis values), v (y axis values), loss[row=v, col=u].

        For a one-parameter problem v is empty and loss is the 1-D curve."""
        return self._u.copy(), self._v.copy(), self._z.copy()

    def set_pair(self, i: int, j: int) -> None:
        """Show the landscape over parameters i (x axis) and j (y axis), as the combos do."""
        if self._info is None or self._n_params < 2:
            return
        if not (0 <= i < self._n_params and 0 <= j < self._n_params and i != j):
            raise ValueError(f"invalid parameter pair ({i}, {j}) of {self._n_params}")
        self._set_pair((i, j))

    def reset_view(self) -> None:
        """Return to the range of the current grid after the user panned or zoomed."""
        (x0, x1), (y0, y1) = self._range
        self.plotItem.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)

    def export_png(self, path: str | Path, width: int | None = None) -> None:
        """Write the plot as PNG (optionally width pixels wide), atomically."""
        self._settle_layout()
        export_plot_png(self.plotItem, path, width)

    def export_svg(self, path: str | Path) -> None:
        """Write the plot as SVG, atomically."""
        self._settle_layout()
        export_plot_svg(self.plotItem, path)

    # ---- grid --------------------------------------------------------------------
    def _set_pair(self, pair: tuple[int, int]) -> None:
        info = self._info
        assert info is not None
        self._pair = pair
        i, j = pair
        one_d = i == j
        self._show_2d(not one_d)
        if not one_d:
            with QtCore.QSignalBlocker(self.x_combo), QtCore.QSignalBlocker(self.y_combo):
                self.x_combo.setCurrentIndex(i)
                self.y_combo.setCurrentIndex(j)
        x_range = self._param_range(i, with_path=True)
        if one_d:
            self._range = (x_range, (0.0, 1.0))
        else:
            self._range = self._squared(x_range, self._param_range(j, with_path=True))
        names = self._labels()
        suffix = " (standardised)" if self._standardised() else ""
        pi = self.plotItem
        pi.setLabel("bottom", names[i] + suffix, color=TEXT)
        kind = "½·MSE" if info.loss_kind == "half_mse" else "MSE"
        penalty = " + L2 penalty" if info.l2_penalty else ""
        if one_d:
            pi.setLabel("left", f"loss ({kind}{penalty})", color=TEXT)
            pi.setTitle(
                f"Loss landscape ({kind}{penalty}): one parameter, no bias", color=TEXT, size="11pt"
            )
        else:
            pi.setLabel("left", names[j] + suffix, color=TEXT)
            held = "others held at current values" if self._n_params > 2 else None
            pi.setTitle(_title(f"Loss landscape ({kind}{penalty})", held), color=TEXT, size="11pt")
        self._compute_grid()
        self._fill_legend()
        self._place_legend()
        self.reset_view()
        if self._last is not None:
            self._draw_live(self._last)
        else:
            self._draw_point(self._theta)

    def _compute_grid(self) -> None:
        info = self._info
        assert info is not None and info.stats is not None
        t0 = time.perf_counter()
        i, j = self._pair
        th = self._theta
        (x0, x1), (y0, y1) = self._range
        if i == j:
            self._compute_curve(x0, x1)
            self.grid_seconds = time.perf_counter() - t0
            self._grid_theta = th.copy()
            self._last_grid_time = time.perf_counter()
            return
        u = np.linspace(x0, x1, GRID)
        v = np.linspace(y0, y1, GRID)
        z = info.stats.loss_grid(th[:-1], float(th[-1]), i, j, u, v, info.loss_kind)
        if info.l2_penalty:
            held = [k for k in range(self._n_params) if k not in (i, j)]
            z += info.l2_penalty * (
                u[None, :] ** 2 + v[:, None] ** 2 + float(np.sum(th[held] ** 2))
            )
        self._u, self._v, self._z = u, v, z
        # Colour and contours on a log scale of the excess over the global minimum: a quadratic
        # bowl spans decades, and a linear scale would show one flat valley.
        floor = self._objective(self._min_theta)
        excess = np.maximum(z - floor, 0.0)
        top = float(excess.max())
        tiny = max(top * 10.0**-DECADES, 1e-300)
        log = np.log10(excess + tiny)
        lo, hi = float(log.min()), float(log.max())
        if hi <= lo:
            hi = lo + 1.0
        du, dv = (x1 - x0) / (GRID - 1), (y1 - y0) / (GRID - 1)
        self.image.setImage(log, autoLevels=False)
        self.image.setRect(QtCore.QRectF(x0 - du / 2, y0 - dv / 2, x1 - x0 + du, y1 - y0 + dv))
        self.colorbar.setLevels((lo, hi))
        levels = np.linspace(lo, hi, N_CONTOURS + 2)[1:-1]
        cx, cy = contour_segments(u, v, log, levels)
        self.contours.setData(cx, cy)
        self.grid_seconds = time.perf_counter() - t0
        self._grid_theta = th.copy()
        self._last_grid_time = time.perf_counter()

    def _compute_curve(self, x0: float, x1: float) -> None:
        # One parameter: the objective is a*w^2 + b*w + c; three evaluations give it exactly.
        probe = np.array([-1.0, 0.0, 1.0])
        f = np.array([self._objective(np.array([p, 0.0])) for p in probe])
        a = 0.5 * (f[2] + f[0]) - f[1]
        b = 0.5 * (f[2] - f[0])
        self._curve_coef = np.array([a, b, f[1]])
        u = np.linspace(x0, x1, CURVE_POINTS)
        z = np.polyval(self._curve_coef, u)
        self._u, self._v, self._z = u, np.zeros(0), z
        self.curve.setData(u, z)
        marks = [z, np.polyval(self._curve_coef, self._theta[:1])]
        lo = min(float(np.min(m)) for m in marks)
        hi = max(float(np.max(m)) for m in marks)
        span = hi - lo if hi > lo else max(abs(hi), 1.0)
        lo = min(lo, 0.0) if lo >= 0 else lo
        self._range = ((x0, x1), (lo - 0.05 * span, hi + 0.05 * span))

    def _maybe_regrid(self) -> None:
        """Re-grid when a held parameter drifted, at most every RECOMPUTE_SECONDS."""
        if self._info is None or not self._drifted():
            return
        wait = self._last_grid_time + RECOMPUTE_SECONDS - time.perf_counter()
        if wait <= 0:
            self._compute_grid()
        elif not self._timer.isActive():
            # A paused run still gets a grid matching its final held values.
            self._timer.start(int(wait * 1000) + 1)

    def _drifted(self) -> bool:
        i, j = self._pair
        if i == j or self._grid_theta.size != self._theta.size:
            return False
        held = [k for k in range(self._n_params) if k not in (i, j)]
        if not held:
            return False
        moved = np.abs(self._theta[held] - self._grid_theta[held]) / self._spans[held]
        return bool(np.any(moved > DRIFT))

    # ---- live items ----------------------------------------------------------------
    def _draw_live(self, snap: Snapshot) -> None:
        info = self._info
        assert info is not None
        i, j = self._pair
        px = self._path_column(snap.param_values, i)
        if i != j:
            py = self._path_column(snap.param_values, j)
        else:
            py = np.polyval(self._curve_coef, px)
            symbols = 0 < px.size <= MAX_PATH_SYMBOLS
            if symbols != self._path_symbols:
                self._path_symbols = symbols
                if symbols:
                    self.path.setSymbolSize(6)
                    self.path.setSymbolBrush(PATH_COLOR)
                    self.path.setSymbolPen(None)
                self.path.setSymbol("o" if symbols else None)
        self.path.setData(px, py)
        self._draw_point(self._theta)
        self._draw_arrows(snap)

    def _draw_point(self, theta: np.ndarray) -> None:
        x, y = self._point(theta)
        self.current.setData([x], [y])

    def _draw_arrows(self, snap: Snapshot) -> None:
        i, j = self._pair
        x, y = self._point(self._theta)
        (x0, x1), (y0, y1) = self._range
        grads = []
        for g in (snap.full_grad, snap.batch_grad):
            g = np.asarray(g, dtype=np.float64)
            if g.size != self._d + 1 or not np.isfinite(g).all():
                grads.append(None)
                continue
            # The step direction: minus the gradient, projected on the shown parameters.
            grads.append((-float(g[i]), 0.0 if i == j else -float(g[j])))
        # One scale for both, so their relative lengths show how noisy the minibatch is.
        norms = [math.hypot(g[0] / (x1 - x0), g[1] / (y1 - y0)) for g in grads if g is not None]
        longest = max(norms, default=0.0)
        self._heads = []
        for g, shaft, head in (
            (grads[0], self.full_shaft, self.full_head),
            (grads[1], self.batch_shaft, self.batch_head),
        ):
            if g is None or longest <= 0.0:
                shaft.setData([], [])
                head.hide()
                continue
            k = ARROW_FRACTION / longest
            tx, ty = x + k * g[0], y + k * g[1]
            shaft.setData([x, tx], [y, ty])
            if g == (0.0, 0.0):
                head.hide()
                continue
            self._heads.append((head, tx, ty, g[0], g[1]))
        self._place_heads()

    def _place_heads(self, *_: object) -> None:
        # Arrow heads are drawn in pixels: their angle follows the view's current aspect.
        if not self._heads:
            return
        sx, sy = self.plotItem.getViewBox().viewPixelSize()
        for head, tx, ty, dx, dy in self._heads:
            if sx <= 0 or sy <= 0:
                head.hide()
                continue
            # ArrowItem points left at angle 0 and turns clockwise on screen (y down).
            angle = math.degrees(math.atan2(dy / sy, -dx / sx))
            head.setStyle(angle=angle)
            head.setPos(tx, ty)
            head.show()

    # ---- helpers -----------------------------------------------------------------
    def _show_2d(self, on: bool) -> None:
        self.image.setVisible(on)
        self.colorbar.setVisible(on)
        self.contours.setVisible(on)
        self.curve.setVisible(not on)
        if on and self._path_symbols:
            self._path_symbols = False
            self.path.setSymbol(None)

    def _fill_legend(self) -> None:
        info = self._info
        assert info is not None
        i, j = self._pair
        name = "least squares" if not info.l2_penalty else "minimum (with L2)"
        entries = [(self.curve, "loss")] if i == j else []
        entries += [
            (self.path, "optimizer path"),
            (self.current, "current"),
            (self.minimum, name),
        ]
        if self._true.size:
            entries.append((self.true_point, "true"))
        entries += [
            (self.full_shaft, "−gradient, full batch"),
            (self.batch_shaft, "−gradient, minibatch"),
        ]
        self._show_key(entries)

    def _show_key(self, entries: list[tuple[object, str]]) -> None:
        """Put entries in the legend, and the minimum and true point on the map."""
        # Rebuilding the legend costs more than the grid: only when its entries change.
        key = tuple(label for _, label in entries)
        if key != self._legend_key:
            self._legend_key = key
            self.legend.clear()
            for item, label in entries:
                self.legend.addItem(item, label)
            self._fit_legend()
        mx, my = self._point(self._min_theta)
        self.minimum.setData([mx], [my])
        if self._true.size:
            tx, ty = self._point(self._true)
            self.true_point.setData([tx], [ty])
        else:
            self.true_point.setData([], [])

    def _fit_legend(self, *_: object) -> None:
        """One column, two, or none: the key never covers much of the map."""
        shown = fit_legend(self.legend, self.plotItem.getViewBox())
        self.plot.setToolTip("" if shown else f"{HIDDEN_HINT} Press ? for what each mark means.")

    def _place_legend(self) -> None:
        """Put the legend in the corner farthest from what is drawn (checked once per grid)."""
        info = self._info
        assert info is not None
        i, j = self._pair
        start, end = info.initial_trained, self._min_theta
        marks = [self._point(start + t * (end - start)) for t in np.linspace(0.0, 1.0, 21)]
        marks.append(self._point(self._theta))
        if self._true.size:
            marks.append(self._point(self._true))
        xs = [np.array([m[0] for m in marks])]
        ys = [np.array([m[1] for m in marks])]
        if self._last is not None:
            px = self._path_column(self._last.param_values, i)
            py = (
                np.polyval(self._curve_coef, px)
                if i == j
                else self._path_column(self._last.param_values, j)
            )
            xs.append(px)
            ys.append(py)
        if i == j:
            xs.append(self._u)
            ys.append(self._z)
        (x0, x1), (y0, y1) = self._range
        fx = (np.concatenate(xs) - x0) / (x1 - x0)
        fy = (np.concatenate(ys) - y0) / (y1 - y0)
        best, offset = -1.0, (-10, 10)
        # Top right first: on ties it wins.
        for cx, cy, off in (
            (1, 1, (-10, 10)),
            (0, 1, (10, 10)),
            (1, 0, (-10, -10)),
            (0, 0, (10, -10)),
        ):
            gap = np.maximum(np.abs(fx - cx), np.abs(fy - cy))
            gap = float(gap[np.isfinite(gap)].min(initial=2.0))
            if gap > best + 1e-9:
                best, offset = gap, off
        self.legend.setOffset(offset)

    def _point(self, theta: np.ndarray) -> tuple[float, float]:
        """Where a [w..., b] point (trained units) is drawn."""
        i, j = self._pair
        x = float(theta[i])
        y = float(np.polyval(self._curve_coef, x)) if i == j else float(theta[j])
        return x, y

    def _path_column(self, values: np.ndarray, k: int) -> np.ndarray:
        """Parameter k along a path given in original units, in trained units."""
        info = self._info
        assert info is not None
        d = self._d
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != d + 1:
            return np.zeros(0)
        if k == d:
            return values[:, d] + values[:, :d] @ info.shift
        return values[:, k] * info.scale[k]

    def _objective(self, theta: np.ndarray) -> float:
        info = self._info
        assert info is not None and info.stats is not None
        value = info.stats.loss(theta[:-1], float(theta[-1]), info.loss_kind)
        if info.l2_penalty:
            value += info.l2_penalty * float(np.sum(theta[: self._n_params] ** 2))
        return value

    def _objective_minimum(self, info: RunInfo) -> np.ndarray:
        ols = np.asarray(info.ols_trained, dtype=np.float64)
        if not info.l2_penalty:
            return ols
        assert info.stats is not None
        # objective = c * (mse + (l2 / c) |theta|^2): ridge with l2 / c.
        c = 0.5 if info.loss_kind == "half_mse" else 1.0
        w, b = ridge(info.stats, info.l2_penalty / c, info.fit_bias)
        return np.append(w, b)

    def _param_range(self, k: int, with_path: bool = False) -> tuple[float, float]:
        """Axis range of parameter k: the minimum, start, true value (and path) plus margins."""
        info = self._info
        assert info is not None and info.stats is not None
        marks = [self._min_theta[k], info.initial_trained[k]]
        if self._true.size:
            marks.append(self._true[k])
        if with_path and self._last is not None:
            col = self._path_column(self._last.param_values, k)
            col = col[np.isfinite(col)]
            if col.size:
                marks += [float(col.min()), float(col.max())]
        marks = [m for m in marks if math.isfinite(m)]
        lo, hi = min(marks), max(marks)
        # At least half the distance over which the loss rises by the start's excess (or by the
        # minimum loss itself), so a run starting at the minimum still shows a bowl.
        stats = info.stats
        c = 0.5 if info.loss_kind == "half_mse" else 1.0
        second = 1.0 if k == self._d else float(stats.cxx[k, k] + stats.x_mean[k] ** 2)
        curvature = 2.0 * c * second + 2.0 * info.l2_penalty
        rise = self._objective(info.initial_trained) - self._objective(self._min_theta)
        if not rise > 0:
            rise = max(self._objective(self._min_theta), 1e-6)
        least = 0.5 * math.sqrt(2.0 * rise / curvature) if curvature > 0 else 1.0
        span = max(hi - lo, least, 1e-9 * max(abs(lo), abs(hi)))
        mid = 0.5 * (lo + hi)
        half = 0.5 * span * (1.0 + 2.0 * MARGIN)
        return mid - half, mid + half

    @staticmethod
    def _squared(
        xr: tuple[float, float], yr: tuple[float, float]
    ) -> tuple[tuple[float, float], tuple[float, float]]:
        """Give both axes the larger span when they are comparable, so shapes are true."""
        sx, sy = xr[1] - xr[0], yr[1] - yr[0]
        if max(sx, sy) > SQUARE_RATIO * min(sx, sy):
            return xr, yr
        s = max(sx, sy)
        cx, cy = 0.5 * (xr[0] + xr[1]), 0.5 * (yr[0] + yr[1])
        return (cx - s / 2, cx + s / 2), (cy - s / 2, cy + s / 2)

    def _labels(self) -> list[str]:
        info = self._info
        assert info is not None
        return [f"w[{n}]" for n in info.feature_names[: self._d]] + ["bias"]

    def _standardised(self) -> bool:
        info = self._info
        assert info is not None
        return bool(np.any(info.shift != 0.0) or np.any(info.scale != 1.0))

    def _combo_changed(self, axis: int) -> None:
        if self._info is None or self._n_params < 2:
            return
        i, j = self._pair
        # Combo positions are parameter indices: weights in order, then the bias.
        x, y = self.x_combo.currentIndex(), self.y_combo.currentIndex()
        if x < 0 or y < 0:
            return
        if x == y:
            # Picking the other axis' parameter swaps the two.
            if axis == 0:
                y = i
            else:
                x = j
        if (x, y) != self._pair:
            self._set_pair((x, y))

    def _settle_layout(self) -> None:
        # A never-shown widget keeps its first layout after resize(); grab() delivers it.
        if self.testAttribute(QtCore.Qt.WidgetAttribute.WA_PendingResizeEvent):
            self.grab()


class MultiPathLandscapeView(LandscapeView):
    """The landscape with several runs' paths overlaid in distinct colours, with a legend.

    Used by the optimizer race: all runs share the data and the start, so one landscape serves
    them all. With more than two parameters the others are held at their least-squares values
    (no single run's current values would be fair to the others). The single-run items (path,
    current point, gradient arrows) stay hidden; update_snapshot() is not used.
    """

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        # Distinct names: this view may live in the same window as the run's own landscape.
        self.setObjectName("raceLandscapePlot")
        self.plot.setObjectName("raceLandscapePlotWidget")
        self.x_combo.setObjectName("raceXParamCombo")
        self.y_combo.setObjectName("raceYParamCombo")
        for item in (self.path, self.current, self.full_shaft, self.batch_shaft):
            item.hide()
        self.start_point = pg.ScatterPlotItem(
            symbol="o", size=10, brush=pg.mkBrush("#ffffff"), pen=_pen("#111111", 1.5)
        )
        self.start_point.setZValue(20)
        self.plotItem.addItem(self.start_point)
        self._overlay_items: list[tuple[pg.PlotDataItem, QtWidgets.QGraphicsEllipseItem]] = []
        self._overlay_labels: list[str] = []
        self._overlay_paths: list[np.ndarray] = []
        self._fit: list[bool] = []  # paths the axes are widened to show (fit_paths)
        self._overlay_colors: list[str] = []
        self._path_width = 2.0
        # The grid image and contours change only with the grid; cached as device pixmaps, a
        # frame that moves the paths blits them instead of redrawing them.
        for item in (self.image, self.contours):
            item.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)

    # ---- public API ----------------------------------------------------------------
    def set_paths(self, labels: list[str], colors: list[str]) -> None:
        """Prepare one coloured path (and end marker) per label; clears any drawn paths."""
        for line, end in self._overlay_items:
            self.plotItem.removeItem(line)
            self.plotItem.removeItem(end)
        self._overlay_items = []
        for k, color in enumerate(colors[: len(labels)]):
            line = pg.PlotDataItem(pen=_pen(color, self._path_width))
            # A plain ellipse of fixed pixel size: moving it every frame is a setPos, where a
            # one-point ScatterPlotItem would rebuild its spots and bounds (~1 ms a frame each).
            end = QtWidgets.QGraphicsEllipseItem(-4.5, -4.5, 9, 9)
            end.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
            end.setBrush(pg.mkBrush(color))
            end.setPen(_pen("#ffffff", 1.2))
            end.hide()
            # Above the grid and contours (-20, -10), below the minimum's star (2) that they
            # all converge on; later runs over earlier ones.
            line.setZValue(-5 + 0.1 * k)
            end.setZValue(-3 + 0.1 * k)
            self.plotItem.addItem(line)
            self.plotItem.addItem(end, ignoreBounds=True)
            self._overlay_items.append((line, end))
        self._overlay_labels = list(labels)
        self._overlay_colors = list(colors)
        self._overlay_paths = [np.zeros((0, 0)) for _ in labels]
        self._fit = [False] * len(labels)
        self._legend_key = ()  # force a rebuild with the new entries
        if self._info is not None:
            self._fill_legend()

    def set_path_width(self, width: float) -> None:
        """Pen width of the paths in pixels (1 paints several times faster than anything wider:
        Qt draws 1-pixel lines without its stroker)."""
        self._path_width = float(width)
        for (line, _), color in zip(self._overlay_items, self._overlay_colors, strict=False):
            line.setPen(_pen(color, self._path_width))
        for sample, _ in self.legend.items:
            sample.update()  # legend samples draw the item's pen, but only when repainted

    def update_paths(self, paths: list[np.ndarray]) -> None:
        """Draw each run's path, given as rows [w..., b] in original units (as History keeps)."""
        self._overlay_paths = [np.asarray(p, dtype=np.float64) for p in paths]
        self._draw_overlay()

    def path_data(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The drawn x and y of path k (for tests and inspection)."""
        line, _ = self._overlay_items[k]
        x, y = line.getData()
        return (np.zeros(0), np.zeros(0)) if x is None else (np.asarray(x), np.asarray(y))

    def fit_paths(self, include: list[bool] | None = None) -> None:
        """Widen the axes to show the drawn paths whole (those with include[k] True)."""
        self._fit = list(include) if include is not None else [True] * len(self._overlay_paths)
        if self._info is not None:
            self._set_pair(self._pair)

    def path_labels(self) -> list[str]:
        """The labels of the overlaid paths, in order."""
        return list(self._overlay_labels)

    # ---- overrides -----------------------------------------------------------------
    def _param_range(self, k: int, with_path: bool = False) -> tuple[float, float]:
        lo, hi = super()._param_range(k, with_path)
        if not with_path or not any(self._fit):
            return lo, hi
        cols = [
            self._path_column(path, k)
            for path, keep in zip(self._overlay_paths, self._fit, strict=False)
            if keep
        ]
        cols = [c[np.isfinite(c)] for c in cols]
        cols = [c for c in cols if c.size]
        if not cols:
            return lo, hi
        p_lo = min(float(c.min()) for c in cols)
        p_hi = max(float(c.max()) for c in cols)
        if p_lo >= lo and p_hi <= hi:
            return lo, hi
        # The base range keeps MARGIN on each side of its marks; give the paths the same.
        span = max(hi, p_hi) - min(lo, p_lo)
        return min(lo, p_lo - MARGIN * span / 2), max(hi, p_hi + MARGIN * span / 2)

    def _compute_grid(self) -> None:
        # Held parameters sit at the minimum, the same slice for every run.
        if self._min_theta.size == self._theta.size:
            self._theta = self._min_theta.copy()
        super()._compute_grid()

    def _set_pair(self, pair: tuple[int, int]) -> None:
        super()._set_pair(pair)
        if self._n_params > 2 and self._info is not None:
            kind = "½·MSE" if self._info.loss_kind == "half_mse" else "MSE"
            penalty = " + L2 penalty" if self._info.l2_penalty else ""
            self.plotItem.setTitle(
                _title(f"Loss landscape ({kind}{penalty})", "others held at least squares"),
                color=TEXT,
                size="11pt",
            )
        self._draw_overlay()

    def _draw_live(self, snap: Snapshot) -> None:
        self._draw_overlay()

    def _draw_point(self, theta: np.ndarray) -> None:
        info = self._info
        if info is None:
            return
        x, y = self._point(np.asarray(info.initial_trained, dtype=np.float64))
        self.start_point.setData([x], [y])

    def _fill_legend(self) -> None:
        info = self._info
        assert info is not None
        i, j = self._pair
        name = "least squares" if not info.l2_penalty else "minimum (with L2)"
        entries: list[tuple[object, str]] = [(self.curve, "loss")] if i == j else []
        entries += [(self.start_point, "start"), (self.minimum, name)]
        if self._true.size:
            entries.append((self.true_point, "true"))
        entries += [
            (line, label)
            for (line, _), label in zip(self._overlay_items, self._overlay_labels, strict=False)
        ]
        self._show_key(entries)

    def _draw_overlay(self) -> None:
        if self._info is None:
            return
        i, j = self._pair
        for (line, end), path in zip(self._overlay_items, self._overlay_paths, strict=False):
            px = self._path_column(path, i)
            if px.size == 0:
                line.setData([], [])
                end.hide()
                continue
            py = np.polyval(self._curve_coef, px) if i == j else self._path_column(path, j)
            line.setData(px, py)
            end.setPos(float(px[-1]), float(py[-1]))
            end.setVisible(bool(np.isfinite(px[-1]) and np.isfinite(py[-1])))
