"""Slowly changing plot items are painted from a cache that looks exactly like painting them."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from pyqtgraph.graphicsItems.LegendItem import ItemSample
from PySide6.QtWidgets import QApplication, QGraphicsItem

from gui.item_cache import cache_static_items, plot_of
from tests.conftest import WAIT_MS, settle

CACHED = QGraphicsItem.CacheMode.DeviceCoordinateCache
NO_CACHE = QGraphicsItem.CacheMode.NoCache
# Antialiased edges may round one step differently when painted into a cache first.
LEVELS = 4


def pixels(widget) -> np.ndarray:
    image = widget.grab().toImage().convertToFormat(pg.QtGui.QImage.Format.Format_RGB32)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), -1)
    return rows[:, : 4 * image.width()].astype(int)


def trained_and_paused(window, qtbot) -> None:
    window.controller.run()
    qtbot.waitUntil(lambda: window.run_state() == "running", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.latest_snapshot().step > 200, timeout=WAIT_MS)
    settle(window, qtbot)


def test_a_running_window_caches_points_lines_and_axes_but_not_curves(window, qtbot):
    trained_and_paused(window, qtbot)
    landscape = window.landscape_view
    contours = landscape.map.contours  # a curve cached by the map itself
    # Curves set only when their drawing changes by a pixel: a converged run's frames blit them.
    rarely = [landscape.path.curve, landscape.theory.axes.curve]
    for view in window.dashboard.views()[:5]:
        items = [i for i in plot_of(view).scene().items() if i is not contours]
        modes = {type(i): i.cacheMode() for i in items}
        assert modes[pg.ScatterPlotItem] == CACHED, type(view).__name__
        assert all(
            i.cacheMode() == (CACHED if any(i is r for r in rarely) else NO_CACHE)
            for i in items
            if isinstance(i, pg.PlotCurveItem | ItemSample)  # change every frame / follow a pen
        )
    assert all(curve.cacheMode() == CACHED for curve in rarely)
    axis = window.dashboard.loss_view.plotItem.getAxis("left")
    assert axis.cacheMode() == CACHED


def test_the_cached_views_look_the_same_as_painted_directly(window, qtbot):
    # A paused run after thin live pens went back to their widths: what would go stale (a
    # legend sample) or be cut off (an axis painting past its bounding rect) shows here.
    trained_and_paused(window, qtbot)
    views = window.dashboard.views()[:5]
    # Three tries: a theory thread may redraw a view between the two grabs of one.
    for _ in range(3):
        for view in views:
            assert cache_static_items(view) > 0
        QApplication.processEvents()
        cached = [pixels(v) for v in views]
        for view in views:
            for item in plot_of(view).scene().items():
                item.setCacheMode(NO_CACHE)
        direct = [pixels(v) for v in views]
        worst = {
            type(v).__name__: int(np.abs(a - b).max())
            for v, a, b in zip(views, cached, direct, strict=True)
        }
        if max(worst.values()) <= LEVELS:
            break
    assert max(worst.values()) <= LEVELS, worst
