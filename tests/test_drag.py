"""Data that moves under a running fit, and plots you can grab (issue 10, items 2 and 5),
through the window as a user drives it."""

from __future__ import annotations

import numpy as np
import pytest

from core.data import make_dataset
from tests.conftest import WAIT_MS, settle


def _run(window, qtbot) -> None:
    window.toggle_run()
    qtbot.waitUntil(lambda: window.run_state() == "running", timeout=WAIT_MS)


def test_a_bias_drag_moves_the_targets_under_the_running_fit(window, qtbot):
    resets, moved = [], []
    window.controller.runReset.connect(lambda info, snap: resets.append(info))
    window.controller.dataChanged.connect(lambda info, snap: moved.append(info))
    _run(window, qtbot)
    qtbot.waitUntil(lambda: window.latest_snapshot() is not None and window.latest_snapshot().step > 50, timeout=WAIT_MS)
    before = window.latest_snapshot().step
    slider = window.findChild(__import__("PySide6.QtWidgets", fromlist=["QSlider"]).QSlider, "biasSlider")
    slider.sliderPressed.emit()
    for bias in (1.5, 2.0, 3.0, 4.0):
        window.controller.edit({"data.true_bias": bias})
    slider.sliderReleased.emit()
    qtbot.waitUntil(lambda: bool(moved) and moved[-1].true_theta[-1] == 4.0, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.latest_snapshot().step > before + 2000, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: abs(window.latest_snapshot().bias - window.run_info().ols_theta[-1]) < 0.05, timeout=WAIT_MS)
    settle(window, qtbot)
    assert resets == []
    assert window.run_info().true_theta[-1] == 4.0
    events = [t for _, t in window.history().events()]
    assert events == ["bias 1 -> 4"], events
