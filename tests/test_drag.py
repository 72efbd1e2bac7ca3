"""Data that moves under a running fit, and plots you can grab (issue 10, items 2 and 5),
through the window as a user drives it: sliders, the fit plot and the landscape."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QSlider, QSpinBox

from core.analysis import least_squares
from gui.controls import WEIGHT_SCALE
from gui.frame_pacer import paint_target
from tests.conftest import WAIT_MS, settle

LEFT = Qt.MouseButton.LeftButton


def _run(window, qtbot, steps: int = 0) -> None:
    window.toggle_run()
    qtbot.waitUntil(lambda: window.run_state() == "running", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: _step(window) > steps, timeout=WAIT_MS)


def _step(window) -> int:
    snap = window.latest_snapshot()
    return 0 if snap is None else snap.step


def _record(window) -> tuple[list, list]:
    resets, moved = [], []
    window.controller.runReset.connect(lambda info, snap: resets.append(info))
    window.controller.dataChanged.connect(lambda info, snap: moved.append(info))
    return resets, moved


def _events(window) -> list[str]:
    return [text for _, text in window.history().events()]


def _drag_slider(slider: QSlider, positions: list[int]) -> None:
    """A drag as the user makes it: press, the slider steps, release."""
    slider.sliderPressed.emit()
    for position in positions:
        slider.setValue(position)
    slider.sliderReleased.emit()


def _pixel(plot, view_box, x: float, y: float):
    """Where the data point (x, y) of a plot is, in its viewport's pixels."""
    return plot.mapFromScene(view_box.mapViewToScene(QPointF(x, y)))


def _at(plot, view_box, pixel) -> tuple[float, float]:
    """The data point under a viewport pixel."""
    p = view_box.mapSceneToView(plot.mapToScene(pixel))
    return p.x(), p.y()


def _mouse(widget, kind: QEvent.Type, pixel, buttons) -> None:
    button = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseMove else LEFT
    pos = QPointF(pixel)
    event = QMouseEvent(
        kind, pos, widget.mapToGlobal(pos), button, buttons, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, event)


def _mouse_drag(plot, pixels: list) -> None:
    """Press at the first pixel, move through the others with the button held, release."""
    viewport = plot.viewport()
    _mouse(viewport, QEvent.Type.MouseButtonPress, pixels[0], LEFT)
    for pixel in pixels[1:]:
        _mouse(viewport, QEvent.Type.MouseMove, pixel, LEFT)
    _mouse(viewport, QEvent.Type.MouseButtonRelease, pixels[-1], Qt.MouseButton.NoButton)


def _map_pixel(view, fx: float, fy: float):
    """The pixel at fractions (fx, fy) of the landscape's ranges, or the nearest one on a
    grid of fractions that the legend (which takes clicks of its own) does not cover."""
    vb = view.map.plotItem.getViewBox()
    (u0, u1), (v0, v1) = view.map.view_ranges()
    legend = view.map.legend.sceneBoundingRect()
    tries = [(fx, fy)] + [(a / 10, b / 10) for a in range(1, 10) for b in range(1, 10)]
    tries.sort(key=lambda f: (f[0] - fx) ** 2 + (f[1] - fy) ** 2)
    for a, b in tries:
        scene = vb.mapViewToScene(QPointF(u0 + a * (u1 - u0), v0 + b * (v1 - v0)))
        if not legend.contains(scene):
            return view.plot.mapFromScene(scene)
    raise AssertionError("the legend covers the whole landscape")


# ---- data that moves under a running fit ------------------------------------------------------
def test_a_bias_drag_moves_the_targets_under_the_running_fit(window, qtbot):
    resets, moved = _record(window)
    _run(window, qtbot, 50)
    before = _step(window)
    slider = window.findChild(QSlider, "biasSlider")
    start = window.config().data.true_bias
    _drag_slider(slider, [WEIGHT_SCALE.position(b) for b in (1.5, 2.5, 3.5, 4.0)])
    bias = window.config().data.true_bias
    assert bias == 4.0
    qtbot.waitUntil(lambda: bool(moved) and moved[-1].true_theta[-1] == bias, timeout=WAIT_MS)
    # The run went on (no reset), and its bias chases the moved data's least squares.
    ols_bias = moved[-1].ols_theta[-1]
    assert ols_bias == pytest.approx(bias, abs=0.2)
    qtbot.waitUntil(lambda: _step(window) > before + 2000, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: abs(window.latest_snapshot().bias - ols_bias) < 0.05, timeout=WAIT_MS)
    assert window.run_state() == "running"
    settle(window, qtbot)
    assert resets == []
    assert window.worker.trained_config().data.true_bias == bias
    assert _events(window) == [f"bias {start:g} -> {bias:g}"]  # one marker for the drag


