"""What a new user tripped over in a first afternoon with the app, each pinned by a test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QDoubleSpinBox, QFileDialog, QSpinBox, QTableWidget

from core.presets import preset_config
from gui.actions import ACTIONS
from gui.main_window import MainWindow
from tests.conftest import WAIT_MS, click, settle


def _csv(folder: Path, rows: int = 200) -> Path:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(rows, 2))
    path = folder / "house.csv"
    np.savetxt(
        path, np.column_stack([x, x @ [3.0, -1.0] + 5]), delimiter=",", header="a,b,y", comments=""
    )
    return path


def test_a_presets_settings_stay_with_its_own_data(window, qtbot, tmp_path):
    window.load_preset("tiny-numpy-f64")  # no bias term, batch 3, 1e6 epochs, float64, numpy
    settle(window, qtbot)
    window.findChild(QDoubleSpinBox, "momentumSpin").setValue(0.5)  # set by hand: kept
    info = window.run_info()
    assert window.open_csv(str(_csv(tmp_path)), "y", ["a", "b"], False)
    qtbot.waitUntil(lambda: window.run_info() is not info, timeout=WAIT_MS)
    settle(window, qtbot)
    config = window.config()
    m, t = config.model, config.train
    assert m.fit_bias and m.dtype == "float32" and t.implementation == "module"
    assert t.batch_size == 10 and t.shuffle and t.momentum == 0.5
    assert t.lr < window.controller.stable_lr()
    assert t.epochs < 1_000_000
    text = window.banner.text()
    assert "house.csv" in text and "bias term on" in text and "Fitted to this data" in text
    # With the intercept learnable, the run reaches least squares.
    np.testing.assert_allclose(window.run_info().ols_theta, [3, -1, 5], atol=1e-6)
    # Fields a file does not have show nothing rather than the preset's values.
    for name in ("biasSpin", "noiseSpin", "correlationSpin"):
        assert window.findChild(QDoubleSpinBox, name).text() == "—", name
    assert window.findChild(QSpinBox, "samplesSpin").text() == "—"
    table = window.findChild(QTableWidget, "weightsTable")
    assert [table.verticalHeaderItem(r).text() for r in range(2)] == ["a", "b"]
    assert table.item(0, 0).text() == "—"
    window.load_preset("playground")
    settle(window, qtbot)
    assert window.findChild(QDoubleSpinBox, "biasSpin").text() == "1"


def test_without_a_bias_term_the_floor_is_the_best_that_model_can_reach(qtbot):
    config = preset_config("playground").with_value("model.fit_bias", False)
    win = MainWindow(config)
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: win.run_info() is not None, timeout=WAIT_MS)
    info = win.run_info()
    assert info.floor_label == "best loss without a bias term"
    assert info.noise_floor == pytest.approx(info.ols_loss) and info.ols_loss > 0.5**2
    assert win.loss_view.floor_line.label.format == "best loss without a bias term"
    win.shutdown()


def test_a_run_of_hours_unthrottles_and_says_so(window, qtbot):
    window.controller.set_speed(100.0)
    window.load_preset("tiny-numpy-f64")  # 1,000,000 steps: hours at 100 steps/s
    assert window.controller.speed() is None
    assert window.panel.speed() is None
    assert "unthrottled" in window.banner.text()
    window.controller.set_speed(100.0)
    window.load_preset("playground")  # 600 steps: six seconds
    assert window.controller.speed() == 100.0
    settle(window, qtbot)


def test_the_banner_never_moves_the_plots(window, qtbot):
    settle(window, qtbot)
    qtbot.waitUntil(lambda: window.banner.isHidden() or True, timeout=WAIT_MS)
    window.banner.hide()
    views = (window.loss_view, window.param_view, window.fit_tabs, window.main_tabs.tabBar())
    before = [(v.mapTo(window, QPoint(0, 0)), v.size()) for v in views]
    window.show_message("error", "A long message " * 20)
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=WAIT_MS)
    after = [(v.mapTo(window, QPoint(0, 0)), v.size()) for v in views]
    assert after == before
    # Never over the tab bars: the banner sits below both.
    banner_top = window.banner.mapTo(window, QPoint(0, 0)).y()
    for bar in (window.main_tabs.tabBar(), window.fit_tabs.tabBar()):
        assert banner_top > bar.mapTo(window, QPoint(0, bar.height())).y()


def test_nothing_running_shows_no_rate(window, qtbot, tmp_path):
    window.toggle_run()
    qtbot.waitUntil(lambda: "steps/s" in window.status.label.text(), timeout=WAIT_MS)
    window.toggle_run()
    settle(window, qtbot)
    assert "steps/s" not in window.status.label.text()
    assert "paused" in window.status.label.text()
    path = window.save_run(tmp_path / "mine.lrrun")
    window.open_run(path)
    settle(window, qtbot)
    assert "steps/s" not in window.status.label.text()


def test_a_throttled_run_shows_the_rate_it_achieves(window, qtbot):
    window.controller.set_speed(100.0)
    window.toggle_run()
    qtbot.waitUntil(lambda: window.controller.achieved_rate() is not None, timeout=WAIT_MS)
    start = window.latest_snapshot().step
    qtbot.waitUntil(lambda: window.latest_snapshot().step >= start + 150, timeout=WAIT_MS)
    rate = window.controller.achieved_rate()
    assert 40 < rate < 160  # about 100, never the engine's thousands
    assert f"{rate:,.0f} steps/s" in window.status.label.text() or "steps/s" in (
        window.status.label.text()
    )
    settle(window, qtbot)


def test_file_dialogs_remember_their_folder_per_kind(window, qtbot, tmp_path, monkeypatch):
    data_dir, runs_dir = tmp_path / "data", tmp_path / "runs"
    data_dir.mkdir()
    runs_dir.mkdir()
    csv = _csv(data_dir)
    started: dict[str, str] = {}

    def fake_open(_parent, caption, start, _filters):
        started[caption] = start
        return {"Open CSV data": str(csv), "Open run": ""}[caption], ""

    monkeypatch.setattr(QFileDialog, "getOpenFileName", fake_open)
    monkeypatch.setattr("gui.csv_dialog.CsvDialog.exec", lambda self: 0)  # cancelled
    window.dialogs.open_csv()
    window.dialogs.open_csv()
    assert started["Open CSV data"] == str(data_dir)
    window.dialogs.open_run()
    assert started["Open run"] == ""  # another kind: not the data folder

    def fake_save(_parent, caption, start, _filters):
        started[caption] = start
        return str(tmp_path / "exports" / "first"), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", fake_save)
    window.step_epoch()
    settle(window, qtbot)
    window.dialogs.export_run()  # a folder that does not exist yet: made
    assert (tmp_path / "exports" / "first" / "window.png").is_file()
    assert "Exported" in window.banner.text()
    window.dialogs.export_run()
    assert started["Export run to folder"].startswith(str(tmp_path / "exports"))


def test_the_guide_names_every_menu_entry_and_tab(window):
    guide = window.guide()
    for spec in ACTIONS:
        assert spec.text.replace("&", "") in guide, spec.name
    for name in ("Training", "Optimizer race", "Fit", "Residuals", "Weights", "Predict"):
        assert name in guide
    for word in ("landscape", "Rewind", "CSV", ".lrrun", "GIF", "model.json"):
        assert word in guide, word


def test_a_message_about_the_last_run_goes_with_it(window, qtbot):
    window.controller.set_speed(None)
    window.apply_config(window.config().with_value("train.epochs", 2))
    settle(window, qtbot)
    window.toggle_run()
    qtbot.waitUntil(lambda: "Finished" in window.banner.text(), timeout=WAIT_MS)
    info = window.run_info()
    # Another feature makes a new run (the noise, say, would move the data under this one,
    # which stays finished).
    click(window, "addFeatureButton")
    qtbot.waitUntil(lambda: window.run_info() is not info, timeout=WAIT_MS)
    assert window.run_info().x.shape[1] == 2
    assert "Finished" not in window.banner.text()


def test_legends_never_cover_the_data_in_a_small_window(qtbot):
    from PySide6.QtCore import QPointF

    win = MainWindow(preset_config("playground"))
    qtbot.addWidget(win)
    win.resize(1000, 650)
    win.show()
    win.controller.set_speed(None)
    qtbot.waitUntil(lambda: win.run_info() is not None, timeout=WAIT_MS)
    win.toggle_run()
    qtbot.waitUntil(lambda: win.run_state() == "completed", timeout=WAIT_MS)
    win.refresh()
    for view in (win.loss_view, win.fit_view, win.param_view):
        legend = view.legend
        if not legend.isVisible():
            continue
        box = legend.sceneBoundingRect()
        vb = view.plotItem.getViewBox()
        for item in view.plotItem.listDataItems():
            x, y = item.getData()
            if x is None or not len(x):
                continue
            for xi, yi in zip(
                x[:: max(1, len(x) // 300)], y[:: max(1, len(y) // 300)], strict=True
            ):
                if not (np.isfinite(xi) and np.isfinite(yi)):
                    continue
                p = vb.mapViewToScene(QPointF(float(xi), float(yi)))
                assert not box.contains(p), (view.objectName(), xi, yi)
    win.shutdown()
