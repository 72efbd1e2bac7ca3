"""Plot items that change rarely are painted from a pixmap, not by their Python paint code."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QGraphicsItem, QWidget

from gui.axes import ReadableAxis

# Points, lines, labels, legends, axes, shaded bands and images: while a run trains they keep
# still (or move rarely), yet each frame repainted them all through pyqtgraph's Python paint
# methods. Cached in device pixels, Qt blits them until they change (their own update()) or
# the axes move. Curves are left out: they change every frame, and a cache would only add a
# copy; so are legend samples, which paint another item's pen and would not know it changed.
# Measured in the window (d2l-concise-3, flat out): a frame held the training loop 10.7 -> 8.6
# ms (median).
CACHED_KINDS: tuple[type, ...] = (
    pg.ScatterPlotItem,
    pg.InfiniteLine,
    pg.TextItem,
    pg.LegendItem,
    pg.LinearRegionItem,
    pg.ImageItem,
    ReadableAxis,  # pyqtgraph's own AxisItem paints past its bounding rect
)
CACHE = QGraphicsItem.CacheMode.DeviceCoordinateCache


def draw_rarely(item: pg.PlotDataItem) -> None:
    """Have item's line painted from the cache too: a curve whose owner sets it only when its
    drawing changes by a pixel (the landscape's path and eigen-axes; see
    gui.series_item.set_visible_change), so most frames only blit it."""
    item.curve.drawn_rarely = True


def cacheable(item: QGraphicsItem) -> bool:
    """Whether item paints slowly changing content inside its bounding rect (a cache clips to
    it: an image's border is drawn half outside)."""
    if isinstance(item, pg.ImageItem) and item.border is not None:
        return False
    return isinstance(item, CACHED_KINDS) or getattr(item, "drawn_rarely", False)


def plot_of(view: QWidget) -> pg.GraphicsView | None:
    """The pyqtgraph view that draws view (itself, or its plot), if any."""
    if isinstance(view, pg.GraphicsView):
        return view
    plot = getattr(view, "plot", None)
    return plot if isinstance(plot, pg.GraphicsView) else None


def cache_static_items(view: QWidget) -> int:
    """Have view's slowly changing items painted from a cache; returns how many are now."""
    plot = plot_of(view)
    # The cache is kept at one pixel per device pixel; where the screen scales (HiDPI) the
    # items are painted as before rather than risk a scaled, soft copy.
    if plot is None or plot.devicePixelRatioF() != 1.0:
        return 0
    cached = 0
    for item in plot.scene().items():
        if cacheable(item):
            if item.cacheMode() != CACHE:
                item.setCacheMode(CACHE)
            cached += 1
    return cached
