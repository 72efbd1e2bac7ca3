"""Stateful fuzzing of the window: random sequences of what a user does, and after each, once
the training thread has settled, the run's state agrees everywhere it is shown.

A short run in the default suite; RUN_SLOW=1 runs a long one."""

from __future__ import annotations

import math
import os
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QSpinBox

from core.analysis import max_stable_lr
from core.config import IMPLEMENTATIONS, OPTIMIZERS
from core.presets import preset_config
from gui.controls import slider_for_lr
from gui.main_window import MainWindow
from tests.conftest import WAIT_MS, settle

SLOW = os.environ.get("RUN_SLOW") == "1"
PRESETS = ("playground", "d2l-concise-3", "sgd-1d", "l2-1d", "tiny-numpy-f64")


class WindowMachine(RuleBasedStateMachine):
    """One window, driven as a user would; invariants checked after every action."""

    qtbot = None  # set by the test

    def __init__(self) -> None:
        super().__init__()
        self.win = MainWindow(preset_config("playground").with_value("train.epochs", 100_000))
        self.qtbot.addWidget(self.win)
        self.win.show()
        self.win.controller.set_speed(None)
        self.qtbot.waitUntil(lambda: self.win.run_info() is not None, timeout=WAIT_MS)
        self.info = self.win.run_info()
        self.epochs: dict[str, np.ndarray] = {}
        self.last_step = -1
        self.branch: int | None = None  # the active branch the history was last read from
        self.folder = tempfile.TemporaryDirectory()

    def teardown(self) -> None:
        self.win.shutdown()
        assert not self.win.host.thread.isRunning()
        assert not self.win.race_panel.is_thread_running()
        self.folder.cleanup()

    def _find(self, kind, name):
        widget = self.win.findChild(kind, name)
        assert widget is not None, name
        return widget

    def _settle(self) -> None:
        settle(self.win, self.qtbot, pause=False)

    # ---- what a user does ----------------------------------------------------------------
    @rule()
    def run_or_pause(self) -> None:
        self.win.toggle_run()

    @rule()
    def step_batch(self) -> None:
        self.win.step_batch()

    @rule()
    def step_epoch(self) -> None:
        self.win.step_epoch()

    @rule()
    def reset(self) -> None:
        self.win.reset_paused()

    @rule(lr=st.floats(1e-4, 0.8))
    def learning_rate(self, lr: float) -> None:
        self._find(QDoubleSpinBox, "lrSpin").setValue(lr)

    @rule(value=st.floats(0.0, 0.99))
    def momentum(self, value: float) -> None:
        self._find(QDoubleSpinBox, "momentumSpin").setValue(value)

    @rule(value=st.sampled_from([0.0, 1e-3, 0.1, 5.0]))
    def weight_decay(self, value: float) -> None:
        self._find(QDoubleSpinBox, "weightDecaySpin").setValue(value)

    @rule(value=st.sampled_from([1, 8, 32, 500]))
    def batch_size(self, value: int) -> None:
        self._find(QSpinBox, "batchSizeSpin").setValue(value)

    @rule(name=st.sampled_from(OPTIMIZERS))
    def optimizer(self, name: str) -> None:
        combo = self._find(QComboBox, "optimizerCombo")
        combo.setCurrentIndex(combo.findData(name))

    @rule(name=st.sampled_from(IMPLEMENTATIONS))
    def implementation(self, name: str) -> None:
        combo = self._find(QComboBox, "implementationCombo")
        combo.setCurrentIndex(combo.findData(name))

    @rule(
        key=st.sampled_from(["noiseSpin", "biasSpin", "samplesSpin"]),
        value=st.floats(0.0, 3.0),
    )
    def data_control(self, key: str, value: float) -> None:
        if key == "samplesSpin":
            self._find(QSpinBox, key).setValue(20 + int(100 * value))
        else:
            self._find(QDoubleSpinBox, key).setValue(value)

    @rule(name=st.sampled_from(PRESETS))
    def preset(self, name: str) -> None:
        self.win.load_preset(name)

    # No preconditions on the run's state: how far a run got depends on timing, and rules
    # drawn by state would make hypothesis's replays draw differently (FlakyStrategyDefinition).
    @rule(fraction=st.floats(0.0, 1.0))
    def rewind(self, fraction: float) -> None:
        if self.last_step > 0:
            self.win.rewind_to(round(fraction * self.last_step))

    @rule()
    def go_live(self) -> None:
        self.win.go_live()

    @rule(fraction=st.floats(0.0, 1.0), run=st.booleans())
    def branch_from_a_past_step(self, fraction: float, run: bool) -> None:
        # As the branch list's "Branch here" or Run while rewound answered "branch".
        if self.last_step <= 1:
            return
        self.win.rewind_to(max(1, round(fraction * self.last_step)))
        self.qtbot.waitUntil(self.win.is_reviewing, timeout=WAIT_MS)
        self.win.dashboard.branch_here(run=run)

    @rule(pick=st.integers(0, 7))
    def switch_branch(self, pick: int) -> None:
        rows = self.win.controller.branches().rows
        if rows:
            self.win.controller.switch_branch(rows[pick % len(rows)].id)

    @rule(row=st.integers(0, 10**6), x=st.floats(-3.0, 3.0), y=st.floats(-10.0, 10.0))
    def grab_a_sample(self, row: int, x: float, y: float) -> None:
        # As a drag in the fit plot (one feature, generated data): the row moves under the run.
        info = self.win.run_info()
        if len(info.feature_names) == 1 and not self.win.config().data.csv_path:
            self.win.controller.live.move_sample([row % info.n_train], [[x]], [y])

    @rule(values=st.lists(st.floats(-5.0, 5.0), min_size=2, max_size=2))
    def place_the_parameters(self, values: list[float]) -> None:
        # As a click on the landscape: the parameters go there, the optimizer starts afresh.
        info = self.win.run_info()
        theta = np.resize(np.array(values), len(info.feature_names) + 1)
        self.win.controller.live.place(theta, info)

    @rule(values=st.lists(st.floats(-3.0, 3.0), min_size=1, max_size=6))
    def drag_the_bias(self, values: list[float]) -> None:
        # A slider drag: the targets move under the run at each value, one marker at release.
        spin = self._find(QDoubleSpinBox, "biasSpin")
        self.win.controller.begin_gesture()
        for value in values:
            spin.setValue(value)
        self.win.controller.end_gesture()

    @rule()
    def race(self) -> None:
        race = self.win.race_panel
        if not race.is_running():
            self._find(QSpinBox, "raceEpochsSpin").setValue(2)
        self.win.toggle_race()
        if race.is_running():
            self.qtbot.waitUntil(lambda: not race.is_running(), timeout=WAIT_MS)

    @rule()
    def export(self) -> None:
        self.win.export_run(self.folder.name)

    # ---- what must hold ------------------------------------------------------------------
    @invariant()
    def everything_agrees(self) -> None:
        self._settle()
        win = self.win
        config = win.config()
        t, d = config.train, config.data
        assert win.panel.config() is config
        assert self._find(QDoubleSpinBox, "lrSpin").value() == t.lr
        assert self._find(QSpinBox, "batchSizeSpin").value() == min(t.batch_size, 2**31 - 1)
        assert self._find(QComboBox, "optimizerCombo").currentData() == t.optimizer
        assert self._find(QComboBox, "implementationCombo").currentData() == t.implementation
        assert win.worker.trained_config() == config
        race = win.race_panel.base_config()
        assert (race.data, race.model, race.train.implementation) == (
            d,
            config.model,
            t.implementation,
        )
        info = win.run_info()
        expected = max_stable_lr(
            info.stats, t.loss, config.model.fit_bias, l2=t.l2_penalty, weight_decay=t.weight_decay
        )
        assert win.controller.stable_lr() == expected
        marker = win.panel.lr_slider.marker()
        if math.isfinite(expected) and expected <= 10:
            assert marker == slider_for_lr(expected)
        self._history_only_grows(info)

    def _history_only_grows(self, info) -> None:
        history = self.win.history()
        active = self.win.controller.branches().active
        branch = None if active is None else active.id
        if info is not self.info or branch != self.branch:
            # A new run, moved data or another branch: its history is read afresh.
            self.info, self.branch, self.epochs, self.last_step = info, branch, {}, -1
        assert history.last_step >= self.last_step
        epochs = history.epochs()
        for name, old in self.epochs.items():
            np.testing.assert_array_equal(epochs[name][: len(old)], old)
        self.epochs, self.last_step = epochs, history.last_step


@pytest.mark.timeout(1800 if SLOW else 300)  # the long run: 20 sequences of 40 actions
def test_the_window_under_random_use(qtbot):
    WindowMachine.qtbot = qtbot
    machine = WindowMachine.TestCase
    machine.settings = settings(
        max_examples=20 if SLOW else 3,
        stateful_step_count=40 if SLOW else 12,
        deadline=None,
        derandomize=not SLOW,
        suppress_health_check=list(HealthCheck),
    )
    machine().runTest()
