"""Plot views: loss, fit and parameters. Each draws what it is given and holds no training state.

The look, the managed axis ranges and export are gui.plot_base.PlotView's.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets
from PySide6.QtCore import QTimer

from core.analysis import loss_label
from core.decimate import even_indices
from core.runinfo import RunInfo
from core.snapshot import Snapshot
from core.trainer_record import is_divergence
from gui.fit_follow import FitFollowing
from gui.label_place import clear_change_labels
from gui.plot_base import (
    LOG_FALLBACK,
    PAD,
    SHRINK,
    PlotView,
    finite_bounds,
    needs_refit,
    padded,
)
from gui.series_item import add_series, move_points
from gui.style import DASH, DOT, Palette, style_line_label

# The views, and the base's names that other modules take from here.
__all__ = [
    "LOG_FALLBACK",
    "PAD",
    "SHRINK",
    "FitView",
    "LossView",
    "ParamView",
    "PlotView",
    "finite_bounds",
    "needs_refit",
    "padded",
]


MAX_MARKERS = 100  # event markers kept; older ones are dropped so frames stay cheap
# Heights (share of the plot, from the bottom) of the two labels a loss plot keeps: below the
# legend along the top, and apart from each other.
CHANGE_LABEL_AT, DIVERGED_LABEL_AT = 0.35, 0.15
MAX_EPOCH_SYMBOLS = 60  # epoch points drawn with a dot up to this many
# Moving scatter points cost ~1 us each per frame (pyqtgraph rebuilds per-point styles):
# predicted-vs-actual redraws an evenly spread subset of at most this many.
MAX_LIVE_POINTS = 2000
# ... and leaves them alone while no prediction moves more than this fraction of the shown
# range (well under a pixel): a converging run then redraws only the highlighted minibatch.
LIVE_TOLERANCE = 1e-3
LEGEND_COLUMNS = 6  # parameter legend entries per row
FIT_LEGEND_COLUMNS = 3  # fit legend entries per row
MAX_LEGEND_PARAMS = 18  # three rows: with more, the legend names only the bias


class LossView(PlotView):
    """Minibatch, epoch-train and validation loss against step, with events and a noise floor."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("lossPlot", "Loss", parent)
        pi = self.plotItem
        pi.setLabel("bottom", "step")
        pi.setLabel("left", "loss")
        self.batch_curve = add_series(pi, name="minibatch loss")
        # symbolSize etc. alone would switch dots on; they are toggled per frame count.
        self.train_curve = add_series(pi, name="train loss (epoch)", symbol=None, symbolSize=7)
        self.val_curve = add_series(pi, symbol=None, symbolSize=7)
        self._epoch_symbols = False
        self._val_in_legend = False
        # One row along the top, above the curves (in a corner it covered them in a small window).
        self._legend_on_top(3)
        self.floor_line = pg.InfiniteLine(
            angle=0,
            label="noise floor",
            # Left end, on the side facing the view's centre: the loss starts far above its
            # floor, while at the right end the curves reach the line and hid the label's end.
            labelOpts={"position": 0.02, "anchors": [(0, 0), (0, 1)]},
        )
        # Above the curves, so its label (white-filled) stays readable where they cross it.
        self.floor_line.setZValue(5)
        pi.addItem(self.floor_line, ignoreBounds=True)
        self.floor_line.hide()
        self.cursor_line = pg.InfiniteLine(angle=90)
        pi.addItem(self.cursor_line, ignoreBounds=True)
        self.cursor_line.hide()
        self.markers: deque[pg.InfiniteLine] = deque()
        # Once the view has moved, change labels clear the floor's and plateau's (gui/label_place).
        self._unclutter = QTimer(self, singleShot=True, interval=0)
        self._unclutter.timeout.connect(lambda: clear_change_labels(self.plotItem, self.markers))
        pi.getViewBox().sigTransformChanged.connect(self._unclutter.start)
        self._marker_steps: deque[int] = deque()  # the step of each marker, in order
        self._cursor_step = 0
        self._events_drawn = 0
        self._log_y = False
        self._floor = math.nan
        self._initial = math.nan
        self._planned = 1.0
        self._set_steps_x(10.0)
        self._set_y(*padded(0.0, 1.0))
        self._style_items(self._palette)

    def _style_items(self, palette: Palette) -> None:
        p = palette
        self.batch_curve.setPen(p.pen("minibatch", 1))
        for curve, role, width in (
            (self.train_curve, "epoch_train", 3),
            (self.val_curve, "validation", 2),
        ):
            curve.setPen(p.pen(role, width))
            curve.setSymbolBrush(p.brush(role))
            curve.setSymbolPen(p.pen("background", 1))
        self.floor_line.setPen(p.pen("noise_floor", 2, DASH))
        style_line_label(self.floor_line, p.noise_floor, p)
        self.cursor_line.setPen(p.pen("reference", 1))
        for marker in self.markers:
            self._style_marker(marker, p)

    @staticmethod
    def _style_marker(marker: pg.InfiniteLine, palette: Palette) -> None:
        color = palette.diverged if is_divergence(marker.label.format) else palette.event
        marker.setPen(palette.pen(color, 1.5, DASH))
        style_line_label(marker, color, palette)

    def set_run(self, info: RunInfo) -> None:
        """Start over for a new run: clear curves and markers, place the noise floor."""
        for curve in (self.batch_curve, self.train_curve, self.val_curve):
            curve.setData([], [])
        self._show_val(False)
        for marker in self.markers:
            self.plotItem.removeItem(marker)
        self.markers.clear()
        self._marker_steps.clear()
        self._events_drawn = 0
        self._last = None
        self._follow = True
        self._floor = float(info.noise_floor)
        self.floor_line.label.setFormat(info.floor_label)
        self._initial = float(info.initial_loss)
        self._planned = float(max(info.total_steps, 1))
        self.plotItem.setLabel("left", f"loss ({loss_label(info.loss_kind)})")
        self._place_floor()
        self._x_shown = self._y_shown = None
        self._set_steps_x(float(max(min(info.n_batches, info.total_steps), 1)))
        self._keep_y(self._y_bounds(np.array([self._initial])))

    def follow_data(self, info: RunInfo) -> None:
        """The run's data moved under it: move the floor line; curves and markers stay."""
        self._floor = float(info.noise_floor)
        self.floor_line.label.setFormat(info.floor_label)
        self._place_floor()

    def set_log_y(self, on: bool) -> None:
        """Show the loss on a log10 axis (True) or a linear one."""
        if on == self._log_y:
            return
        self._log_y = on
        x_shown = self._x_shown
        self.plotItem.setLogMode(x=self._log_x, y=on)
        # setLogMode switches autorange back on (every later frame would pay for it).
        self.plotItem.enableAutoRange(False)
        self._place_floor()
        self._x_shown = self._y_shown = None
        if x_shown is not None:
            self._set_x(*x_shown)
        if self._last is not None:
            self.update_snapshot(self._last)
        elif math.isfinite(self._initial):
            self._keep_y(self._y_bounds(np.array([self._initial])))

    @property
    def log_y(self) -> bool:
        """Whether the loss axis is logarithmic."""
        return self._log_y

    def set_log_steps(self, on: bool) -> None:
        """Show the step on a log10 axis (True; drawn from step 1) or a linear one."""
        self._set_log_steps(on, self._log_y)

    def _place_step_items(self) -> None:
        for marker, step in zip(self.markers, self._marker_steps, strict=True):
            marker.setPos(self._x_of(step))
        self.cursor_line.setPos(self._x_of(self._cursor_step))

    def mark_event(self, step: int, text: str) -> None:
        """Draw a dashed vertical line at a step (e.g. 'lr 0.03 -> 0.1'). Only the newest
        change and a divergence keep their label on the plot, low down and apart, so labels
        never print over each other or over the legend along the top; every marker says its
        text on hover."""
        diverged = is_divergence(text)
        for older in self.markers:
            if not is_divergence(older.label.format):
                older.label.setVisible(False)
        marker = pg.InfiniteLine(
            pos=self._x_of(step),
            angle=90,
            label=text,
            labelOpts={
                "position": DIVERGED_LABEL_AT if diverged else CHANGE_LABEL_AT,
                # pyqtgraph picks the side facing the view's centre, so labels at the right
                # edge (e.g. 'diverged' on a stopped run) are not clipped.
                "anchors": [(0, 0.5), (1, 0.5)],
            },
        )
        marker.setToolTip(f"step {step:,}: {text}")
        marker.setAcceptHoverEvents(True)
        self._style_marker(marker, self._palette)
        self.plotItem.addItem(marker, ignoreBounds=True)
        self.markers.append(marker)
        self._marker_steps.append(int(step))
        if len(self.markers) > MAX_MARKERS:
            self.plotItem.removeItem(self.markers.popleft())
            self._marker_steps.popleft()
        self._unclutter.start()

    def marker_labels(self) -> list[str]:
        """The marker labels shown on the plot (the others say theirs on hover)."""
        return [m.label.format for m in self.markers if m.label.isVisible()]

    def event_count(self) -> int:
        """Number of event markers currently drawn."""
        return len(self.markers)

    def set_cursor(self, step: int | None) -> None:
        """Show a vertical line at a step, or hide it for None."""
        if step is None:
            self.cursor_line.hide()
        else:
            self._cursor_step = int(step)
            self.cursor_line.setPos(self._x_of(step))
            self.cursor_line.show()

    def update_snapshot(self, snap: Snapshot) -> None:
        """Draw the loss series of a snapshot and any events not yet marked."""
        self._last = snap
        batch_x, batch_y = self._drawn_steps(snap.loss_steps, snap.loss_values)
        epoch_x, train_y, val_y = self._drawn_steps(
            snap.epoch_steps, snap.epoch_train, snap.epoch_val
        )
        has_val = val_y.size > 0 and bool(np.isfinite(val_y).any())
        if self._log_y:
            # log10 of zero or a negative loss is -inf/nan: show those at the smallest positive.
            tiny = self._smallest_positive(batch_y, train_y, val_y)
            batch_y = np.maximum(batch_y, tiny)
            train_y = np.maximum(train_y, tiny)
            val_y = np.maximum(val_y, tiny)
        # Dots show how sparse epoch values are; past a few dozen they only clutter and cost.
        symbols = 0 < epoch_x.size <= MAX_EPOCH_SYMBOLS
        if symbols != self._epoch_symbols:
            self._epoch_symbols = symbols
            for curve in (self.train_curve, self.val_curve):
                curve.setSymbol("o" if symbols else None)
        self.batch_curve.setData(batch_x, batch_y)
        self.train_curve.setData(epoch_x, train_y)
        if has_val:
            self.val_curve.setData(epoch_x, val_y)
        elif self._val_in_legend:
            self.val_curve.setData([], [])
        self._show_val(has_val)
        for step, text in snap.events[self._events_drawn :]:
            self.mark_event(step, text)
        self._events_drawn = len(snap.events)
        last = float(snap.loss_steps[-1]) if snap.loss_steps.size else float(snap.step)
        self._keep_steps_x(
            max(last, float(snap.step)), self._planned, snap.stopped_reason is not None
        )
        self._keep_y(self._y_bounds(batch_y, train_y, val_y if has_val else np.zeros(0)))

    # ---- helpers -----------------------------------------------------------------
    def _show_val(self, on: bool) -> None:
        """Add or remove the legend's validation entry; only a change relays the legend (it
        was refitted every frame)."""
        if on == self._val_in_legend:
            return
        if on:
            self.legend.addItem(self.val_curve, "validation loss")
        else:
            self.legend.removeItem(self.val_curve)
        self._val_in_legend = on
        if self._fit_top_legend():
            self._y_shown = None  # the headroom changed: the next _keep_y refits y

    def _place_floor(self) -> None:
        # InfiniteLine ignores log mode, so its position is given in the axis' own units.
        floor = self._floor
        if not math.isfinite(floor) or (self._log_y and floor <= 0):
            self.floor_line.hide()
            return
        self.floor_line.setPos(math.log10(floor) if self._log_y else floor)
        self.floor_line.show()

    @staticmethod
    def _smallest_positive(*arrays: np.ndarray) -> float:
        tiny = math.inf
        for a in arrays:
            positive = a[a > 0]
            if positive.size:
                tiny = min(tiny, float(positive.min()))
        return tiny if math.isfinite(tiny) else LOG_FALLBACK

    def _y_bounds(self, *arrays: np.ndarray) -> tuple[float, float] | None:
        bounds = finite_bounds(*arrays)
        if bounds is None:
            return None
        lo, hi = bounds
        floor = self._floor
        if self._log_y:
            if floor > 0 and math.isfinite(floor):
                lo, hi = min(lo, floor), max(hi, floor)
            lo, hi = math.log10(max(lo, 1e-300)), math.log10(max(hi, 1e-300))
            return lo, hi
        # Losses are non-negative: anchor the linear axis at zero so falls read as proportions.
        if math.isfinite(floor):
            hi = max(hi, floor)
        return min(lo, 0.0), hi


