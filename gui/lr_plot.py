"""The learning rate over steps, a thin plot under the loss plot sharing its step axis.

It draws the rate each recorded step used (the snapshot's lr_values), the schedule's plan from
the current step to the end of the run (core.schedules.lr_at), and shades the band where
full-batch gradient descent is stable, η < 2/λmax. The step axis is the loss plot's (linked
with setXLink, which lines the two up on screen): this view never sets its own x range.

A live change of the learning rate scales the schedule (core.schedules: every later rate,
lr_min too, times new / old), so the plan is the run's schedule scaled by the rate now over
the rate it was built with.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from core.config import TrainConfig
from core.runinfo import RunInfo
from core.schedules import Schedule, lr_at
from core.snapshot import Snapshot
from gui.plot_base import PlotView, finite_bounds
from gui.series_item import add_series
from gui.style import DASH, NOTE_SIZE, Palette, style_line_label

PLAN_POINTS = 400  # points of the planned rates ahead of the current step
# The stable bound joins the y range when the rates come within this factor of it (far above
# the rates it would squash them against the axis).
BOUND_IN_VIEW = 3.0
HEIGHT = 130  # the plot's preferred height in pixels: thin, the loss plot above has the room
HEADROOM = 0.15  # free share of the y span above the highest rate
# A thin plot has no room for a legend: its title says what is what, in small print.
TITLE = (
    f"<span style='font-size:{NOTE_SIZE}'>Learning rate used (solid) and planned (dashed);"
    " shaded: η &lt; 2/λmax</span>"
)


def planned_rates(
    schedule: Schedule, base_lr: float, built_lr: float, horizon: int, steps: np.ndarray
) -> np.ndarray:
    """The rates the run will use at steps (1-based): its schedule as built with built_lr,
    scaled to the base rate base_lr now (a live change scales every later rate, lr_min too)."""
    factor = base_lr / built_lr if built_lr > 0 else 1.0
    scaled = schedule if factor == 1.0 else schedule.scaled(factor)
    return lr_at(scaled, steps, horizon, base_lr)


class LrView(PlotView):
    """The rate each step used, the schedule's plan ahead, and the stable band."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("lrPlot", TITLE, parent)
        pi = self.plotItem
        pi.setLabel("left", "rate η")
        pi.setMouseEnabled(x=False, y=False)  # the step axis is the loss plot's
        self.legend.hide()  # the title names the items
        self.band = pg.LinearRegionItem(values=(0.0, 1.0), orientation="horizontal", movable=False)
        self.band.setZValue(-20)
        for line in self.band.lines:
            line.setPen(pg.mkPen(None))
        pi.addItem(self.band, ignoreBounds=True)
        # The label under its line: the line often sits at the top of the view (the rates
        # used stay below it), where a label above it would be cut off.
        self.bound_line = pg.InfiniteLine(
            angle=0, label="", labelOpts={"position": 0.98, "anchors": [(1, 0), (1, 0)]}
        )
        self.bound_line.setZValue(-10)
        pi.addItem(self.bound_line, ignoreBounds=True)
        self.used_curve = add_series(pi)
        self.plan_curve = add_series(pi)
        self._info: RunInfo | None = None
        self._train: TrainConfig | None = None  # the live settings (the controller's)
        self._bound = math.nan
        self.setMinimumHeight(70)
        self._set_y(0.0, 1.0)
        self._style_items(self._palette)

    def sizeHint(self):  # noqa: N802 - Qt override
        """Thin: the loss plot above takes the height."""
        hint = super().sizeHint()
        hint.setHeight(HEIGHT)
        return hint

    def _style_items(self, palette: Palette) -> None:
        self.used_curve.setPen(palette.pen("lr_used", 2))
        self.plan_curve.setPen(palette.pen("lr_planned", 1.5, DASH))
        self.band.setBrush(palette.brush("stable_band"))
        self.bound_line.setPen(palette.pen("true_line", 1, DASH))
        style_line_label(self.bound_line, palette.text, palette)

    # ---- what is shown -------------------------------------------------------------------
    def set_run(self, info: RunInfo) -> None:
        """Start over for a new run: its settings, its plan and its stable bound."""
        self._info = info
        self._train = info.train
        self._last = None
        self._follow = True
        self._y_shown = None
        self.used_curve.setData([], [])
        self.set_stable_lr(info.max_stable_lr)
        self._draw_plan(0)
        self._keep_y(self._bounds())

    def follow_data(self, info: RunInfo) -> None:
        """The run's data moved under it (a drag): its stable bound moves with the curvature;
        the rates used and the plan stay (set_run started over at every change of a drag)."""
        self._info = info
        bound = float(info.max_stable_lr)
        if bound == self._bound or (math.isnan(bound) and math.isnan(self._bound)):
            return
        self.set_stable_lr(bound)
        self._keep_y(self._bounds())

    def set_train(self, train: TrainConfig) -> None:
        """Follow live changes of the training settings (the rate scales the plan)."""
        if train == self._train:
            return
        self._train = train
        if self._last is not None:
            self.update_snapshot(self._last)
        elif self._info is not None:
            self._draw_plan(0)

    def set_stable_lr(self, bound: float) -> None:
        """Shade η below bound (2/λmax of the objective; inf: any rate, nan: unknown)."""
        self._bound = float(bound)
        finite = math.isfinite(self._bound) and self._bound > 0
        self.band.setVisible(finite or math.isinf(self._bound))
        top = self._bound if finite else 1e300
        self.band.setRegion((0.0, top))
        self.bound_line.setVisible(finite)
        if finite:
            self.bound_line.setPos(self._bound)
            self.bound_line.label.setFormat(f"2/λmax = {self._bound:.3g}")

    @property
    def stable_lr(self) -> float:
        """The bound the band shades below."""
        return self._bound

    def update_snapshot(self, snap: Snapshot) -> None:
        """Draw the rates used up to the snapshot's step and the plan after it."""
        self._last = snap
        if snap.lr_values.shape == snap.loss_steps.shape:
            steps, rates = self._drawn_steps(snap.loss_steps, snap.lr_values)
            known = np.isfinite(rates)
            self.used_curve.setData(steps[known], rates[known])
        else:
            self.used_curve.setData([], [])
        self._draw_plan(snap.step, stopped=snap.stopped_reason is not None)
        self._keep_y(self._bounds())

    def planned(self) -> tuple[np.ndarray, np.ndarray]:
        """The drawn plan: steps and the rates they will use."""
        x, y = self.plan_curve.getOriginalDataset()  # getData is clipped to the view
        return (np.zeros(0), np.zeros(0)) if x is None else (np.asarray(x), np.asarray(y))

    def used(self) -> tuple[np.ndarray, np.ndarray]:
        """The drawn rates used: steps and rates."""
        x, y = self.used_curve.getOriginalDataset()
        return (np.zeros(0), np.zeros(0)) if x is None else (np.asarray(x), np.asarray(y))

    def set_log_steps(self, on: bool) -> None:
        """Follow the loss plot's step axis into log10 (True) or linear steps; the range
        itself comes from the loss plot through the link."""
        if on == self._log_x:
            return
        self._log_x = on
        if on:
            for item in (self.used_curve, self.plan_curve):
                x, y = item.getOriginalDataset()
                if x is not None and len(x):
                    keep = x > 0
                    item.setData(x[keep], y[keep])
        self.plotItem.setLogMode(x=on, y=False)
        self.plotItem.enableAutoRange(False)
        if self._last is not None:
            self.update_snapshot(self._last)

    # ---- helpers -----------------------------------------------------------------------
    def _draw_plan(self, step: int, stopped: bool = False) -> None:
        info, train = self._info, self._train
        if info is None or train is None:
            self.plan_curve.setData([], [])
            return
        end = train.epochs * info.n_batches  # the run's last step, as configured now
        first = int(step) + 1
        if stopped or first > end:
            self.plan_curve.setData([], [])
            return
        n = min(PLAN_POINTS, end - first + 1)
        space = np.geomspace if self._log_x else np.linspace
        steps = np.unique(np.round(space(first, end, n)).astype(np.int64))
        rates = planned_rates(
            info.train.schedule, train.lr, info.train.lr, info.schedule_horizon, steps
        )
        self.plan_curve.setData(steps.astype(np.float64), rates)

    def _bounds(self) -> tuple[float, float] | None:
        _, used = self.used()
        _, plan = self.planned()
        bounds = finite_bounds(used, plan)
        if bounds is None:
            return None
        hi = bounds[1]
        if math.isfinite(self._bound) and self._bound <= BOUND_IN_VIEW * hi:
            hi = max(hi, self._bound)
        # Rates are positive: the axis starts at zero, so a decay reads as a proportion.
        hi = hi if hi > 0 else 1.0
        return 0.0, hi * (1.0 + HEADROOM)
