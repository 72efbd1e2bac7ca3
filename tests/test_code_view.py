"""The run as a script in the window: File > Export as Python script, and the Code tab."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtWidgets import QComboBox, QFileDialog, QPlainTextEdit

from core.script import make_script, script_values
from core.trainer import Trainer
from gui.code_view import format_value
from tests.conftest import WAIT_MS, run_python, settle, step_of


def test_exported_script_trains_what_the_window_trained(window, qtbot, tmp_path, monkeypatch):
    window.apply_config(window.config().with_value("train.epochs", 2))
    qtbot.waitUntil(lambda: window.is_ready() and window.is_idle(), timeout=WAIT_MS)
    window.toggle_run()
    qtbot.waitUntil(lambda: window.run_state() == "completed", timeout=WAIT_MS)
    settle(window, qtbot)
    snap = window.latest_snapshot()
    assert snap.step == 40
    target = tmp_path / "scripts" / "run.py"
    target.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a: (str(target), ""))
    window.actions_by_name["exportScriptAction"].trigger()
    assert target.is_file() and "Wrote" in window.banner.text()
    assert target.read_text() == make_script(window.config(), title="A run from linreg-viz").text
    proc = run_python([str(target)])
    assert proc.returncode == 0, proc.stderr
    final = json.loads(proc.stdout.strip().splitlines()[-1])
    # float32 (the playground's precision): the script repeats the app's arithmetic.
    np.testing.assert_allclose(final["weights"], snap.weights, rtol=1e-5)
    assert final["bias"] == pytest.approx(snap.bias, rel=1e-5)
    # The dialog remembers its folder like the other exports.
    assert window.dialogs.folder("export") == str(target.parent)


def test_export_script_failure_says_so(window, tmp_path, monkeypatch):
    target = tmp_path / "missing" / "deeper" / "run.py"
    (tmp_path / "missing").write_text("a file, not a folder")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a: (str(target), ""))
    window.dialogs.export_script()
    assert "Could not write the script" in window.banner.text()
    assert not target.exists()


def _show_code(window, qtbot):
    window.fit_tabs.setCurrentWidget(window.dashboard.code_view)
    qtbot.waitUntil(lambda: window.dashboard.code_view.isVisible(), timeout=WAIT_MS)
    return window.dashboard.code_view


def test_the_code_view_shows_the_script_and_the_values_of_each_step(window, qtbot):
    code = _show_code(window, qtbot)
    script = make_script(window.config(), title="This run")
    text = window.findChild(QPlainTextEdit, "codeText")
    assert text.toPlainText().splitlines() == script.text.splitlines()
    assert code.highlighted_lines() == sorted(set(script.update_lines.values()))
    # One step: under the update lines, what they computed, as script_values gives it.
    window.step_batch()
    qtbot.waitUntil(lambda: code.shown_value("grad") is not None, timeout=WAIT_MS)
    settle(window, qtbot)
    reference = Trainer(window.config())
    reference.step()
    values = script_values(reference)
    for name in ("grad", "lr", "theta"):
        assert code.shown_value(name) == format_value(values[name]), name
        assert f"{name} = {format_value(values[name])}" in text.toPlainText()
    # The script's own lines are all still there, in order, the update lines highlighted.
    shown = text.toPlainText().splitlines()
    assert [line for line in shown if "↳" not in line] == script.text.splitlines()
    assert code.highlighted_lines() == sorted(set(script.update_lines.values()))
    # Steps go on: the values follow.
    window.step_batch()
    qtbot.waitUntil(lambda: step_of(window) == 2, timeout=WAIT_MS)
    reference.step()
    grad = format_value(script_values(reference)["grad"])
    qtbot.waitUntil(lambda: code.shown_value("grad") == grad, timeout=WAIT_MS)


def test_the_code_view_follows_the_settings(window, qtbot):
    code = _show_code(window, qtbot)
    combo = window.findChild(QComboBox, "optimizerCombo")
    combo.setCurrentIndex(combo.findData("momentum"))
    settle(window, qtbot)
    script = make_script(window.config(), title="This run")
    assert "velocity" in script.update_lines
    assert code.highlighted_lines() == sorted(set(script.update_lines.values()))
    window.step_batch()
    qtbot.waitUntil(lambda: (code.shown_value("velocity") or "").startswith("["), timeout=WAIT_MS)


def test_format_value_is_short():
    assert format_value(0.01) == "0.01"
    assert format_value(3.0) == "3"
    assert format_value(np.arange(6) / 3) == "[0, 0.3333, 0.6667, 1, … 2 more]"
