"""Fast start: the window does not wait for torch; the run controls wait visibly."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication

from core.presets import preset_config
from gui.main_window import START_FALLBACK_MS, MainWindow
from tests.conftest import WAIT_MS, run_python


def test_importing_the_window_does_not_import_torch():
    code = "import sys, gui.main_window, gui.app; print('torch' in sys.modules)"
    out = run_python(["-c", code])
    assert out.returncode == 0, out.stderr
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


class _CloseOnFirstPaint(QObject):
    """Closes the window as its first paint arrives: after that paint has queued the start of
    the training thread, before the start runs."""

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and obj.isVisible():
            QTimer.singleShot(0, obj.close)  # posted before the window's own queued start
        return False


def test_closing_before_the_thread_started_never_starts_it(qtbot):
    win = MainWindow(preset_config("playground"))
    qtbot.addWidget(win)
    fallback = win.findChildren(QTimer, "startFallbackTimer")
    assert len(fallback) == 1 and fallback[0].isActive()
    assert fallback[0].isSingleShot() and fallback[0].interval() == START_FALLBACK_MS
    win.close()  # before the first paint and the fallback timer
    assert not fallback[0].isActive() and not win.host.thread.isRunning()


def test_a_window_closed_right_after_its_first_paint_never_starts_the_thread(qtbot):
    win = MainWindow(preset_config("playground"))
    qtbot.addWidget(win)
    closer = _CloseOnFirstPaint()
    win.installEventFilter(closer)
    win.show()
    qtbot.waitUntil(lambda: not win.isVisible(), timeout=WAIT_MS)
    QApplication.processEvents()  # the start the paint queued, after the close
    assert not win.host.thread.isRunning()
    win.removeEventFilter(closer)