class FitView(FitFollowing, PlotView):
    """The data and the model: fitted line for one feature, predicted-vs-actual for several."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("fitPlot", "Fit", parent)
        pi = self.plotItem
        # In rows along the top, above the data (headroom kept for it): in a corner it covered
        # the samples and lines of a small window (1000x650).
        self._legend_on_top(FIT_LEGEND_COLUMNS)
        self.points = pg.ScatterPlotItem(size=5, pen=None, pxMode=True)
        pi.addItem(self.points)
        self.identity_line = pi.plot()
        self.true_line = pi.plot()
        self.ols_line = pi.plot()
        self.fit_line = pi.plot()
        # Dashed references above the bold fit, so they stay visible once the fit is on them.
        self.true_line.setZValue(2)
        self.ols_line.setZValue(3)
        self.batch_points = pg.ScatterPlotItem(size=9, pxMode=True)
        self.batch_points.setZValue(10)
        pi.addItem(self.batch_points)
        self._x = np.zeros((0, 1))
        self._y = np.zeros(0)
        self._rows = np.zeros(0, dtype=np.int64)
        self._x_span = np.zeros(2)
        self._live = np.zeros(0, dtype=np.int64)
        self._live_pred = np.zeros(0)  # predictions the live scatter shows now
        self._multi = False
        # Axis ranges fixed by the data at set_run (re-applied by reset_view).
        self._home_x: tuple[float, float] = (0.0, 1.0)
        self._home_y: tuple[float, float] | None = None
        self._style_items(self._palette)

    def _style_items(self, palette: Palette) -> None:
        p = palette
        self.points.setBrush(p.brush("samples"))
        self.identity_line.setPen(p.pen("identity", 2, DASH))
        self.true_line.setPen(p.pen("true_line", 2, DASH))
        self.ols_line.setPen(p.pen("least_squares", 2, DOT))
        self.fit_line.setPen(p.pen("current_fit", 3))
        self.batch_points.setPen(p.pen("minibatch_edge", 1))
        self.batch_points.setBrush(p.brush("minibatch_points"))

    def set_run(self, info: RunInfo) -> None:
        """Show a new run's data, true and least-squares fits; clear the live items."""
        self._x = np.asarray(info.x, dtype=np.float64)
        self._y = np.asarray(info.y, dtype=np.float64)
        self._rows = np.asarray(info.sample_rows)
        self._multi = self._x.shape[1] != 1
        self._last = None
        self._follow = True
        self._x_shown = self._y_shown = None
        self.legend.clear()
        self.fit_line.setData([], [])
        self.batch_points.setData([], [])
        pi = self.plotItem
        y_bounds = finite_bounds(self._y) or (0.0, 1.0)
        if self._multi:
            m = self._y.shape[0]
            self._live = even_indices(m, MAX_LIVE_POINTS)
            self._live_pred = np.zeros(0)
            self.points.setData([], [])
            lo, hi = y_bounds
            self.identity_line.setData([lo, hi], [lo, hi])
            self.true_line.setData([], [])
            self.ols_line.setData([], [])
            pi.setLabel("bottom", f"actual {info.target_name}")
            pi.setLabel("left", f"predicted {info.target_name} (X·w + b)")
            self.legend.addItem(self.points, "samples")
            self.legend.addItem(self.identity_line, "predicted = actual")
            self.legend.addItem(self.batch_points, "current minibatch")
            self._fit_top_legend()
            self._home_x, self._home_y = padded(lo, hi), y_bounds
            self._set_x(*self._home_x)
            self._keep_y(y_bounds)
            return
        x = self._x[:, 0]
        self.points.setData(x, self._y)
        self._x_span = np.array(finite_bounds(x) or (0.0, 1.0))
        self.identity_line.setData([], [])
        lines = []
        if info.true_theta is not None:
            lines.append(self._line(info.true_theta[:-1], float(info.true_theta[-1])))
            self.true_line.setData(self._x_span, lines[-1])
        else:
            self.true_line.setData([], [])
        lines.append(self._line(info.ols_theta[:-1], float(info.ols_theta[-1])))
        self.ols_line.setData(self._x_span, lines[-1])
        pi.setLabel("bottom", info.feature_names[0])
        pi.setLabel("left", info.target_name)
        self.legend.addItem(self.points, "samples")
        if info.true_theta is not None:
            self.legend.addItem(self.true_line, "true line")
        self.legend.addItem(self.ols_line, "least squares")
        self.legend.addItem(self.fit_line, "current fit")
        self.legend.addItem(self.batch_points, "current minibatch")
        self._fit_top_legend()
        # The data and the reference lines fix the axes: the live line may leave them.
        self._home_x = padded(*self._x_span)
        self._home_y = finite_bounds(self._y, *lines)
        self._set_x(*self._home_x)
        self._keep_y(self._home_y)

    def update_snapshot(self, snap: Snapshot) -> None:
        """Draw the current model and highlight the last minibatch's displayed points."""
        self._last = snap
        if self._x.shape[0] == 0:
            return
        w = np.asarray(snap.weights, dtype=np.float64)
        pos = self._displayed(snap.batch_indices)
        if self._multi:
            live = self._live
            pred = self._x[live] @ w + snap.bias
            if self._live_moved(pred):
                self._live_pred = pred
                move_points(self.points, self._y[live], pred)
            move_points(self.batch_points, self._y[pos], self._x[pos] @ w + snap.bias)
            self._set_x(*self._home_x)
            self._keep_y(finite_bounds(self._y, pred))
            return
        self.fit_line.setData(self._x_span, self._line(w, snap.bias))
        move_points(self.batch_points, self._x[pos, 0], self._y[pos])
        # No-ops unless reset_view cleared the shown ranges.
        self._set_x(*self._home_x)
        self._keep_y(self._home_y)

    # ---- helpers -----------------------------------------------------------------
    def _live_moved(self, pred: np.ndarray) -> bool:
        """Whether predictions differ visibly from those shown (re-setting 1000 scatter
        points costs ~2 ms of the GUI thread, a converged run's jitter is sub-pixel)."""
        old = self._live_pred
        if old.shape != pred.shape or self._y_shown is None:
            return True
        with np.errstate(invalid="ignore"):
            moved = np.abs(pred - old)
        span = self._y_shown[1] - self._y_shown[0]
        # NaN (a diverged run) compares False: redraw it.
        return not bool(np.all(moved <= LIVE_TOLERANCE * span))

    def _line(self, w: np.ndarray, b: float) -> np.ndarray:
        return self._x_span * float(w[0]) + b

    def _displayed(self, batch: np.ndarray) -> np.ndarray:
        """Positions in the displayed sample of those batch rows that are displayed."""
        rows = self._rows
        if batch.size == 0 or rows.size == 0:
            return np.zeros(0, dtype=np.int64)
        # sample_rows is sorted, so a binary search finds each batch row or where it would be.
        pos = np.searchsorted(rows, batch)
        pos[pos >= rows.size] = 0
        return pos[rows[pos] == batch]


