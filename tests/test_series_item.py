"""Live series strokes only the vertices that change a pixel, and looks the same for it."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters
from PySide6 import QtGui

from gui.item_cache import plot_of
from gui.series_item import SeriesItem, move_points, set_visible_change
from tests.conftest import settle

SIZE = (420, 260)


def run_curve(n: int = 4000, jitter: float = 0.002) -> tuple[np.ndarray, np.ndarray]:
    """A parameter's path: a fall, then a slow wave of a few pixels with sub-pixel jitter."""
    rng = np.random.default_rng(3)
    x = np.arange(n, dtype=np.float64)
    y = 2.0 + 0.03 * np.sin(x / 150) + jitter * rng.standard_normal(n)
    y[:100] = np.linspace(-1.0, 2.0, 100)
    return x, y


def plot_with(qtbot, item: pg.PlotDataItem) -> pg.PlotWidget:
    view = pg.PlotWidget()
    qtbot.addWidget(view)
    view.resize(*SIZE)
    view.setBackground("w")
    view.plotItem.hideAxis("left")
    view.plotItem.hideAxis("bottom")
    view.plotItem.addItem(item)
    view.plotItem.setRange(xRange=(0, 4000), yRange=(-1.2, 2.2), padding=0)
    view.show()
    qtbot.waitExposed(view)
    return view


def ink(view: pg.PlotWidget) -> np.ndarray:
    """Mask of the pixels painted by the curve (not white)."""
    image = view.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB32)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), -1)
    rgb = rows[:, : 4 * image.width()].reshape(image.height(), image.width(), 4)[..., :3]
    return (rgb < 250).any(axis=2)


def grown(mask: np.ndarray) -> np.ndarray:
    """mask with each pixel's eight neighbours added."""
    out = mask.copy()
    padded = np.pad(mask, 1)
    h, w = mask.shape
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            out |= padded[dy : dy + h, dx : dx + w]
    return out


def test_a_converged_series_draws_a_few_vertices_within_a_pixel_of_every_point(qtbot):
    x, y = run_curve()
    pen = pg.mkPen("b", width=2)
    thin = SeriesItem(x, y, pen=pen)
    full = pg.PlotDataItem(x, y, pen=pen)
    a, b = plot_with(qtbot, thin), plot_with(qtbot, full)
    thin_ink, full_ink = ink(a), ink(b)
    assert 0 < thin.curve.drawn_points < len(x) / 5
    assert full_ink.sum() > 300
    # Every pixel one draws is at most a pixel from one the other draws.
    assert not (thin_ink & ~grown(full_ink)).any()
    assert not (full_ink & ~grown(thin_ink)).any()
    # Its data is untouched: the legend, the tooltips and the exports read all of it.
    assert np.array_equal(thin.getData()[1], y)


def test_a_noisy_series_keeps_its_detail_and_an_export_draws_every_point(qtbot, tmp_path):
    x, y = run_curve(jitter=0.5)  # jumps of tens of pixels: nothing to drop
    item = SeriesItem(x, y, pen=pg.mkPen("b", width=2))
    view = plot_with(qtbot, item)
    view.grab()
    assert item.curve.drawn_points == len(x)
    x, y = run_curve()
    item.setData(x, y)
    view.grab()
    assert item.curve.drawn_points < len(x) / 5
    exporter = pg.exporters.ImageExporter(view.plotItem)
    exporter.parameters()["width"] = 2 * SIZE[0]
    exporter.export(str(tmp_path / "curve.png"))
    assert item.curve.drawn_points == len(x)  # a file is looked at closer than a frame
    assert (tmp_path / "curve.png").stat().st_size > 0


def test_a_series_item_takes_plot_data_item_options(qtbot):
    item = SeriesItem(name="loss", pen=pg.mkPen("r", width=3), symbol="o", symbolSize=7)
    view = plot_with(qtbot, item)
    assert item.name() == "loss" and item in view.plotItem.listDataItems()
    item.setData([0.0, 1.0, 2.0], [1.0, 2.0, 1.5])
    assert item.curve.opts["pen"].widthF() == 3
    assert item.scatter.isVisible() and len(item.scatter.data) == 3
    children = item.childItems()
    assert children.index(item.curve) < children.index(item.scatter)  # line under its dots


