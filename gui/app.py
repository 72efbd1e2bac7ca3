"""Application start-up: the interactive window and the offscreen screenshot."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from core.config import Config


def ensure_app(offscreen: bool = False):
    """Return the QApplication, creating it (offscreen when asked or with no display)."""
    if offscreen or not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        app.setApplicationName("linreg-viz")
        app.setOrganizationName("linreg-viz")
    return app


def run_app(config: Config | None = None) -> int:
    """Open the main window and run the event loop; return its exit code."""
    app = ensure_app()
    from gui.main_window import MainWindow
    from gui.session import app_settings

    # The session (last configuration, layout) is remembered; a configuration given on the
    # command line takes precedence over the remembered one.
    window = MainWindow(config, settings=app_settings())
    window.show()
    return app.exec()


def screenshot(config: Config, out: Path, size: tuple[int, int], timeout_s: float = 600) -> None:
    """Train config's epochs in an offscreen window, then save the whole window as a PNG."""
    ensure_app(offscreen=True)
    from PySide6.QtCore import QEventLoop, QTimer

    from gui import export
    from gui.main_window import MainWindow

    window = MainWindow(config)
    window.resize(*size)
    window.show()
    loop = QEventLoop()

    def check() -> None:
        # Polled on the GUI thread: the window's state follows the worker's queued signals.
        if window.run_state() in ("completed", "diverged"):
            loop.quit()

    poll = QTimer()
    poll.timeout.connect(check)
    poll.start(20)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    window.controller.set_speed(None)
    window.controller.run()
    loop.exec()
    poll.stop()
    try:
        window.refresh()  # takes in the snapshots still queued
        export.export_window_png(window, out)
    finally:
        window.close()
