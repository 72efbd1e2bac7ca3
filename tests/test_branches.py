"""Branches: fork at any recorded step, exactly; histories share their common prefix."""

from __future__ import annotations

import numpy as np
import pytest

from core.branch_history import BranchHistory
from core.branches import BranchError, RunTree
from core.config import IMPLEMENTATIONS
from core.errors import ConfigError
from core.limits import optimizers_for
from core.state import Checkpoints
from core.trainer import Trainer
from tests.test_state import assert_same_run, run_all, small_config

CASES = [(impl, opt) for impl in IMPLEMENTATIONS for opt in optimizers_for(impl)]
FORK = 27  # mid-epoch (27 = 3 * 8 + 3), between two checkpoints: reached by replaying


def trained_tree(impl: str, optimizer: str, **train: object) -> RunTree:
    """A finished run with checkpoints every 10 steps, as a tree of one branch."""
    trainer = Trainer(small_config(impl, optimizer, **train))
    trainer.checkpoints = Checkpoints(trainer.state(), interval=10)
    run_all(trainer)
    return RunTree(trainer)


@pytest.mark.parametrize(("impl", "optimizer"), CASES)
def test_a_branch_that_changes_nothing_repeats_its_parent(impl: str, optimizer: str) -> None:
    tree = trained_tree(impl, optimizer)
    parent = tree.trainer
    assert FORK not in [s.step for s in parent.checkpoints]  # the state comes from a replay
    branch = run_all(tree.fork(FORK))
    assert tree.active.parent == 0 and tree.active.fork_step == FORK
    assert_same_run(parent, branch)


@pytest.mark.parametrize(("impl", "optimizer"), CASES)
def test_a_branch_with_a_new_rate_equals_a_live_change(impl: str, optimizer: str) -> None:
    tree = trained_tree(impl, optimizer)
    branch = run_all(tree.fork(FORK, {"train.lr": 0.05}))
    live = Trainer(small_config(impl, optimizer))
    live.run_steps(FORK)
    live.set_hyper(lr=0.05)
    run_all(live)
    assert_same_run(live, branch)
    assert (FORK, "lr 0.02 -> 0.05") in branch.history.events()


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_full_batch_branches_are_exact(impl: str) -> None:
    tree = trained_tree(impl, "momentum", batch_size=60, epochs=60)
    branch = run_all(tree.fork(33, {"train.momentum": 0.5}))
    live = Trainer(small_config(impl, "momentum", batch_size=60, epochs=60))
    live.run_steps(33)
    live.set_hyper(momentum=0.5)
    assert_same_run(run_all(live), branch)


def test_the_common_prefix_is_shared_not_copied() -> None:
    tree = trained_tree("numpy", "sgd")
    parent_rows = tree.trainer.history.n_steps_recorded
    branch = tree.fork(FORK, {"train.lr": 0.05})
    branch.run_steps(5)
    history = branch.history
    assert isinstance(history, BranchHistory)
    assert history.own_steps_recorded == 5  # the branch stores only its own steps
    assert history.n_steps_recorded == FORK + 1 + 5
    # The prefix is read from the parent's buffers as they are.
    parent = tree.get(0).history
    steps, losses, params = history.steps()
    np.testing.assert_array_equal(losses[: FORK + 1], parent.steps()[1][: FORK + 1])
    assert parent.n_steps_recorded == parent_rows
    step, loss, rows = history.decimated(10)
    assert step[0] == 0 and step[-1] == FORK + 5 and len(step) <= 10
    np.testing.assert_array_equal(rows, params[np.searchsorted(steps, step)])
    np.testing.assert_array_equal(loss, losses[np.searchsorted(steps, step)])
    assert history.params_at(FORK) is not None
    np.testing.assert_array_equal(history.params_at(FORK), parent.params_at(FORK))
    # Epoch records: the parent's up to the fork, then the branch's own.
    epochs = history.epochs()["step"]
    assert list(epochs[:4]) == [0, 8, 16, 24] and epochs[-1] <= FORK + 5


def test_a_branch_of_a_branch_reads_through_both() -> None:
    tree = trained_tree("numpy", "momentum")
    first = run_all(tree.fork(FORK, {"train.lr": 0.05}))
    second = run_all(tree.fork(30, {"train.momentum": 0.5}))
    assert tree.active.parent == tree.get(1).id  # step 30 is the first branch's own
    live = Trainer(small_config("numpy", "momentum"))
    live.run_steps(FORK)
    live.set_hyper(lr=0.05)
    live.run_steps(30 - FORK)
    live.set_hyper(momentum=0.5)
    assert_same_run(run_all(live), second)
    # Forking before the first branch's fork step goes to the branch that owns that step.
    tree.fork(10, branch_id=2)
    assert tree.active.parent == 0
    assert first.step_count == second.step_count


