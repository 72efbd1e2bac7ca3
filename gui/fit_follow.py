"""The fit view's side of data that moves under a running fit (core.live_data): the samples,
true and least-squares lines move; the current fit, the minibatch and the axes stay, the axes
moving only when the data leaves them. A mixin of gui.plots.FitView (its own method, kept here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg

from core.runinfo import RunInfo
from gui.plot_base import finite_bounds, padded

if TYPE_CHECKING:
    from gui.plots import FitView


class FitFollowing:
    """FitView.follow_data."""

    def follow_data(self: FitView, info: RunInfo) -> None:
        """The run's data moved under it: show the moved samples, true and least-squares
        lines; the live items stay (several features: shown anew, as set_run does)."""
        x = np.asarray(info.x, dtype=np.float64)
        if self._multi or x.shape[1] != 1 or self._rows.shape != np.shape(info.sample_rows):
            self.set_run(info)
            return
        self._x, self._y = x, np.asarray(info.y, dtype=np.float64)
        move_points(self.points, x[:, 0], self._y)
        self._x_span = np.array(finite_bounds(x[:, 0]) or (0.0, 1.0))
        lines = [self._line(info.ols_theta[:-1], float(info.ols_theta[-1]))]
        self.ols_line.setData(self._x_span, lines[0])
        if info.true_theta is not None:
            lines.append(self._line(info.true_theta[:-1], float(info.true_theta[-1])))
            self.true_line.setData(self._x_span, lines[-1])
        self._home_x, self._home_y = padded(*self._x_span), finite_bounds(self._y, *lines)
        self._set_x(*self._home_x)
        self._keep_y(self._home_y)


def move_points(scatter: pg.ScatterPlotItem, x: np.ndarray, y: np.ndarray) -> None:
    """Give a scatter's points new positions, keeping their look.

    setData rebuilds every point's style record: ~10 ms for the fit view's 5000 samples, once
    per frame of a drag. With as many points as before, only the positions are written, and the
    item is told what setData tells it (pyqtgraph 0.14's ScatterPlotItem, pinned)."""
    data = getattr(scatter, "data", None)
    if data is None or data.shape != x.shape or data.dtype.names is None:
        scatter.setData(x, y)
        return
    data["x"] = x
    data["y"] = y
    scatter.prepareGeometryChange()
    scatter.informViewBoundsChanged()
    scatter.bounds = [None, None]
    scatter.invalidate()
    scatter.sigPlotChanged.emit(scatter)
