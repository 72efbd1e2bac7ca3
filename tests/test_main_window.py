"""The window end to end, offscreen: run, pause, step, live lr, reset, export, divergence."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QDoubleSpinBox, QFileDialog, QSlider

from core.presets import preset_config
from gui.main_window import MainWindow
from tests.conftest import WAIT_MS, click, settle, step_of

ROOT = Path(__file__).resolve().parents[1]


def test_launch_has_every_control(window):
    names = [
        "weightsTable",
        "addFeatureButton",
        "removeFeatureButton",
        "biasSpin",
        "noiseSpin",
        "samplesSpin",
        "seedSpin",
        "valFractionSpin",
        "batchSizeSpin",
        "lrSpin",
        "lrSlider",
        "optimizerCombo",
        "implementationCombo",
        "momentumSpin",
        "weightDecaySpin",
        "epochsSpin",
        "standardizeCheck",
        "speedSlider",
        "runButton",
        "stepBatchButton",
        "stepEpochButton",
        "resetButton",
        "lossPlot",
        "fitPlot",
        "paramPlot",
    ]
    for name in names:
        widget = window.findChild(object, name)
        assert widget is not None, name
        if name.endswith("Button"):
            assert "(" in widget.toolTip(), f"{name} tooltip shows its shortcut"
    assert window.latest_snapshot() is None
    assert window.menuBar().actions()


def test_run_converges_then_pause_stops_steps(window, qtbot):
    click(window, "runButton")
    qtbot.waitUntil(lambda: window.run_state() == "running", timeout=WAIT_MS)

    def near_true() -> bool:
        snap = window.latest_snapshot()
        return snap is not None and abs(snap.weights[0] - 2.0) < 0.1 and abs(snap.bias - 1) < 0.1

    qtbot.waitUntil(near_true, timeout=WAIT_MS)
    click(window, "runButton")
    qtbot.waitUntil(lambda: window.run_state() == "paused", timeout=WAIT_MS)
    settle(window, qtbot, pause=False)
    paused_at = step_of(window)
    # The loop no longer trains, and the trainer stands where the last snapshot said.
    assert not window.worker.is_active()
    assert window.history().last_step == paused_at
    window.step_batch()
    qtbot.waitUntil(lambda: step_of(window) == paused_at + 1, timeout=WAIT_MS)
    settle(window, qtbot, pause=False)
    assert window.history().last_step == paused_at + 1
    assert f"step {paused_at + 1}" in window.status.label.text()
    assert "paused" in window.status.label.text()  # no stale rate while nothing runs


def test_step_batch_and_epoch(window, qtbot):
    click(window, "stepBatchButton")
    qtbot.waitUntil(lambda: step_of(window) == 1, timeout=WAIT_MS)
    click(window, "stepBatchButton")
    qtbot.waitUntil(lambda: step_of(window) == 2, timeout=WAIT_MS)
    before = window.latest_snapshot().epoch
    click(window, "stepEpochButton")
    qtbot.waitUntil(lambda: window.latest_snapshot().epoch == before + 1, timeout=WAIT_MS)
    snap = window.latest_snapshot()
    assert snap.step == snap.n_batches  # the epoch finished the one already begun
    assert len(snap.batch_indices) == 10


def test_change_lr_mid_run_keeps_run_and_marks_plot(window, qtbot):
    click(window, "runButton")
    qtbot.waitUntil(lambda: step_of(window) > 100, timeout=WAIT_MS)
    spin = window.findChild(QDoubleSpinBox, "lrSpin")
    spin.setValue(0.002)
    qtbot.waitUntil(
        lambda: any("lr" in text for _, text in window.latest_snapshot().events),
        timeout=WAIT_MS,
    )
    snap = window.latest_snapshot()
    step_of_change = next(s for s, text in snap.events if "lr" in text)
    assert step_of_change > 100  # no reset happened
    qtbot.waitUntil(lambda: step_of(window) > step_of_change + 50, timeout=WAIT_MS)
    # The plot marks the change on its next redraw.
    qtbot.waitUntil(lambda: window.loss_view.event_count() >= 1, timeout=WAIT_MS)


def test_reset_clears_snapshot_and_restarts(window, qtbot):
    click(window, "runButton")
    qtbot.waitUntil(lambda: step_of(window) > 50, timeout=WAIT_MS)
    info_before = window.run_info()
    click(window, "resetButton")
    # (waitSignal on the worker's cross-thread signal would stop its timer from that thread.)
    qtbot.waitUntil(lambda: window.run_info() is not info_before, timeout=WAIT_MS)
    assert window.latest_snapshot() is None
    qtbot.waitUntil(lambda: window.run_state() != "running", timeout=WAIT_MS)


def test_divergence_is_reported_not_crashed(window, qtbot):
    slider = window.findChild(QSlider, "lrSlider")
    slider.setValue(slider.maximum())  # lr = 10, far past the stable bound
    click(window, "runButton")
    qtbot.waitUntil(lambda: window.run_state() == "diverged", timeout=WAIT_MS)
    # The message is its own signal, right behind the state change.
    qtbot.waitUntil(lambda: "diverged" in window.banner.label.text(), timeout=WAIT_MS)
    text = window.banner.label.text()
    assert "diverged" in text and "stable below" in text
    snap = window.latest_snapshot()
    assert snap is not None and np.all(np.isfinite(snap.weights))


def test_export_every_format(window, qtbot, tmp_path):
    click(window, "stepEpochButton")
    qtbot.waitUntil(lambda: step_of(window) >= 20, timeout=WAIT_MS)
    paths = window.export_run(tmp_path)
    names = {p.name for p in paths}
    for view in ("loss", "fit", "params"):
        assert f"{view}.png" in names and f"{view}.svg" in names
        svg = ET.parse(tmp_path / f"{view}.svg").getroot()
        assert any(el.tag.endswith(("path", "polyline")) for el in svg.iter())
    for name in ("window.png", "loss.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "history.csv").read_text().startswith("step,loss")
    assert (tmp_path / "config.json").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_export_failure_shows_message_and_leaves_nothing(window, qtbot, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    target = blocker / "sub"  # under a file: no folder can be made there
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    window.export_action.trigger()
    assert window.banner.level == "error"
    assert window.banner.text().startswith("Export failed, nothing partial was left:")
    assert str(target) in window.banner.text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
    assert blocker.read_text() == "not a folder"


def test_set_controls_then_run_learns_the_new_line(window, qtbot):
    from PySide6.QtWidgets import QDoubleSpinBox as Spin

    info_before = window.run_info()
    window.findChild(Spin, "biasSpin").setValue(-3.0)
    window.controller.flush()
    qtbot.waitUntil(lambda: window.run_info() is not info_before, timeout=WAIT_MS)
    assert window.run_info().true_theta[-1] == -3.0
    click(window, "runButton")

    def near() -> bool:
        snap = window.latest_snapshot()
        return snap is not None and abs(snap.bias + 3.0) < 0.1

    qtbot.waitUntil(near, timeout=WAIT_MS)


def test_bad_config_file_keeps_the_run(window, qtbot, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"train": {"lr": -1}}')
    info_before = window.run_info()
    assert not window.open_config(bad)
    assert "train.lr" in window.banner.label.text()
    assert window.banner.level == "error"
    assert window.run_info() is info_before
    good = tmp_path / "good.json"
    good.write_text('{"data": {"true_weights": [1.5, -2.0]}}')
    assert window.open_config(good)
    qtbot.waitUntil(lambda: window.run_info() is not info_before, timeout=WAIT_MS)
    assert len(window.run_info().param_names) == 3


def test_csv_in_window_bad_file_keeps_run_good_file_trains(window, qtbot, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,y\n1,2,3\n4,oops,6\n")
    info_before = window.run_info()
    weights_before = window.panel.config().data.true_weights
    # Loaded in the training thread: the message comes once the file has been read.
    assert window.open_csv(str(bad), "y", ["a", "b"], True)
    qtbot.waitUntil(lambda: "line 3" in window.banner.label.text(), timeout=WAIT_MS)
    assert window.banner.level == "error" and not window.is_busy()
    assert window.banner.text().endswith("The current run is kept.")
    assert window.run_info() is info_before
    # The controls show the run that was kept.
    assert window.panel.config().data.csv_path is None
    assert window.panel.config().data.true_weights == weights_before
    good = tmp_path / "good.csv"
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(200, 2))
    y = 2 * rows[:, 0] - 3 * rows[:, 1] + 1
    good.write_text(
        "a,b,y\n" + "\n".join(f"{a},{b},{t}" for (a, b), t in zip(rows, y, strict=True))
    )
    assert window.open_csv(str(good), "y", ["a", "b"], True)
    qtbot.waitUntil(lambda: window.run_info() is not info_before, timeout=WAIT_MS)
    assert window.run_info().true_theta is None
    np.testing.assert_allclose(window.run_info().ols_theta, [2, -3, 1], atol=1e-9)


def test_secondary_views_follow_the_run(window, qtbot):
    # Live frames (no refresh) reach the landscape, and whichever view the fit's tabs show.
    click(window, "runButton")
    landscape = window.landscape_view
    for tab in (window.dashboard.residual_view, window.dashboard.weight_bars):
        window.fit_tabs.setCurrentWidget(tab)
        step = step_of(window)
        for view in (landscape, tab):
            qtbot.waitUntil(
                lambda v=view, s=step: (
                    v.shown_snapshot() is not None and v.shown_snapshot().step > s
                ),
                timeout=WAIT_MS,
            )
    settle(window, qtbot)
    window.refresh()
    snap = window.latest_snapshot()
    for view in window.views()[:-1]:  # the predict panel shows predictions, tested apart
        assert view.shown_snapshot().step == snap.step, view.objectName()
    np.testing.assert_array_equal(window.dashboard.weight_bars.heights()["learned"], snap.weights)
    x, y = landscape.current.getData()
    i, j = landscape.grid_params()
    # The point is left as drawn while it moves by less than a quarter pixel (a converging
    # run's frames then repaint nothing there): it is that close to the parameters.
    sx, sy = landscape.plotItem.getViewBox().viewPixelSize()
    assert abs(x[0] - snap.theta_trained[i]) <= 0.25 * sx
    assert abs(y[0] - snap.theta_trained[j]) <= 0.25 * sy
    for name in ("explain_lossPlot", "explain_fitPlot", "explain_landscapePlot"):
        assert window.findChild(object, name).toolTip()


def test_condition_number_drops_with_standardisation(window, qtbot):
    from PySide6.QtWidgets import QCheckBox

    def number() -> float:
        return float(window.status.condition_label.text().split()[-1])

    before = number()
    info_before = window.run_info()
    window.findChild(QCheckBox, "standardizeCheck").setChecked(True)
    window.controller.flush()
    qtbot.waitUntil(lambda: window.run_info() is not info_before, timeout=WAIT_MS)
    assert number() < before
    assert number() == pytest.approx(1.0, abs=1e-6)  # standardised, uncorrelated: round bowl


def test_refresh_lays_out_axes_so_a_grab_has_every_label(qtbot):
    # The loss falls over four decades: the axis needs wider labels than it started with,
    # and before a relayout it dropped those that did not fit ("100", "1000", "10⁴").
    from PySide6.QtGui import QImage, QPainter

    win = MainWindow(preset_config("tiny-numpy-f64").with_value("train.epochs", 3000))
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    win.controller.set_speed(None)
    win.controller.run()
    qtbot.waitUntil(lambda: win.run_state() == "completed", timeout=WAIT_MS)
    win.refresh()
    axis = win.loss_view.plotItem.getAxis("left")
    image = QImage(10, 10, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        texts = {text for _, _, text in axis.generateDrawSpecs(painter)[2]}
    finally:
        painter.end()
    assert {"10", "100", "1000"} <= texts
    win.close()
