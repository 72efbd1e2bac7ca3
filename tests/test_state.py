"""A trainer's exact state: continuing from it equals never having stopped, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from core.config import IMPLEMENTATIONS, Config, make_config
from core.limits import optimizers_for
from core.state import Checkpoints, TrainerState
from core.trainer import Trainer

CASES = [(impl, opt) for impl in IMPLEMENTATIONS for opt in optimizers_for(impl)]


def small_config(impl: str, optimizer: str, batch_size: int = 8, **train: object) -> Config:
    """60 rows (batches of 8 leave a partial last one), float64, a start far from the fit."""
    return make_config(
        data={"true_weights": [1.5, -2.0], "true_bias": 0.5, "n_samples": 60, "seed": 3},
        model={"dtype": "float64", "init_std": 0.5},
        train={
            "implementation": impl,
            "optimizer": optimizer,
            "lr": 0.02,
            "batch_size": batch_size,
            "epochs": 5,
            "weight_decay": 0.01,
            **train,
        },
    )


def assert_same_run(a: Trainer, b: Trainer) -> None:
    """Two trainers stand at the same place, having recorded the same steps, bit for bit."""
    for x, y in zip(a.history.steps(), b.history.steps(), strict=True):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a.history.lrs(), b.history.lrs())  # the rate of every step
    ea, eb = a.history.epochs(), b.history.epochs()
    for key in ("epoch", "step", "train_loss", "val_loss"):  # seconds: wall-clock time
        np.testing.assert_array_equal(ea[key], eb[key])
    assert a.history.events() == b.history.events()
    assert a.state().same_as(b.state())


def run_all(trainer: Trainer) -> Trainer:
    """Run a trainer to the end of its epochs."""
    trainer.run_steps(trainer.total_steps)
    return trainer


@pytest.mark.parametrize(("impl", "optimizer"), CASES)
def test_continuing_from_a_state_equals_never_stopping(impl: str, optimizer: str) -> None:
    config = small_config(impl, optimizer)
    straight = run_all(Trainer(config))
    first = Trainer(config)
    first.run_steps(13)  # mid-epoch: 13 = 8 + 5 of 8 batches
    state = first.state(with_history=True)
    assert (state.step, state.epoch, state.batch_in_epoch) == (13, 1, 5)
    first.run_steps(7)  # the captured state is a copy: going on does not change it
    again = run_all(Trainer.from_state(state))  # its own data, rebuilt from the configuration
    assert_same_run(straight, again)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_full_batch_runs_continue_exactly(impl: str) -> None:
    config = small_config(impl, "adam", batch_size=60, epochs=40)
    straight = run_all(Trainer(config))
    first = Trainer(config)
    first.run_steps(17)
    again = run_all(Trainer.from_state(first.state(with_history=True), first.dataset))
    assert_same_run(straight, again)


@pytest.mark.parametrize(("impl", "optimizer"), [("numpy", "momentum"), ("module", "adam")])
def test_the_optimizer_state_is_kept_not_restarted(impl: str, optimizer: str) -> None:
    # A trainer given the parameters alone (a fresh optimizer) goes another way.
    config = small_config(impl, optimizer)
    first = Trainer(config)
    first.run_steps(13)
    state = first.state()
    assert state.optimizer  # velocity or moments
    fresh = run_all(Trainer.from_state(state.with_changes(optimizer={})))
    exact = run_all(Trainer.from_state(state))
    straight = run_all(Trainer(config))
    np.testing.assert_array_equal(exact.theta(), straight.theta())
    assert not np.array_equal(fresh.theta(), straight.theta())


def test_a_state_is_frozen() -> None:
    trainer = Trainer(small_config("numpy", "adam"))
    trainer.run_steps(3)
    state = trainer.state()
    with pytest.raises(ValueError, match="read-only"):
        state.theta[0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        state.optimizer["exp_avg"][0] = 1.0
    with pytest.raises(TypeError):
        state.optimizer["exp_avg"] = np.zeros(3)  # type: ignore[index]


@pytest.mark.parametrize("optimizer", ["momentum", "nesterov", "adam"])
def test_optimizer_state_moves_between_implementations(optimizer: str) -> None:
    # One layout for every engine: a numpy run's velocity or moments continue in torch.optim
    # (and the hand-written scratch update) as the module run itself would, to float64 rounding.
    config = small_config("numpy", optimizer)
    first = Trainer(config)
    first.run_steps(13)
    state = first.state()
    for impl in ("scratch", "module"):
        moved = state.with_changes(
            config=state.config.with_value("train.implementation", impl), history=None
        )
        other = run_all(Trainer.from_state(moved))
        reference = run_all(Trainer(config.with_value("train.implementation", impl)))
        np.testing.assert_allclose(other.theta(), reference.theta(), rtol=0, atol=1e-12)


def test_optimizer_state_layout_is_w_then_b() -> None:
    trainer = Trainer(small_config("module", "adam"))
    trainer.run_steps(4)
    state = trainer.engine.optimizer_state()
    assert set(state) == {"step", "exp_avg", "exp_avg_sq"}
    assert float(state["step"]) == 4.0
    opt = trainer.engine.opt
    weight, bias = trainer.engine.net.weight, trainer.engine.net.bias
    np.testing.assert_array_equal(state["exp_avg"][:2], opt.state[weight]["exp_avg"].numpy()[0])
    np.testing.assert_array_equal(state["exp_avg"][2:], opt.state[bias]["exp_avg"].numpy())


def test_checkpoints_are_periodic_pinned_at_changes_and_bounded() -> None:
    trainer = Trainer(small_config("numpy", "momentum", epochs=400))
    trainer.checkpoints = Checkpoints(trainer.state(), capacity=8, interval=16)
    trainer.run_steps(100)
    trainer.set_hyper(lr=0.01)
    trainer.run_steps(trainer.total_steps)
    cps = trainer.checkpoints
    periodic = [s.step for s, pinned in zip(cps, cps.pinned(), strict=True) if not pinned]
    assert len(periodic) <= 8
    assert cps.interval > 16  # thinned: the spacing grew instead of the count
    # The first state and the change at step 100 are never thinned away.
    pinned_steps = [s.step for s, pinned in zip(cps, cps.pinned(), strict=True) if pinned]
    assert pinned_steps == [0, 100]
    assert cps.nearest(100).config.train.lr == 0.01  # taken after the change
    assert cps.nearest(99).step < 100
    steps = [s.step for s in cps]
    assert steps == sorted(steps) and steps[-1] > trainer.step_count - 2 * cps.interval


def test_checkpoints_cost_little_memory_in_a_long_run() -> None:
    trainer = Trainer(make_config(model={"dtype": "float64"}, train={"epochs": 100_000}))
    trainer.checkpoints = Checkpoints(trainer.state(), capacity=16, interval=64)
    trainer.run_steps(20_000)
    assert len(trainer.checkpoints) <= 17
    assert trainer.checkpoints.memory_bytes() < 16 * 17 * 8


def test_states_compare_by_value() -> None:
    trainer = Trainer(small_config("scratch", "nesterov"))
    trainer.run_steps(5)
    a, b = trainer.state(), trainer.state()
    assert isinstance(a, TrainerState) and a.same_as(b)
    trainer.run_steps(1)
    assert not a.same_as(trainer.state())
