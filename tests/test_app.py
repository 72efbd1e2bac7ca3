"""Starting the app: the window launched from main.py and closed, and `screenshot` (its sizes,
a bad size, the run cut short by the timeout)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QSettings
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

import main
from core.config import Config
from core.presets import preset_config
from gui.app import screenshot
from gui.main_window import MainWindow
from gui.session import APPLICATION, CONFIG_KEY, ORGANIZATION
from tests.conftest import MAIN, PROCESS_TIMEOUT_S, QT_CHILD, ROOT, WAIT_MS, child_env, run_python

# Runs main.py as `python main.py ...` does, with a hook that presses Run once the window is
# ready and closes it (as its close button does) once the run is going: the app must then
# leave by itself, exit code 0, its training thread joined.
LAUNCH = f"""
import runpy
import sys
import time

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from gui.main_window import MainWindow

deadline = time.monotonic() + {WAIT_MS / 1000}
pressed = []


def close_mid_run():
    windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]
    if time.monotonic() > deadline:
        print("no running window in time", windows, flush=True)
        app.exit(99)
        return
    win = windows[0] if windows else None
    if win is not None and win.isVisible() and win.is_ready() and not pressed:
        pressed.append(True)
        win.run_action.trigger()  # Run, as the toolbar button does
    snap = win.latest_snapshot() if win is not None else None
    if snap is None or snap.step < 50 or win.run_state() != "running":
        QTimer.singleShot(20, close_mid_run)
        return
    print("weights", list(win.config().data.true_weights), flush=True)
    win.close()


QTimer.singleShot(0, close_mid_run)
sys.argv = [{str(MAIN)!r}, *sys.argv[1:]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_the_window_opens_from_main_py_runs_and_closes(tmp_path: Path) -> None:
    # The session goes to a settings folder of the test's own, not the user's.
    env = child_env(XDG_CONFIG_HOME=str(tmp_path), HOME=str(tmp_path))
    proc = run_python(["-c", QT_CHILD + LAUNCH, "--preset", "d2l-concise-3"], env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    preset = preset_config("d2l-concise-3")
    assert proc.stdout.splitlines() == [f"weights {list(preset.data.true_weights)}"]
    assert "QThread" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    # Closing saved the session: the configuration given on the command line.
    stored = QSettings(
        str(tmp_path / ORGANIZATION / f"{APPLICATION}.conf"), QSettings.Format.IniFormat
    )
    assert Config.from_json(str(stored.value(CONFIG_KEY))) == preset


def _png_size(path: Path) -> tuple[int, int]:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    image = QImage(str(path))
    return image.width(), image.height()


def test_screenshot_default_and_given_sizes(tmp_path: Path) -> None:
    # Both at once: their start-ups (torch, Qt) overlap.
    runs = {
        (1400, 900): [],
        (1000, 640): ["--size", "1000x640"],
    }
    procs = {
        size: subprocess.Popen(
            [
                sys.executable,
                str(MAIN),
                "screenshot",
                "--preset",
                "d2l-concise-3",
                "--epochs",
                "1",
                "--out",
                str(tmp_path / f"{size[0]}.png"),
                *args,
            ],
            cwd=ROOT,
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for size, args in runs.items()
    }
    for size, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=PROCESS_TIMEOUT_S)
        out = tmp_path / f"{size[0]}.png"
        assert proc.returncode == 0, stderr
        assert stdout.strip() == f"wrote {out}"
        assert "Traceback" not in stderr and "QThread" not in stderr, stderr
        assert _png_size(out) == size


@pytest.mark.parametrize(
    ("size", "needle"),
    [
        ("10x10", "at least 1000x600"),
        ("9000x900", "at most 8000x8000"),
        ("1400", "expected WIDTHxHEIGHT"),
        ("wide", "expected WIDTHxHEIGHT"),
        ("1400x900x2", "expected WIDTHxHEIGHT"),
    ],
)
def test_screenshot_refuses_a_bad_size_in_one_line(
    size: str, needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "shot.png"
    code = main.main(["screenshot", "--size", size, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == main.EXIT_BAD_INPUT
    assert err.count("\n") == 1 and err.startswith("linreg-viz: error: --size"), err
    assert repr(size) in err and needle in err
    assert not out.exists()


@pytest.mark.timeout(60)  # a screenshot that ignored its timeout would wait for 10^5 epochs
def test_screenshot_stops_at_its_timeout_and_saves_what_it_has(qapp, tmp_path: Path) -> None:
    config = preset_config("playground").with_value("train.epochs", 100_000)
    out = tmp_path / "shot.png"
    before = set(QApplication.topLevelWidgets())
    started = time.perf_counter()
    screenshot(config, out, (1000, 600), timeout_s=2.0)
    elapsed = time.perf_counter() - started
    windows = [
        w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w not in before
    ]
    try:
        assert len(windows) == 1
        win = windows[0]
        # Cut short: it waited for the timeout, then saved the window as it was.
        assert 2.0 <= elapsed < 60
        assert win.run_state() not in ("completed", "diverged")
        assert not win.isVisible() and not win.host.thread.isRunning()
        assert _png_size(out) == (1000, 600)
    finally:
        QCoreApplication.processEvents()  # what the closed window's thread said before it ended
        for win in windows:
            win.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
