"""Live plot items made cheap per frame: series drawn with only the vertices that change a pixel
(see core/polyline.py) and handed only their data when only it changed, lines left as drawn
when they would move by less than a pixel, and scatter points moved in place."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pyqtgraph as pg
import pyqtgraph.functions as fn
from pyqtgraph.graphicsItems.PlotCurveItem import arrayToLineSegments
from PySide6 import QtCore, QtGui, QtWidgets

from core.polyline import moves_a_pixel, needed_vertices

# Antialiased lines shade partly covered pixels, so their vertices keep a finer grid.
AA_CELL = 0.25
# Thinned only with more points than this per pixel across: with fewer (the live window asks
# for about one per pixel) finding what to drop cost more than it saved (in-window A/B: frames
# held the loop 9.8 ms thinned against 9.1 ms not, median).
MIN_POINTS_PER_PIXEL = 2.0


class SeriesCurve(pg.PlotCurveItem):
    """A PlotCurveItem that strokes only the vertices its drawing needs at the current zoom.

    The parameters of a converged run sit on one pixel row for most of their history: their
    four 1341-point curves took 3.2 ms of a 10 ms frame (d2l-concise-3 at 1e6 steps, 1400x900),
    stroking segments shorter than a pixel. Exports (and anything unusual: fills, steps, shadow
    pens, per-point connections) are drawn by pyqtgraph from every point.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._thin_key: tuple[Any, ...] | None = None
        self._thin_data: tuple[np.ndarray, np.ndarray] | None = None
        self._segments: Any = None
        self.drawn_points = 0  # vertices stroked by the last paint (tests read it)

    def _plain(self, widget: QtWidgets.QWidget | None) -> bool:
        """Whether this paint is the simple case the thinning handles."""
        o = self.opts
        return (
            self._exportOpts is False
            and o["fillLevel"] is None
            and not o["stepMode"]
            and (o["shadowPen"] is None or o["shadowPen"].style() == QtCore.Qt.PenStyle.NoPen)
            and o["compositionMode"] is None
            and o["connect"] in ("all", "finite")
            and not isinstance(widget, pg.Qt.OpenGLHelpers.GraphicsViewGLWidget)
        )

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange: Any = None) -> tuple:  # noqa: N802, N803
        """pyqtgraph's bounds, by plain min/max when every value is finite (its nanmin/nanmax
        under catch_warnings cost ~20 µs a curve and axis, each frame)."""
        pen = self.opts["pen"]
        data = self.xData if ax == 0 else self.yData
        if (
            self._boundsCache[ax] is not None
            or frac < 1.0
            or orthoRange is not None
            or data is None
            or len(data) == 0
            or (ax == 1 and self.opts["fillLevel"] not in (None, "enclosed"))
            or (pen is not None and not pen.isCosmetic())
            or (self.opts["shadowPen"] is not None and not self.opts["shadowPen"].isCosmetic())
        ):
            return super().dataBounds(ax, frac, orthoRange)
        lo, hi = float(data.min()), float(data.max())
        if not (math.isfinite(lo) and math.isfinite(hi)):  # NaN or inf: pyqtgraph skips them
            return super().dataBounds(ax, frac, orthoRange)
        self._boundsCache[ax] = [(frac, orthoRange), (lo, hi)]
        return lo, hi

    def _pixel_width(self, t: QtGui.QTransform, scale: float) -> float:
        """Device pixels the data spans across (its bounds are cached by pyqtgraph)."""
        lo, hi = self.dataBounds(0)
        if lo is None or hi is None:
            return 0.0
        return (hi - lo) * math.hypot(t.m11(), t.m12()) * scale

    def thinned(self, transform: QtGui.QTransform, scale: float) -> tuple[np.ndarray, np.ndarray]:
        """The data without the vertices that change no device pixel (scale: pixels per unit of
        the transform's output, the device pixel ratio)."""
        x, y = self.xData, self.yData
        t = transform
        key = (x, y, t.m11(), t.m12(), t.m21(), t.m22(), t.dx(), t.dy(), scale)
        old = self._thin_key
        if old is not None and old[0] is x and old[1] is y and old[2:] == key[2:]:
            return self._thin_data  # type: ignore[return-value]
        px = (t.m11() * x + t.m21() * y + t.dx()) * scale
        py = (t.m12() * x + t.m22() * y + t.dy()) * scale
        cell = AA_CELL if self.opts["antialias"] else 1.0
        keep = needed_vertices(px, py, cell)
        self._thin_key, self._thin_data = key, (x[keep], y[keep])
        return self._thin_data

    def paint(self, p: QtGui.QPainter, opt: Any, widget: QtWidgets.QWidget | None) -> None:
        """Stroke the thinned series with the curve's pen (pyqtgraph's paint otherwise)."""
        if not self._plain(widget):
            self.drawn_points = 0 if self.xData is None else len(self.xData)
            super().paint(p, opt, widget)
            return
        pen = self.opts["pen"]
        if self.xData is None or len(self.xData) == 0 or pen.style() == QtCore.Qt.PenStyle.NoPen:
            self.drawn_points = 0
            return
        x, y = self.xData, self.yData
        t, scale = p.transform(), p.device().devicePixelRatioF()
        if len(x) > MIN_POINTS_PER_PIXEL * self._pixel_width(t, scale):
            x, y = self.thinned(t, scale)
        self.drawn_points = len(x)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, self.opts["antialias"])
        p.setPen(pen)
        connect, check = self.opts["connect"], not self.opts["skipFiniteCheck"]
        if self._shouldUseDrawLineSegments(pen):  # as pyqtgraph picks: fast for wide solid pens
            self._segments = arrayToLineSegments(x, y, connect, check, out=self._segments)
            p.drawLines(*self._segments.drawargs())
        else:
            p.drawPath(fn.arrayToQPath(x, y, connect=connect, finiteCheck=check))


