"""The window beyond single runs: the race tab, exports that cannot be written, devices."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QComboBox, QFileDialog, QPushButton, QTableWidget, QTabWidget

from tests.conftest import WAIT_MS, settle


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


def _read_only(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make folder refuse new files: by its permissions, or (as root, who ignores them) by
    failing the rename that publishes each file, as a read-only folder does."""
    folder.chmod(0o555)
    probe = folder / "probe"
    try:
        probe.write_text("x", encoding="utf-8")
    except OSError:
        return
    probe.unlink()
    real_replace = os.replace

    def replace(src, dst, *args, **kwargs):
        if Path(dst).parent == folder:
            raise PermissionError(13, "Permission denied", str(dst))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)


def test_export_into_a_read_only_folder_says_so_and_leaves_nothing(
    window, qtbot, tmp_path, monkeypatch
):
    window.step_epoch()
    qtbot.waitUntil(lambda: window.latest_snapshot() is not None, timeout=WAIT_MS)
    folder = tmp_path / "read-only"
    folder.mkdir()
    _read_only(folder, monkeypatch)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(folder), ""))
    try:
        window.export_action.trigger()
        assert "Export failed" in window.banner.text()
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)
    # The run goes on: the user can continue, and export elsewhere.
    step = window.latest_snapshot().step
    window.step_batch()
    qtbot.waitUntil(lambda: window.latest_snapshot().step == step + 1, timeout=WAIT_MS)
    monkeypatch.undo()
    assert len(window.export_run(tmp_path / "elsewhere")) > 10


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


def test_a_failed_setup_does_not_undo_a_newer_choice(window, qtbot):
    settle(window, qtbot)
    newer = window.config().with_value("data.noise_std", 0.123)
    # Holding the worker's lock keeps it from carrying out the new setup meanwhile: the failure
    # of an older one arrives while the newer is still queued.
    with window.worker._lock:
        window.apply_config(newer)
        window.worker.setupFailed.emit("Could not set up the run: an older CSV file is gone")
        qtbot.waitUntil(lambda: "older CSV file is gone" in window.banner.text(), timeout=WAIT_MS)
        assert window.panel.config().data.noise_std == 0.123  # not reverted to the kept run
    settle(window, qtbot)
    assert window.worker.trained_config().data.noise_std == 0.123
    assert window.panel.config().data.noise_std == 0.123
