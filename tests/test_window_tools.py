"""The window beyond single runs: the race tab, exports that cannot be written, devices."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QPushButton, QTableWidget, QTabWidget

from tests.conftest import QT_CHILD, WAIT_MS, run_unprivileged, settle


def _race_to_end(window, qtbot) -> None:
    with qtbot.waitSignal(
        window.race_panel.stateChanged,
        timeout=WAIT_MS,
        check_params_cb=lambda state: state == "finished",
    ):
        window.race_action.trigger()


def test_race_tab_races_the_windows_data_and_pauses_the_run(window, qtbot):
    tabs = window.findChild(QTabWidget, "mainTabs")
    assert [tabs.tabText(i) for i in range(tabs.count())] == ["Training", "Optimizer race", "Sweep"]
    assert window.findChild(QTableWidget, "raceTable") is not None
    assert window.findChild(QPushButton, "raceButton") is not None
    # A change of data in the window reaches the race.
    window.findChild(QTableWidget, "weightsTable").item(0, 0).setText("-1.5")
    window.controller.flush()
    qtbot.waitUntil(
        lambda: window.race_panel.base_config().data.true_weights == (-1.5,), timeout=WAIT_MS
    )
    window.race_panel.epochs_spin.setValue(3)
    window.toggle_run()
    qtbot.waitUntil(lambda: window.run_state() == "running", timeout=WAIT_MS)

    _race_to_end(window, qtbot)

    assert tabs.currentIndex() == 1
    # Two trainings do not share the two cores (the pause's signal may come after the race's).
    qtbot.waitUntil(lambda: window.run_state() == "paused", timeout=WAIT_MS)
    results = window.race_panel.results()
    assert results is not None and len(results["runs"]) == window.race_panel.run_count()
    assert len({run["initial_loss"] for run in results["runs"]}) == 1
    window.training_tab_action.trigger()
    assert tabs.currentIndex() == 0


def test_export_run_includes_the_race(window, qtbot, tmp_path):
    window.race_panel.epochs_spin.setValue(2)
    _race_to_end(window, qtbot)
    names = {p.name for p in window.export_run(tmp_path)}
    assert {"race.json", "race_loss.png", "race_loss.svg", "loss.png", "config.json"} <= names
    race = json.loads((tmp_path / "race.json").read_text(encoding="utf-8"))
    assert len(race["runs"]) == window.race_panel.run_count()


def test_closing_mid_race_joins_both_threads(window, qtbot):
    window.race_panel.epochs_spin.setValue(10_000)
    with qtbot.waitSignal(
        window.race_panel.stateChanged,
        timeout=WAIT_MS,
        check_params_cb=lambda state: state == "running",
    ):
        window.race_action.trigger()
    window.close()
    assert not window.host.thread.isRunning()
    assert not window.race_panel.is_thread_running()


READ_ONLY_EXPORT = """
import shutil
import tempfile
from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from core.presets import preset_config
from gui.main_window import MainWindow

win = MainWindow(preset_config("playground"))
win.show()
wait_until(win.is_ready)
win.step_epoch()
wait_until(lambda: win.latest_snapshot() is not None)
# Everything an export loads, loaded while root may still read where this Python lives.
warm = Path(tempfile.mkdtemp())
win.export_run(warm)
shutil.rmtree(warm)
drop_root()
base = Path(tempfile.mkdtemp())
folder = base / "read-only"
folder.mkdir()
folder.chmod(0o555)
QFileDialog.getSaveFileName = staticmethod(lambda *args, **kwargs: (str(folder), ""))
try:
    win.export_action.trigger()
    print("banner", win.banner.level, win.banner.text())
    print("left", sorted(p.name for p in folder.iterdir()))
    # The run goes on: the user can continue, and export elsewhere.
    step = win.latest_snapshot().step
    win.step_batch()
    wait_until(lambda: win.latest_snapshot().step == step + 1)
    print("elsewhere", len(win.export_run(base / "elsewhere")))
finally:
    folder.chmod(0o755)
    shutil.rmtree(base)
    win.close()