class SeriesItem(pg.PlotDataItem):
    """A PlotDataItem whose line is a SeriesCurve (same options, legend and data API)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        stock = self.curve
        stock.sigClicked.disconnect(self.sigClicked)
        stock.setParentItem(None)
        self.curve = SeriesCurve()
        self.curve.setParentItem(self)
        self.curve.stackBefore(self.scatter)  # the line under its symbols, as pyqtgraph has it
        self.curve.sigClicked.connect(self.sigClicked)
        self.setCurveClickable(kwargs.get("clickable", False))
        self._styled = False  # whether the curve has had this item's style since it changed
        if args or kwargs:
            self.setData(*args, **kwargs)

    def updateItems(self, styleUpdate: bool = True) -> None:  # noqa: N802, N803
        """pyqtgraph's, but a change of data alone on a line without symbols hands the curve
        only the data: it keeps its pen, fill and the rest (sent again on every setData, they
        made it cost ~6x a PlotCurveItem's, ~70 µs against ~11 µs)."""
        o = self.opts
        drawn = o["pen"] is not None or (o["fillBrush"] is not None and o["fillLevel"] is not None)
        if styleUpdate or not self._styled or o["symbol"] is not None:
            super().updateItems(styleUpdate)
            # pyqtgraph hands the curve its style only along with data it draws: a pen set
            # before the first points must go through here again with them.
            self._styled = drawn and self._getDisplayDataset() is not None
            return
        dataset = self._getDisplayDataset()
        if dataset is None or not drawn:
            self.curve.hide()
            self.scatter.hide()
            return
        connect = o["connect"] if dataset.connect is None else dataset.connect
        if isinstance(connect, str) and connect == "auto":
            # As pyqtgraph decides it: join every point unless some may be non-finite.
            finite = dataset.containsNonfinite is False
            self.curve.setData(
                x=dataset.x,
                y=dataset.y,
                connect="all" if finite else "finite",
                skipFiniteCheck=finite,
            )
        else:
            self.curve.setData(x=dataset.x, y=dataset.y, connect=connect)
        self.curve.show()


def add_series(plot: pg.PlotItem, **kwargs: Any) -> SeriesItem:
    """A SeriesItem added to plot, as plot.plot(**kwargs) adds a PlotDataItem."""
    item = SeriesItem(**kwargs)
    plot.addItem(item)
    return item


def move_points(scatter: pg.ScatterPlotItem, x: np.ndarray, y: np.ndarray) -> None:
    """Give scatter's points new positions, keeping their styles (setData looks every point's
    symbol up again in Python: ~1 ms for 1000 points; a different count goes through it)."""
    data = scatter.data
    if len(data) != len(x) or len(x) != len(y):
        scatter.setData(x, y)
        return
    data["x"], data["y"] = x, y
    # What ScatterPlotItem.addPoints does once its points changed (pyqtgraph 0.14, pinned).
    scatter.prepareGeometryChange()
    scatter.informViewBoundsChanged()
    scatter.bounds = [None, None]
    scatter.invalidate()
    scatter.sigPlotChanged.emit(scatter)


def has_points(item: pg.PlotDataItem) -> bool:
    """Whether item has points to draw."""
    x = item.getData()[0]
    return x is not None and len(x) > 0


def set_visible_change(
    item: pg.PlotDataItem,
    x: np.ndarray,
    y: np.ndarray,
    apart: Callable[..., bool] = moves_a_pixel,
) -> bool:
    """Give item new points unless its drawing would not change by a pixel; True if it took
    them. apart(old, new, pixel size) tells: by default, whether a point moves by a quarter
    pixel; core.polyline.traces_apart for a path whose points come and go. A line that spans
    the view (the landscape's eigen-axes, its path) marks the whole view for repaint when it
    is set, although a converging run moves it by less than a pixel."""
    vb = item.getViewBox()
    old = item.getOriginalDataset()
    pixel = vb.viewPixelSize() if vb is not None else (0.0, 0.0)
    if old[0] is not None and not apart(old, (x, y), pixel):
        return False
    item.setData(x, y)
    return True
