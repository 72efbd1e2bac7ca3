"""Fast start: the window does not wait for torch; the run controls wait visibly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from core.presets import preset_config
from gui.main_window import MainWindow
from tests.conftest import WAIT_MS

ROOT = Path(__file__).resolve().parents[1]


def test_importing_the_window_does_not_import_torch():
    code = "import sys, gui.main_window, gui.app; print('torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_run_controls_wait_for_the_training_thread(qtbot):
    win = MainWindow(preset_config("playground"))
    qtbot.addWidget(win)
    # Built, not yet trained from: the controls that need torch wait, and say so.
    assert not win.run_action.isEnabled() and not win.step_batch_action.isEnabled()
    assert "Loading PyTorch" in win.status.label.text()
    win.show()
    qtbot.waitUntil(lambda: win.run_action.isEnabled(), timeout=WAIT_MS)
    assert win.step_epoch_action.isEnabled() and win.reset_action.isEnabled()
    assert "Loading" not in win.status.label.text()
    win.shutdown()


def test_closing_before_the_thread_started_never_starts_it(qtbot):
    win = MainWindow(preset_config("playground"))
    qtbot.addWidget(win)
    win.close()  # before the first paint and the fallback timer
    assert not win._start_timer.isActive()
    win._start_worker()  # as a late paint's queued start would
    assert not win.host.thread.isRunning()
