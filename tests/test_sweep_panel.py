"""The Sweep tab, offscreen: axes, the map filling in, hover, limits, Stop, clicking a cell, the
seeds view, and the tab in the window."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QPushButton

from core.config import Config
from core.presets import preset_config
from core.sweep import SweepError
from gui.run_controller import ConfigModel
from gui.sweep_panel import SweepPanel
from gui.sweep_view import SweepView
from tests.conftest import WAIT_MS, settle


def fast(epochs: int = 20) -> Config:
    """The playground on the NumPy engine: a small sweep takes well under a second."""
    return preset_config("playground").with_values(
        {"train.implementation": "numpy", "train.epochs": epochs}
    )


@pytest.fixture
def panel(qtbot):
    """A shown panel following a configuration model; its thread is joined at teardown."""
    model = ConfigModel(fast())
    widget = SweepPanel(model)
    widget.model_for_tests = model
    qtbot.addWidget(widget)
    widget.resize(1300, 800)
    widget.show()
    yield widget
    assert widget.stop_and_wait()
    assert not widget.is_thread_running()


def small_axes(panel: SweepPanel, lrs: int = 6) -> None:
    panel.x_axis.set_values("log", 1e-3, 3.0, lrs)
    panel.y_axis.set_values("list", values="1,10,200")


def run_sweep(qtbot, panel: SweepPanel) -> None:
    with qtbot.waitSignal(
        panel.stateChanged, timeout=WAIT_MS, check_params_cb=lambda s: s == "finished"
    ):
        panel.findChild(QPushButton, "sweepButton").click()


def test_a_sweep_fills_the_map_with_limits_and_divergence(qtbot, panel) -> None:
    small_axes(panel)
    panel.seeds_spin.setValue(2)
    run_sweep(qtbot, panel)
    qtbot.waitUntil(lambda: panel.latest_snapshot() is not None and panel.latest_snapshot().done)
    panel.refresh()
    view = panel.findChild(SweepView, "sweepPlot")
    table = view.table
    assert table is not None and table.median.shape == (6, 3)
    assert (table.finished == 2).all()
    # The largest learning rate (3) diverges at every batch size; the smallest never does.
    assert (table.diverged[-1] == 1.0).all() and (table.diverged[0] == 0.0).all()
    assert len(view.marks.data) == int((table.diverged > 0).sum())
    assert np.isinf(table.median[0, 2])  # lr 1e-3, full batch: never within tolerance in 20
    names = {c.objectName() for c in view.limit_curves}
    assert names == {"limit_full_batch", "limit_minibatch"}
    x, _ = view.limit_curves[0].getData()
    assert np.isfinite(x).any()
    text = view.hover_text(2, 1)
    assert "learning rate (train.lr) = " in text and "batch size (train.batch_size) = 10" in text
    assert "median of 2 seeds" in text and "10–90% of seeds" in text
    assert "diverged" in view.hover_text(5, 0)
    assert panel.progress.value() == panel.progress.maximum() == 6 * 3 * 2
    # Hovering with the mouse shows the same text beside the cell.
    vb = view.plotItem.getViewBox()
    view._moved(vb.mapViewToScene(QPointF(2, 1)))
    assert view.hover.isVisible() and view.hover.textItem.toPlainText() == text


def test_the_measure_recolours_the_cells(qtbot, panel) -> None:
    small_axes(panel, lrs=3)
    run_sweep(qtbot, panel)
    panel.refresh()
    view = panel.view
    steps = view.image.image.copy()
    panel.measure_combo.setCurrentIndex(panel.measure_combo.findData("diverged"))
    assert view.measure == "diverged" and view.table.measure == "diverged"
    assert not np.array_equal(steps, view.image.image)
    assert "diverged" in view.plotItem.titleLabel.text


def test_stop_keeps_the_finished_cells(qtbot, panel) -> None:
    panel.epochs_spin.setValue(20_000)
    panel.x_axis.set_values("log", 1e-3, 0.1, 40)
    with qtbot.waitSignal(panel.stateChanged, timeout=WAIT_MS,
                          check_params_cb=lambda s: s == "running"):  # fmt: skip
        panel.start()
    assert panel.findChild(QPushButton, "sweepButton").text() == "Stop sweep"
    assert not panel.x_axis.isEnabled()
    with qtbot.waitSignal(panel.stateChanged, timeout=WAIT_MS,
                          check_params_cb=lambda s: s == "stopped"):  # fmt: skip
        panel.findChild(QPushButton, "sweepButton").click()
    assert panel.state() == "stopped" and "Stopped" in panel.status_label.text()
    assert panel.findChild(QPushButton, "sweepButton").text() == "Start sweep"


def test_clicking_a_cell_loads_its_settings(qtbot, panel) -> None:
    small_axes(panel, lrs=3)
    run_sweep(qtbot, panel)
    panel.refresh()
    view = panel.view
    with qtbot.waitSignal(panel.cellChosen, timeout=WAIT_MS) as chosen:
        view.cellClicked.emit(1, 2)
    config = chosen.args[0]
    assert config.train.lr == pytest.approx(math.sqrt(1e-3 * 3.0))
    assert config.train.batch_size == 200
    assert panel.model_for_tests.config() == config
    assert view.cell_at(view.plotItem.getViewBox().mapViewToScene(QPointF(1.2, 1.9))) == (1, 2)


def test_bad_axes_are_refused_with_a_message(qtbot, panel) -> None:
    panel.y_axis.set_key("train.lr")
    with qtbot.waitSignal(panel.message) as said:
        assert not panel.start()
    assert "two different settings" in said.args[1]
    panel.y_axis.set_key("train.batch_size")
    panel.y_axis.set_values("list", values="1,x")
    with pytest.raises(SweepError, match="not a number"):
        panel.axes()
    assert not panel.start() and panel.state() == "idle"


def test_the_panel_follows_the_configuration(qtbot, panel) -> None:
    panel.model_for_tests.set_config(fast(epochs=7))
    assert panel.epochs() == 7
    panel.epochs_spin.setValue(3)
    panel.model_for_tests.set_config(fast(epochs=9))
    assert panel.epochs() == 3  # set by hand: kept
    assert panel.base_config().train.epochs == 3


def test_the_seeds_view_scatters_against_the_ellipse(qtbot, panel) -> None:
    with qtbot.waitSignal(panel.stateChanged, timeout=WAIT_MS,
                          check_params_cb=lambda s: s == "finished"):  # fmt: skip
        assert panel.start_seeds(120)
    qtbot.waitUntil(lambda: panel.spread is not None, timeout=WAIT_MS)
    spread = panel.spread
    assert spread.thetas.shape == (120, 2)
    assert 0.85 <= spread.inside <= 1.0
    assert "inside the 95% ellipse" in panel.seeds_view.plotItem.titleLabel.text
    qtbot.waitUntil(lambda: "inside the 95% sampling ellipse" in panel.status_label.text())
    x, _ = panel.seeds_view.ellipse.getData()
    assert len(x) > 100


def test_export_writes_the_sweep(qtbot, panel, tmp_path) -> None:
    assert panel.export(tmp_path) == []
    small_axes(panel, lrs=3)
    run_sweep(qtbot, panel)
    paths = panel.export(tmp_path)
    assert sorted(p.name for p in paths) == ["sweep.csv", "sweep.json", "sweep.png", "sweep.svg"]
    lines = (tmp_path / "sweep.csv").read_text().splitlines()
    assert lines[0].startswith("train.lr,train.batch_size,seed,") and len(lines) == 1 + 9


# ---- in the window ------------------------------------------------------------------------------
def test_the_sweep_tab_in_the_window(qtbot, window) -> None:
    tabs = window.main_tabs
    window.sweep_tab_action.trigger()
    assert tabs.tabText(tabs.currentIndex()) == "Sweep"
    assert window.sweep_tab_action.shortcut().toString() == "Ctrl+3"
    panel = window.sweep_panel
    assert panel.findChild(SweepView, "sweepPlot") is not None
    assert "Sweep" in window.guide()
    window.controller.edit({"train.implementation": "numpy"})
    settle(window, qtbot)
    panel.epochs_spin.setValue(10)
    window.toggle_run()
    qtbot.waitUntil(lambda: window.run_state() == "running", timeout=WAIT_MS)
    panel.x_axis.set_values("log", 0.01, 0.3, 3)
    panel.y_axis.set_values("list", values="5,10")
    with qtbot.waitSignal(panel.stateChanged, timeout=WAIT_MS,
                          check_params_cb=lambda s: s == "finished"):  # fmt: skip
        panel.start()
    # The live run paused while the sweep ran (two trainings would share two cores).
    assert window.run_state() != "running"
    panel.refresh()
    panel.load_cell(2, 0)
    assert tabs.currentWidget() is window.dashboard
    assert window.config().train.lr == pytest.approx(0.3)
    assert window.config().train.batch_size == 5
    qtbot.waitUntil(lambda: window.run_state() in ("running", "completed"), timeout=WAIT_MS)
    window.shutdown()
    assert not panel.is_thread_running()
