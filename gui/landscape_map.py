"""The landscape map: the objective over a chosen pair of parameters, its minimum and the true
point, with a pair chooser and a legend. The run's landscape and the race's hold one and draw
their paths on it (gui/landscape.py).

The grid (core.landscape) costs about a millisecond whatever the number of samples; it is
still recomputed only when the run, the pair or (at most every RECOMPUTE_SECONDS) the held
parameters change, never per frame.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters  # registers pg.exporters
from PySide6 import QtCore, QtWidgets

from core.analysis import Objective, loss_label
from core.landscape import (
    Curve,
    Grid,
    Range,
    objective_of,
    param_range,
    squared,
    stepped_color_range,
    trained_column,
    trained_theta,
)
from core.runinfo import RunInfo
from gui.axes import ReadableAxis
from gui.export import PlotFiles
from gui.landscape_follow import MapFollowing
from gui.legend import HIDDEN_HINT, fit_legend
from gui.style import (
    NOTE_SIZE,
    TITLE_SIZE,
    Palette,
    palette_of,
    style_axis,
    style_plot,
)

RECOMPUTE_SECONDS = 0.5  # held parameters drifting re-grid at most this often
DRIFT = 0.01  # ... and only once one has moved by this fraction of its axis span

# What the parameters off the shown pair are held at.
HOLD_CURRENT, HOLD_MINIMUM = "current", "minimum"
_HELD_NOTE = {
    HOLD_CURRENT: "others held at current values",
    HOLD_MINIMUM: "others held at least squares",
}

Entry = tuple[object, str]  # a legend entry: an item and its label


def _title(text: str, note: str | None) -> str:
    """A plot title with an optional smaller second line (a narrow view would clip one line)."""
    return text if note is None else f"{text}<br><span style='font-size:{NOTE_SIZE}'>{note}</span>"


def _name(prefix: str, name: str) -> str:
    """An objectName with a prefix in camel case: ("race", "xParamCombo") -> raceXParamCombo."""
    return prefix + name[0].upper() + name[1:] if prefix else name


def _farthest_corner(fx: np.ndarray, fy: np.ndarray) -> tuple[int, int]:
    """The legend offset of the plot corner farthest from the points (fractions of the view)."""
    best, offset = -1.0, (-10, 10)
    # Top right first: on ties it wins.
    for cx, cy, off in ((1, 1, (-10, 10)), (0, 1, (10, 10)), (1, 0, (-10, -10)), (0, 0, (10, -10))):
        gap = np.maximum(np.abs(fx - cx), np.abs(fy - cy))
        gap = float(gap[np.isfinite(gap)].min(initial=2.0))
        if gap > best + 1e-9:
            best, offset = gap, off
    return offset


class PairChooser(QtWidgets.QWidget):
    """Two combos picking the parameters along x and y; picking the other axis' swaps them."""

    picked = QtCore.Signal(int, int)  # (x, y) parameter indices, distinct

    def __init__(self, prefix: str = "", parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        row = QtWidgets.QHBoxLayout(self)
        row.setContentsMargins(30, 2, 6, 0)  # room for the explain button
        self.x_combo = QtWidgets.QComboBox()
        self.x_combo.setObjectName(_name(prefix, "xParamCombo"))
        self.x_combo.setToolTip("Parameter along the horizontal axis")
        self.y_combo = QtWidgets.QComboBox()
        self.y_combo.setObjectName(_name(prefix, "yParamCombo"))
        self.y_combo.setToolTip("Parameter along the vertical axis")
        row.addWidget(QtWidgets.QLabel("Landscape x axis:"))
        row.addWidget(self.x_combo)
        row.addSpacing(12)
        row.addWidget(QtWidgets.QLabel("y axis:"))
        row.addWidget(self.y_combo)
        row.addStretch(1)
        self._pair = (0, 1)
        self.x_combo.currentIndexChanged.connect(lambda _: self._changed(0))
        self.y_combo.currentIndexChanged.connect(lambda _: self._changed(1))

    def set_names(self, names: list[str]) -> None:
        """Offer these parameters (combo positions are parameter indices)."""
        for combo in (self.x_combo, self.y_combo):
            with QtCore.QSignalBlocker(combo):
                combo.clear()
                combo.addItems(names)

    def show_pair(self, i: int, j: int) -> None:
        """Show the pair (i, j) without signalling."""
        self._pair = (i, j)
        with QtCore.QSignalBlocker(self.x_combo), QtCore.QSignalBlocker(self.y_combo):
            self.x_combo.setCurrentIndex(i)
            self.y_combo.setCurrentIndex(j)

    def _changed(self, axis: int) -> None:
        i, j = self._pair
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
            self.picked.emit(x, y)


def show_levels(colorbar: pg.ColorBarItem, color_range: Range) -> None:
    """Give the colour bar (and its image) the stepped scale of color_range, unless it has it
    already: relabelling the bar costs ~2 ms of a frame, at every change of a drag."""
    levels = stepped_color_range(color_range)
    if tuple(colorbar.levels()) != levels:
        colorbar.setLevels(levels)


class LandscapeMap(MapFollowing, PlotFiles, QtWidgets.QWidget):
    """The objective over two chosen parameters (a curve for one), its minimum and true point."""

    # A new pair or new ranges were drawn: owners redraw what they put on the map.
    pair_changed = QtCore.Signal()

    def __init__(
        self, prefix: str = "", hold: str = HOLD_CURRENT, parent: QtWidgets.QWidget | None = None
    ) -> None:
        super().__init__(parent)
        if hold not in _HELD_NOTE:
            raise ValueError(f"hold must be one of {', '.join(_HELD_NOTE)}, got {hold!r}")
        self._hold = hold
        self.setObjectName(_name(prefix, "landscapeMap"))
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.chooser = PairChooser(prefix)
        self.x_combo, self.y_combo = self.chooser.x_combo, self.chooser.y_combo
        layout.addWidget(self.chooser)
        self.chooser.hide()

        # No SI scale factor on either axis ("(x1e+09)" made values read wrong).
        self.plot = pg.PlotWidget(
            axisItems={"left": ReadableAxis("left"), "bottom": ReadableAxis("bottom")},
        )
        self.plot.setObjectName(_name(prefix, "landscapePlotWidget"))
        layout.addWidget(self.plot, 1)
        pi = self.plotItem = self.plot.plotItem
        pi.setTitle("Loss landscape", size=TITLE_SIZE)
        pi.enableAutoRange(False)
        pi.hideButtons()
        pi.setMenuEnabled(False, enableViewBoxMenu=True)

        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setZValue(-20)
        pi.addItem(self.image)
        # The palette's colour map: viridis lightened towards the background, so dark and
        # saturated marks read on every part of it.
        self.colorbar = pg.ColorBarItem(values=(0.0, 1.0), width=12, interactive=False)
        self.colorbar.setImageItem(self.image, insert_in=pi)
        self.bar_axis = self.colorbar.getAxis("right")
        self.bar_axis.enableAutoSIPrefix(False)
        self.bar_axis.setLabel("log₁₀(loss − minimum loss)")
        self.contours = pg.PlotCurveItem(connect="pairs")
        self.contours.setZValue(-10)
        pi.addItem(self.contours)
        # The map and its contours change only when the grid does, while the path and the
        # arrows move every frame: painted from a pixmap cache they cost a quarter less of
        # the view's frame (3.9 -> 3.0 ms at 1400x900).
        for item in (self.image, self.contours):
            item.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.curve = pg.PlotDataItem()  # the 1-D loss curve
        pi.addItem(self.curve)
        self.true_point = pg.ScatterPlotItem(symbol="x", size=13)
        self.true_point.setZValue(1)
        self.minimum = pg.ScatterPlotItem(symbol="star", size=20)
        self.minimum.setZValue(2)
        for item in (self.true_point, self.minimum):
            pi.addItem(item)
        self.legend = pg.LegendItem(offset=(-10, 10), verSpacing=-4)
        self.legend.setParentItem(pi.getViewBox())
        self.legend.setZValue(100)
        self._legend_key: tuple[tuple[int, str], ...] = ()
        pi.getViewBox().sigResized.connect(self._fit_legend)

        self._info: RunInfo | None = None
        self._objective: Objective | None = None
        self._d = 0
        self._n_params = 0
        self._pair: tuple[int, int] = (0, 0)  # (i, i) in the 1-D case
        self._held = np.zeros(0)  # [w..., b], trained units: values of the parameters not shown
        self._grid_theta = np.zeros(0)  # held values of the last grid
        self._min_theta = np.zeros(0)  # minimum of the objective, trained units
        self._true = np.zeros(0)  # true [w..., b] in trained units, or empty
        self._spans = np.zeros(0)  # per-parameter axis span, for the drift test
        self._range: tuple[Range, Range] = ((0.0, 1.0), (0.0, 1.0))
        self._grid: Grid | None = None
        self._curve: Curve | None = None
        self._range_paths: list[np.ndarray] = []  # paths (original units) the axes include
        self._last_grid_time = -math.inf
        self.grid_seconds = 0.0  # duration of the last grid computation and image update
        self.grids_computed = 0  # how many grids (or 1-D curves) the map has computed
        self._timer = QtCore.QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._maybe_regrid)
        self.chooser.picked.connect(self._picked)
        self._show_2d(True)
        self.set_palette(palette_of())

    def set_palette(self, palette: Palette) -> None:
        """Draw in palette's colours from now on: frame, colour map, contours and marks."""
        self._palette = palette
        style_plot(self.plot, palette, self.legend)
        style_axis(self.bar_axis, palette)
        self.colorbar.setColorMap(palette.colormap_lut())
        self.contours.setPen(palette.pen("contours", 1))
        self.curve.setPen(palette.pen("curve", 2))
        self.true_point.setBrush(palette.brush("true_point"))
        self.true_point.setPen(palette.pen("true_point_edge", 0.8))
        self.minimum.setBrush(palette.brush("minimum"))
        self.minimum.setPen(palette.pen("minimum_edge", 1.2))

    @property
    def palette_in_use(self) -> Palette:
        """The palette the map draws in."""
        return self._palette

    # ---- public API ----------------------------------------------------------------
    def set_run(self, info: RunInfo) -> None:
        """Show a new run's landscape over the default pair."""
        if info.stats is None or info.ols_trained.size == 0:
            raise ValueError("RunInfo lacks the statistics a landscape needs (use run_info)")
        self._timer.stop()
        self._info = info
        objective = self._objective = objective_of(info)
        d = self._d = objective.n_features
        self._n_params = objective.n_params
        self._held = np.asarray(info.initial_trained, dtype=np.float64).copy()
        if self._held.size != d + 1:
            self._held = np.zeros(d + 1)
        self._min_theta = objective.minimum(info.ols_trained)
        self._true = np.zeros(0)
        if info.true_theta is not None and info.shift.size == d:
            self._true = trained_theta(info.true_theta, info.shift, info.scale)
        self._range_paths = []
        ranges = [self._param_range(k) for k in range(d + 1)]
        self._spans = np.array([hi - lo for lo, hi in ranges])
        self.chooser.set_names(self.labels()[: self._n_params])
        self.chooser.setVisible(self._n_params > 2)
        # Default pair: first weight and bias; two weights without a bias; one weight alone.
        if self._n_params == 1:
            self._set_pair((0, 0))
        else:
            self._set_pair((0, d) if info.fit_bias else (0, 1))

    @property
    def info(self) -> RunInfo | None:
        """The run shown, or None before the first."""
        return self._info

    @property
    def n_params(self) -> int:
        """Parameters of the run shown (the weights, and the bias if fitted)."""
        return self._n_params

    def set_held(self, theta: np.ndarray) -> None:
        """Hold the parameters off the pair at theta ([w..., b], trained units); re-grid when
        they drifted, at most every RECOMPUTE_SECONDS. Ignored when held at the minimum."""
        theta = np.asarray(theta, dtype=np.float64)
        if self._info is None or self._hold != HOLD_CURRENT or theta.size != self._d + 1:
            return
        if np.isfinite(theta).all():
            self._held = theta.copy()
            self._maybe_regrid()

    def set_range_paths(self, paths: Sequence[np.ndarray]) -> None:
        """Paths ([w..., b] rows, original units) the axes take in at the next pair or refit."""
        self._range_paths = [np.asarray(p, dtype=np.float64) for p in paths]

    def refit(self) -> None:
        """Redraw the current pair with ranges that take in the range paths."""
        if self._info is not None:
            self._set_pair(self._pair)

    def grid_params(self) -> tuple[int, int]:
        """Indices (x axis, y axis) into [w..., b] of the shown pair ((0, 0) for a 1-D curve)."""
        return self._pair

    def grid(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The last grid: u (x axis values), v (y axis values), loss[row=v, col=u].

        For a one-parameter problem v is empty and loss is the 1-D curve."""
        if self._curve is not None and self.is_1d:
            return self._curve.u.copy(), np.zeros(0), self._curve.z.copy()
        if self._grid is None:
            return np.zeros(0), np.zeros(0), np.zeros((0, 0))
        return self._grid.u.copy(), self._grid.v.copy(), self._grid.z.copy()

    @property
    def is_1d(self) -> bool:
        """Whether a curve over one parameter is shown."""
        return self._pair[0] == self._pair[1]

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

    def view_ranges(self) -> tuple[Range, Range]:
        """The (x, y) ranges of the current grid."""
        return self._range

    def point(self, theta: np.ndarray) -> tuple[float, float]:
        """Where a [w..., b] point (trained units) is drawn (on the curve in 1-D)."""
        i, j = self._pair
        x = float(theta[i])
        if self.is_1d:
            return x, float(self._curve.at(x)) if self._curve is not None else math.nan
        return x, float(theta[j])

    def path_xy(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where a path of [w..., b] rows in original units is drawn."""
        info = self._info
        if info is None:
            return np.zeros(0), np.zeros(0)
        i, j = self._pair
        px = trained_column(values, i, info.shift, info.scale)
        if self.is_1d:
            return px, (self._curve.at(px) if self._curve is not None else np.zeros(0))
        return px, trained_column(values, j, info.shift, info.scale)

    def marker_entries(self) -> list[Entry]:
        """Legend entries of the map's own marks: the minimum and the true point."""
        info = self._info
        name = "minimum (with L2)" if info is not None and info.l2_penalty else "least squares"
        entries: list[Entry] = [(self.minimum, name)]
        if self._true.size:
            entries.append((self.true_point, "true"))
        return entries

    def show_key(self, entries: list[Entry]) -> None:
        """Put entries in the legend, after the loss curve's in 1-D."""
        if self.is_1d:
            entries = [(self.curve, "loss"), *entries]
        # Rebuilding the legend costs more than the grid: only when its entries change.
        key = tuple((id(item), label) for item, label in entries)
        if key != self._legend_key:
            self._legend_key = key
            self.legend.clear()
            for item, label in entries:
                self.legend.addItem(item, label)
            self._fit_legend()

    def labels(self) -> list[str]:
        """Axis names of the parameters: w[feature]... then bias."""
        info = self._info
        names = [] if info is None else info.feature_names[: self._d]
        return [f"w[{n}]" for n in names] + ["bias"]

    # ---- the pair and its grid ---------------------------------------------------------
    def _set_pair(self, pair: tuple[int, int]) -> None:
        info = self._info
        assert info is not None
        self._pair = pair
        i, j = pair
        one_d = i == j
        self._show_2d(not one_d)
        if not one_d:
            self.chooser.show_pair(i, j)
        x_range = self._param_range(i, with_paths=True)
        if one_d:
            self._range = (x_range, (0.0, 1.0))
        else:
            self._range = squared(x_range, self._param_range(j, with_paths=True))
        self._label_axes()
        self._compute_grid()
        mx, my = self.point(self._min_theta)
        self.minimum.setData([mx], [my])
        if self._true.size:
            tx, ty = self.point(self._true)
            self.true_point.setData([tx], [ty])
        else:
            self.true_point.setData([], [])
        self._place_legend()
        self.reset_view()
        self.pair_changed.emit()

    def _label_axes(self) -> None:
        info = self._info
        assert info is not None
        i, j = self._pair
        names = self.labels()
        standardised = bool(np.any(info.shift != 0.0) or np.any(info.scale != 1.0))
        suffix = " (standardised)" if standardised else ""
        pi = self.plotItem
        pi.setLabel("bottom", names[i] + suffix)
        kind = loss_label(info.loss_kind) + (" + L2 penalty" if info.l2_penalty else "")
        if i == j:
            pi.setLabel("left", f"loss ({kind})")
            title = f"Loss landscape ({kind}): one parameter, no bias"
        else:
            pi.setLabel("left", names[j] + suffix)
            held = _HELD_NOTE[self._hold] if self._n_params > 2 else None
            title = _title(f"Loss landscape ({kind})", held)
        pi.setTitle(title, size=TITLE_SIZE)

    def _param_range(self, k: int, with_paths: bool = False) -> Range:
        """Axis range of parameter k: minimum, start, true value (and range paths), margins."""
        info, objective = self._info, self._objective
        assert info is not None and objective is not None
        marks = [float(self._true[k])] if self._true.size else []
        if with_paths:
            for path in self._range_paths:
                col = trained_column(path, k, info.shift, info.scale)
                col = col[np.isfinite(col)]
                if col.size:
                    marks += [float(col.min()), float(col.max())]
        return param_range(objective, k, info.initial_trained, self._min_theta, marks)

    def _compute_grid(self) -> None:
        objective = self._objective
        assert objective is not None
        t0 = time.perf_counter()
        if self._hold == HOLD_MINIMUM:
            self._held = self._min_theta.copy()  # the same slice for every run of a race
        i, j = self._pair
        th = self._held
        if i == j:
            curve = self._curve = Curve.compute(objective, th, i, self._range[0])
            self.curve.setData(curve.u, curve.z)
            self._range = (self._range[0], curve.y_range(curve.at(th[i : i + 1])))
        else:
            floor = objective.value(self._min_theta)
            grid = self._grid = Grid.compute(objective, th, self._pair, self._range, floor)
            (x0, x1), (y0, y1) = self._range
            du, dv = (x1 - x0) / (grid.u.size - 1), (y1 - y0) / (grid.v.size - 1)
            self.image.setImage(grid.log, autoLevels=False)
            self.image.setRect(QtCore.QRectF(x0 - du / 2, y0 - dv / 2, x1 - x0 + du, y1 - y0 + dv))
            show_levels(self.colorbar, grid.color_range)
            self.contours.setData(*grid.segments)
        self.grid_seconds = time.perf_counter() - t0
        self.grids_computed += 1
        self._grid_theta = th.copy()
        self._last_grid_time = time.perf_counter()

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
        if i == j or self._grid_theta.size != self._held.size:
            return False
        held = [k for k in range(self._n_params) if k not in (i, j)]
        if not held:
            return False
        moved = np.abs(self._held[held] - self._grid_theta[held]) / self._spans[held]
        return bool(np.any(moved > DRIFT))

    def _picked(self, x: int, y: int) -> None:
        if self._info is not None and self._n_params >= 2:
            self._set_pair((x, y))

    # ---- helpers -----------------------------------------------------------------
    def _show_2d(self, on: bool) -> None:
        self.image.setVisible(on)
        self.colorbar.setVisible(on)
        self.contours.setVisible(on)
        self.curve.setVisible(not on)

    def _fit_legend(self, *_: object) -> None:
        """One column, two, or none: the key never covers much of the map."""
        shown = fit_legend(self.legend, self.plotItem.getViewBox())
        self.plot.setToolTip("" if shown else f"{HIDDEN_HINT} Press ? for what each mark means.")

    def _place_legend(self) -> None:
        """Put the legend in the corner farthest from what is drawn (checked once per grid)."""
        info = self._info
        assert info is not None
        start, end = info.initial_trained, self._min_theta
        marks = [self.point(start + t * (end - start)) for t in np.linspace(0.0, 1.0, 21)]
        marks.append(self.point(self._held))
        if self._true.size:
            marks.append(self.point(self._true))
        xs = [np.array([m[0] for m in marks])]
        ys = [np.array([m[1] for m in marks])]
        for path in self._range_paths:
            px, py = self.path_xy(path)
            xs.append(px)
            ys.append(py)
        if self.is_1d and self._curve is not None:
            xs.append(self._curve.u)
            ys.append(self._curve.z)
        (x0, x1), (y0, y1) = self._range
        fx = (np.concatenate(xs) - x0) / (x1 - x0)
        fy = (np.concatenate(ys) - y0) / (y1 - y0)
        self.legend.setOffset(_farthest_corner(fx, fy))

    def _settle_layout(self) -> None:
        # A never-shown widget keeps its first layout after resize(); grab() delivers it.
        for widget in (self.window(), self):
            if widget.testAttribute(QtCore.Qt.WidgetAttribute.WA_PendingResizeEvent):
                widget.grab()