def test_the_views_follow_moved_data_without_starting_over(window, qtbot):
    window.step_epoch()
    window.step_epoch()
    settle(window, qtbot)
    resets, moved = _record(window)
    window.refresh()
    curve = window.loss_view.batch_curve.xData.copy()
    landscape = window.landscape_view.map
    minimum = landscape.minimum.getData()
    window.controller.edit({"data.true_weights": [3.5]})  # a weight typed in its box
    settle(window, qtbot)
    window.refresh()
    info = window.run_info()
    assert resets == [] and len(moved) == 1 and info is moved[0]
    np.testing.assert_array_equal(info.true_theta, [3.5, 1.0])
    # The loss plot kept its curves and marks the change; the true and least-squares lines,
    # the dashed true weight and the landscape's minimum moved.
    np.testing.assert_array_equal(window.loss_view.batch_curve.xData, curve)
    assert window.loss_view.marker_labels() == ["w 2 -> 3.5"]
    fit = window.fit_view
    x0, x1 = fit.true_line.xData
    np.testing.assert_allclose(fit.true_line.yData, [3.5 * x0 + 1.0, 3.5 * x1 + 1.0])
    w_ols, b_ols = info.ols_theta
    np.testing.assert_allclose(fit.ols_line.yData, [w_ols * x0 + b_ols, w_ols * x1 + b_ols])
    assert w_ols == pytest.approx(3.5, abs=0.2)
    assert window.param_view.true_lines[0].value() == 3.5
    assert landscape.minimum.getData()[0][0] != minimum[0][0]
    np.testing.assert_allclose(landscape.minimum.getData()[0][0], info.ols_trained[0])


def test_samples_rebuild_the_data_under_a_running_run(window, qtbot):
    resets, moved = _record(window)
    _run(window, qtbot, 100)
    window.findChild(QSpinBox, "samplesSpin").setValue(1000)
    qtbot.waitUntil(lambda: bool(moved) and moved[-1].n_train == 1000, timeout=WAIT_MS)
    rebuilt_at = _step(window)
    qtbot.waitUntil(lambda: _step(window) > rebuilt_at + 500, timeout=WAIT_MS)
    settle(window, qtbot)
    assert resets == [] and not window.is_busy()
    assert _events(window) == ["samples 200 -> 1,000"]
    steps = window.history().steps()[0]
    assert steps[0] == 0 and steps[-1] > rebuilt_at  # one history, from the first step


# ---- grab the plots ---------------------------------------------------------------------------
def test_dragging_a_sample_moves_the_least_squares_line(window, qtbot):
    window.step_epoch()
    settle(window, qtbot)
    window.refresh()
    info = window.run_info()
    k = int(np.argmax(info.x[:, 0]))  # the rightmost sample: it tilts the line most
    x, y = float(info.x[k, 0]), float(info.y[k])
    fit = window.fit_view
    vb = fit.plotItem.getViewBox()
    pixels = [_pixel(fit, vb, x, y + dy) for dy in (0.0, 2.0, 6.0, 12.0)]
    _mouse_drag(fit, pixels)
    x_new, y_new = _at(fit, vb, pixels[-1])  # before the axes follow the moved sample
    settle(window, qtbot)
    window.refresh()
    after = window.run_info()
    # The sample is where it was dropped; the least squares of the moved rows, steeper.
    assert after.x[k, 0] == pytest.approx(x_new) and after.y[k] == pytest.approx(y_new)
    rows_x, rows_y = info.x.copy(), info.y.copy()
    rows_x[k, 0], rows_y[k] = after.x[k, 0], after.y[k]  # as stored (float32 features)
    np.testing.assert_allclose(after.ols_theta, np.append(*least_squares(rows_x, rows_y)))
    assert after.ols_theta[0] > info.ols_theta[0] + 0.01
    np.testing.assert_allclose(fit.points.getData()[1][k], y_new)
    assert _events(window) == ["moved a sample"]  # one gesture, one event
    # Reset brings the generated data back.
    window.reset_run()
    settle(window, qtbot)
    np.testing.assert_array_equal(window.run_info().y, info.y)


def test_a_press_away_from_the_samples_pans_the_plot(window, qtbot):
    settle(window, qtbot)
    _, moved = _record(window)
    fit = window.fit_view
    vb = fit.plotItem.getViewBox()
    (x0, x1), (y0, y1) = vb.viewRange()
    info = window.run_info()
    # Of points in the lower two thirds (the legend is along the top), the farthest from
    # every sample.
    grid = [(x0 + a * (x1 - x0), y0 + b * (y1 - y0)) for a in (0.05, 0.5, 0.95) for b in (0.1, 0.6)]
    x, y = max(grid, key=lambda p: np.min(np.hypot(info.x[:, 0] - p[0], info.y - p[1])))
    start = _pixel(fit, vb, x, y)
    _mouse_drag(fit, [start, start + QPoint(30, 0), start + QPoint(60, 0)])
    settle(window, qtbot)
    assert moved == [] and vb.viewRange()[0][0] < x0  # panned, nothing moved


