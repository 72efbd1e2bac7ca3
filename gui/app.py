"""Application start-up: the interactive window and the offscreen screenshot.

On an X11 desktop Qt's xcb platform plugin loads a dozen system libraries; with one missing, Qt
prints "Could not load the Qt platform plugin" and aborts. Before Qt starts, ensure_app tries
to load each of them itself and, if any is missing, names the packages to install and exits.
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

from core.config import Config

# What Qt 6's xcb plugin (libqxcb.so and libQt6XcbQpa.so.6) and QtGui load: library, Debian and
# Ubuntu package, Fedora package.
XCB_LIBRARIES = (
    ("libxcb-cursor.so.0", "libxcb-cursor0", "xcb-util-cursor"),
    ("libxcb-icccm.so.4", "libxcb-icccm4", "xcb-util-wm"),
    ("libxcb-image.so.0", "libxcb-image0", "xcb-util-image"),
    ("libxcb-keysyms.so.1", "libxcb-keysyms1", "xcb-util-keysyms"),
    ("libxcb-render-util.so.0", "libxcb-render-util0", "xcb-util-renderutil"),
    ("libxcb-util.so.1", "libxcb-util1", "xcb-util"),
    ("libxcb-randr.so.0", "libxcb-randr0", "libxcb"),
    ("libxcb-render.so.0", "libxcb-render0", "libxcb"),
    ("libxcb-shape.so.0", "libxcb-shape0", "libxcb"),
    ("libxcb-shm.so.0", "libxcb-shm0", "libxcb"),
    ("libxcb-sync.so.1", "libxcb-sync1", "libxcb"),
    ("libxcb-xfixes.so.0", "libxcb-xfixes0", "libxcb"),
    ("libxcb-xkb.so.1", "libxcb-xkb1", "libxcb"),
    ("libxcb.so.1", "libxcb1", "libxcb"),
    ("libxkbcommon.so.0", "libxkbcommon0", "libxkbcommon"),
    ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0", "libxkbcommon-x11"),
    ("libX11-xcb.so.1", "libx11-xcb1", "libX11-xcb"),
    ("libX11.so.6", "libx11-6", "libX11"),
    ("libGL.so.1", "libgl1", "libglvnd-glx"),
    ("libEGL.so.1", "libegl1", "libglvnd-egl"),
    ("libfontconfig.so.1", "libfontconfig1", "fontconfig"),
    ("libdbus-1.so.3", "libdbus-1-3", "dbus-libs"),
)


def _loadable(library: str) -> bool:
    """Whether the dynamic loader finds and loads library (as Qt's plugin loader would)."""
    try:
        ctypes.CDLL(library)
    except OSError:
        return False
    return True


def missing_xcb_libraries() -> list[tuple[str, str, str]]:
    """The libraries of XCB_LIBRARIES that cannot be loaded (library, Debian, Fedora)."""
    return [row for row in XCB_LIBRARIES if not _loadable(row[0])]


def xcb_message(missing: list[tuple[str, str, str]]) -> str:
    """One line naming what to install for the missing libraries."""
    debian = " ".join(dict.fromkeys(row[1] for row in missing))
    fedora = " ".join(dict.fromkeys(row[2] for row in missing))
    libraries = ", ".join(row[0] for row in missing)
    return (
        f"linreg-viz: Qt's X11 (xcb) platform plugin cannot load {libraries}. Install them:"
        f" sudo apt install {debian} (Debian, Ubuntu) or sudo dnf install {fedora} (Fedora)."
    )


def uses_xcb() -> bool:
    """Whether Qt will start on X11 through its xcb plugin (Linux, a display, no override)."""
    if not sys.platform.startswith("linux") or not os.environ.get("DISPLAY"):
        return False
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform:
        return platform.split(":")[0].split(";")[0] == "xcb"
    # A Wayland session without an override gets Qt's Wayland plugin.
    return not os.environ.get("WAYLAND_DISPLAY")


def check_desktop() -> None:
    """Exit (status 1) with one line naming the packages to install if Qt's xcb plugin would
    not load; nothing when it would, or when Qt will not use it."""
    if not uses_xcb():
        return
    missing = missing_xcb_libraries()
    if missing:
        print(xcb_message(missing), file=sys.stderr)
        raise SystemExit(1)


def ensure_app(offscreen: bool = False):
    """Return the QApplication, creating it (offscreen when asked or with no display); on a
    desktop missing a library of Qt's xcb plugin, exit with a message instead of Qt's abort."""
    if offscreen or not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    # Before the first import of QtWidgets: QtGui itself loads libEGL, libGL and fontconfig.
    widgets = sys.modules.get("PySide6.QtWidgets")
    if widgets is None or widgets.QApplication.instance() is None:
        check_desktop()
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
    from gui.gui_gc import collect_on_gui_thread
    from gui.main_window import MainWindow
    from gui.session import app_settings

    collect_on_gui_thread()  # before any worker thread starts: see gui/gui_gc.py

    # The session (last configuration, layout) is remembered; a configuration given on the
    # command line takes precedence over the remembered one.
    window = MainWindow(config, settings=app_settings())
    window.show()
    return app.exec()


def screenshot(
    config: Config,
    out: Path,
    size: tuple[int, int],
    timeout_s: float = 600,
    dark: bool = False,
) -> None:
    """Train config's epochs in an offscreen window, then save the whole window as a PNG (in
    the dark theme if asked)."""
    ensure_app(offscreen=True)
    from PySide6.QtCore import QEventLoop, QTimer

    from gui import export
    from gui.main_window import MainWindow

    window = MainWindow(config)
    window.theme.set_dark(dark)
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
        export.export_window_png(window, out, palette=None)  # as shown: light or dark
    finally:
        window.close()
