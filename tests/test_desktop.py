"""First run on a desktop: a missing library of Qt's xcb plugin gets one line naming the
packages to install and exit status 1, before Qt starts (instead of Qt's abort)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gui import app

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def x11(monkeypatch):
    """An X11 session as Qt sees it: a display, no Wayland, no platform chosen."""
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)


def _missing(monkeypatch, *names: str) -> list[str]:
    """Pretend names cannot be loaded; return every library name the check asked about."""
    asked: list[str] = []

    def loadable(name: str) -> bool:
        asked.append(name)
        return name not in names

    monkeypatch.setattr(app, "_loadable", loadable)
    return asked


def test_a_missing_library_prints_one_line_naming_the_packages(x11, monkeypatch, capsys):
    _missing(monkeypatch, "libxcb-cursor.so.0", "libxcb-icccm.so.4")
    with pytest.raises(SystemExit) as exit_info:
        app.check_desktop()
    assert exit_info.value.code == 1
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    line = lines[0]
    assert "libxcb-cursor.so.0" in line and "libxcb-icccm.so.4" in line
    assert "sudo apt install libxcb-cursor0 libxcb-icccm4 " in line  # Debian and Ubuntu
    assert "sudo dnf install xcb-util-cursor xcb-util-wm " in line  # Fedora


def test_nothing_is_printed_when_every_library_loads(x11, monkeypatch, capsys):
    asked = _missing(monkeypatch)
    app.check_desktop()
    assert capsys.readouterr() == ("", "")
    assert asked == [row[0] for row in app.XCB_LIBRARIES]


def test_packages_shared_by_several_libraries_are_named_once(x11, monkeypatch, capsys):
    _missing(monkeypatch, "libxcb-shape.so.0", "libxcb-xkb.so.1")
    with pytest.raises(SystemExit):
        app.check_desktop()
    line = capsys.readouterr().err
    assert "dnf install libxcb (Fedora)" in line
    assert "apt install libxcb-shape0 libxcb-xkb1 (" in line


@pytest.mark.parametrize(
    "env",
    [
        {"QT_QPA_PLATFORM": "offscreen"},
        {"QT_QPA_PLATFORM": "wayland"},
        {"WAYLAND_DISPLAY": "wayland-0"},
        {"DISPLAY": ""},
    ],
)
def test_no_check_when_qt_will_not_use_xcb(x11, monkeypatch, capsys, env):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    asked = _missing(monkeypatch, "libxcb-cursor.so.0")
    app.check_desktop()
    assert asked == [] and capsys.readouterr() == ("", "")


def test_xcb_chosen_explicitly_is_checked_on_wayland_too(x11, monkeypatch, capsys):
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    _missing(monkeypatch, "libxkbcommon-x11.so.0")
    with pytest.raises(SystemExit):
        app.check_desktop()
    assert "libxkbcommon-x11-0" in capsys.readouterr().err


def test_the_window_command_exits_1_before_qt_starts(tmp_path):
    # A fresh interpreter: this one already runs a QApplication (the check is for the first).
    code = (
        "import sys, gui.app as a\n"
        "a._loadable = lambda name: name != 'libxcb-icccm.so.4'\n"
        "import main\n"
        "try:\n"
        "    main.main([])\n"
        "finally:\n"
        "    print('qt loaded' if 'PySide6.QtWidgets' in sys.modules else 'qt not loaded')\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env.update(DISPLAY=":0", PYTHONPATH=str(ROOT), HOME=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "libxcb-icccm4" in lines[0] and "xcb-util-wm" in lines[0]
    assert result.stdout.strip() == "qt not loaded"