class ParamView(PlotView):
    """Each weight and the bias against step, with dashed lines at their true values."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("paramPlot", "Parameters", parent)
        pi = self.plotItem
        pi.setLabel("bottom", "step")
        pi.setLabel("left", "value")
        self.curves: list[pg.PlotDataItem] = []
        self.true_lines: list[pg.InfiniteLine] = []
        # Never holds data: gives the dashed true-value lines a legend entry.
        self.true_key = pg.PlotDataItem()
        self.more_key = pg.PlotDataItem(pen=None)  # a legend line of text, without a sample
        self._visible: list[int] = []
        self._true = np.zeros(0)
        self._planned = 1.0
        # Curves settle at their true values all across the plot, so no corner stays free:
        # the legend is one row along the top, above the data, in headroom kept for it.
        self._legend_on_top(LEGEND_COLUMNS)
        self._style_items(self._palette)

    def _style_items(self, palette: Palette) -> None:
        self.true_key.setPen(palette.pen("reference", 1.5, DASH))
        for k, (curve, line) in enumerate(zip(self.curves, self.true_lines, strict=True)):
            self._style_param(k, curve, line, palette)

    @staticmethod
    def _style_param(
        k: int, curve: pg.PlotDataItem, line: pg.InfiniteLine, palette: Palette
    ) -> None:
        color = palette.param(k)
        curve.setPen(palette.pen(color, 2))
        line.setPen(palette.pen(color, 1.5, DASH))

    def set_run(self, info: RunInfo) -> None:
        """Start over for a new run: one curve and true-value line per parameter."""
        n = len(info.param_names)
        self._ensure_items(n)
        self.legend.clear()
        self._last = None
        self._follow = True
        self._x_shown = self._y_shown = None
        self._planned = float(max(info.total_steps, 1))
        # The bias is the last column; without a fitted bias it is a constant zero.
        self._visible = list(range(n if info.fit_bias else n - 1))
        true = info.true_theta
        self._true = np.zeros(0) if true is None else np.asarray(true, dtype=np.float64)
        # A legend of dozens of parameters would cover the plot: past a few rows, only the
        # bias is named (each curve's name is in the status bar and the weights tab).
        named = len(self._visible) <= MAX_LEGEND_PARAMS
        for k, (curve, line) in enumerate(zip(self.curves, self.true_lines, strict=True)):
            curve.setData([], [])
            shown = k in self._visible
            curve.setVisible(shown)
            if shown and (named or k == n - 1):
                name = info.param_names[k]
                label = name if k == n - 1 else f"w[{name}]"
                self.legend.addItem(curve, label)
            if shown and self._true.size == n:
                line.setPos(float(self._true[k]))
                line.show()
            else:
                line.hide()
        if self._true.size == n:
            self.legend.addItem(self.true_key, "true value")
        if not named:
            self.legend.addItem(self.more_key, f"and {len(self._visible) - 1} weights")
        self._fit_top_legend()
        self._set_steps_x(float(max(min(info.n_batches, info.total_steps), 1)))
        self._keep_y(self._idle_bounds())

    def set_log_steps(self, on: bool) -> None:
        """Show the step on a log10 axis (True; drawn from step 1) or a linear one."""
        self._set_log_steps(on)

    def follow_data(self, info: RunInfo) -> None:
        """The run's data moved under it: move the dashed true values; the curves stay."""
        if info.true_theta is not None and len(info.true_theta) == len(self.curves):
            self._true = np.asarray(info.true_theta, dtype=np.float64)
            for k in self._visible:
                self.true_lines[k].setPos(float(self._true[k]))

    def update_snapshot(self, snap: Snapshot) -> None:
        """Draw the parameter trajectories of a snapshot."""
        self._last = snap
        if snap.param_values.ndim != 2 or snap.param_values.shape[1] != len(self.curves):
            return
        steps, values = self._drawn_steps(snap.loss_steps, snap.param_values)
        for k in self._visible:
            self.curves[k].setData(steps, values[:, k])
        last = float(steps[-1]) if steps.size else float(snap.step)
        self._keep_steps_x(
            max(last, float(snap.step)), self._planned, snap.stopped_reason is not None
        )
        true = self._true[self._visible] if self._true.size else self._true
        bounds = finite_bounds(values[:, self._visible], true)
        self._keep_y(bounds)

    # ---- helpers -----------------------------------------------------------------
    def _ensure_items(self, n: int) -> None:
        # Items are made once per parameter count and reused across runs of the same shape.
        pi = self.plotItem
        while len(self.curves) > n:
            pi.removeItem(self.curves.pop())
            pi.removeItem(self.true_lines.pop())
        while len(self.curves) < n:
            curve, line = add_series(pi), pg.InfiniteLine(angle=0)
            self._style_param(len(self.curves), curve, line, self._palette)
            self.curves.append(curve)
            line.setZValue(-5)
            pi.addItem(line, ignoreBounds=True)
            self.true_lines.append(line)

    def _idle_bounds(self) -> tuple[float, float] | None:
        """The true values, before the first snapshot."""
        if self._true.size == 0:
            return None
        return finite_bounds(self._true[self._visible])
