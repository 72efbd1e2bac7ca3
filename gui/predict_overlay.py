"""The predict panel's drawing on the fit plot: entered rows on the lines and the least-squares
95 % prediction band, as items added to the FitView's plot item (the FitView itself is not
changed: this object only composes with it)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from core.predict import LeastSquaresFit, model_predict
from core.runinfo import RunInfo
from core.snapshot import Snapshot
from gui.plots import FitView, finite_bounds, padded
from gui.style import DASH, Palette

BAND_POINTS = 200  # points along each edge of the prediction band
BAND_ALPHA = 45  # the band's fill: the least-squares colour, faint


class PredictionOverlay(QtCore.QObject):
    """Entered points on the fit plot's lines and the least-squares 95 % prediction band.

    Drawn only for one feature (with several, the fit plot shows predicted against actual).
    Takes set_run/update_snapshot like a view; a PredictPanel it is attached to gives it the
    entered rows and the band's on/off switch."""

    def __init__(self, fit_view: FitView) -> None:
        super().__init__(fit_view)
        self.fit_view = fit_view
        pi = fit_view.plotItem
        self.band_lower = pg.PlotDataItem()
        self.band_upper = pg.PlotDataItem()
        self.band_fill = pg.FillBetweenItem(self.band_lower, self.band_upper)
        self.band_fill.setZValue(-1)  # under the data points
        self.band_key = pg.PlotDataItem()  # holds no data: the legend's sample

        def points(z: float) -> pg.ScatterPlotItem:
            item = pg.ScatterPlotItem(size=12, symbol="d")
            item.setZValue(z)
            return item

        self.model_points, self.ols_points, self.true_points = points(13), points(12), points(11)
        for item in (self.band_fill, self.band_lower, self.band_upper):
            pi.addItem(item, ignoreBounds=True)
        for item in (self.true_points, self.ols_points, self.model_points):
            pi.addItem(item, ignoreBounds=True)
        self._fit: LeastSquaresFit | None = None
        self._true: np.ndarray | None = None
        self._span = (0.0, 1.0)
        self._one_feature = False
        self._weights: np.ndarray | None = None
        self._bias = 0.0
        self._x = np.zeros((0, 1))
        self._band_on = False
        self.set_palette(fit_view.palette_in_use)
        self._draw()

    def set_palette(self, palette: Palette) -> None:
        """Draw in palette's colours: those of the fit view's lines (true, least squares,
        current model)."""
        band = palette.pen("least_squares", 1, DASH)
        for item in (self.band_lower, self.band_upper, self.band_key):
            item.setPen(band)
        self.band_fill.setBrush(palette.brush("least_squares", BAND_ALPHA))
        edge = palette.pen("mark_edge", 1)
        for item, role in (
            (self.model_points, "current_fit"),
            (self.ols_points, "least_squares"),
            (self.true_points, "true_line"),
        ):
            item.setPen(edge)
            item.setBrush(palette.brush(role))

    # ---- the view protocol -------------------------------------------------------------
    def set_run(self, info: RunInfo) -> None:
        """Take a new run: its least-squares fit, true line and the data's x range."""
        self._fit = LeastSquaresFit.from_run_info(info)
        self._true = None if info.true_theta is None else np.asarray(info.true_theta, float)
        self._one_feature = len(info.feature_names) == 1
        self._weights = None
        x = np.asarray(info.x, dtype=np.float64)
        bounds = finite_bounds(x[:, 0]) if self._one_feature and x.size else None
        self._span = padded(*(bounds or (0.0, 1.0)))
        self._draw()

    def update_snapshot(self, snap: Snapshot) -> None:
        """Move the entered points on the current model's line."""
        self._weights = np.asarray(snap.weights, dtype=np.float64)
        self._bias = float(snap.bias)
        if self._one_feature and self._x.shape[0]:
            self._draw_model()

    def isVisible(self) -> bool:  # noqa: N802 (the views' Qt name, so a window treats it alike)
        """Whether the fit plot it draws on is shown."""
        return self.fit_view.isVisible()

    # ---- inputs and the band ---------------------------------------------------------------
    def set_inputs(self, x: np.ndarray) -> None:
        """Draw these rows of features (original units) on the lines."""
        x = np.asarray(x, dtype=np.float64)
        self._x = x if x.ndim == 2 else x.reshape(-1, 1)
        self._draw()

    def set_band_visible(self, visible: bool) -> None:
        """Show or hide the least-squares 95 % prediction band (one feature only)."""
        self._band_on = bool(visible)
        self._draw()

    def band_visible(self) -> bool:
        """Whether the band is switched on (it shows only with one feature)."""
        return self._band_on

    def band(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The band drawn: x, lower and upper edges (empty when hidden)."""
        # xData/yData, not getData(): that is clipped to the shown range.
        x, lo, hi = self.band_lower.xData, self.band_lower.yData, self.band_upper.yData
        if x is None or not self.band_lower.isVisible():
            return np.zeros(0), np.zeros(0), np.zeros(0)
        return np.asarray(x), np.asarray(lo), np.asarray(hi)

    # ---- drawing -----------------------------------------------------------------------------
    def _draw(self) -> None:
        one = self._one_feature and self._x.ndim == 2 and self._x.shape[1] == 1
        x = self._x[:, 0] if one else np.zeros(0)
        if one and x.size and self._fit is not None:
            self.ols_points.setData(x, self._fit.predict(self._x))
        else:
            self.ols_points.setData([], [])
        if one and x.size and self._true is not None:
            self.true_points.setData(x, model_predict(self._x, self._true[:-1], self._true[-1]))
        else:
            self.true_points.setData([], [])
        self._draw_model()
        show_band = self._band_on and self._one_feature and self._fit is not None
        if show_band:
            lo, hi = self._span
            if x.size:
                lo, hi = min(lo, float(x.min())), max(hi, float(x.max()))
            grid = np.linspace(lo, hi, BAND_POINTS)
            _, lower, upper = self._fit.interval(grid[:, None])
            show_band = bool(np.isfinite(lower).all() and np.isfinite(upper).all())
            if show_band:
                self.band_lower.setData(grid, lower)
                self.band_upper.setData(grid, upper)
        for item in (self.band_fill, self.band_lower, self.band_upper):
            item.setVisible(show_band)
        self._sync_legend(show_band, bool(x.size))

    def _draw_model(self) -> None:
        if self._weights is None or not self._one_feature or self._x.shape[0] == 0:
            self.model_points.setData([], [])
            return
        if self._weights.size != self._x.shape[1]:
            return  # a snapshot of another run, before its set_run
        self.model_points.setData(self._x[:, 0], model_predict(self._x, self._weights, self._bias))

    def _sync_legend(self, band: bool, points: bool) -> None:
        """Legend entries for what is shown (the fit view clears its legend for each run)."""
        legend = self.fit_view.legend
        for item, label, wanted in (
            (self.model_points, "your inputs", points),
            (self.band_key, "95 % prediction band", band),
        ):
            present = any(sample.item is item for sample, _ in legend.items)
            if wanted and not present:
                legend.addItem(item, label)
            elif present and not wanted:
                legend.removeItem(item)
