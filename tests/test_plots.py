"""Tests for gui.plots: the loss, fit and parameter views (pytest-qt, offscreen)."""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import TypeVar

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6 import QtWidgets
from pytestqt.qtbot import QtBot

from core.presets import preset_config
from core.runinfo import RunInfo, run_info
from core.trainer import Snapshot, Trainer
from gui.axes import LOG_LABEL_GAP, LogLabelAxis
from gui.plots import (
    PAD,
    FitView,
    LossView,
    ParamView,
    PlotView,
    finite_bounds,
    needs_refit,
    padded,
)

Run = tuple[Trainer, RunInfo, Snapshot]
V = TypeVar("V", bound=PlotView)


def _trainer(name: str, steps: int, **changes: object) -> Trainer:
    config = preset_config(name)
    for dotted, value in changes.items():
        config = config.with_value(dotted.replace("__", "."), value)
    trainer = Trainer(config)
    trainer.run_steps(steps)
    return trainer


@pytest.fixture(scope="module")
def run_1d() -> Run:
    # playground: 200 rows, one feature, batch 10; an lr change records an event mid-run.
    trainer = _trainer("playground", 50)
    trainer.set_hyper(lr=0.03)
    trainer.run_steps(30)
    return trainer, run_info(trainer), trainer.snapshot()


@pytest.fixture(scope="module")
def run_3d() -> Run:
    trainer = _trainer("d2l-concise-3", 60)
    return trainer, run_info(trainer), trainer.snapshot()


def _view(qtbot, cls: type[V], info: RunInfo, snap: Snapshot | None = None) -> V:
    view = cls()
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.set_run(info)
    if snap is not None:
        view.update_snapshot(snap)
    return view


def _n_points(item: object) -> int:
    x = item.getData()[0]
    return 0 if x is None else len(x)


def _y_range(view: PlotView) -> tuple[float, float]:
    return tuple(view.plotItem.getViewBox().viewRange()[1])


def _x_range(view: PlotView) -> tuple[float, float]:
    return tuple(view.plotItem.getViewBox().viewRange()[0])


# ---- range helpers ---------------------------------------------------------------------


def test_finite_bounds_skips_nan_and_empty() -> None:
    assert finite_bounds(np.array([np.nan, 2.0, -1.0]), np.zeros(0)) == (-1.0, 2.0)
    assert finite_bounds(np.array([np.nan]), np.zeros(0)) is None


def test_padded_and_refit_rules() -> None:
    assert padded(0.0, 10.0) == (-0.5, 10.5)
    lo, hi = padded(3.0, 3.0)
    assert lo < 3.0 < hi
    assert needs_refit(0.0, 1.0, None)
    assert needs_refit(-1.0, 1.0, (0.0, 2.0))  # left the range
    assert needs_refit(0.0, 0.1, (0.0, 2.0))  # shrank far inside
    assert not needs_refit(0.5, 1.5, (0.0, 2.0))


# ---- loss view -------------------------------------------------------------------------


def test_loss_view_draws_series_and_noise_floor(qtbot: QtBot, run_1d: Run) -> None:
    _, info, snap = run_1d
    view = _view(qtbot, LossView, info, snap)
    assert view.objectName() == "lossPlot"
    x, y = view.batch_curve.getData()
    np.testing.assert_array_equal(x, snap.loss_steps)
    np.testing.assert_allclose(y, snap.loss_values)
    x, y = view.train_curve.getData()
    np.testing.assert_array_equal(x, snap.epoch_steps)
    np.testing.assert_allclose(y, snap.epoch_train)
    # playground has no validation split: the curve stays empty and out of the legend.
    assert np.isnan(snap.epoch_val).all()
    assert _n_points(view.val_curve) == 0
    assert "validation loss" not in [label.text for _, label in view.legend.items]
    assert view.floor_line.isVisible()
    assert view.floor_line.value() == pytest.approx(info.noise_floor)
    # Autorange stays off; the managed ranges hold all the data.
    assert view.plotItem.getViewBox().autoRangeEnabled() == [False, False]
    x_lo, x_hi = _x_range(view)
    assert x_lo <= 0 and x_hi >= snap.loss_steps[-1]
    y_lo, y_hi = _y_range(view)
    assert y_lo <= 0 and y_hi >= snap.loss_values.max()


def test_loss_view_shows_validation_when_present(qtbot: QtBot) -> None:
    trainer = _trainer("playground", 60, data__val_fraction=0.2)
    snap = trainer.snapshot()
    view = _view(qtbot, LossView, run_info(trainer), snap)
    _, y = view.val_curve.getData()
    np.testing.assert_allclose(y, snap.epoch_val)
    assert "validation loss" in [label.text for _, label in view.legend.items]