print("closed", win.host.thread.isRunning())
"""


def test_export_into_a_read_only_folder_says_so_and_leaves_nothing():
    # Root ignores permission bits: the window runs in a child process that drops to an
    # unprivileged user before exporting into a folder it may not write (conftest).
    proc = run_unprivileged(QT_CHILD + READ_ONLY_EXPORT)
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    assert lines["banner"].startswith("error Export failed"), lines["banner"]
    assert "Permission denied" in lines["banner"] and "read-only" in lines["banner"]
    assert lines["left"] == "[]"
    assert int(lines["elsewhere"]) > 10
    assert lines["closed"] == "False"
    assert "Traceback" not in proc.stderr


def test_unavailable_device_keeps_the_run_and_the_controls(window, qtbot):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    info_before = window.run_info()
    combo = window.findChild(QComboBox, "deviceCombo")
    combo.setCurrentIndex(combo.findData("cuda"))
    qtbot.waitUntil(lambda: "CUDA" in window.banner.text(), timeout=WAIT_MS)
    assert window.banner.level == "error" and window.run_info() is info_before
    assert combo.currentData() == "auto"  # back to what the kept run uses


def test_a_wide_csv_of_a_hundred_features_trains_in_the_window(window, qtbot, tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2000, 100))
    w = rng.normal(size=100)
    y = x @ w + 0.5
    path = tmp_path / "wide.csv"
    names = [f"f{i}" for i in range(100)]
    np.savetxt(
        path, np.column_stack([x, y]), delimiter=",", header=",".join([*names, "y"]), comments=""
    )
    info_before = window.run_info()
    assert window.open_csv(str(path), "y", names, True)
    qtbot.waitUntil(lambda: window.run_info() is not info_before, timeout=WAIT_MS)
    assert len(window.run_info().param_names) == 101
    assert "and 94 more" in window.banner.text()
    window.step_epoch()
    qtbot.waitUntil(
        lambda: window.latest_snapshot() is not None and window.latest_snapshot().epoch == 1,
        timeout=WAIT_MS,
    )
    window.refresh()
    assert len(window.latest_snapshot().weights) == 100
    assert not window.grab().isNull()


def test_a_failed_setup_does_not_undo_a_newer_choice(window, qtbot, tmp_path):
    settle(window, qtbot)
    gone = window.config().with_value("data.csv_path", str(tmp_path / "gone.csv"))
    newer = window.config().with_value("data.noise_std", 0.123)
    # A held worker carries out neither setup meanwhile: the older one's failure is handled
    # while the newer is queued (or already being built).
    with window.worker.held():
        window.apply_config(gone)
        window.apply_config(newer)
    qtbot.waitUntil(lambda: "gone.csv" in window.banner.text(), timeout=WAIT_MS)
    settle(window, qtbot)
    assert window.worker.trained_config().data.noise_std == 0.123
    assert window.config().data == newer.data  # not reverted to the run kept
    assert not window.is_busy()


def _block_worker_until(signal, heard: threading.Event) -> None:
    """Keep the worker inside the call that emits signal until heard is set (by the window):
    the window then handles the signal before the worker has finished that call."""
    signal.connect(lambda *_: heard.wait(WAIT_MS / 1000), Qt.ConnectionType.DirectConnection)


def test_a_failed_setup_is_answered_before_the_worker_has_finished_it(window, qtbot, tmp_path):
    settle(window, qtbot)
    info = window.run_info()
    heard = threading.Event()
    # Released as the window starts on the failure (before it reads the run kept, which waits
    # for the worker to leave the call).
    window.controller.busyChanged.connect(lambda busy: busy is None and heard.set())
    window.controller.message.connect(lambda *_: heard.set())
    _block_worker_until(window.worker.setupFailed, heard)
    window.apply_config(window.config().with_value("data.csv_path", str(tmp_path / "gone.csv")))
    qtbot.waitUntil(lambda: "gone.csv" in window.banner.text(), timeout=WAIT_MS)
    assert window.banner.text().endswith("The current run is kept.")
    assert not window.is_busy()
    assert window.config().data.csv_path is None  # the controls show the run kept
    settle(window, qtbot)
    assert window.run_info() is info


def test_a_new_runs_note_is_said_before_the_worker_has_finished_building_it(
    window, qtbot, tmp_path
):
    settle(window, qtbot)
    path = tmp_path / "house.csv"
    x = np.random.default_rng(1).normal(size=(200, 2))
    np.savetxt(
        path, np.column_stack([x, x @ [3.0, -1.0] + 5]), delimiter=",", header="a,b,y", comments=""
    )
    heard = threading.Event()
    # Released once the window has said what it made of the new run (the note).
    window.controller.message.connect(lambda *_: heard.set())
    _block_worker_until(window.worker.runReset, heard)
    info = window.run_info()
    assert window.open_csv(str(path), "y", ["a", "b"], False)
    qtbot.waitUntil(lambda: window.run_info() is not info, timeout=WAIT_MS)
    assert "house.csv" in window.banner.text() and "Fitted to this data" in window.banner.text()
    assert window.config().train.lr < window.controller.stable_lr()
    settle(window, qtbot)