def test_switching_keeps_each_branch_where_it_stood() -> None:
    tree = trained_tree("module", "adam", epochs=8)
    tree.trainer.extend_epochs(10)
    branch = tree.fork(FORK, {"train.lr": 0.05})
    branch.run_steps(4)
    main = tree.switch(0)
    assert main.step_count == 64 and tree.active.id == 0
    run_all(main)  # the first branch goes on exactly, as if never left
    straight = Trainer(small_config("module", "adam", epochs=8))
    run_all(straight)
    straight.extend_epochs(10)
    assert_same_run(run_all(straight), main)
    again = tree.switch(1)
    assert again.step_count == FORK + 4
    assert again.state().same_as(branch.state())


def test_rename_and_delete() -> None:
    tree = trained_tree("numpy", "sgd")
    run_all(tree.fork(FORK, {"train.lr": 0.05}))
    assert tree.active.name == "lr 0.02 -> 0.05 from step 27"
    tree.fork(30)
    tree.fork(FORK, {"train.lr": 0.05}, branch_id=0)
    assert tree.active.name == "lr 0.02 -> 0.05 from step 27 (2)"
    tree.rename(1, "  faster\n")
    assert tree.get(1).name == "faster"
    with pytest.raises(BranchError, match="already a branch named 'faster'"):
        tree.rename(2, "faster")
    with pytest.raises(BranchError, match="empty"):
        tree.rename(2, "   ")
    tree.switch(2)
    assert [b.id for b in tree.descendants(1)] == [2]
    assert tree.delete(1) == [1, 2]  # its branch reads its records: it goes too
    assert tree.active.id == 0 and tree.trainer.step_count == 40  # back on the parent
    assert [b.id for b in tree.branches()] == [0, 3]
    with pytest.raises(BranchError, match="first branch cannot be deleted"):
        tree.delete(0)
    with pytest.raises(BranchError, match="no branch 7"):
        tree.switch(7)


def test_steps_off_the_branch_are_refused() -> None:
    tree = trained_tree("numpy", "sgd")
    with pytest.raises(BranchError, match="step 41 is not on branch 'main'"):
        tree.fork(41)
    with pytest.raises(ConfigError, match=r"data\.noise_std cannot change in a branch"):
        tree.fork(5, {"data.noise_std": 1.0})
    with pytest.raises(ConfigError, match=r"train\.lr"):
        tree.fork(5, {"train.lr": -1.0})
    assert len(tree.branches()) == 1  # nothing was made


def test_other_settings_rebuild_the_trainer_from_the_same_point() -> None:
    tree = trained_tree("numpy", "momentum", epochs=6)
    state = tree.state_at(FORK)
    # Another batch size: the same parameters, the epoch starts again in the new batches.
    bigger = tree.fork(FORK, {"train.batch_size": 20})
    np.testing.assert_array_equal(bigger.theta(), state.theta)
    assert (bigger.epoch, bigger.batch_in_epoch, bigger.n_batches) == (3, 0, 3)
    run_all(bigger)
    assert bigger.epoch == 6 and bigger.step_count == FORK + 3 * 3
    assert (FORK, "batch_size 8 -> 20") in bigger.history.events()
    # Another implementation keeps the velocity: it goes on as the module run itself does.
    moved = run_all(tree.fork(FORK, {"train.implementation": "module"}, branch_id=0))
    reference = run_all(Trainer(small_config("module", "momentum", epochs=6)))
    np.testing.assert_allclose(moved.theta(), reference.theta(), rtol=0, atol=1e-12)
    # Another optimizer starts its own state afresh from the same parameters.
    adam = tree.fork(FORK, {"train.optimizer": "adam", "train.lr": 0.01}, branch_id=0)
    assert adam.engine.optimizer_state()["step"] == 0.0
    assert adam.config.train.lr == 0.01 and adam.step_count == FORK
    assert (FORK, "optimizer momentum -> adam, lr 0.02 -> 0.01") in adam.history.events()


def test_a_branch_mends_a_divergence() -> None:
    trainer = Trainer(small_config("numpy", "sgd", lr=2.0))
    run_all(trainer)
    assert trainer.stopped_reason == "diverged"
    tree = RunTree(trainer)
    last = trainer.step_count
    same = tree.fork(last)
    assert same.stopped_reason == "diverged" and same.run_steps(5) == 0  # as the parent
    mended = run_all(tree.fork(last, {"train.lr": 0.05}, branch_id=0))
    assert mended.stopped_reason == "completed"


def test_series_copies_a_branch_for_drawing() -> None:
    tree = trained_tree("numpy", "sgd")
    run_all(tree.fork(FORK, {"train.lr": 0.05}))
    steps, losses, params = tree.series(0, max_points=100)
    assert steps[-1] == 40 and params.shape == (41, 3)
    ghost = tree.series(0)
    losses[:] = 0.0
    assert ghost[1].any()  # a copy: drawing code may keep it
    assert tree.last_step(0) == 40 and tree.last_step(1) == 40
    assert tree.memory_bytes() > 0
