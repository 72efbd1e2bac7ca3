"""The race panel end to end, offscreen: runs table, start/stop, results, plots, export."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PySide6.QtWidgets import QComboBox, QPushButton, QTableWidget, QWidget

from core.config import Config
from core.presets import preset_config
from core.race import MAX_RUNS, RaceEntry
from gui.race_panel import RacePanel
from gui.race_texts import COL_LOSS, COL_STATUS, COL_STEPS
from gui.run_controller import ConfigModel

WAIT_MS = 60_000


def fast(epochs: int = 10) -> Config:
    """The playground on the NumPy engine: a race of a few hundred steps takes milliseconds."""
    return (
        preset_config("playground")
        .with_value("train.implementation", "numpy")
        .with_value("train.epochs", epochs)
    )


MODELS: dict[int, ConfigModel] = {}  # each panel's configuration model, by id(panel)


def _configure(panel: RacePanel, config: Config) -> None:
    """Change the configuration the panel follows (as the window's controller would)."""
    MODELS[id(panel)].set_config(config)


@pytest.fixture
def panel(qtbot):
    """A shown panel on the fast configuration; its thread is joined at teardown."""
    model = ConfigModel(fast())
    widget = RacePanel(model)
    MODELS[id(widget)] = model
    qtbot.addWidget(widget)
    widget.resize(1300, 800)
    widget.show()
    yield widget
    assert widget.stop_and_wait()
    assert not widget.is_thread_running()
    del MODELS[id(widget)]


def _button(panel: RacePanel, name: str) -> QPushButton:
    button = panel.findChild(QPushButton, name)
    assert button is not None, name
    return button


def _race(qtbot, panel: RacePanel) -> None:
    """Press the race button and wait for the race to finish."""
    with qtbot.waitSignal(
        panel.stateChanged, timeout=WAIT_MS, check_params_cb=lambda s: s == "finished"
    ):
        _button(panel, "raceButton").click()


def _set_rows(panel: RacePanel, entries: list[RaceEntry]) -> None:
    """Replace the table's runs by entries, through the public row API."""
    while panel.run_count() > 1:
        assert panel.remove_run()
    assert not panel.remove_run()  # refused: one run always stays
    for entry in entries[:-1]:
        panel.add_run(entry)
    assert panel.remove_run(0)
    panel.add_run(entries[-1])
    assert panel.entries() == [
        RaceEntry(
            optimizer=e.optimizer or "sgd",
            lr=e.lr,
            batch_size=e.batch_size,
            momentum=e.momentum if e.optimizer in ("momentum", "nesterov") else None,
        )
        for e in entries
    ]


def test_panel_has_its_controls_with_tooltips(panel):
    table = panel.findChild(QTableWidget, "raceTable")
    assert table is not None and table.rowCount() == panel.run_count() == 3
    # Seeded from the configuration: its own optimizer first, then two to race it.
    assert [e.optimizer for e in panel.entries()] == ["sgd", "momentum", "adam"]
    assert {e.lr for e in panel.entries()} == {0.01}
    for name in (
        "raceButton",
        "addRunButton",
        "removeRunButton",
        "toleranceSpin",
        "raceEpochsSpin",
        "raceXAxisCombo",
        "raceLossPlot",
        "raceLandscapePlot",
    ):
        widget = panel.findChild(QWidget, name)
        assert widget is not None, name
        assert widget.toolTip(), name
    for row in range(table.rowCount()):
        for col in range(table.columnCount()):
            cell = table.cellWidget(row, col)
            tip = cell.toolTip() if cell is not None else table.item(row, col).toolTip()
            assert tip, (row, col)
        assert table.horizontalHeaderItem(col).toolTip()
    # Names distinct from the main window's own views, so findChild there stays unambiguous.
    assert panel.findChild(QWidget, "landscapePlot") is None
    assert panel.findChild(QWidget, "lossPlot") is None


def test_add_and_remove_runs(panel):
    add, remove = _button(panel, "addRunButton"), _button(panel, "removeRunButton")
    add.click()
    assert panel.run_count() == MAX_RUNS
    assert not add.isEnabled()
    assert panel.add_run() == -1
    # The next untried optimizer the NumPy engine offers (it has no RMSprop).
    assert panel.entries()[-1].optimizer == "nesterov"
    for _ in range(5):
        remove.click()
    assert panel.run_count() == 1
    assert not remove.isEnabled()
    assert add.isEnabled()


def test_numpy_engine_offers_hand_written_optimizers_only(panel):
    combo = panel.findChild(QTableWidget, "raceTable").cellWidget(0, 1)
    assert isinstance(combo, QComboBox)
    offered = {combo.itemData(i) for i in range(combo.count())}
    assert offered == {"sgd", "momentum", "nesterov", "adam"}
    _configure(panel, fast().with_value("train.implementation", "module"))
    combo = panel.findChild(QTableWidget, "raceTable").cellWidget(0, 1)
    offered = {combo.itemData(i) for i in range(combo.count())}
    assert "rmsprop" in offered


def test_race_fills_results_from_one_initial_loss(panel, qtbot):
    _set_rows(
        panel,
        [
            RaceEntry(optimizer="sgd", lr=0.03, batch_size=10),
            RaceEntry(optimizer="momentum", lr=0.01, batch_size=10, momentum=0.9),
            RaceEntry(optimizer="adam", lr=0.05, batch_size=20),
            RaceEntry(optimizer="sgd", lr=5.0, batch_size=10),
        ],
    )
    _race(qtbot, panel)
    snap = panel.latest_snapshot()
    assert snap is not None and snap.done
    # Every run starts from the very same loss.
    assert len({float(run.loss_values[0]) for run in snap.runs}) == 1
    assert float(snap.runs[0].loss_values[0]) == snap.initial_loss
    results = panel.results()
    assert results is not None
    assert len({r["initial_loss"] for r in results["runs"]}) == 1
    assert [r["stopped_reason"] for r in results["runs"]] == [
        "completed",
        "completed",
        "completed",
        "diverged",
    ]
    table = panel.findChild(QTableWidget, "raceTable")
    for row in range(3):
        assert table.item(row, COL_STEPS).text() not in ("", "—")
        assert float(table.item(row, COL_LOSS).text()) == pytest.approx(
            results["runs"][row]["final_loss"], rel=1e-3
        )
        assert table.item(row, COL_STATUS).text() == "completed"
    assert table.item(3, COL_STATUS).text() == "diverged"
    assert table.item(3, COL_STEPS).text() == "—"
    assert "Learning rate 5" in table.item(3, COL_STATUS).toolTip()
    assert "Finished" in panel.status_label.text()
    # The plots show every run: loss curves from the common start, paths in the landscape.
    for k in range(4):
        x, y = panel.loss_view.curve_data(k)
        assert x[0] == 0 and y[0] == pytest.approx(snap.initial_loss)
        px, _ = panel.landscape.path_data(k)
        assert px.size > 1
    assert len(panel.landscape.path_labels()) == 4
    assert _button(panel, "raceButton").text() == "Start race"


def test_x_axis_in_epochs(panel, qtbot):
    _set_rows(panel, [RaceEntry(lr=0.03, batch_size=10), RaceEntry(lr=0.03, batch_size=40)])
    _race(qtbot, panel)
    panel.findChild(QComboBox, "raceXAxisCombo").setCurrentIndex(1)
    assert panel.loss_view.x_axis == "epoch"
    for k in range(2):
        x, _ = panel.loss_view.curve_data(k)
        assert x[-1] == pytest.approx(10.0)  # both ran 10 epochs, whatever their batch size


def test_export_writes_valid_files(panel, qtbot, tmp_path):
    assert panel.export(tmp_path / "before") == []  # nothing raced yet
    _race(qtbot, panel)
    written = panel.export(tmp_path / "out")
    names = sorted(p.name for p in written)
    assert names == [
        "race.json",
        "race_landscape.png",
        "race_landscape.svg",
        "race_loss.png",
        "race_loss.svg",
    ]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == names
    doc = json.loads((tmp_path / "out" / "race.json").read_text(encoding="utf-8"))
    assert len(doc["runs"]) == panel.run_count()
    assert all(math.isfinite(r["final_loss"]) for r in doc["runs"])
    for name in ("race_loss.png", "race_landscape.png"):
        assert (tmp_path / "out" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name in ("race_loss.svg", "race_landscape.svg"):
        root = ET.parse(tmp_path / "out" / name).getroot()
        assert root.tag.endswith("svg")


def test_stop_mid_race_keeps_results_and_joins_the_thread(panel, qtbot):
    _configure(panel, fast(epochs=100_000))
    panel.epochs_spin.setValue(100_000)
    button = _button(panel, "raceButton")
    with qtbot.waitSignal(
        panel.stateChanged, timeout=WAIT_MS, check_params_cb=lambda s: s == "running"
    ):
        button.click()

    def moving() -> bool:
        snap = panel.latest_snapshot()
        return snap is not None and all(run.step > 0 for run in snap.runs)

    qtbot.waitUntil(moving, timeout=WAIT_MS)
    assert button.text() == "Stop race"
    assert not _button(panel, "addRunButton").isEnabled()
    with qtbot.waitSignal(
        panel.stateChanged, timeout=WAIT_MS, check_params_cb=lambda s: s == "stopped"
    ):
        button.click()
    results = panel.results()
    assert {r["stopped_reason"] for r in results["runs"]} == {"stopped"}
    assert all(0 < r["steps"] < r["steps_per_epoch"] * 100_000 for r in results["runs"])
    assert panel.stop_and_wait()
    assert not panel.is_thread_running()


def test_configuration_changes_during_a_race_wait_for_its_end(panel, qtbot):
    _configure(panel, fast(epochs=100_000))
    panel.start()
    qtbot.waitUntil(lambda: panel.state() == "running", timeout=WAIT_MS)
    before = panel.entries()
    _configure(panel, fast(epochs=5).with_value("train.optimizer", "adam"))
    assert panel.entries() == before  # the table still describes the running race
    assert panel.epochs_spin.value() == 100_000
    with qtbot.waitSignal(
        panel.stateChanged, timeout=WAIT_MS, check_params_cb=lambda s: s == "stopped"
    ):
        panel.stop()
    assert panel.entries()[0].optimizer == "adam"
    assert panel.epochs_spin.value() == 5


def test_stop_and_wait_while_running(panel, qtbot):
    _configure(panel, fast(epochs=100_000))
    panel.epochs_spin.setValue(100_000)
    panel.start()
    qtbot.waitUntil(lambda: panel.state() == "running", timeout=WAIT_MS)
    assert panel.stop_and_wait()
    assert not panel.is_thread_running()
    assert panel.state() == "stopped"
    # A later race gets a fresh thread.
    panel.epochs_spin.setValue(2)
    _race(qtbot, panel)


def test_a_setup_error_is_reported_and_the_thread_lives_on(panel, qtbot, tmp_path):
    bad = fast().with_value("data.csv_path", str(tmp_path / "missing.csv"))
    _configure(panel, bad)
    with qtbot.waitSignal(panel.message, timeout=WAIT_MS) as blocker:
        _button(panel, "raceButton").click()
    level, text = blocker.args
    assert level == "error" and "missing.csv" in text
    qtbot.waitUntil(lambda: panel.state() == "idle", timeout=WAIT_MS)
    assert "missing.csv" in panel.status_label.text()
    _configure(panel, fast())
    _race(qtbot, panel)


def test_untouched_rows_follow_the_configuration(panel):
    _configure(panel, fast().with_value("train.optimizer", "adam").with_value("train.lr", 0.2))
    entries = panel.entries()
    assert entries[0] == RaceEntry(optimizer="adam", lr=0.2, batch_size=10, momentum=None)
    assert panel.epochs_spin.value() == 10
    assert [e.optimizer for e in entries] == ["adam", "momentum"]
    panel.remove_run()  # the user edits the table: it is theirs now
    _configure(panel, fast().with_value("train.lr", 0.5))
    assert [e.optimizer for e in panel.entries()] == ["adam"]
    assert np.isclose(panel.entries()[0].lr, 0.2)
    panel.epochs_spin.setValue(3)
    _configure(panel, fast(epochs=50))
    assert panel.epochs_spin.value() == 3
    assert panel.base_config().train.epochs == 3


def test_a_failing_race_is_reported_on_the_gui_thread(panel, qtbot, monkeypatch):
    import threading

    from core.race import Race

    def boom(self, *args, **kwargs):
        raise RuntimeError("boom in the race")

    monkeypatch.setattr(Race, "advance", boom)
    threads = []
    label = panel.status_label
    set_text = label.setText
    monkeypatch.setattr(
        label, "setText", lambda text: (threads.append(threading.current_thread()), set_text(text))
    )
    _button(panel, "raceButton").click()
    qtbot.waitUntil(lambda: "boom in the race" in panel.status_label.text(), timeout=WAIT_MS)
    # Widgets may only be touched from the GUI thread (a lambda slot ran in the race's).
    assert threads and all(t is threading.main_thread() for t in threads)
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=WAIT_MS)


def test_loss_key_hides_in_a_small_panel_and_comes_back(panel, qtbot):
    _race(qtbot, panel)
    view = panel.loss_view
    assert view.legend.isVisible() and "key is hidden" not in view.toolTip()
    panel.resize(700, 500)
    qtbot.waitUntil(lambda: not view.legend.isVisible(), timeout=WAIT_MS)
    assert "key is hidden" in view.toolTip()
    panel.resize(1300, 800)
    qtbot.waitUntil(view.legend.isVisible, timeout=WAIT_MS)
    assert "key is hidden" not in view.toolTip()


def test_table_headers_and_optimizer_names_fit_a_narrow_panel(panel, qtbot):
    from PySide6.QtWidgets import QApplication

    panel.resize(760, 600)
    qtbot.waitUntil(lambda: panel.width() == 760, timeout=WAIT_MS)
    QApplication.processEvents()
    table = panel.findChild(QTableWidget, "raceTable")
    header = table.horizontalHeader()
    metrics = header.fontMetrics()
    for col in range(table.columnCount()):
        text = table.horizontalHeaderItem(col).text()
        widest = max(metrics.horizontalAdvance(line) for line in text.split("\n"))
        assert header.sectionSize(col) >= widest + 4, text
    combo = table.cellWidget(0, 1)
    assert isinstance(combo, QComboBox)
    assert combo.width() >= combo.fontMetrics().horizontalAdvance("Momentum") + 20


def test_no_empty_key_is_drawn_before_a_race(panel, qtbot):
    """Before a race the loss plot and the landscape have nothing to name: no key is drawn
    (pyqtgraph painted an empty legend frame in their corners); after it, both keys show."""
    legends = (panel.loss_view.legend, panel.landscape.map.legend)
    qtbot.waitUntil(lambda: not any(legend.isVisible() for legend in legends), timeout=WAIT_MS)
    assert "hidden" not in panel.loss_view.toolTip()
    _race(qtbot, panel)
    qtbot.waitUntil(lambda: all(legend.isVisible() for legend in legends), timeout=WAIT_MS)
