"""Setup changes mid-run (RunTree.change) and the window's copies of a tree (branch_summary)."""

from __future__ import annotations

import numpy as np
import pytest

from core.branch_summary import MAX_GHOSTS, branch_info, branch_list, departure_step
from core.branches import RunTree, changes_between, continues
from core.config import IMPLEMENTATIONS
from core.errors import ConfigError
from core.runinfo import run_info
from core.trainer import Trainer
from tests.test_state import assert_same_run, run_all, small_config

SETUP_CHANGES = [
    {"train.batch_size": 7},
    {"train.optimizer": "adam"},
    {"train.loss": "half_mse"},
    {"model.dtype": "float32"},  # small_config trains in float64
    {"train.shuffle": False},
]
AT = 23  # mid-epoch


def _at(impl: str, steps: int = AT) -> Trainer:
    trainer = Trainer(small_config(impl, "momentum"))
    trainer.run_steps(steps)
    return trainer


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("changes", SETUP_CHANGES, ids=lambda c: next(iter(c)))
def test_a_setup_change_goes_on_from_the_same_parameters(impl, changes):
    trainer = _at(impl)
    theta, history = trainer.theta(), trainer.history
    tree = RunTree(trainer)
    changed = tree.change(changes)
    assert changed is tree.trainer and changed is not trainer
    assert changed.step_count == AT and changed.history is history  # in place: one branch
    if changes.get("model.dtype") == "float32":
        theta = theta.astype(np.float32).astype(np.float64)  # the same values, in float32
    np.testing.assert_array_equal(changed.theta(), theta)
    assert history.events()[-1][0] == AT and len(tree.branches()) == 1
    for key, value in changes.items():
        section, _, name = key.partition(".")
        assert getattr(getattr(changed.config, section), name) == value
    # The same as a fork at that step, bit for bit, as training goes on.
    forked = RunTree(_at(impl)).fork(AT, changes)
    assert_same_run(run_all(forked), run_all(changed))


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_states_before_a_change_stay_exact(impl):
    tree = RunTree(_at(impl))
    tree.change({"train.optimizer": "adam", "train.batch_size": 5})
    tree.trainer.run_steps(10)
    for step in (AT - 7, AT, AT + 4):
        reference = Trainer(small_config(impl, "momentum"))
        reference.run_steps(min(step, AT))
        if step >= AT:  # at the change's step: the state it left (as at a fork's step)
            reference = RunTree(reference).change(
                {"train.optimizer": "adam", "train.batch_size": 5}
            )
            reference.run_steps(step - AT)
        assert tree.state_at(step).same_as(reference.state()), step
    # A branch from before the change goes on with the settings of that step.
    branch = tree.fork(AT - 3)
    assert branch.config.train.optimizer == "momentum"


def test_a_new_optimizer_starts_with_fresh_state_the_same_one_keeps_it():
    trainer = _at("numpy")
    velocity = trainer.engine.optimizer_state()
    tree = RunTree(trainer)
    kept = tree.change({"train.batch_size": 6})
    assert kept.engine.optimizer_state().keys() == velocity.keys()
    for key, value in velocity.items():
        np.testing.assert_array_equal(kept.engine.optimizer_state()[key], value)
    fresh = tree.change({"train.optimizer": "adam"})
    assert float(fresh.engine.optimizer_state().get("step", 0.0)) == 0.0


def test_data_cannot_change_mid_run():
    tree = RunTree(_at("numpy"))
    for key in ("data.noise_std", "model.fit_bias", "model.init"):
        assert not continues([key])
        with pytest.raises(ConfigError, match="cannot change in a branch"):
            tree.change({key: 0.5 if key == "data.noise_std" else False})
    assert continues(["train.batch_size", "model.dtype", "train.schedule"])


def test_changes_between_lists_what_a_branch_can_change():
    a = small_config("numpy", "sgd")
    b = a.with_values({"train.lr": 0.05, "model.dtype": "float32", "data.noise_std": 0.3})
    assert changes_between(a, b) == {"train.lr": 0.05, "model.dtype": "float32"}
    assert changes_between(a, a) == {}


def _tree() -> RunTree:
    """main 0..60; A from main at 20 (to 35); B from A at 30 (to 35, active)."""
    trainer = Trainer(small_config("numpy", "sgd", epochs=20))
    trainer.run_steps(60)
    tree = RunTree(trainer)
    tree.fork(20, {"train.lr": 0.05}, name="A")
    tree.trainer.run_steps(15)
    tree.fork(30, {"train.lr": 0.03}, name="B")
    tree.trainer.run_steps(5)
    return tree


def test_departure_is_where_two_lines_part():
    tree = _tree()
    main, a, b = (br.id for br in tree.branches())
    assert departure_step(tree, main, b) == 20  # B's line left main at 20
    assert departure_step(tree, a, b) == 30  # A and B part at 30
    assert departure_step(tree, b, main) == 20
    assert departure_step(tree, b, b) == 35


def test_the_branch_list_and_ghosts():
    tree = _tree()
    listed = branch_list(tree)
    assert [(r.name, r.depth, r.parent, r.fork_step, r.last_step) for r in listed.rows] == [
        ("main", 0, None, 0, 60),
        ("A", 1, 0, 20, 35),
        ("B", 2, 1, 30, 35),
    ]
    assert listed.active.name == "B" and [r.name for r in listed.descendants(0)] == ["A", "B"]
    ghosts = {g.name: g for g in listed.ghosts}
    assert set(ghosts) == {"main", "A"}
    assert ghosts["main"].steps[0] == 20 and ghosts["main"].steps[-1] == 60
    assert ghosts["A"].steps[0] == 30 and ghosts["A"].steps[-1] == 35
    # The ghost is the branch's own curve: its parameters where it recorded them.
    steps, _, params = tree.get(0).history.steps()
    g = ghosts["main"]
    np.testing.assert_array_equal(g.params, params[np.searchsorted(steps, g.steps)])
    # A branch with nothing past the shared line has no ghost.
    tree.switch(0)
    tree.fork(60, name="C")
    assert "main" not in {g.name for g in branch_list(tree).ghosts}


def test_ghosts_are_capped():
    trainer = Trainer(small_config("numpy", "sgd", epochs=20))
    trainer.run_steps(40)
    tree = RunTree(trainer)
    for k in range(MAX_GHOSTS + 3):
        tree.switch(0)
        tree.fork(5 + k, {"train.lr": 0.01 + 0.001 * k})
        tree.trainer.run_steps(3)
    assert len(branch_list(tree).ghosts) == MAX_GHOSTS


def test_a_branch_info_starts_where_the_run_started():
    tree = _tree()
    info = branch_info(tree)
    first = run_info(Trainer(small_config("numpy", "sgd", epochs=20)))
    np.testing.assert_array_equal(info.initial_trained, first.initial_trained)
    assert info.initial_loss == pytest.approx(first.initial_loss, rel=1e-12)
    # A fork's own trainer was built at the fork: its theta0 is not the run's start.
    assert not np.array_equal(tree.trainer.theta0, first.initial_trained)
