"""Branches in the window: rewind, change a setting, Run -> a branch from that step's exact state;
ghosts; the branch list; saved runs keep every branch; setup changes go on mid-run."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QPushButton, QSpinBox

from core.branches import RunTree
from core.runfile import load_run
from core.trainer import Trainer
from gui import branch_panel
from tests.conftest import WAIT_MS, settle, step_of


def _steps(window, qtbot, epochs: int) -> int:
    """Train whole epochs, paused; the step reached."""
    for _ in range(epochs):
        window.step_epoch()
    settle(window, qtbot)
    return step_of(window)


def _branches(window):
    return window.controller.branches()


def _answer(monkeypatch, choice: str) -> list[tuple[int, int]]:
    asked: list[tuple[int, int]] = []

    def ask(parent, step, live_step):
        asked.append((step, live_step))
        return choice

    monkeypatch.setattr(branch_panel, "ask_run_while_rewound", ask)
    return asked


def _wait_branches(window, qtbot, count: int) -> None:
    qtbot.waitUntil(lambda: len(_branches(window).rows) == count, timeout=WAIT_MS)
    settle(window, qtbot)


def _run_to(window, qtbot, step: int) -> None:
    qtbot.waitUntil(lambda: step_of(window) >= step, timeout=WAIT_MS)
    settle(window, qtbot)


def _assert_same_history(a, b) -> None:
    for x, y in zip(a.steps(), b.steps(), strict=True):
        np.testing.assert_array_equal(x, y)


def test_rewind_change_the_rate_and_run_branches_exactly(window, qtbot, monkeypatch):
    config = window.config()
    live = _steps(window, qtbot, 3)
    assert live == 60
    window.rewind_to(25)
    assert window.is_reviewing()
    window.findChild(QDoubleSpinBox, "lrSpin").setValue(0.05)
    asked = _answer(monkeypatch, "branch")
    window.toggle_run()
    assert asked == [(25, 60)]
    assert not window.is_reviewing()
    _wait_branches(window, qtbot, 2)
    window.controller.run()
    _run_to(window, qtbot, 90)
    # The branch is the run that changed the rate live at step 25, step for step.
    reference = Trainer(config)
    reference.run_steps(25)
    reference.set_hyper(lr=0.05)
    reference.run_steps(step_of(window) - 25)
    _assert_same_history(window.history(), reference.history)
    rows = _branches(window).rows
    assert [r.fork_step for r in rows] == [0, 25]
    assert rows[1].active and rows[1].parent == 0 and rows[1].note == "lr 0.01 -> 0.05"
    assert rows[0].last_step == live
    # The former continuation stays as a ghost: its loss, parameter curves and path.
    drawn = window.dashboard.ghosts.drawn()
    assert drawn == {"loss": 1, "params": 2, "paths": 1}
    (ghost,) = window.dashboard.ghosts.ghosts()
    assert ghost.id == 0 and ghost.steps[0] == 25 and ghost.steps[-1] == live
    # The branch list came up with the first branch.
    assert window.dashboard.branch_panel.isVisible()


def test_run_while_rewound_can_go_on_from_the_live_end(window, qtbot, monkeypatch):
    live = _steps(window, qtbot, 2)
    window.rewind_to(10)
    _answer(monkeypatch, "live")
    window.toggle_run()
    assert not window.is_reviewing()
    qtbot.waitUntil(lambda: step_of(window) > live + 20, timeout=WAIT_MS)
    settle(window, qtbot)
    assert len(_branches(window).rows) == 1
    # Cancelled: nothing happens, the view stays rewound.
    window.rewind_to(10)
    _answer(monkeypatch, None)
    window.toggle_run()
    assert window.is_reviewing() and window.run_state() == "paused"


def test_a_branch_that_changes_nothing_goes_on_as_its_parent(window, qtbot):
    _steps(window, qtbot, 3)
    reference = window.history()
    window.rewind_to(33)
    assert window.dashboard.branch_panel.here_button.isEnabled()
    window.dashboard.branch_panel.here_button.click()  # Branch here: paused
    _wait_branches(window, qtbot, 2)
    assert window.run_state() == "paused" and step_of(window) == 33
    _steps(window, qtbot, 1)  # to the end of epoch 2 (step 40)
    for _ in range(20):
        window.step_batch()
    settle(window, qtbot)
    assert step_of(window) == 60
    _assert_same_history(window.history(), reference)


def _make_branch(window, qtbot, step: int, lr: float, name_count: int) -> None:
    window.rewind_to(step)
    window.findChild(QDoubleSpinBox, "lrSpin").setValue(lr)
    window.dashboard.branch_here(run=False)
    _wait_branches(window, qtbot, name_count)


def test_the_branch_list_switches_renames_and_deletes(window, qtbot, monkeypatch):
    _steps(window, qtbot, 3)
    _make_branch(window, qtbot, 20, 0.05, 2)
    for _ in range(7):
        window.step_batch()
    settle(window, qtbot)
    assert step_of(window) == 27
    panel = window.dashboard.branch_panel
    main, faster = _branches(window).rows
    # Switch: the first branch, where it stood, with its own settings in the controls.
    panel.select(main.id)
    panel.switch_button.click()
    qtbot.waitUntil(lambda: _branches(window).active.id == main.id, timeout=WAIT_MS)
    settle(window, qtbot)
    assert step_of(window) == 60
    # The edit made while rewound reached the live end of the first branch too.
    assert window.worker.trained_config() == window.config()
    assert window.dashboard.ghosts.ghosts()[0].id == faster.id
    # And back: the branch stands at step 27.
    panel.select(faster.id)
    panel.tree.itemActivated.emit(panel.tree.currentItem(), 0)
    qtbot.waitUntil(lambda: _branches(window).active.id == faster.id, timeout=WAIT_MS)
    settle(window, qtbot)
    assert step_of(window) == 27 and window.config().train.lr == 0.05
    # Rename in place.
    panel.select(faster.id)
    panel.tree.currentItem().setText(0, "faster")
    qtbot.waitUntil(lambda: _branches(window).row(faster.id).name == "faster", timeout=WAIT_MS)
    # An empty name is refused with a message; the list shows the name kept.
    panel.tree.currentItem().setText(0, "  ")
    qtbot.waitUntil(lambda: "empty" in window.banner.text(), timeout=WAIT_MS)
    settle(window, qtbot)
    assert panel.tree.currentItem().text(0) == "faster"
    # A branch of the branch; deleting "faster" asks, and takes its child with it.
    _make_branch(window, qtbot, 24, 0.02, 3)
    asked = []
    monkeypatch.setattr(
        branch_panel, "confirm_delete", lambda parent, row, kids: asked.append(kids) or True
    )
    panel.select(faster.id)
    window.findChild(QPushButton, "deleteBranchButton").click()
    _wait_branches(window, qtbot, 1)
    assert [len(kids) for kids in asked] == [1]
    # The active branch went with it: the first branch trains again, where it stood.
    assert _branches(window).active.id == main.id and step_of(window) == 60
    assert window.dashboard.ghosts.ghosts() == ()
    assert not panel.delete_button.isEnabled()  # the first branch stays


def test_declining_to_delete_keeps_the_branches(window, qtbot, monkeypatch):
    _steps(window, qtbot, 2)
    _make_branch(window, qtbot, 10, 0.05, 2)
    for _ in range(5):
        window.step_batch()
    settle(window, qtbot)
    _make_branch(window, qtbot, 12, 0.03, 3)  # a branch of the branch
    assert _branches(window).rows[2].parent == _branches(window).rows[1].id
    monkeypatch.setattr(branch_panel, "confirm_delete", lambda *args: False)
    panel = window.dashboard.branch_panel
    panel.select(_branches(window).rows[1].id)
    panel.delete_button.click()
    settle(window, qtbot)
    assert len(_branches(window).rows) == 3


def test_a_saved_run_reopens_with_every_branch(window, qtbot, tmp_path):
    _steps(window, qtbot, 2)
    _make_branch(window, qtbot, 15, 0.05, 2)
    window.step_batch()
    settle(window, qtbot)
    before = _branches(window)
    path = window.save_run(tmp_path / "tree.lrrun")
    saved = load_run(path)
    assert [b.name for b in saved.branches] == [r.name for r in before.rows]
    window.reset_paused()
    qtbot.waitUntil(lambda: len(_branches(window).rows) == 1, timeout=WAIT_MS)
    assert window.open_run(path)
    _wait_branches(window, qtbot, 2)
    after = _branches(window)
    assert [(r.name, r.fork_step, r.active) for r in after.rows] == [
        (r.name, r.fork_step, r.active) for r in before.rows
    ]
    assert after.rows[0].last_step == 40 and after.rows[1].last_step == 16 == step_of(window)
    # The list follows the active branch's newest step.
    assert window.dashboard.branch_panel.tree.topLevelItem(0).child(0).text(2) == "16"
    assert window.dashboard.ghosts.drawn()["loss"] == 1
    assert "2 branches" in window.banner.text()


@pytest.mark.parametrize(
    ("widget", "name", "value", "key"),
    [
        (QSpinBox, "batchSizeSpin", 32, "train.batch_size"),
        (QComboBox, "optimizerCombo", "adam", "train.optimizer"),
        (QComboBox, "implementationCombo", "numpy", "train.implementation"),
        (QComboBox, "lossCombo", "half_mse", "train.loss"),
        (QComboBox, "dtypeCombo", "float64", "model.dtype"),
    ],
)
def test_a_setup_change_mid_run_goes_on_from_the_same_parameters(
    window, qtbot, widget, name, value, key
):
    config = window.config()
    window.toggle_run()
    qtbot.waitUntil(lambda: step_of(window) > 50, timeout=WAIT_MS)
    settle(window, qtbot)  # paused
    step, snap = step_of(window), window.latest_snapshot()
    info, markers = window.run_info(), window.loss_view.event_count()
    box = window.findChild(widget, name)
    if widget is QSpinBox:
        box.setValue(value)
    else:
        box.setCurrentIndex(box.findData(value))
    settle(window, qtbot)
    # No reset: the same step, the same parameters, a marker on the loss plot.
    assert window.run_info() is not info
    assert step_of(window) == step and window.history().last_step == step
    np.testing.assert_array_equal(window.latest_snapshot().theta_trained, snap.theta_trained)
    assert window.loss_view.event_count() == markers + 1
    assert window.worker.trained_config() == window.config()
    window.toggle_run()
    qtbot.waitUntil(lambda: step_of(window) > step + 30, timeout=WAIT_MS)
    settle(window, qtbot)
    # What follows is the core's change at that step, exactly.
    reference = Trainer(config)
    reference.run_steps(step)
    tree = RunTree(reference)
    tree.change({key: value})
    tree.trainer.run_steps(step_of(window) - step)
    _assert_same_history(window.history(), tree.trainer.history)
    # Reset still starts over.
    window.reset_paused()
    qtbot.waitUntil(lambda: window.latest_snapshot() is None, timeout=WAIT_MS)
    assert window.history().last_step == 0


def test_a_setup_change_before_the_first_step_rebuilds(window, qtbot):
    info = window.run_info()
    window.findChild(QSpinBox, "batchSizeSpin").setValue(32)
    settle(window, qtbot)
    assert window.run_info() is not info and window.latest_snapshot() is None
    assert window.history().events() == []


def test_export_keeps_every_branch(window, qtbot, tmp_path):
    _steps(window, qtbot, 2)
    _make_branch(window, qtbot, 15, 0.05, 2)
    paths = window.export_run(tmp_path / "export")
    names = {p.name for p in paths}
    assert {"run.lrrun", "branches.csv", "history.csv"} <= names
    saved = load_run(tmp_path / "export" / "run.lrrun")
    assert len(saved.branches) == 2 and saved.active == _branches(window).active.id
    lines = (tmp_path / "export" / "branches.csv").read_text().splitlines()
    assert lines[0] == "id,name,parent,fork_step,last_step,changed,active"
    assert lines[1].startswith("0,main,,0,40,,0")
    assert lines[2].endswith(",0,15,15,lr 0.01 -> 0.05,1")


def test_ghosts_are_drawn_when_branches_change_not_per_frame(window, qtbot, monkeypatch):
    _steps(window, qtbot, 2)
    _make_branch(window, qtbot, 15, 0.05, 2)
    calls = []
    ghosts = window.dashboard.ghosts
    monkeypatch.setattr(ghosts, "set_ghosts", lambda g: calls.append(("set", len(g))))
    monkeypatch.setattr(ghosts, "redraw", lambda: calls.append(("redraw",)))
    window.toggle_run()
    qtbot.waitUntil(lambda: step_of(window) > 300, timeout=WAIT_MS)
    settle(window, qtbot)
    assert calls == []  # hundreds of steps and frames, no ghost drawn again
    window.controller.rename_branch(_branches(window).active.id, "renamed")
    qtbot.waitUntil(lambda: bool(calls), timeout=WAIT_MS)
    assert calls == [("set", 1)]


def test_a_batch_size_drag_mid_run_changes_the_run_once(window, qtbot):
    from PySide6.QtWidgets import QSlider

    window.toggle_run()
    qtbot.waitUntil(lambda: step_of(window) > 50, timeout=WAIT_MS)
    info = window.run_info()
    slider = window.findChild(QSlider, "batchSizeSlider")
    start = slider.value()  # 10 shows as 8's position or thereabouts: the value is the box's
    slider.sliderPressed.emit()
    for k in range(1, 4):  # 2, 4, 8 times the batch: the controls follow at once
        slider.setValue(start + k)
        assert (
            window.config().train.batch_size == window.findChild(QSpinBox, "batchSizeSpin").value()
        )
    settle(window, qtbot, pause=False)
    assert window.run_info() is info  # nothing changed under the drag yet
    slider.sliderReleased.emit()
    settle(window, qtbot)
    assert window.run_info() is not info and step_of(window) > 50  # went on, no reset
    size = window.config().train.batch_size
    assert window.worker.trained_config().train.batch_size == size
    changes = [text for _, text in window.history().events() if "batch_size" in text]
    assert changes == [f"batch_size 10 -> {size}"]


def test_a_branch_from_before_a_data_drag_trains_on_the_data_the_controls_show(window, qtbot):
    # Found by the window's state machine: the branch replayed step k's data (noise 0.5)
    # while the controls, config() and the stable bound said noise 0.
    _steps(window, qtbot, 2)
    window.findChild(QDoubleSpinBox, "noiseSpin").setValue(0.0)
    settle(window, qtbot)
    moved = window.run_info()
    assert moved.ols_loss < 1e-12  # no noise: least squares fits exactly
    window.rewind_to(10)
    window.dashboard.branch_here(run=False)
    _wait_branches(window, qtbot, 2)
    qtbot.waitUntil(lambda: window.worker.trained_config() == window.config(), timeout=WAIT_MS)
    assert window.config().data.noise_std == 0.0
    assert window.run_info().ols_loss < 1e-12
    assert step_of(window) == 10  # from step 10's parameters, on the data shown
    window.step_epoch()
    settle(window, qtbot)
    assert window.worker.trained_config() == window.config()


def _branch_from_step_15(window, qtbot):
    """Two epochs trained, then a branch from step 15 (not running): the branch list's rows."""
    _steps(window, qtbot, 2)
    window.rewind_to(15)
    window.dashboard.branch_here(run=False)
    _wait_branches(window, qtbot, 2)
    return _branches(window).rows


