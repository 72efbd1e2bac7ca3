"""Faults in the window: rapid input, closing mid-run, the largest learning rate everywhere,
switching mid-run, stepping while running, reset while stepping. Nothing crashes or hangs,
nothing recorded is lost, and each case ends in a state the user can continue from."""

from __future__ import annotations

import subprocess
import textwrap

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication, QComboBox, QDoubleSpinBox, QSlider

from core.config import HAND_WRITTEN_OPTIMIZERS, OPTIMIZERS
from tests.conftest import PROCESS_TIMEOUT_S, WAIT_MS, run_python, settle, step_of


def _assert_history_whole(win) -> None:
    """Every step of the current run is recorded once, in order (nothing lost)."""
    steps, losses, params = win.worker.history_copy().steps()
    np.testing.assert_array_equal(steps, np.arange(steps.size))
    assert np.isfinite(losses).all() and np.isfinite(params).all()


def _assert_can_continue(win, qtbot) -> None:
    """The user can go on: one more batch trains (from a paused, finished or diverged run)."""
    settle(win, qtbot)
    assert win.run_state() != "running"
    if win.run_state() == "diverged":
        win.findChild(QDoubleSpinBox, "lrSpin").setValue(0.001)  # the fix the message suggests
    before = step_of(win)
    win.step_batch()
    qtbot.waitUntil(lambda: step_of(win) == before + 1, timeout=WAIT_MS)


