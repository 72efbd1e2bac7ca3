"""A newcomer's pass: every menu entry of the window, in the order a new user might try them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QDialog, QFileDialog, QMenu, QSpinBox

from core.runfile import load_run
from gui import replay
from gui.csv_dialog import CsvDialog
from gui.help import TextDialog
from tests.conftest import WAIT_MS, settle, step_of


def _entries(window) -> dict[str, object]:
    """Every action in the menus, by menu and text ("File/Export run…")."""
    found = {}
    for menu_action in window.menuBar().actions():
        menu: QMenu = menu_action.menu()
        for action in menu.actions():
            if not action.isSeparator():
                found[f"{menu.title().replace('&', '')}/{action.text()}"] = action
    return found


def _no_error(window, qtbot, what: str) -> None:
    settle(window, qtbot, pause=False)  # an error from the worker would be in by now
    assert window.banner.level != "error" or not window.banner.text(), (what, window.banner.text())


def test_every_menu_entry_works(window, qtbot, tmp_path, monkeypatch):
    csv = tmp_path / "house.csv"
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2))
    np.savetxt(
        csv, np.column_stack([x, x @ [3.0, -1.0] + 2]), delimiter=",", header="a,b,y", comments=""
    )
    chosen = {
        "Open configuration": tmp_path / "mine.json",
        "Save configuration": tmp_path / "mine.json",
        "Open CSV data": csv,
        "Save run": tmp_path / "mine.lrrun",
        "Open run": tmp_path / "mine.lrrun",
        "Export animation": tmp_path / "mine.gif",
        "Export run to folder": tmp_path / "export",  # a new folder: the export makes it
    }
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda _w, cap, *a: (str(chosen[cap]), ""))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda _w, cap, *a: (str(chosen[cap]), ""))
    monkeypatch.setattr(CsvDialog, "exec", lambda self: QDialog.DialogCode.Accepted)
    # Four frames, not 48: the replay itself is tested in test_replay.
    real_steps = replay.frame_steps
    monkeypatch.setattr(replay, "frame_steps", lambda last, frames: real_steps(last, 4))

    entries = _entries(window)
    for name, action in entries.items():
        assert action.toolTip() or action.statusTip(), f"{name} has no tooltip"
    presets = [name for name in entries if name.startswith("Presets/")]
    assert len(presets) >= 9

    for name in presets:
        entries[name].trigger()
        _no_error(window, qtbot, name)
    entries["Presets/playground"].trigger()
    for name in ("View/Optimizer race", "View/Training", "View/Log-scale loss"):
        entries[name].trigger()
        _no_error(window, qtbot, name)

    # Long enough that the run is still going when the newcomer presses Pause.
    window.findChild(QSpinBox, "epochsSpin").setValue(100_000)
    entries["Run/Run"].trigger()
    qtbot.waitUntil(lambda: step_of(window) > 20, timeout=WAIT_MS)
    entries["Run/Run"].trigger()  # pause
    qtbot.waitUntil(lambda: window.run_state() == "paused", timeout=WAIT_MS)
    before = step_of(window)
    entries["Run/Step batch"].trigger()
    qtbot.waitUntil(lambda: step_of(window) > before, timeout=WAIT_MS)
    epoch = window.latest_snapshot().epoch
    entries["Run/Step epoch"].trigger()
    qtbot.waitUntil(lambda: window.latest_snapshot().epoch > epoch, timeout=WAIT_MS)

    entries["File/Save configuration…"].trigger()
    assert chosen["Save configuration"].is_file()
    entries["File/Save run…"].trigger()
    assert chosen["Save run"].is_file()
    entries["File/Export run…"].trigger()
    assert (tmp_path / "export" / "window.png").is_file()
    entries["File/Export animation (GIF)…"].trigger()
    assert chosen["Export animation"].read_bytes()[:6] == b"GIF89a"
    _no_error(window, qtbot, "exports")

    # The race follows the run's settings, its 100,000 epochs too: a short race is set here.
    assert window.race_panel.base_config().train.epochs == 100_000
    window.race_panel.findChild(QSpinBox, "raceEpochsSpin").setValue(20)
    entries["Run/Start or stop race"].trigger()
    qtbot.waitUntil(lambda: window.race_panel.state() == "finished", timeout=WAIT_MS)
    _no_error(window, qtbot, "race")

    info = window.run_info()
    entries["File/Open CSV data…"].trigger()
    qtbot.waitUntil(lambda: window.run_info() is not info, timeout=WAIT_MS)
    assert window.run_info().true_theta is None and "house.csv" in window.banner.text()
    info = window.run_info()
    entries["File/Open configuration…"].trigger()
    qtbot.waitUntil(lambda: window.run_info() is not info, timeout=WAIT_MS)
    assert window.config().data.csv_path is None
    entries["File/Open run…"].trigger()
    assert "Reopened mine.lrrun" in window.banner.text()
    settle(window, qtbot)
    saved = load_run(chosen["Save run"])
    assert window.latest_snapshot() is not None and window.latest_snapshot().step == saved.step
    info = window.run_info()
    entries["Run/Reset"].trigger()
    qtbot.waitUntil(
        lambda: window.run_info() is not info and window.latest_snapshot() is None, timeout=WAIT_MS
    )
    _no_error(window, qtbot, "open and reset")

    entries["Help/Guide"].trigger()
    entries["Help/Keyboard shortcuts"].trigger()
    boxes = [box for box in window.findChildren(TextDialog) if box.isVisible()]
    assert len(boxes) == 2 and not any(box.isModal() for box in boxes)
    assert any("Ctrl+Shift+R" in box.text() for box in boxes)
    for box in boxes:
        box.close()

    entries["File/Quit"].trigger()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=WAIT_MS)
    assert not window.host.thread.isRunning()
    assert Path(chosen["Save configuration"]).read_text(encoding="utf-8").startswith("{")