def test_a_click_on_the_landscape_sets_the_parameters(window, qtbot):
    window.step_epoch()
    settle(window, qtbot)
    window.refresh()
    view = window.landscape_view
    vb = view.map.plotItem.getViewBox()
    pixel = _map_pixel(view, 0.3, 0.7)
    qtbot.mouseClick(view.plot.viewport(), LEFT, pos=pixel)
    settle(window, qtbot)
    u, v = _at(view.plot, vb, pixel)
    placed = window.controller.current_snapshot()
    # The playground trains in float32: the point as float32 holds it.
    np.testing.assert_allclose(placed.theta_trained, [u, v], rtol=1e-6)
    assert _events(window) == [f"parameters set to w {u:.3g}, b {v:.3g}"]
    assert view.current.getData()[0][0] == pytest.approx(u, rel=1e-6)
    # Run goes on from there: the path restarts at the point.
    window.step_batch()
    settle(window, qtbot)
    window.refresh()
    snap = window.latest_snapshot()
    assert snap.step == placed.step + 1
    np.testing.assert_allclose(snap.path()[0], [u, v], rtol=1e-6)
    np.testing.assert_allclose(view.path.getData()[0][0], u, rtol=1e-6)


def test_a_drag_on_the_landscape_is_one_event_and_the_point_follows(window, qtbot):
    window.step_epoch()
    settle(window, qtbot)
    window.refresh()
    view = window.landscape_view
    vb = view.map.plotItem.getViewBox()
    pixels = [_map_pixel(view, t, 1 - t) for t in (0.2, 0.3, 0.4, 0.5)]
    _mouse_drag(view.plot, pixels)
    settle(window, qtbot)
    u, v = _at(view.plot, vb, pixels[-1])
    np.testing.assert_allclose(window.controller.current_snapshot().theta_trained, [u, v], 1e-6)
    assert _events(window) == [f"parameters set to w {u:.3g}, b {v:.3g}"]


def test_a_click_on_the_landscape_before_the_first_step_moves_the_start(window, qtbot):
    settle(window, qtbot)
    window.refresh()
    view = window.landscape_view
    vb = view.map.plotItem.getViewBox()
    pixel = _map_pixel(view, 0.6, 0.4)
    qtbot.mouseClick(view.plot.viewport(), LEFT, pos=pixel)
    settle(window, qtbot)
    u, v = _at(view.plot, vb, pixel)
    start = window.controller.current_snapshot()
    assert start.step == 0
    np.testing.assert_allclose(start.theta_trained, [u, v], rtol=1e-6)
    window.step_batch()
    settle(window, qtbot)
    np.testing.assert_allclose(window.latest_snapshot().path()[0], [u, v], rtol=1e-6)


def test_moved_data_is_drawn_a_view_a_stage_and_the_rate_plot_keeps_its_curves(window, qtbot):
    """While the data moves every view repaints whole: a frame then paints one view at a time
    (input waits for a view, not a row), and the rate plot follows without starting over."""
    window.step_epoch()
    window.step_epoch()
    settle(window, qtbot)
    window.refresh()
    d = window.dashboard
    snap = window.latest_snapshot()
    rows = [[w for w in stage.widgets] for stage in d._stages(snap)]
    loss, lr, fit = (paint_target(v) for v in (d.loss_view, d.lr_view, d.fit_view))
    param, landscape = paint_target(d.param_view), paint_target(d.landscape_view)
    assert rows == [[loss, lr, fit], [param, landscape]]
    d._moved = window.run_info()  # as a drag's change leaves it for the next frame
    rows = [[w for w in stage.widgets] for stage in d._stages(snap)]
    assert rows == [[loss, lr], [fit], [param], [landscape]]
    d._moved = d._unseen = None
    # The rate plot's stable band follows the data's curvature; its curves stay.
    used = d.lr_view.used()
    assert used[0].size > 0
    info = dataclasses.replace(window.run_info(), max_stable_lr=0.123)
    d.lr_view.follow_data(info)
    assert d.lr_view.stable_lr == 0.123
    np.testing.assert_array_equal(d.lr_view.used()[0], used[0])


def test_a_view_that_followed_moved_data_is_waited_for(window, qtbot, monkeypatch):
    """A regridded landscape repaints even when the snapshot moved nothing on it: the frame
    waits for that paint (it came after the frame, with the training loop running again)."""
    window.step_epoch()
    settle(window, qtbot)
    window.refresh()
    d = window.dashboard
    snap = window.latest_snapshot()
    monkeypatch.setattr(d.landscape_view, "update_snapshot", lambda s: False)
    assert d._draw([d.landscape_view], snap) == [paint_target(d.landscape_view)]
    assert d._draw([d.landscape_view], snap, window.run_info()) == []


def test_target_changes_are_numbered_and_the_newest_is_carried_out(window, qtbot):
    """A drag's changes replace each other in the worker's slot: the window knows its last
    change is carried out when the worker says so by its number."""
    settle(window, qtbot)
    live = window.controller.live
    taken: list[int] = []
    window.worker.targetsTaken.connect(taken.append)
    for bias in (1.5, 2.0, 2.5):
        window.controller.edit({"data.true_bias": bias})
    assert live.pending()
    qtbot.waitUntil(lambda: not live.pending(), timeout=WAIT_MS)
    settle(window, qtbot)
    assert taken and taken[-1] == 3 and taken == sorted(taken)
    assert window.run_info().true_theta[-1] == 2.5