def test_epoch_dots_only_for_few_epochs(qtbot: QtBot, run_1d: Run) -> None:
    _, info, snap = run_1d
    view = _view(qtbot, LossView, info, snap)
    assert view.train_curve.opts["symbol"] == "o"  # 5 epoch points: dots show how sparse
    many = np.linspace(0, snap.step, 500)
    dense = dataclasses.replace(
        snap, epoch_steps=many, epoch_train=np.ones(500), epoch_val=np.full(500, np.nan)
    )
    view.update_snapshot(dense)
    assert view.train_curve.opts["symbol"] is None
    assert not view.train_curve.scatter.isVisible()


def test_event_markers_follow_snapshots_and_reset(qtbot: QtBot, run_1d: Run) -> None:
    _, info, snap = run_1d
    view = _view(qtbot, LossView, info, snap)
    assert len(view.markers) == view.event_count() == 1
    marker = view.markers[0]
    assert marker.value() == pytest.approx(50)
    assert marker.label.textItem.toPlainText() == "lr 0.01 -> 0.03"
    view.update_snapshot(snap)  # the same events again: nothing new to draw
    assert len(view.markers) == 1
    view.mark_event(70, "manual")
    assert len(view.markers) == 2
    view.set_run(info)
    assert len(view.markers) == 0
    assert marker not in view.plotItem.items


def test_cursor_shows_and_hides(qtbot: QtBot, run_1d: Run) -> None:
    _, info, snap = run_1d
    view = _view(qtbot, LossView, info, snap)
    assert not view.cursor_line.isVisible()
    view.set_cursor(42)
    assert view.cursor_line.isVisible()
    assert view.cursor_line.value() == 42
    view.set_cursor(None)
    assert not view.cursor_line.isVisible()


def test_log_toggle_copes_with_zero_losses(qtbot: QtBot, run_1d: Run) -> None:
    _, info, snap = run_1d
    zeros = snap.loss_values.copy()
    zeros[5:15] = 0.0
    epoch_train = snap.epoch_train.copy()
    epoch_train[-1] = 0.0
    snap0 = dataclasses.replace(snap, loss_values=zeros, epoch_train=epoch_train)
    view = _view(qtbot, LossView, info, snap0)
    view.set_log_y(True)
    assert view.log_y
    for curve in (view.batch_curve, view.train_curve):
        # Raw data is clipped positive, so the log10 the curve draws is finite everywhere.
        assert (curve.yData > 0).all()
        assert np.isfinite(curve.getData()[1]).all()
    smallest = zeros[zeros > 0].min()
    assert view.batch_curve.yData.min() == pytest.approx(smallest)
    assert view.floor_line.value() == pytest.approx(math.log10(info.noise_floor))
    # Ranges are in log10 units now, and autorange is still off after setLogMode.
    assert view.plotItem.getViewBox().autoRangeEnabled() == [False, False]
    y_lo, y_hi = _y_range(view)
    assert y_lo <= math.log10(smallest) and y_hi >= math.log10(zeros.max())
    view.set_log_y(False)
    assert view.floor_line.value() == pytest.approx(info.noise_floor)
    np.testing.assert_allclose(view.batch_curve.yData, zeros)


