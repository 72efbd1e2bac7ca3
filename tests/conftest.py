"""Shared pytest setup: the `slow` marker, whose tests run only with RUN_SLOW=1."""

from __future__ import annotations

import os
import sys

import pytest

_EXIT_STATUS = pytest.StashKey[int]()
WAIT_MS = 60_000  # generous: a loaded 2-core machine; tests wait on conditions, not time


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes minutes; runs only when RUN_SLOW=1 is set")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("RUN_SLOW") == "1":
        return
    skip_slow = pytest.mark.skip(reason="slow: set RUN_SLOW=1 to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


@pytest.fixture(autouse=True)
def _no_real_file_dialogs(monkeypatch):
    """A file dialog a test forgot to stand in for fails at once instead of waiting forever
    for a click (offscreen, nobody can click)."""
    from PySide6.QtWidgets import QFileDialog

    def refuse(*args, **kwargs):
        raise AssertionError(f"a real file dialog was opened: {args[1:2]}")

    for name in ("getOpenFileName", "getSaveFileName", "getExistingDirectory"):
        monkeypatch.setattr(QFileDialog, name, refuse)


@pytest.fixture(autouse=True)
def _desktop_palette_after_each_test():
    """The application's palette outlives a window switched to its dark theme: the next test
    starts from the desktop's own."""
    yield
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is not None and app.palette().color(QPalette.ColorRole.Window).lightness() < 128:
        app.setPalette(QPalette())  # a default palette: back to the platform's


@pytest.fixture
def window(qtbot):
    """A window on the playground preset, unthrottled; its thread is joined at teardown."""
    from PySide6.QtWidgets import QSlider

    from core.presets import preset_config
    from gui.main_window import MainWindow

    # Epochs enough that no test's run finishes by itself: a test that pauses "a running run"
    # must not find it completed on a fast machine (200 epochs took ~0.5 s here).
    win = MainWindow(preset_config("playground").with_value("train.epochs", 100_000))
    qtbot.addWidget(win)
    win.show()
    slider = win.findChild(QSlider, "speedSlider")
    slider.setValue(slider.maximum())
    qtbot.waitUntil(lambda: win.run_info() is not None, timeout=WAIT_MS)
    yield win
    win.shutdown()
    assert not win.host.thread.isRunning()


def settle(win, qtbot, pause: bool = True) -> None:
    """Wait until the worker has carried out every command sent and the window has received
    every signal they emitted (pausing the run first unless told not to)."""
    from PySide6.QtWidgets import QApplication

    if pause:
        win.controller.pause()  # a no-op unless the run is running
    # A command's signals are posted before it counts as done: one pass delivers them all.
    qtbot.waitUntil(win.is_idle, timeout=WAIT_MS)
    QApplication.processEvents()


def pytest_sessionfinish(session, exitstatus):
    """Keep the exit status for pytest_unconfigure."""
    session.config.stash[_EXIT_STATUS] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """Once every report is written, leave without tearing the interpreter down when Qt ran.

    PySide6 and pyqtgraph can crash while Python finalizes (their objects are destroyed in an
    order Qt does not expect; pyqtgraph's own `exit()` skips finalization for this reason):
    the suite had passed and then `make test` died with a segmentation fault. Nothing is left
    to run at this point, so the process ends with pytest's own exit status."""
    if "PySide6.QtCore" not in sys.modules or _EXIT_STATUS not in config.stash:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(config.stash[_EXIT_STATUS])