def test_data_alone_keeps_the_style_and_draws_what_a_plot_data_item_draws(qtbot):
    x, y = run_curve(800, jitter=0.05)
    ours, theirs = (
        SeriesItem(pen=pg.mkPen("b", width=2)),
        pg.PlotDataItem(pen=pg.mkPen("b", width=2)),
    )
    a, b = plot_with(qtbot, ours), plot_with(qtbot, theirs)
    for item in (ours, theirs):
        item.setData(x, y)
        item.setPen(pg.mkPen("r", width=3))  # a style change after the first data
        item.setData(x, y + 0.2)  # data alone: the fast path
    assert ours.curve.opts["pen"].widthF() == 3 and ours.curve.opts["pen"].color().red() == 255
    assert np.array_equal(ink(a), ink(b))
    restyled = []
    set_pen = ours.curve.setPen
    ours.curve.setPen = lambda *args, **kw: (restyled.append(args), set_pen(*args, **kw))
    ours.setData(x, y)
    assert restyled == []  # the pen was not built and handed over again
    gap = y.copy()
    gap[300:320] = np.nan  # connect="auto": a gap in the line, as pyqtgraph draws it
    for item in (ours, theirs):
        item.setData(x, gap)
    assert ours.curve.opts["connect"] == theirs.curve.opts["connect"] == "finite"
    assert np.array_equal(ink(a), ink(b))
    ours.setData([], [])
    assert not ours.curve.isVisible()


def test_moving_points_draws_what_set_data_draws(qtbot):
    rng = np.random.default_rng(0)
    ax, ay = rng.uniform(0, 4000, 500), rng.uniform(-1, 2, 500)
    moved, reset = (pg.ScatterPlotItem(size=5, pen=None, brush="k") for _ in range(2))
    a, b = plot_with(qtbot, moved), plot_with(qtbot, reset)
    moved.setData(ax, ay)
    reset.setData(ax, ay)
    bx, by = ax[::-1].copy(), ay + 0.3
    move_points(moved, bx, by)
    reset.setData(bx, by)
    assert np.array_equal(ink(a), ink(b))
    assert moved.dataBounds(1) == reset.dataBounds(1)
    move_points(moved, bx[:10], by[:10])  # another count: set anew
    assert len(moved.data) == 10


def same_bounds(a, b) -> bool:
    if a[0] is None or b[0] is None:
        return tuple(a) == tuple(b)
    return np.array_equal(np.asarray(a, float), np.asarray(b, float), equal_nan=True)


def test_bounds_are_pyqtgraph_s_for_finite_and_non_finite_data(qtbot):
    rng = np.random.default_rng(1)
    cases = [rng.normal(size=50), np.array([1.0, np.nan, 3.0]), np.array([np.inf, 2.0, -1.0])]
    cases.append(np.full(4, np.nan))
    for y in cases:
        x = np.arange(y.size, dtype=np.float64)
        item, stock = SeriesItem(x, y), pg.PlotCurveItem(x, y)
        ours = item.curve
        for ax in (0, 1):
            for frac in (1.0, 0.5):
                a, b = ours.dataBounds(ax, frac), stock.dataBounds(ax, frac)
                assert same_bounds(a, b), (y, ax, frac, a, b)
        rects = [r.getRect() for r in (ours.boundingRect(), stock.boundingRect())]
        assert np.array_equal(*rects, equal_nan=True)


def test_a_style_set_before_the_first_points_reaches_the_curve(qtbot):
    # A view styles its series when it is built, before any run has points: the live loss
    # view's minibatch curve once drew with the curve's default white pen, unseen.
    x, y = run_curve(300)
    first = SeriesItem()
    first.setPen(pg.mkPen("r", width=2))
    empty_first = SeriesItem(pen=pg.mkPen("r", width=2))
    for item in (first, empty_first):
        view = plot_with(qtbot, item)
        item.setData([], [])
        item.setData(x, y)
        item.setData(x, y + 0.1)
        pen = item.curve.opts["pen"]
        assert (pen.color().name(), pen.widthF()) == ("#ff0000", 2)
        assert item.curve.isVisible() and ink(view).any()


def test_a_line_moved_by_less_than_a_quarter_pixel_is_left_as_drawn(qtbot):
    line = pg.PlotDataItem()
    view = plot_with(qtbot, line)  # 4000 x 3.4 data units over 420 x 260 pixels
    x, y = np.array([100.0, 3900.0]), np.array([-1.0, 2.0])
    assert set_visible_change(line, x, y)
    sx, sy = line.getViewBox().viewPixelSize()
    assert not set_visible_change(line, x + 0.2 * sx, y - 0.2 * sy)
    assert np.array_equal(line.getOriginalDataset()[0], x)  # still the first points
    assert set_visible_change(line, x + 0.5 * sx, y)
    assert np.array_equal(line.getOriginalDataset()[0], x + 0.5 * sx)
    assert set_visible_change(line, np.zeros(0), np.zeros(0))  # cleared
    assert line.getOriginalDataset()[0] is None and line in view.plotItem.listDataItems()


def test_every_live_series_in_the_window_draws_with_its_own_pen(window, qtbot):
    window.controller.step_epoch()
    settle(window, qtbot)
    series = [
        item
        for view in window.dashboard.views()
        if (plot := plot_of(view)) is not None
        for item in plot.plotItem.listDataItems()
        if isinstance(item, SeriesItem) and item.getOriginalDataset()[0] is not None
    ]
    assert len(series) >= 4  # the minibatch and epoch losses, the rate, a parameter, ...
    for item in series:
        if item.opts["pen"] is not None:
            assert item.curve.opts["pen"] == item.opts["pen"], item.name()
