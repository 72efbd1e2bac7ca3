"""Run files: a saved run reopens identical and continues where it stood."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.branches import RunTree
from core.errors import UserInputError
from core.presets import preset_config
from core.runfile import RunFileError, capture, load_run, restore, restore_tree, save_run
from core.state import Checkpoints
from core.trainer import Trainer
from tests.test_state import assert_same_run, run_all, small_config


def _assert_same_history(a, b) -> None:
    for x, y in zip(a.steps(), b.steps(), strict=True):
        np.testing.assert_array_equal(x, y)
    ea, eb = a.epochs(), b.epochs()
    assert ea.keys() == eb.keys()
    for key in ea.keys() - {"seconds"}:  # wall-clock time differs from run to run
        np.testing.assert_array_equal(ea[key], eb[key])
    assert a.events() == b.events()


def test_saved_run_reopens_identical(tmp_path):
    trainer = Trainer(preset_config("playground"))
    trainer.run_steps(137)  # mid-epoch on purpose
    trainer.set_hyper(lr=0.02)
    trainer.run_steps(11)
    path = save_run(capture(trainer), tmp_path / "run.lrrun")
    run = load_run(path)
    assert run.config.to_dict() == trainer.config.to_dict()
    assert run.config.train.lr == 0.02  # live changes are part of the saved run
    assert (run.step, run.epoch, run.batch_in_epoch) == (148, 7, 8)
    np.testing.assert_array_equal(run.theta, trainer.theta())
    _assert_same_history(run.history, trainer.history)


@pytest.mark.parametrize("implementation", ["numpy", "module"])
def test_reopened_sgd_run_continues_exactly(tmp_path, implementation):
    # Plain SGD has no optimizer state: continuing a reopened run equals never stopping.
    config = preset_config("playground").with_value("train.implementation", implementation)
    straight = Trainer(config)
    straight.run_steps(250)
    first = Trainer(config)
    first.run_steps(137)
    again = restore(load_run(save_run(capture(first), tmp_path / "r.lrrun")))
    again.run_steps(113)
    assert again.step_count == straight.step_count and again.epoch == straight.epoch
    np.testing.assert_allclose(again.theta(), straight.theta(), rtol=1e-6, atol=1e-7)
    steps, losses, _ = again.history.steps()
    np.testing.assert_array_equal(steps, straight.history.steps()[0])
    np.testing.assert_allclose(losses, straight.history.steps()[1], rtol=1e-5)


def test_bad_run_files_are_rejected_by_name(tmp_path):
    junk = tmp_path / "junk.lrrun"
    junk.write_bytes(b"\x00\x01not a zip")
    with pytest.raises(RunFileError, match=r"junk\.lrrun"):
        load_run(junk)
    with pytest.raises(RunFileError, match="cannot read"):
        load_run(tmp_path / "missing.lrrun")
    other = tmp_path / "other.npz"
    np.savez(other, meta=np.array('{"format": "something else"}'), theta=np.zeros(2))
    with pytest.raises(RunFileError, match="not a linreg-viz run file"):
        load_run(other)
    assert issubclass(RunFileError, UserInputError)  # the CLI and window report it cleanly


def test_failed_save_leaves_no_file(tmp_path):
    trainer = Trainer(preset_config("playground"))
    trainer.run_steps(5)
    with pytest.raises(OSError):
        save_run(capture(trainer), tmp_path / "no" / "such" / "dir" / "r.lrrun")
    assert not any(tmp_path.rglob("*.lrrun"))


# ---- version 2: exact state and branches ------------------------------------------------------
@pytest.mark.parametrize(
    ("implementation", "optimizer"),
    [("numpy", "momentum"), ("scratch", "adam"), ("module", "nesterov"), ("module", "adagrad")],
)
def test_reopened_run_continues_exactly(tmp_path, implementation, optimizer):
    # The optimizer's running state and the batch position are saved: continuing a reopened
    # run equals never having stopped, bit for bit (version 1 restarted momentum and Adam).
    config = small_config(implementation, optimizer)
    straight = run_all(Trainer(config))
    first = Trainer(config)
    first.run_steps(13)
    run = load_run(save_run(capture(first), tmp_path / "r.lrrun"))
    assert run.exact
    again = run_all(restore(run))
    assert_same_run(straight, again)


def test_every_branch_is_saved_and_reopens_exactly(tmp_path):
    trainer = Trainer(small_config("module", "momentum"))
    trainer.checkpoints = Checkpoints(trainer.state(), interval=10)
    run_all(trainer)
    tree = RunTree(trainer)
    run_all(tree.fork(27, {"train.lr": 0.05}))
    tree.fork(30, {"train.batch_size": 20}).run_steps(2)  # left mid-way, active
    tree.rename(1, "faster")
    path = save_run(capture(tree), tmp_path / "tree.lrrun")
    run = load_run(path)
    assert [(b.id, b.name, b.parent, b.fork_step) for b in run.branches] == [
        (0, "main", None, 0),
        (1, "faster", 0, 27),
        (2, "batch_size 8 -> 20 from step 30", 1, 30),
    ]
    assert run.active == 2 and run.step == 32
    reopened = restore_tree(run)
    assert reopened.active.id == 2
    _assert_same_history(reopened.trainer.history, tree.trainer.history)
    for branch in tree.branches():
        _assert_same_history(reopened.get(branch.id).history, branch.history)
        assert reopened.get(branch.id).tip.same_as(branch.tip)
    # The reopened tree goes on, and branches at past steps, exactly as the saved one.
    assert_same_run(run_all(tree.switch(0)), run_all(reopened.switch(0)))
    a = run_all(tree.fork(15, {"train.momentum": 0.5}))
    b = run_all(reopened.fork(15, {"train.momentum": 0.5}))
    assert_same_run(a, b)


def test_version_1_files_still_open_with_the_old_behaviour(tmp_path):
    # A version 1 file as the previous release wrote it: configuration, history, parameters.
    trainer = Trainer(small_config("numpy", "momentum"))
    trainer.run_steps(13)
    meta = {
        "format": "linreg-viz run",
        "version": 1,
        "config": trainer.config.to_dict(),
        "step": 13,
        "epoch": 1,
        "batch_in_epoch": 5,
        "stopped_reason": None,
    }
    arrays = {"meta": np.array(json.dumps(meta)), "theta": trainer.theta()}
    for key, value in trainer.history.to_state().items():
        arrays[f"history_{key}"] = np.asarray(value)
    path = tmp_path / "old.lrrun"
    with path.open("wb") as file:
        np.savez_compressed(file, **arrays)
    run = load_run(path)
    assert not run.exact and run.branches == ()
    again = restore(run)
    assert (again.step_count, again.epoch, again.batch_in_epoch) == (13, 1, 5)
    np.testing.assert_array_equal(again.theta(), trainer.theta())
    assert again.engine.optimizer_state() == {"step": 0.0}  # the velocity starts afresh
    _assert_same_history(again.history, trainer.history)
    # It kept no earlier states: branching goes from where it stood on, not before.
    tree = restore_tree(run)
    with pytest.raises(UserInputError, match="no exact state before step 13"):
        tree.fork(12)
    assert tree.fork(13, {"train.lr": 0.01}).step_count == 13
    run_all(again)
    assert again.stopped_reason == "completed"
    # Saved again, it is a version 2 file.
    assert load_run(save_run(capture(again), tmp_path / "new.lrrun")).exact
