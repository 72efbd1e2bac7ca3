"""Shared pytest setup and helpers: the `slow` marker (RUN_SLOW=1), the `window` fixture,
wait limits, the environment of child processes and running a check without root's rights."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

_EXIT_STATUS = pytest.StashKey[int]()
ROOT = Path(__file__).resolve().parents[1]
MAIN = ROOT / "main.py"
WAIT_MS = 60_000  # generous: a loaded 2-core machine; tests wait on conditions, not time
# A child Python (torch and Qt start-up ~3 s idle) on a loaded machine; a hang fails, not blocks.
PROCESS_TIMEOUT_S = 300
# Set in a child process started by run_unprivileged: the uid:gid it drops to.
DROP_TO_ENV = "LINREG_VIZ_TEST_DROP_TO"
CANNOT_DROP_ROOT = 77  # its exit code where the system does not let root become that user


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child process: offscreen Qt, Python warnings as a user sees them."""
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    # The app is tested as users run it, not under a warnings-as-errors setting meant for pytest.
    env.pop("PYTHONWARNINGS", None)
    env.update(extra)
    return env


def run_python(
    args: list[str], timeout: float = PROCESS_TIMEOUT_S, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run this interpreter with args from the repository root; capture its text output."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env or child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def step_of(win) -> int:
    """The step of the window's latest snapshot (0 before the first)."""
    snap = win.latest_snapshot()
    return 0 if snap is None else snap.step


def click(win, name: str) -> None:
    """Click the window's tool or push button of this object name."""
    from PySide6.QtWidgets import QPushButton, QToolButton

    button = win.findChild(QToolButton, name) or win.findChild(QPushButton, name)
    assert button is not None, name
    button.click()


# Prepended to a script run_unprivileged runs: the script calls drop_root() once it has loaded
# what it needs (this interpreter may live where only root can read, as /root/.pyenv does here).
DROP_ROOT = f"""
import os
import sys


def drop_root():
    # As root, become the unprivileged user the test chose; in any case, end up not root.
    ids = os.environ.get({DROP_TO_ENV!r})
    if ids:
        uid, gid = (int(v) for v in ids.split(":"))
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
        except PermissionError as exc:
            print(f"cannot drop root: {{exc}}", file=sys.stderr)
            sys.exit({CANNOT_DROP_ROOT})
    assert os.geteuid() != 0, "still root: directory permissions would not be enforced"
"""


# Prepended to a child script that drives the window: the application (as the app makes it)
# and wait_until(condition), which runs the event loop until condition() holds.
QT_CHILD = f"""
from PySide6.QtCore import QEventLoop, QTimer

from gui.app import ensure_app

app = ensure_app(offscreen=True)


def wait_until(condition, seconds={WAIT_MS / 1000}):
    loop = QEventLoop()
    poll = QTimer()
    poll.timeout.connect(lambda: condition() and loop.quit())
    poll.start(10)
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    if not condition():
        loop.exec()
    poll.stop()
    assert condition(), "timed out"
"""


def unprivileged_env() -> dict[str, str]:
    """child_env for a script that calls drop_root(): as root, it drops to 'nobody'; where
    that cannot be done, the test is skipped, saying why (root ignores permission bits)."""
    if sys.platform == "win32":
        pytest.skip("Windows has no POSIX permission bits to refuse a write")
    if os.geteuid() != 0:
        return child_env()
    try:
        import pwd

        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip(
            "running as root, which ignores permission bits, and this system has no 'nobody'"
            " user to run the check as"
        )
    return child_env(**{DROP_TO_ENV: f"{nobody.pw_uid}:{nobody.pw_gid}"})


def run_unprivileged(script: str, timeout: float = PROCESS_TIMEOUT_S):
    """Run script (which calls drop_root() before its check) in a child Python, as a user
    whose permissions are enforced (skipped, saying why, where no such user can be had)."""
    proc = run_python(["-c", DROP_ROOT + script], timeout=timeout, env=unprivileged_env())
    if proc.returncode == CANNOT_DROP_ROOT:
        pytest.skip(
            "running as root, which ignores permission bits, and not allowed to switch to"
            f" 'nobody' here ({proc.stderr.strip()})"
        )
    return proc


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes minutes; runs only when RUN_SLOW=1 is set")
    # No collection in whatever thread happens to allocate: a training or theory thread that
    # collects a Qt object deadlocks with the GUI thread (gui/gui_gc.py; seen in this suite:
    # a race table seeding its rows while the theory thread's numpy call collected). The app
    # collects on its GUI thread's timer; the suite collects on the main thread between tests.
    gc.disable()


@pytest.fixture(autouse=True)
def _collect_between_tests():
    """After each test (its windows shut down and their threads joined), collect what the
    automatic collector would have by now, on the main thread."""
    yield
    counts, thresholds = gc.get_count(), gc.get_threshold()
    for generation in (2, 1, 0):
        if counts[generation] > thresholds[generation]:
            gc.collect(generation)
            break


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
def _run_while_rewound_goes_on_live(monkeypatch):
    """Run pressed while rewound asks (a modal box nobody can answer offscreen): it goes on
    from the live end, as before the question existed, unless a test answers otherwise."""
    from gui import branch_panel

    monkeypatch.setattr(branch_panel, "ask_run_while_rewound", lambda *args: "live")


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