def test_x_axis_grows_in_jumps_not_per_frame(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> None:
    trainer = _trainer("playground", 1)
    view = _view(qtbot, LossView, run_info(trainer), trainer.snapshot())
    calls: list[tuple[float, float]] = []
    original = view.plotItem.setXRange

    def spy(lo: float, hi: float, **kwargs: object) -> None:
        calls.append((lo, hi))
        original(lo, hi, **kwargs)

    monkeypatch.setattr(view.plotItem, "setXRange", spy)
    for _ in range(300):
        trainer.step()
        view.update_snapshot(trainer.snapshot())
    # 300 frames, a handful of axis changes, each keeping the newest step on screen.
    assert 1 <= len(calls) <= 8
    assert _x_range(view)[1] >= trainer.step_count
    assert view.plotItem.getViewBox().autoRangeEnabled() == [False, False]


def test_stopped_run_fits_x_to_the_data(qtbot: QtBot) -> None:
    trainer = _trainer("playground", 10_000)  # runs to its 30 planned epochs
    snap = trainer.snapshot()
    assert snap.stopped_reason == "completed"
    view = _view(qtbot, LossView, run_info(trainer), snap)
    assert _x_range(view)[1] == pytest.approx(snap.step, rel=0.05)


def test_user_zoom_stops_following_until_reset_view(qtbot, run_1d: Run) -> None:
    _, info, snap = run_1d
    view = _view(qtbot, LossView, info, snap)
    view.plotItem.getViewBox().sigRangeChangedManually.emit([True, True])
    view.plotItem.setXRange(10, 20, padding=0)
    view.update_snapshot(snap)
    assert _x_range(view) == pytest.approx((10, 20))
    view.reset_view()
    assert _x_range(view)[1] >= snap.loss_steps[-1]


# ---- fit view --------------------------------------------------------------------------


def test_fit_view_one_feature(qtbot: QtBot, run_1d: Run) -> None:
    trainer, info, snap = run_1d
    view = _view(qtbot, FitView, info, snap)
    assert view.objectName() == "fitPlot"
    assert len(view.points.data) == len(info.y) == 200
    x = info.x[:, 0]
    span = np.array([x.min(), x.max()])
    lx, ly = view.fit_line.getData()
    np.testing.assert_allclose(lx, span)
    np.testing.assert_allclose(ly, snap.weights[0] * span + snap.bias)
    _, ty = view.true_line.getData()
    np.testing.assert_allclose(ty, info.true_theta[0] * span + info.true_theta[1])
    _, oy = view.ols_line.getData()
    np.testing.assert_allclose(oy, info.ols_theta[0] * span + info.ols_theta[1])
    # Every batch row is displayed (200 rows, no sampling): one highlight per batch row.
    bx, by = view.batch_points.getData()
    assert len(bx) == trainer.batch_size == 10
    np.testing.assert_allclose(np.sort(bx), np.sort(x[snap.batch_indices]))
    np.testing.assert_allclose(np.sort(by), np.sort(info.y[snap.batch_indices]))
    assert view.plotItem.getAxis("bottom").labelText == info.feature_names[0]


def test_fit_view_highlights_only_displayed_batch_rows(qtbot: QtBot, run_1d: Run) -> None:
    _, info, snap = run_1d
    keep = np.arange(0, info.x.shape[0], 2)
    sampled = dataclasses.replace(info, x=info.x[keep], y=info.y[keep], sample_rows=keep)
    view = _view(qtbot, FitView, sampled, snap)
    expected = np.isin(snap.batch_indices, keep).sum()
    assert len(view.batch_points.data) == expected < len(snap.batch_indices)
    view.update_snapshot(dataclasses.replace(snap, batch_indices=np.zeros(0, dtype=np.int64)))
    assert len(view.batch_points.data) == 0


def test_fit_view_several_features_plots_predicted_vs_actual(qtbot: QtBot, run_3d: Run) -> None:
    _, info, snap = run_3d
    view = _view(qtbot, FitView, info, snap)
    px, py = view.points.getData()
    np.testing.assert_allclose(px, info.y)
    np.testing.assert_allclose(py, info.x @ snap.weights + snap.bias)
    ix, iy = view.identity_line.getData()
    np.testing.assert_allclose(ix, iy)
    assert _n_points(view.fit_line) == 0
    assert len(view.batch_points.data) == 10
    assert "actual" in view.plotItem.getAxis("bottom").labelText
    assert "predicted" in view.plotItem.getAxis("left").labelText
    y_lo, y_hi = _y_range(view)
    assert y_lo <= py.min() and y_hi >= py.max()


# ---- parameter view --------------------------------------------------------------------


def test_param_view_curves_and_true_values(qtbot: QtBot, run_3d: Run) -> None:
    _, info, snap = run_3d
    view = _view(qtbot, ParamView, info, snap)
    assert view.objectName() == "paramPlot"
    assert len(view.curves) == 4
    for k, curve in enumerate(view.curves):
        x, y = curve.getData()
        np.testing.assert_array_equal(x, snap.loss_steps)
        np.testing.assert_allclose(y, snap.param_values[:, k])
        assert view.true_lines[k].value() == pytest.approx(info.true_theta[k])
        assert view.true_lines[k].pen.color() == curve.opts["pen"].color()
    labels = [label.text for _, label in view.legend.items]
    assert labels == ["w[x1]", "w[x2]", "w[x3]", "bias", "true value"]
    colors = {curve.opts["pen"].color().name() for curve in view.curves}
    assert len(colors) == 4


def test_param_view_hides_bias_without_fit_bias(qtbot: QtBot) -> None:
    trainer = _trainer("playground", 20, model__fit_bias=False)
    info = run_info(trainer)
    view = _view(qtbot, ParamView, info, trainer.snapshot())
    assert not info.fit_bias
    assert view.curves[0].isVisible() and not view.curves[1].isVisible()
    assert not view.true_lines[1].isVisible()
    assert [label.text for _, label in view.legend.items] == ["w[x1]", "true value"]


def test_param_view_reuses_items_across_runs(qtbot: QtBot, run_1d, run_3d: Run) -> None:
    view = _view(qtbot, ParamView, run_3d[1], run_3d[2])
    view.set_run(run_1d[1])
    view.update_snapshot(run_1d[2])
    assert len(view.curves) == 2
    assert len(view.legend.items) == 3
    view.set_run(run_3d[1])
    assert len(view.curves) == 4
    assert all(_n_points(curve) == 0 for curve in view.curves)


@pytest.mark.parametrize("cls", [FitView, ParamView])
def test_reset_view_restores_ranges(qtbot: QtBot, run_1d: Run, cls: type[PlotView]) -> None:
    _, info, snap = run_1d
    view = _view(qtbot, cls, info, snap)
    home = (_x_range(view), _y_range(view))
    view.plotItem.getViewBox().sigRangeChangedManually.emit([True, True])
    view.plotItem.setRange(xRange=(100, 200), yRange=(100, 200), padding=0)
    view.update_snapshot(snap)
    assert _x_range(view) == pytest.approx((100, 200))
    view.reset_view()
    assert _x_range(view) == pytest.approx(home[0])
    assert _y_range(view) == pytest.approx(home[1])


def _log_labels(qtbot: QtBot, height: int, lo: float, hi: float) -> dict[float, str]:
    """Labels a log-mode axis of this height gives the ticks from 10**lo to 10**hi."""
    view = pg.PlotWidget(axisItems={"left": LogLabelAxis("left")})
    qtbot.addWidget(view)
    view.resize(300, height)
    view.plotItem.setLogMode(y=True)
    view.plotItem.setYRange(lo, hi, padding=0)
    view.show()
    qtbot.waitExposed(view)
    axis = view.plotItem.getAxis("left")
    values = [
        math.log10(m * 10.0**e) for e in range(math.floor(lo), math.ceil(hi)) for m in range(1, 10)
    ] + [float(math.ceil(hi))]
    labels = dict(zip(values, axis.logTickStrings(values, 1.0, 1.0), strict=True))
    # No two labels closer than the gap, in pixels.
    px = axis.geometry().height() / (hi - lo)
    shown = sorted(v * px for v, text in labels.items() if text)
    assert all(b - a >= LOG_LABEL_GAP for a, b in itertools.pairwise(shown))
    return {round(10**v, 6): text for v, text in labels.items()}


def test_log_axis_labels_thin_out_instead_of_overlapping(qtbot: QtBot) -> None:
    tall = _log_labels(qtbot, 1200, -1, 1)  # ~550 px per decade: every tick labelled
    assert all(tall.values()) and tall[0.3] == "0.3" and tall[7] == "7" and tall[10] == "10"
    mid = _log_labels(qtbot, 400, -1, 1)  # ~160 px: decades, 5, 2 and a few more
    assert [mid[v] for v in (0.1, 0.2, 0.5, 1, 2, 5, 10)] == [
        "0.1",
        "0.2",
        "0.5",
        "1",
        "2",
        "5",
        "10",
    ]
    assert not mid[0.9]  # too close to the 1
    low = _log_labels(qtbot, 300, -6, 5)  # ~25 px: decades only
    assert {text for text in low.values() if text} == {
        "10⁻⁶",
        "10⁻⁵",
        "0.0001",
        "0.001",
        "0.01",
        "0.1",
        "1",
        "10",
        "100",
        "1000",
        "10⁴",
        "10⁵",
    }


def test_parameter_legend_wraps_to_the_width_and_stays_above_the_data(
    qtbot: QtBot, run_3d: Run
) -> None:
    _, info, snap = run_3d
    view = _view(qtbot, ParamView, info, snap)
    view.show()
    qtbot.waitExposed(view)
    vb = view.plotItem.getViewBox()
    for width in (900, 330):
        view.resize(width, 300)
        qtbot.waitUntil(lambda w=width: abs(view.width() - w) < 2, timeout=5000)
        QtWidgets.QApplication.processEvents()
        legend = view.legend.mapRectToItem(vb, view.legend.boundingRect())
        assert legend.right() <= vb.width()  # no entry clipped off the right edge
        # The highest curve or true-value line is drawn below the legend.
        top = max(float(np.max(snap.param_values)), float(np.max(info.true_theta)))
        assert vb.mapViewToScene(pg.Point(0, top)).y() > view.legend.sceneBoundingRect().bottom()
    assert view.legend.columnCount < 5  # 5 entries did not fit on one row in 330 px


# ---- log step axis ---------------------------------------------------------------------


@pytest.mark.parametrize("cls", [LossView, ParamView])
def test_log_step_axis_draws_from_step_one(qtbot: QtBot, run_1d: Run, cls: type[V]) -> None:
    _, info, snap = run_1d
    assert snap.loss_steps[0] == 0 or snap.epoch_steps[0] == 0  # step 0 is in the data
    view = _view(qtbot, cls, info, snap)
    linear = _x_range(view)
    view.set_log_steps(True)
    assert view.log_steps and view.plotItem.getAxis("bottom").logMode
    assert view.plotItem.getViewBox().autoRangeEnabled() == [False, False]
    curves = [view.batch_curve, view.train_curve] if cls is LossView else view.curves[:1]
    for curve in curves:
        # Step 0 is left out rather than drawn at log10(0) = -inf; the rest is all there.
        assert curve.xData.min() >= 1
        assert np.isfinite(curve.getData()[0]).all()
    x = curves[0].xData
    np.testing.assert_array_equal(x, snap.loss_steps[snap.loss_steps >= 1])
    # The axis spans step 1 to past the newest step, in log10 units.
    lo, hi = _x_range(view)
    assert lo <= 0.0 and hi >= math.log10(snap.step)
    view.set_log_steps(False)
    assert not view.log_steps and not view.plotItem.getAxis("bottom").logMode
    assert _x_range(view) == pytest.approx(linear)
    np.testing.assert_array_equal(curves[0].xData, snap.loss_steps)


def test_log_step_axis_moves_markers_and_cursor(qtbot: QtBot, run_1d: Run) -> None:
    _, info, snap = run_1d
    view = _view(qtbot, LossView, info, snap)
    view.set_cursor(42)
    view.set_log_steps(True)
    assert view.markers[0].value() == pytest.approx(math.log10(50))
    assert view.cursor_line.value() == pytest.approx(math.log10(42))
    view.mark_event(0, "at the start")  # sits at the axis' left end, step 1
    assert view.markers[-1].value() == 0.0
    view.set_cursor(7)
    assert view.cursor_line.value() == pytest.approx(math.log10(7))
    view.set_log_y(True)  # the loss axis switches without undoing the step axis
    assert view.plotItem.getAxis("bottom").logMode and view.plotItem.getAxis("left").logMode
    view.set_log_steps(False)
    assert view.markers[0].value() == 50 and view.markers[-1].value() == 0
    assert view.cursor_line.value() == 7


def test_log_step_axis_before_a_run_and_at_step_zero(qtbot: QtBot, run_1d: Run) -> None:
    _, info, snap = run_1d
    view = LossView()
    qtbot.addWidget(view)
    view.set_log_steps(True)  # before any run: the axis shows steps 1 to 10
    assert _x_range(view)[1] == pytest.approx(1.0 + PAD / 2)
    view.set_run(info)
    first = dataclasses.replace(
        snap,
        step=0,
        loss_steps=np.zeros(1),
        loss_values=np.ones(1),
        param_values=snap.param_values[:1],
        epoch_steps=np.zeros(1),
        epoch_train=np.ones(1),
        epoch_val=np.full(1, np.nan),
        events=(),
    )
    view.update_snapshot(first)
    assert _n_points(view.batch_curve) == 0
    view.update_snapshot(snap)
    assert _n_points(view.batch_curve) == int((snap.loss_steps >= 1).sum())
    # A new run keeps the log axis.
    view.set_run(info)
    assert view.log_steps and _x_range(view)[0] <= 0.0


def test_a_change_label_moves_off_the_noise_floor_label(qtbot: QtBot, run_1d: Run) -> None:
    _, info, snap = run_1d
    view = _view(qtbot, LossView, info, snap)
    view.show()
    qtbot.waitExposed(view)
    floor = view.floor_line.value()
    span = 4.0 * floor
    view._set_y(floor - 0.35 * span, floor + 0.65 * span)  # the floor where a label sits
    view.mark_event(0, "lr 0.01 -> 0.05")  # at the left end, beside the floor's label
    label, floor_label = view.markers[-1].label, view.floor_line.label

    def clear() -> bool:
        return not label.sceneBoundingRect().intersects(floor_label.sceneBoundingRect())

    qtbot.waitUntil(clear, timeout=2000)
    assert label.orthoPos != 0.35 and label.isVisible()
    view.mark_event(snap.step, "lr 0.05 -> 0.02")  # at the right: nothing in its way
    assert not label.isVisible()  # only the newest change keeps its label
    qtbot.waitUntil(lambda: not view._unclutter.isActive(), timeout=2000)
    assert view.markers[-1].label.orthoPos == 0.35
