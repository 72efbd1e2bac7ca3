"""The race's loss plot: each run's training loss on one log-scale plot."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

from core.analysis import loss_label
from core.race import RaceSnapshot, RunSnapshot
from gui.legend import HIDDEN_HINT, fit_legend
from gui.plots import LOG_FALLBACK, PAD, PlotView, needs_refit, padded
from gui.race_texts import TOOLTIPS
from gui.series_item import add_series
from gui.style import DASH, DOT, RACE, Palette

# One colour per run (gui.style.RACE: the same in the light and the dark theme).
RACE_COLORS = list(RACE)
X_GROWTH = 1.5
# Curve and path pen widths during and after a race (whole pixels: 2.5 rasterises as 2 or 3
# pixels depending on where a line falls, so equal lines looked unequal).
LIVE_WIDTH, FINAL_WIDTH = 1.0, 2.0
CEILING = 10.0  # the loss axis ends this many times above the initial loss
BAND_ALPHA = 60  # opacity (of 255) of a run's seed band
X_MODES = {"step": "step", "epoch": "epoch", "seconds": "training seconds (each run's own)"}


class RaceLossView(PlotView):
    """Each run's training loss on one log-scale plot, with the least-squares loss and tolerance."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("raceLossPlot", "Race: loss on the whole training set", parent)
        pi = self.plotItem
        pi.setLogMode(x=False, y=True)
        # setLogMode switches autorange back on: every later frame would pay for it.
        pi.enableAutoRange(False)
        pi.setLabel("bottom", "step")
        pi.setLabel("left", "training loss")
        # Unlabelled lines (their labels would sit on the converged curves); the legend
        # names them through pen-only stand-ins.
        self.ols_line = pg.InfiniteLine(angle=0)
        self.tol_line = pg.InfiniteLine(angle=0)
        self._ols_key = pg.PlotDataItem()
        self._tol_key = pg.PlotDataItem()
        for line in (self.ols_line, self.tol_line):
            line.setZValue(-5)
            pi.addItem(line, ignoreBounds=True)
            line.hide()
        # Decades on a log axis need no SI prefix ('x1e+09' once a run diverges).
        pi.getAxis("left").enableAutoSIPrefix(False)
        self.curves: list[pg.PlotDataItem] = []
        # Runs over N seeds: the curve is the seeds' median, shaded between their 10 and 90 %.
        self.bands: list[tuple[pg.PlotDataItem, pg.PlotDataItem, pg.FillBetweenItem]] = []
        # Where each run reached tolerance: one scatter for all runs, in log10 units (a
        # ScatterPlotItem has no log mode), redrawn only when a star appears or moves.
        self.marks = pg.ScatterPlotItem(symbol="star", size=16)
        self.marks.setZValue(10)
        pi.addItem(self.marks, ignoreBounds=True)
        self._marks_key: tuple = ()
        self._colors: list[str] = []
        self._width = FINAL_WIDTH
        self._mode = "step"
        self._last_race: RaceSnapshot | None = None
        self._ols = math.nan
        self._threshold = math.nan
        self._initial = math.nan
        self._set_x(0.0, 10.0)
        self._set_y(-1.0, 1.0)
        pi.getViewBox().sigResized.connect(self._fit_legend)
        self._style_items(self._palette)

    def _style_items(self, palette: Palette) -> None:
        # Green as the loss plot's floor: purple is a run's colour here.
        ols, tol = palette.pen("noise_floor", 2, DASH), palette.pen("reference", 1.5, DOT)
        for item, pen in (
            (self.ols_line, ols),
            (self._ols_key, ols),
            (self.tol_line, tol),
            (self._tol_key, tol),
        ):
            item.setPen(pen)
        self.marks.setPen(palette.pen("mark_edge", 1))
        for curve, color in zip(self.curves, self._colors, strict=False):
            curve.setPen(palette.pen(color, self._width))

    # ---- public API ----------------------------------------------------------------
    def set_race(self, snap: RaceSnapshot, colors: list[str]) -> None:
        """Start over for a new race: one curve and tolerance marker per run."""
        pi = self.plotItem
        for item in self.curves:
            pi.removeItem(item)
        for lo, hi, fill in self.bands:
            for item in (fill, lo, hi):
                pi.removeItem(item)
        self.legend.clear()
        self.curves = []
        self.bands = []
        self.marks.setData([], [])
        self._marks_key = ()
        self._colors = list(colors)
        for run in snap.runs:
            color = colors[run.index % len(colors)]
            curve = add_series(
                pi, pen=self._palette.pen(color, self._width), name=f"{run.index + 1}. {run.label}"
            )
            self.curves.append(curve)
            self.bands.append(self._band(color))
        self.legend.addItem(self._ols_key, "least squares")
        self.legend.addItem(self._tol_key, f"tolerance ({100 * snap.tolerance:g} %)")
        self._fit_legend()
        pi.setLabel("left", f"training loss ({loss_label(snap.loss_kind)})")
        self._ols, self._threshold = snap.ols_loss, snap.threshold
        self._initial = snap.initial_loss
        self._place_lines()
        self._last_race = None
        self._follow = True
        self._x_shown = self._y_shown = None
        self.update_snapshot(snap)

    def _band(self, color: str) -> tuple[pg.PlotDataItem, pg.PlotDataItem, pg.FillBetweenItem]:
        """Two invisible edges and the shade between them, in a run's colour."""
        pi = self.plotItem
        lo, hi = pi.plot(pen=None), pi.plot(pen=None)
        shade = pg.mkColor(color)
        shade.setAlpha(BAND_ALPHA)
        fill = pg.FillBetweenItem(lo, hi, brush=pg.mkBrush(shade))
        fill.setZValue(-2)
        pi.addItem(fill)
        return lo, hi, fill

    def _fit_legend(self, *_: object) -> None:
        # The runs' colours stay named in the table when the key is hidden.
        shown = fit_legend(self.legend, self.plotItem.getViewBox())
        tip = TOOLTIPS["raceLossPlot"]
        self.setToolTip(tip if shown else f"{tip}\n\n{HIDDEN_HINT}")

    def set_live(self, on: bool) -> None:
        """Thin curves while a race runs (1-pixel lines paint twice as fast), bold after."""
        self._width = LIVE_WIDTH if on else FINAL_WIDTH
        for curve, color in zip(self.curves, self._colors, strict=False):
            curve.setPen(self._palette.pen(color, self._width))
        for sample, _ in self.legend.items:
            sample.update()  # legend samples draw the curve's pen, but only when repainted

    def set_x_axis(self, mode: str) -> None:
        """Plot against 'step', 'epoch' or 'seconds' (each run's own training time)."""
        if mode not in X_MODES:
            raise ValueError(f"unknown x axis {mode!r} (one of {', '.join(X_MODES)})")
        if mode == self._mode:
            return
        self._mode = mode
        self.plotItem.setLabel("bottom", X_MODES[mode])
        self._x_shown = None
        if self._last_race is not None:
            self.update_snapshot(self._last_race)

    @property
    def x_axis(self) -> str:
        """The current horizontal axis: 'step', 'epoch' or 'seconds'."""
        return self._mode

    def update_snapshot(self, snap: RaceSnapshot) -> None:  # type: ignore[override]
        """Draw every run's loss curve and where it reached tolerance."""
        self._last_race = snap
        tiny = self._smallest_positive(snap)
        last_x, planned, ys = 0.0, 0.0, []
        stars: list[tuple[float, str]] = []
        for run, curve, band in zip(snap.runs, self.curves, self.bands, strict=False):
            if run.band_steps.size:
                x, y = self._draw_band(run, band, tiny)
            else:
                x = self._x_of(run.loss_steps, run.loss_seconds, run.n_batches)
                y = np.maximum(run.loss_values, tiny)
            curve.setData(x, y)
            ys.append(y)
            if x.size:
                last_x = max(last_x, float(x[-1]))
            planned = max(planned, self._planned(run))
            at = self._reached_x(run)
            if at is not None:
                stars.append((at, self._colors[run.index % len(self._colors)]))
        star_y = math.log10(max(snap.threshold, tiny, 1e-300))
        key = (star_y, *stars)
        if key != self._marks_key:
            self._marks_key = key
            self.marks.setData(
                [x for x, _ in stars],
                [star_y] * len(stars),
                brush=[pg.mkBrush(c) for _, c in stars],
            )
        self._keep_x(last_x, planned, snap.done)
        self._keep_y(self._y_bounds(ys, tiny))

    def _draw_band(self, run: RunSnapshot, band: tuple, tiny: float) -> tuple[np.ndarray, ...]:
        """Shade a run's 10-90 % band; return its median curve (x, y)."""
        steps = run.band_steps
        seconds = (
            np.interp(steps, run.loss_steps, run.loss_seconds) if run.loss_steps.size else steps
        )
        x = self._x_of(steps, seconds, run.n_batches)
        # A seed that diverged is an infinite loss: the band leaves through the top.
        top = CEILING * 10 * self._initial if math.isfinite(self._initial) else 1e300
        lo, hi, _ = band
        lo.setData(x, np.clip(run.band_low, tiny, top))
        hi.setData(x, np.clip(run.band_high, tiny, top))
        return x, np.clip(run.band_median, tiny, top)

    def reset_view(self) -> None:
        """Resume managing the axes after the user panned or zoomed, and refit them now."""
        self._follow = True
        self._x_shown = self._y_shown = None
        if self._last_race is not None:
            self.update_snapshot(self._last_race)

    def curve_data(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The drawn x and y of run k's curve (y in loss units, not log10)."""
        x, y = self.curves[k].getData()
        if x is None:
            return np.zeros(0), np.zeros(0)
        # getData returns what is drawn: log10 of y in log mode.
        return np.asarray(x), 10.0 ** np.asarray(y)

    # ---- helpers -------------------------------------------------------------------
    def _x_of(self, steps: np.ndarray, seconds: np.ndarray, n_batches: int) -> np.ndarray:
        if self._mode == "epoch":
            return steps / max(n_batches, 1)
        if self._mode == "seconds":
            return seconds
        return steps

    def _planned(self, run: RunSnapshot) -> float:
        if self._mode == "step":
            return float(run.total_steps)
        if self._mode == "epoch":
            return float(run.total_steps) / max(run.n_batches, 1)
        return math.inf

    def _reached_x(self, run: RunSnapshot) -> float | None:
        steps = run.steps_to_tolerance
        if steps is None:
            return None
        if self._mode == "seconds":
            return run.seconds_to_tolerance
        if self._mode == "epoch":
            return steps / max(run.n_batches, 1)
        return float(steps)

    def _keep_x(self, last: float, planned: float, done: bool) -> None:
        """Grow the x axis in jumps (capped at the plan); fit it to the data once done."""
        if not self._follow:
            return
        if done or last <= 0:
            hi = last if last > 0 else (planned if math.isfinite(planned) and planned > 0 else 1)
            self._set_x(*padded(0.0, hi, PAD / 2))
            return
        if (
            self._x_shown is not None
            and last <= self._x_shown[1]
            and not needs_refit(0.0, last, self._x_shown)
        ):
            return
        target = last * X_GROWTH
        if last <= planned:
            target = min(target, planned)
        self._set_x(*padded(0.0, target, PAD / 2))

    @staticmethod
    def _smallest_positive(snap: RaceSnapshot) -> float:
        tiny = math.inf
        for run in snap.runs:
            positive = run.loss_values[run.loss_values > 0]
            if positive.size:
                tiny = min(tiny, float(positive.min()))
        return tiny if math.isfinite(tiny) else LOG_FALLBACK

    def _y_bounds(self, ys: list[np.ndarray], tiny: float) -> tuple[float, float] | None:
        values = [y[np.isfinite(y)] for y in ys]
        values = [v for v in values if v.size]
        extra = [v for v in (self._ols, self._threshold) if math.isfinite(v) and v > 0]
        if not values and not extra:
            return None
        lo = min([float(v.min()) for v in values] + extra)
        hi = max([float(v.max()) for v in values] + extra)
        if math.isfinite(self._initial) and self._initial > 0:
            # A diverging run leaves through the top instead of squashing the others.
            hi = min(hi, CEILING * self._initial)
        return math.log10(max(lo, tiny, 1e-300)), math.log10(max(hi, tiny, 1e-300))

    def _place_lines(self) -> None:
        # InfiniteLine ignores log mode: positions are given in log10 units.
        for line, value in ((self.ols_line, self._ols), (self.tol_line, self._threshold)):
            if math.isfinite(value) and value > 0:
                line.setPos(math.log10(value))
                line.show()
            else:
                line.hide()
