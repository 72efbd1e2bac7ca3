"""One owner for the run's state: the run controller, the worker base, the frame pacer and the
actions table, through the window as a user drives it."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QSlider, QSpinBox, QToolButton

from core.analysis import max_stable_lr
from core.presets import preset_config
from gui.actions import ACTIONS, MENUS, TOOLBAR, attribute_name
from gui.controls import slider_for_lr, slider_for_speed
from gui.race_worker import RaceWorker
from gui.worker import TrainingWorker
from gui.worker_base import LoopWorker
from tests.conftest import WAIT_MS, settle


def _spin(window, name: str) -> QDoubleSpinBox:
    return window.findChild(QDoubleSpinBox, name)


def test_a_learning_rate_change_reaches_every_holder(window, qtbot):
    # Found on the old window: the box showed 0.0421, config() and the race still said 0.01.
    settle(window, qtbot)
    _spin(window, "lrSpin").setValue(0.0421)
    assert window.config().train.lr == 0.0421
    assert window.race_panel.base_config().train.lr == 0.0421
    assert window.race_panel.entries()[0].lr == 0.0421  # untouched rows follow
    settle(window, qtbot)
    assert window.worker.trained_config().train.lr == 0.0421
    assert window.panel.config() is window.config()  # one owner, nothing copied


def test_the_stable_mark_follows_weight_decay(window, qtbot):
    settle(window, qtbot)
    slider = window.panel.lr_slider
    before = slider.marker()
    window.findChild(QComboBox, "optimizerCombo").setCurrentIndex(0)  # sgd
    _spin(window, "weightDecaySpin").setValue(5.0)
    info = window.run_info()
    expected = max_stable_lr(info.stats, "mse", True, weight_decay=5.0)
    assert window.controller.stable_lr() == pytest.approx(expected)
    assert slider.marker() == slider_for_lr(expected) != before
    assert f"{float(f'{expected:.3g}'):g}" in window.panel.lr_bound_label.text()


def test_data_edits_rebuild_the_data_once_after_a_drag(window, qtbot):
    settle(window, qtbot)
    resets, rebuilt = [], []
    window.controller.runReset.connect(lambda info, snap: resets.append(info))
    window.worker.dataChanged.connect(lambda info, snap, anew: rebuilt.append(anew))
    samples = window.findChild(QSpinBox, "samplesSpin")
    for value in (300, 400, 500, 600):
        samples.setValue(value)
    assert window.config().data.n_samples == 600  # at once, before the rebuild
    settle(window, qtbot)
    # Rebuilt once under the run (its parameters and history kept), not a new run.
    assert resets == [] and rebuilt == [True]
    assert window.worker.trained_config().data.n_samples == 600
    assert window.run_info().n_train == 600


def test_live_changes_keep_the_run_and_setup_changes_rebuild_it(window, qtbot):
    window.step_epoch()
    settle(window, qtbot)
    info = window.run_info()
    step = window.latest_snapshot().step
    _spin(window, "lrSpin").setValue(0.05)
    window.findChild(QSpinBox, "epochsSpin").setValue(77)
    settle(window, qtbot)
    assert window.run_info() is info and window.latest_snapshot().step == step
    assert window.worker.trained_config().train.epochs == 77
    window.findChild(QSpinBox, "batchSizeSpin").setValue(32)
    settle(window, qtbot)
    assert window.run_info() is not info
    assert window.run_info().n_batches == math.ceil(window.run_info().n_train / 32)


def test_both_workers_share_one_base_with_named_calls():
    for cls in (TrainingWorker, RaceWorker):
        assert issubclass(cls, LoopWorker)
        assert not hasattr(cls, "send")  # no command strings
    for name in ("configure", "run", "pause", "step_batch", "step_epoch", "set_hyper", "stop"):
        assert callable(getattr(TrainingWorker, name))
    for name in ("start_race", "stop_race", "stop"):
        assert callable(getattr(RaceWorker, name))


def test_menus_toolbar_and_shortcuts_come_from_the_table(window):
    menus = {}
    for menu_action in window.menuBar().actions():
        menu = menu_action.menu()
        menus[menu.title().replace("&", "")] = list(menu.actions())
    assert list(menus) == list(MENUS)
    for spec in ACTIONS:
        action = window.actions_by_name[spec.name]
        assert action.objectName() == spec.name
        assert getattr(window, attribute_name(spec.name)) is action
        assert action in menus[spec.menu], spec.name
        if spec.button:
            assert window.findChild(QToolButton, spec.button).defaultAction() is action
    buttons = [s.name for s in ACTIONS if s.button]
    assert sorted(buttons) == sorted(n for n in TOOLBAR if n)


def test_every_shortcut_works_as_a_key_event(window, qtbot):
    # Each shortcut, typed: exactly the action it names fires, once, and does what it says.
    # (File dialogs and the guide stand in for themselves: nobody can click offscreen.)
    window.activateWindow()
    settle(window, qtbot)
    fired = []
    for spec in ACTIONS:
        action = window.actions_by_name[spec.name]
        action.triggered.connect(lambda _=False, n=spec.name: fired.append(n))
    opened = []
    for name in ("open_config", "save_config", "open_csv", "open_run", "save_run"):
        setattr(window.dialogs, name, lambda n=name: opened.append(n))
    for name in ("export_run", "export_gif"):
        setattr(window.dialogs, name, lambda n=name: opened.append(n))
    window.show_guide = lambda: opened.append("guide")
    info, log_y, log_steps = window.run_info(), window.loss_view.log_y, window.loss_view.log_steps
    effects = {
        "openAction": lambda: opened[-1] == "open_config",
        "saveAction": lambda: opened[-1] == "save_config",
        "openCsvAction": lambda: opened[-1] == "open_csv",
        "openRunAction": lambda: opened[-1] == "open_run",
        "saveRunAction": lambda: opened[-1] == "save_run",
        "exportAction": lambda: opened[-1] == "export_run",
        "exportGifAction": lambda: opened[-1] == "export_gif",
        "runAction": lambda: window.run_state() == "running",
        "stepBatchAction": lambda: window.run_state() == "paused",
        "stepEpochAction": lambda: window.is_idle() and window.latest_snapshot().epoch >= 1,
        "resetAction": lambda: window.run_info() is not info and window.latest_snapshot() is None,
        "predictAction": lambda: window.fit_tabs.currentIndex() == window.fit_tabs.count() - 1,
        "raceAction": lambda: window.race_panel.is_running(),
        "trainingTabAction": lambda: window.main_tabs.currentIndex() == 0,
        "raceTabAction": lambda: window.main_tabs.currentIndex() == 1,
        "sweepTabAction": lambda: window.main_tabs.currentIndex() == 2,
        "logAction": lambda: window.loss_view.log_y != log_y,
        "logStepsAction": lambda: window.loss_view.log_steps != log_steps,
        "guideAction": lambda: opened[-1] == "guide",
    }
    typed = [s for s in ACTIONS if s.shortcut and s.name != "quitAction"]
    assert {s.name for s in typed} == set(effects)  # a new shortcut needs its effect here
    for spec in typed:
        key = window.actions_by_name[spec.name].shortcut()[0]
        qtbot.keyClick(window, key.key(), key.keyboardModifiers())
        assert fired[-1:] == [spec.name] and fired.count(spec.name) == 1, (spec.name, fired)
        qtbot.waitUntil(effects[spec.name], timeout=WAIT_MS)
    window.race_panel.stop_and_wait()
    # Quit last: it closes the window, and the training thread with it.
    key = window.quit_action.shortcut()[0]
    qtbot.keyClick(window, key.key(), key.keyboardModifiers())
    assert fired[-1] == "quitAction"
    assert not window.isVisible() and not window.host.thread.isRunning()


def test_a_run_set_to_100_steps_a_second_runs_at_about_100(window, qtbot):
    # The speed slider at 100 steps/s; the rate is measured as steps over the time the test
    # itself saw pass between snapshots at least two seconds apart (a ratio, not a deadline).
    slider = window.findChild(QSlider, "speedSlider")
    slider.setValue(slider_for_speed(100.0))
    assert window.controller.speed() == pytest.approx(100.0)
    seen: list[tuple[float, int]] = []
    window.controller.snapshot.connect(lambda snap: seen.append((time.perf_counter(), snap.step)))
    window.toggle_run()
    qtbot.waitUntil(lambda: len(seen) >= 2 and seen[-1][0] - seen[0][0] >= 2.0, timeout=WAIT_MS)
    (t0, s0), (t1, s1) = seen[0], seen[-1]
    assert 60 <= (s1 - s0) / (t1 - t0) <= 140, (s1 - s0, t1 - t0)
    settle(window, qtbot)


def test_space_runs_from_a_numeric_field(window, qtbot):
    # A focused number box took the space for itself: it blanked the box and nothing ran.
    settle(window, qtbot)
    lr = _spin(window, "lrSpin")
    text, value = lr.text(), window.config().train.lr
    lr.setFocus()
    qtbot.waitUntil(lr.hasFocus, timeout=WAIT_MS)
    qtbot.keyClick(lr, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: window.run_state() == "running", timeout=WAIT_MS)
    assert lr.text() == text and window.config().train.lr == value
    qtbot.keyClick(lr, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: window.run_state() == "paused", timeout=WAIT_MS)


def test_run_while_rewound_goes_live_and_runs(window, qtbot):
    window.step_epoch()
    window.step_epoch()
    settle(window, qtbot)
    window.rewind_to(5)
    assert window.is_reviewing()
    window.toggle_run()
    assert not window.is_reviewing()
    qtbot.waitUntil(lambda: window.run_state() == "running", timeout=WAIT_MS)
    settle(window, qtbot)


def test_a_hidden_dashboard_neither_parks_nor_waits(window, qtbot):
    pacer = window.dashboard.pacer
    window.toggle_run()
    qtbot.waitUntil(lambda: pacer.frames >= 2, timeout=WAIT_MS)
    window.main_tabs.setCurrentIndex(1)  # the race tab: no training view can be seen
    qtbot.waitUntil(lambda: not pacer.is_drawing(), timeout=WAIT_MS)
    frames, parks = pacer.frames, pacer.parks
    step = window.latest_snapshot().step
    qtbot.waitUntil(lambda: window.latest_snapshot().step > step + 500, timeout=WAIT_MS)
    assert (pacer.frames, pacer.parks) == (frames, parks)
    window.showMinimized()
    window.main_tabs.setCurrentIndex(0)
    step = window.latest_snapshot().step
    qtbot.waitUntil(lambda: window.latest_snapshot().step > step + 500, timeout=WAIT_MS)
    assert (pacer.frames, pacer.parks) == (frames, parks)
    window.showNormal()
    qtbot.waitUntil(lambda: pacer.frames > frames, timeout=WAIT_MS)
    settle(window, qtbot)


def test_predict_tab_predicts_with_the_current_model_and_exports(window, qtbot, tmp_path):
    window.step_epoch()
    settle(window, qtbot)
    window.actions_by_name["predictAction"].trigger()
    panel = window.dashboard.predict_panel
    assert window.fit_tabs.currentWidget().widget() is panel and panel.isVisible()
    panel.set_values([[0.5], [-1.25]])
    snap = window.latest_snapshot()
    x = np.array([[0.5], [-1.25]])
    np.testing.assert_allclose(panel.results()["prediction"], x @ snap.weights + snap.bias)
    paths = window.export_run(tmp_path / "out")
    names = {p.name for p in paths}
    assert {"model.json", "predictions.csv"} <= names
    model = json.loads((tmp_path / "out" / "model.json").read_text())
    assert model["weights"] == pytest.approx(list(snap.weights))


def test_race_tab_starts_from_what_the_controls_show(window, qtbot):
    settle(window, qtbot)
    window.findChild(QComboBox, "optimizerCombo").setCurrentIndex(0)
    window.findChild(QSpinBox, "batchSizeSpin").setValue(16)
    base = window.race_panel.base_config()
    assert base.train.batch_size == 16
    assert base.data == window.config().data


@pytest.mark.parametrize("name", ["playground", "d2l-concise-3"])
def test_config_is_what_the_run_trains_with_after_settling(qtbot, name):
    from gui.main_window import MainWindow

    win = MainWindow(preset_config(name))
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: win.run_info() is not None, timeout=WAIT_MS)
    _spin(win, "lrSpin").setValue(0.0123)
    settle(win, qtbot)
    assert win.worker.trained_config() == win.config()
    win.shutdown()


def test_log_steps_action_switches_both_step_plots(window):
    window.log_steps_action.trigger()
    assert window.loss_view.log_steps and window.param_view.log_steps
    window.log_steps_action.trigger()
    assert not window.loss_view.log_steps and not window.param_view.log_steps


def test_imports_in_the_training_loop_skip_shibokens_hook(window):
    # torch imports inside every backward pass; through PySide6's Python import hook that
    # cost 15% more CPU per step than on the command line.
    import builtins

    assert builtins.__import__ is builtins.__orig_import__


def test_a_slider_drag_leaves_one_marker(window, qtbot):
    # Found on a real display: a drag from 0.2 to 1.1 wrote six stacked labels.
    from gui.controls import slider_for_lr

    window.toggle_run()
    qtbot.waitUntil(lambda: window.run_state() == "running", timeout=WAIT_MS)
    slider = window.panel.lr_slider
    before = window.config().train.lr
    slider.sliderPressed.emit()
    for lr in (0.02, 0.05, 0.1, 0.2, 0.5, 1.1):  # it may diverge on the way
        slider.setValue(slider_for_lr(lr))
        # Applied live while dragging: the run trains with each value as it goes.
        shown = window.config().train.lr
        qtbot.waitUntil(
            lambda v=shown: window.worker.trained_config().train.lr == v, timeout=WAIT_MS
        )
    slider.sliderReleased.emit()
    settle(window, qtbot)
    after = window.config().train.lr
    changes = [text for _, text in window.history().events() if text.startswith("lr")]
    assert changes == [f"lr {before:g} -> {after:g}"]
    window.refresh()
    assert f"lr {before:g} -> {after:g}" in window.loss_view.marker_labels()


def test_only_the_newest_change_keeps_its_label(window, qtbot):
    window.step_epoch()
    settle(window, qtbot)
    for lr in (0.02, 0.03, 0.04):
        _spin(window, "lrSpin").setValue(lr)
        window.step_batch()
        settle(window, qtbot)
    window.refresh()
    assert window.loss_view.event_count() == 3
    assert window.loss_view.marker_labels() == ["lr 0.03 -> 0.04"]


def test_curves_are_thin_while_training_and_whole_after(window, qtbot):
    import pyqtgraph as pg

    def widths() -> list[float]:
        items = window.param_view.plotItem.listDataItems()
        return [pg.mkPen(i.opts["pen"]).widthF() for i in items if i.opts.get("pen") is not None]

    resting = widths()
    window.toggle_run()
    qtbot.waitUntil(lambda: window.run_state() == "running", timeout=WAIT_MS)
    assert max(widths()) <= 1.0 < max(resting)
    window.toggle_run()
    qtbot.waitUntil(lambda: window.run_state() == "paused", timeout=WAIT_MS)
    assert widths() == resting
    settle(window, qtbot)


def test_going_on_past_a_completed_run_moves_its_epochs_everywhere(window, qtbot):
    # A step or Run on a completed run trains past its epochs: config(), the Epochs field
    # and the worker agree on the new target (config() kept the old one, found by the
    # window's state machine).
    from PySide6.QtWidgets import QSpinBox

    window.controller.edit({"train.epochs": 2})
    window.controller.run()
    qtbot.waitUntil(lambda: window.run_state() == "completed", timeout=WAIT_MS)
    window.step_batch()
    settle(window, qtbot)
    assert window.worker.trained_config() == window.config()
    assert window.config().train.epochs == 3
    assert window.findChild(QSpinBox, "epochsSpin").value() == 3
    window.step_epoch()
    settle(window, qtbot)
    assert window.config().train.epochs == 3  # still within epoch 3: nothing to extend
    window.controller.run()  # completed again: Run goes on for as many epochs again
    qtbot.waitUntil(lambda: window.run_state() == "completed", timeout=WAIT_MS)
    settle(window, qtbot)
    assert window.config().train.epochs == 6 == window.worker.trained_config().train.epochs


def test_the_worker_counts_steps_for_any_thread_to_read(window, qtbot):
    assert window.worker.step_count() == 0
    window.controller.run()
    qtbot.waitUntil(lambda: window.worker.step_count() > 500, timeout=WAIT_MS)
    settle(window, qtbot)
    assert window.worker.step_count() == window.latest_snapshot().step
