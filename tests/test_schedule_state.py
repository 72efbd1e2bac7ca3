"""A learning-rate schedule in a run's exact state: continuing, branching and reopening a
scheduled run give the very rates (and so the very parameters) it would have had."""

from __future__ import annotations

import numpy as np
import pytest

from core.branches import RunTree
from core.config import IMPLEMENTATIONS
from core.runfile import capture, load_run, restore, restore_tree, save_run
from core.schedules import Schedule, lr_at
from core.trainer import Trainer
from tests.test_state import assert_same_run, run_all, small_config

SCHEDULES = [
    {"name": "step", "step_size": 7, "gamma": 0.3},
    {"name": "exponential", "gamma": 0.95},
    {"name": "cosine", "lr_min": 0.004},
    {"name": "warmup_cosine", "warmup_steps": 13, "lr_min": 0.01, "start_factor": 0.2},
    {"name": "one_cycle", "pct_start": 0.5, "div_factor": 4.0, "final_div_factor": 10.0},
    {"name": "inverse_time", "decay": 0.5},
]
CASES = [(impl, s) for impl in IMPLEMENTATIONS for s in SCHEDULES]
IDS = [f"{impl}-{s['name']}" for impl, s in CASES]


def scheduled(impl: str, schedule: dict, **train: object):
    return small_config(impl, "momentum", schedule=schedule, **train)


def live(config, change_at: int = 10, lr: float = 0.03) -> Trainer:
    """A run whose rate is changed live at step change_at (which scales its schedule)."""
    trainer = Trainer(config)
    trainer.run_steps(change_at)
    trainer.set_hyper(lr=lr)
    return trainer


@pytest.mark.parametrize(("impl", "schedule"), CASES, ids=IDS)
def test_a_scheduled_run_continues_exactly_from_a_state(impl: str, schedule: dict) -> None:
    config = scheduled(impl, schedule)
    straight = run_all(live(config))
    first = live(config)
    first.run_steps(5)
    state = first.state(with_history=True)
    assert state.schedule["position"] == 15.0 and state.schedule["lr"] == first.engine.next_lr()
    again = run_all(Trainer.from_state(state))
    assert_same_run(straight, again)


def test_the_schedules_state_is_what_makes_it_exact() -> None:
    # Without it, the schedule would stand where its closed form puts it: other last bits.
    config = scheduled("numpy", {"name": "cosine", "lr_min": 0.004})
    straight = run_all(live(config))
    first = live(config)
    first.run_steps(5)
    bare = first.state(with_history=True).with_changes(schedule={})
    again = run_all(Trainer.from_state(bare))
    assert not np.array_equal(again.history.lrs(), straight.history.lrs())
    np.testing.assert_allclose(again.history.lrs(), straight.history.lrs(), rtol=1e-12)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_more_epochs_keep_the_schedules_horizon(impl: str) -> None:
    # The horizon is the run's steps as it was configured; more epochs hold the final rate.
    config = scheduled(impl, {"name": "cosine", "lr_min": 0.004}, epochs=3)
    straight = Trainer(config)
    straight.run_steps(20)
    straight.extend_epochs(6)
    run_all(straight)
    first = Trainer(config)
    first.run_steps(20)
    first.extend_epochs(6)
    first.run_steps(4)
    again = run_all(Trainer.from_state(first.state(with_history=True)))
    assert_same_run(straight, again)
    rates = again.history.lrs()
    assert rates[-1] == rates[first.schedule_horizon] != rates[first.schedule_horizon - 1]


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_a_branch_of_a_scheduled_run_is_the_live_change_at_its_step(impl: str) -> None:
    config = scheduled(impl, {"name": "warmup_cosine", "warmup_steps": 13, "lr_min": 0.01})
    tree = RunTree(live(config, change_at=4, lr=0.01))
    run_all(tree.trainer)
    # Forking at 17 replays from the checkpoint the live change pinned at 4.
    fork = tree.fork(17, {"train.lr": 0.05})
    run_all(fork)
    straight = Trainer(config)
    straight.run_steps(4)
    straight.set_hyper(lr=0.01)
    straight.run_steps(13)
    straight.set_hyper(lr=0.05)
    assert_same_run(run_all(straight), fork)
    # A branch that changes nothing repeats its parent bit for bit.
    same = run_all(tree.fork(17, {}, branch_id=0))
    assert_same_run(same, Trainer.from_state(tree.get(0).tip, history=tree.get(0).history))


def test_a_branch_with_another_schedule_starts_it_where_its_formula_stands() -> None:
    config = scheduled("numpy", {"name": "step", "step_size": 7, "gamma": 0.3})
    tree = RunTree(Trainer(config))
    run_all(tree.trainer)
    cosine = {"name": "cosine", "lr_min": 0.001}
    branch = tree.fork(20, {"train.schedule": cosine, "train.batch_size": 12})
    assert tree.active.note == (
        "batch_size 8 -> 12, schedule step(gamma=0.3, step_size=7) -> cosine(lr_min=0.001)"
    )
    branch.run_steps(5)
    rates = branch.history.lrs()[-5:]
    want = lr_at(Schedule.of(cosine), np.arange(21, 26), branch.schedule_horizon, 0.02)
    np.testing.assert_allclose(rates, want, rtol=1e-12)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_a_reopened_scheduled_run_goes_on_exactly(impl: str, tmp_path) -> None:
    config = scheduled(impl, {"name": "step", "step_size": 7, "gamma": 0.3})
    straight = run_all(live(config))
    first = live(config)
    first.run_steps(5)
    path = save_run(capture(first), tmp_path / "run.lrrun")
    again = run_all(restore(load_run(path)))
    assert_same_run(straight, again)
    # A branch of the reopened run's past replays from the file's checkpoints exactly too.
    tree = restore_tree(load_run(path))
    probe = live(config)
    probe.run_steps(2)
    assert tree.state_at(12).same_as(probe.state())


def test_the_schedules_state_moves_between_implementations() -> None:
    # One layout for torch's schedulers and the plain-Python rates: a state from the module
    # implementation goes on in NumPy with the same rates.
    schedule = {"name": "warmup_cosine", "warmup_steps": 13, "lr_min": 0.01}
    module = live(scheduled("module", schedule))
    module.run_steps(5)
    state = module.state()
    numpy_config = state.config.with_value("train.implementation", "numpy")
    numpy = Trainer.from_state(state.with_changes(config=numpy_config))
    assert numpy.engine.schedule_state() == pytest.approx(state.schedule, rel=0, abs=0)
    run_all(module)
    run_all(numpy)
    np.testing.assert_allclose(numpy.history.lrs(), module.history.lrs()[16:], rtol=1e-12)
