"""Learning-rate schedules: torch's sequences, the three implementations, live changes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.config import IMPLEMENTATIONS, Config, make_config
from core.errors import ConfigError
from core.runfile import capture, restore
from core.schedules import (
    SCHEDULES,
    Rates,
    Schedule,
    lr_at,
    lr_sequence,
    make_torch_scheduler,
    one_cycle_problem,
    scale_torch_scheduler,
    seek_torch_scheduler,
)
from core.trainer import Trainer

CUSTOM = [
    {"name": "step", "step_size": 7, "gamma": 0.3},
    {"name": "exponential", "gamma": 0.95},
    {"name": "cosine", "lr_min": 0.004},
    {"name": "warmup_cosine", "warmup_steps": 0},
    {"name": "warmup_cosine", "warmup_steps": 500, "start_factor": 0.2},
    {"name": "warmup_cosine", "warmup_steps": 13, "lr_min": 0.01, "start_factor": 1.0},
    {"name": "one_cycle", "pct_start": 0.5, "div_factor": 4.0, "final_div_factor": 10.0},
    {"name": "inverse_time", "decay": 0.5},
]
SCHEDULE_CASES = [Schedule.of(name) for name in SCHEDULES] + [Schedule.of(c) for c in CUSTOM]
IDS = [f"{s.name}-{i}" for i, s in enumerate(SCHEDULE_CASES)]


def torch_rates(schedule: Schedule, horizon: int, steps: int, base: float = 0.1) -> np.ndarray:
    """The rate each of `steps` steps uses with torch's scheduler stepped after every update
    (stopped at the last position of a schedule that holds)."""
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=base)
    sched = make_torch_scheduler(schedule, opt, horizon)
    last = horizon - 1 if schedule.holds else None
    out = []
    for k in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        if sched is not None and (last is None or k + 1 <= last):
            sched.step()
    return np.array(out)


def python_rates(rates: Rates, steps: int) -> np.ndarray:
    out = []
    for _ in range(steps):
        out.append(rates.lr)
        rates.advance()
    return np.array(out)


# ---- the sequences are torch's ------------------------------------------------------


@pytest.mark.parametrize("schedule", SCHEDULE_CASES, ids=IDS)
@pytest.mark.parametrize("horizon", [1, 2, 37, 600])
def test_every_schedule_follows_torch(schedule, horizon):
    if one_cycle_problem(schedule, horizon):
        pytest.skip("torch's OneCycleLR divides by zero here (refused by the trainer)")
    ref = torch_rates(schedule, horizon, horizon + 25)
    assert np.all(ref > 0)
    # Rates repeats torch's arithmetic: the same floats.
    np.testing.assert_allclose(python_rates(Rates(schedule, 0.1, horizon), ref.size), ref, 1e-12)
    # Over the run's own steps, lr_sequence is that sequence; lr_at its closed form.
    np.testing.assert_allclose(lr_sequence(schedule, horizon, 0.1), ref[:horizon], 1e-12)
    closed = lr_at(schedule, np.arange(1, ref.size + 1), horizon, 0.1)
    np.testing.assert_allclose(closed, ref, rtol=1e-12)


def test_schedules_do_what_their_names_say():
    t = 100
    assert np.all(lr_sequence(Schedule.of("constant"), t, 0.1) == 0.1)
    step = lr_sequence(Schedule.of({"name": "step", "step_size": 10, "gamma": 0.5}), t, 0.1)
    assert step[9] == 0.1 and step[10] == 0.05 and step[99] == pytest.approx(0.1 * 0.5**9)
    cosine = lr_sequence(Schedule.of({"name": "cosine", "lr_min": 0.01}), t, 0.1)
    assert cosine[0] == 0.1 and np.all(np.diff(cosine) < 0) and cosine[-1] > 0.01
    assert cosine[-1] == pytest.approx(0.01, rel=1e-2)
    warm = lr_sequence(Schedule.of({"name": "warmup_cosine", "warmup_steps": 10}), t, 0.1)
    assert warm[0] == pytest.approx(0.001) and warm[10] == pytest.approx(0.1)
    assert np.all(np.diff(warm[:11]) > 0) and np.all(np.diff(warm[10:]) < 0)
    cycle = lr_sequence(Schedule.of("one_cycle"), t, 0.1)
    assert cycle.max() == pytest.approx(0.1) and 25 <= cycle.argmax() <= 30
    assert cycle[0] == pytest.approx(0.1 / 25) and cycle[-1] == pytest.approx(0.1 / 25 / 1e4)
    inverse = lr_sequence(Schedule.of({"name": "inverse_time", "decay": 0.1}), t, 0.1)
    np.testing.assert_allclose(inverse, 0.1 / (1 + 0.1 * np.arange(t)), rtol=1e-15)


@pytest.mark.parametrize("schedule", SCHEDULE_CASES, ids=IDS)
def test_seeking_and_scaling_match_torch(schedule):
    horizon = 60
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    sched = make_torch_scheduler(schedule, opt, horizon)
    rates = Rates(schedule, 0.1, horizon)
    for position in (0, 5, 13, 59, 80, 3):
        rates.seek(position)
        if sched is not None:
            seek_torch_scheduler(sched, schedule, position, horizon)
        assert opt.param_groups[0]["lr"] == pytest.approx(rates.lr, rel=1e-12)
        # A seek lands where stepping from the start lands.
        stepped = python_rates(Rates(schedule, 0.1, horizon), position + 1)[-1]
        assert rates.lr == pytest.approx(stepped, rel=1e-12)
    rates.scale(3.0)
    if sched is not None:
        scale_torch_scheduler(sched, 3.0)
    else:  # constant: no scheduler, the rate itself
        opt.param_groups[0]["lr"] *= 3.0
    got, ref = [], []
    for k in range(3, 90):
        got.append(rates.lr)
        ref.append(opt.param_groups[0]["lr"])
        rates.advance()
        opt.step()
        if sched is not None and (not schedule.holds or k + 1 <= horizon - 1):
            sched.step()
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    # Scaled by 3: three times the rates the unscaled schedule gives from there on.
    plain = python_rates(Rates(schedule, 0.1, horizon), 90)[3:]
    np.testing.assert_allclose(got, 3 * plain, rtol=1e-12)


# ---- training with a schedule ----------------------------------------------------------


def scheduled_config(schedule, optimizer="sgd", impl="module", **train):
    return make_config(
        data={"true_weights": [1.5, -2.0], "true_bias": 0.5, "n_samples": 48, "seed": 3},
        model={"dtype": "float64", "init_std": 0.5},
        train={
            "implementation": impl,
            "optimizer": optimizer,
            "lr": 0.05,
            "batch_size": 8,
            "epochs": 12,
            "schedule": schedule,
            **train,
        },
    )


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("schedule", SCHEDULE_CASES, ids=IDS)
def test_three_implementations_train_identically_with_every_schedule(schedule, optimizer):
    runs = {}
    for impl in IMPLEMENTATIONS:
        trainer = Trainer(scheduled_config(schedule.to_dict(), optimizer, impl))
        trainer.run_steps(trainer.total_steps)
        assert trainer.stopped_reason == "completed"
        runs[impl] = trainer
    expected = lr_sequence(schedule, runs["module"].total_steps, 0.05)
    for impl, trainer in runs.items():
        lrs = trainer.history.lrs()
        # Row k holds the rate step k used; row 0 the rate the first step would use.
        np.testing.assert_allclose(lrs[1:], expected, rtol=1e-12, err_msg=impl)
        assert lrs[0] == lrs[1]
        np.testing.assert_allclose(
            trainer.history.steps()[2], runs["module"].history.steps()[2], atol=1e-9, err_msg=impl
        )


def test_a_schedule_changes_the_trajectory():
    runs = [Trainer(scheduled_config(s, impl="numpy")) for s in ("constant", "cosine")]
    for trainer in runs:
        trainer.run_steps(trainer.total_steps)
    assert not np.allclose(runs[0].theta(), runs[1].theta(), atol=1e-6)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_a_live_rate_change_scales_the_schedule(impl):
    schedule = {"name": "cosine", "lr_min": 0.005}
    trainer = Trainer(scheduled_config(schedule, "momentum", impl))
    total = trainer.total_steps
    trainer.run_steps(20)
    trainer.set_hyper(lr=0.1)
    assert trainer.config.train.lr == 0.1
    assert trainer.config.train.schedule.get("lr_min") == pytest.approx(0.01)
    trainer.run_steps(total)
    lrs = trainer.history.lrs()
    plan = lr_sequence(Schedule.of(schedule), total, 0.05)
    np.testing.assert_allclose(lrs[1:21], plan[:20], rtol=1e-12)
    np.testing.assert_allclose(lrs[21:], 2 * plan[20:], rtol=1e-12)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_a_divergence_rolls_the_schedule_back_with_the_parameters(impl):
    # Warm-up to a rate far past the stable bound: the run diverges during the warm-up.
    schedule = {"name": "warmup_cosine", "warmup_steps": 40, "start_factor": 0.05}
    trainer = Trainer(scheduled_config(schedule, "sgd", impl, lr=5.0, epochs=50))
    trainer.run_steps(trainer.total_steps)
    assert trainer.stopped_reason == "diverged"
    kept = trainer.step_count
    plan = lr_sequence(Schedule.of(schedule), trainer.total_steps, 5.0)
    assert f"Learning rate {plan[kept]:g} (scheduled from 5)" in trainer.message
    assert trainer.engine.next_lr() == pytest.approx(plan[kept], rel=1e-12)
    trainer.set_hyper(lr=0.05)  # the fix: the whole schedule scaled down a hundredfold
    trainer.run_steps(10)
    np.testing.assert_allclose(trainer.history.lrs()[kept + 1 :], plan[kept : kept + 10] / 100)


def test_a_reopened_run_goes_on_with_the_schedule_where_it_stood():
    config = scheduled_config({"name": "step", "step_size": 5, "gamma": 0.5}, impl="module")
    whole = Trainer(config)
    whole.run_steps(40)
    part = Trainer(config)
    part.run_steps(17)
    again = restore(capture(part))
    again.run_steps(23)
    np.testing.assert_array_equal(again.history.lrs(), whole.history.lrs())


def test_an_impossible_one_cycle_is_refused_naming_the_field():
    # 0.25 of 4 steps: a one-step warm-up, where torch's OneCycleLR computes 0 / 0.
    config = scheduled_config({"name": "one_cycle", "pct_start": 0.25}, epochs=1, batch_size=12)
    with pytest.raises(ConfigError, match=r"train\.schedule\.pct_start"):
        Trainer(config)


# ---- configuration ---------------------------------------------------------------------


def test_schedule_in_the_configuration():
    config = Config().with_value("train.schedule", {"name": "step", "gamma": 0.3})
    schedule = config.train.schedule
    assert schedule.name == "step" and schedule.get("gamma") == 0.3
    assert schedule.get("step_size") == SCHEDULES["step"]["step_size"]  # defaults filled in
    raw = json.loads(config.to_json())
    assert raw["train"]["schedule"] == {"name": "step", "gamma": 0.3, "step_size": 100}
    assert Config.from_json(config.to_json()) == config
    assert hash(config) == hash(Config.from_json(config.to_json()))
    assert Config().with_value("train.schedule", "cosine").train.schedule.name == "cosine"
    assert Config().train.schedule == Schedule.of({"name": "constant"})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (5, r"^train\.schedule = 5 is out of range: an object with a name"),
        ({"gamma": 0.5}, r"^train\.schedule = .* an object with a name"),
        ({"name": "linear"}, r"^train\.schedule\.name = 'linear' is out of range: one of const"),
        ({"name": "step", "decay": 1}, r"^unknown key train\.schedule\.decay for the step"),
        ({"name": "step", "gamma": 1.5}, r"^train\.schedule\.gamma = 1\.5 is out of range"),
        ({"name": "step", "step_size": 0}, r"^train\.schedule\.step_size = 0 is out of range"),
        ({"name": "cosine", "lr_min": "0"}, r"^train\.schedule\.lr_min = '0' .* a number"),
        ({"name": "one_cycle", "pct_start": 1.0}, r"^train\.schedule\.pct_start = 1\.0 is out"),
        ({"name": "warmup_cosine", "warmup_steps": 2.5}, r"warmup_steps .* an integer"),
        ({"name": "inverse_time", "decay": -1}, r"^train\.schedule\.decay = -1 is out of range"),
    ],
)
def test_bad_schedules_are_refused_in_one_line_naming_the_field(value, message):
    with pytest.raises(ConfigError, match=message) as err:
        Config().with_value("train.schedule", value)
    assert "\n" not in str(err.value)


def test_snapshots_carry_the_rate_of_each_step_they_show():
    trainer = Trainer(scheduled_config({"name": "exponential", "gamma": 0.97}, impl="numpy"))
    trainer.run_steps(trainer.total_steps)
    snap = trainer.snapshot(max_points=20)
    steps = snap.loss_steps.astype(np.int64)
    assert 2 < steps.size <= 20 and snap.lr_values.shape == steps.shape
    plan = lr_sequence(Schedule.of({"name": "exponential", "gamma": 0.97}), steps.max(), 0.05)
    expected = plan[np.maximum(steps - 1, 0)]  # step k used plan[k - 1]; row 0 the first rate
    np.testing.assert_allclose(snap.lr_values, expected, rtol=1e-12)
    assert np.isnan(trainer.history.lrs_at(np.array([-1]))).all()