def test_switching_branches_shows_each_branchs_own_data(window, qtbot):
    # Found by the window's state machine: data moved under a branch is that branch's own,
    # yet a switch kept the controls' data while the run trained on the other branch's.
    main, branch = (r.id for r in _branch_from_step_15(window, qtbot))
    window.findChild(QDoubleSpinBox, "noiseSpin").setValue(1.25)
    settle(window, qtbot)
    assert window.worker.trained_config() == window.config()
    for target, noise in ((main, 0.5), (branch, 1.25), (main, 0.5)):
        window.controller.switch_branch(target)
        qtbot.waitUntil(lambda t=target: _branches(window).active.id == t, timeout=WAIT_MS)
        settle(window, qtbot)
        assert window.config().data.noise_std == noise
        assert window.findChild(QDoubleSpinBox, "noiseSpin").value() == noise
        assert window.worker.trained_config() == window.config()


def test_a_switch_draws_the_branch_switched_to_not_data_moved_under_the_other(window, qtbot):
    # Seen on a virtual display: after a noise drag on a branch and a switch back, the fit
    # plot and the noise floor still showed the branch's moved data (a pending moved-data
    # picture was applied over the branch switched to).
    main = _branch_from_step_15(window, qtbot)[0].id
    window.findChild(QDoubleSpinBox, "biasSpin").setValue(4.0)
    settle(window, qtbot)
    fit = window.fit_view

    def true_line_at(bias: float) -> bool:
        x = np.asarray(fit.true_line.xData)
        return bool(np.allclose(fit.true_line.yData, 2.0 * x + bias))

    # A frame draws the moved data in the views shown (the others take it when shown).
    qtbot.waitUntil(lambda: true_line_at(4.0), timeout=WAIT_MS)
    window.controller.switch_branch(main)
    qtbot.waitUntil(lambda: _branches(window).active.id == main, timeout=WAIT_MS)
    settle(window, qtbot)
    window.refresh()
    assert true_line_at(1.0)
    assert window.run_info().true_theta[-1] == 1.0