def test_a_thousand_rapid_slider_changes_during_a_run(window, qtbot):
    window.toggle_run()
    qtbot.waitUntil(lambda: step_of(window) > 20, timeout=WAIT_MS)
    lr = window.findChild(QSlider, "lrSlider")
    speed = window.findChild(QSlider, "speedSlider")
    noise = window.findChild(QDoubleSpinBox, "noiseSpin")
    rng = np.random.default_rng(0)
    for i in range(1000):
        lr.setValue(int(rng.integers(lr.minimum(), lr.maximum() // 2)))
        if i % 10 == 0:
            speed.setValue(int(rng.integers(speed.minimum() + 1, speed.maximum() + 1)))
        if i % 100 == 0:
            noise.setValue(float(rng.uniform(0.1, 1.0)))  # data: debounced, then a reset
        if i % 50 == 0:
            QApplication.processEvents()  # queued snapshots and signals interleave with input
    speed.setValue(speed.maximum())
    window.controller.flush()
    settle(window, qtbot, pause=False)  # the last data change's reset is in
    qtbot.waitUntil(
        lambda: window.latest_snapshot() is not None and step_of(window) > 10, timeout=WAIT_MS
    )
    assert window.run_state() in ("running", "paused", "completed", "diverged")
    _assert_history_whole(window)
    _assert_can_continue(window, qtbot)


@pytest.mark.parametrize(
    ("implementation", "optimizers"),
    [
        ("numpy", HAND_WRITTEN_OPTIMIZERS),
        ("scratch", HAND_WRITTEN_OPTIMIZERS),
        ("module", OPTIMIZERS),
    ],
)
def test_largest_learning_rate_with_every_optimizer(window, qtbot, implementation, optimizers):
    for optimizer in optimizers:
        config = (
            window.config()
            .with_value("train.implementation", implementation)
            .with_value("train.optimizer", optimizer)
            .with_value("train.lr", 10.0)
            .with_value("train.epochs", 3)
        )
        window.apply_config(config)
        settle(window, qtbot)  # the new run is in, paused (the last one may have diverged)
        assert window.run_state() == "paused"
        window.banner.hide()  # the last round's message must not satisfy the wait below
        window.toggle_run()
        qtbot.waitUntil(lambda: window.run_state() in ("diverged", "completed"), timeout=WAIT_MS)
        snap = window.latest_snapshot()
        assert snap is not None, f"{implementation}/{optimizer}"
        # A diverged run keeps its last finite parameters and says so in plain words.
        assert np.isfinite(snap.weights).all() and np.isfinite(snap.bias)
        if window.run_state() == "diverged":
            qtbot.waitUntil(lambda: "stable below" in window.banner.text(), timeout=WAIT_MS)
        _assert_history_whole(window)
        _assert_can_continue(window, qtbot)


# (combo, choice, then the implementation and optimizer the run must train with). The numpy
# and scratch implementations offer the hand-written optimizers: numpy after rmsprop is adam.
SWITCHES = [
    ("optimizer", "adam", "module", "adam"),
    ("implementation", "numpy", "numpy", "adam"),
    ("optimizer", "momentum", "numpy", "momentum"),
    ("implementation", "scratch", "scratch", "momentum"),
    ("optimizer", "nesterov", "scratch", "nesterov"),
    ("implementation", "module", "module", "nesterov"),
    ("optimizer", "rmsprop", "module", "rmsprop"),
    ("implementation", "numpy", "numpy", "adam"),
    ("optimizer", "sgd", "numpy", "sgd"),
    ("optimizer", "sgd", "numpy", "sgd"),  # the same choice again: no reset
    ("implementation", "module", "module", "sgd"),
]


def test_switching_implementation_and_optimizer_mid_run(window, qtbot):
    window.toggle_run()
    qtbot.waitUntil(lambda: step_of(window) > 50, timeout=WAIT_MS)
    for name, choice, implementation, optimizer in SWITCHES:
        combo = window.findChild(QComboBox, f"{name}Combo")
        info, before = window.run_info(), window.config()
        combo.setCurrentIndex(combo.findData(choice))
        window.controller.flush()
        settle(window, qtbot, pause=False)  # every call sent has been carried out
        trained = window.worker.trained_config()
        assert (trained.train.implementation, trained.train.optimizer) == (
            implementation,
            optimizer,
        ), (name, choice)
        assert trained == window.config()  # the controls show what the run trains with
        if window.config() == before:
            assert window.run_info() is info  # nothing changed: the run goes on
        else:
            assert window.run_info() is not info  # the reset arrived
        # A switch resets the run and keeps it running.
        qtbot.waitUntil(
            lambda: window.run_state() == "running" and step_of(window) > 5, timeout=WAIT_MS
        )
    _assert_history_whole(window)
    _assert_can_continue(window, qtbot)


def test_stepping_while_running_pauses_then_steps(window, qtbot):
    window.toggle_run()
    qtbot.waitUntil(lambda: step_of(window) > 30, timeout=WAIT_MS)
    for _ in range(5):
        window.step_batch()
        window.step_epoch()
    qtbot.waitUntil(lambda: window.run_state() == "paused", timeout=WAIT_MS)
    # Every queued step has run and its snapshot has arrived.
    settle(window, qtbot, pause=False)
    assert step_of(window) == window.history().last_step
    paused = step_of(window)
    window.step_batch()
    qtbot.waitUntil(lambda: step_of(window) == paused + 1, timeout=WAIT_MS)
    _assert_history_whole(window)


def test_reset_while_stepping(window, qtbot):
    for _ in range(10):
        window.step_epoch()
        window.reset_paused()
        window.step_batch()
    # The last command was a step after a reset: a fresh run, one step in.
    settle(window, qtbot)
    assert step_of(window) == 1 and window.run_state() == "paused"
    _assert_history_whole(window)
    _assert_can_continue(window, qtbot)


CLOSE_SCRIPT = textwrap.dedent(
    """
    import sys
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    app = QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)  # the next round opens a new window
    from core.presets import preset_config
    from gui.main_window import MainWindow
    ROUNDS = int(sys.argv[1])
    config = preset_config("d2l-concise-3").with_value("train.epochs", 100000)
    state = {"round": 0, "win": None}

    def open_next():
        if state["round"] == ROUNDS:
            app.quit()
            return
        state["round"] += 1
        win = MainWindow(config)
        win.show()
        win.controller.set_speed(None)
        win.controller.run()
        state["win"] = win
        QTimer.singleShot(10, close_when_running)

    def close_when_running():
        win = state["win"]
        snap = win.latest_snapshot()
        if snap is not None and snap.step > 50:
            win.close()
            assert not win.host.thread.isRunning()
            win.deleteLater()
            QTimer.singleShot(0, open_next)
        else:
            QTimer.singleShot(10, close_when_running)

    QTimer.singleShot(0, open_next)
    code = app.exec()
    print("rounds", state["round"])
    sys.exit(code)
    """
)


def _close_rounds(rounds: int) -> subprocess.CompletedProcess:
    return run_python(["-c", CLOSE_SCRIPT, str(rounds)], timeout=2 * PROCESS_TIMEOUT_S)


def test_closing_mid_run_twenty_times_in_one_process():
    result = _close_rounds(20)
    assert result.returncode == 0, result.stderr
    assert "rounds 20" in result.stdout
    assert "QThread" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_closing_mid_run_in_twenty_processes():
    for _ in range(20):
        result = _close_rounds(1)
        assert result.returncode == 0, result.stderr
        assert "QThread" not in result.stderr
