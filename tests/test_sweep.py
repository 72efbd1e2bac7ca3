"""Sweeps in core: grids, groups, runs trained together equal to runs alone, divergence,
fixed designs, the theory and the seeds' ellipse (no Qt)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.config import Config
from core.data import make_dataset
from core.errors import UserInputError
from core.presets import preset_config
from core.seeds import seed_spread, seeds_plan, share_inside
from core.sweep import Axis, SweepError, SweepPlan, parse_axis, parse_grid
from core.sweep_exec import run_sweep
from core.sweep_group import GroupRun, batch_key
from core.sweep_run import Sweep, cell_table, plan_limits
from core.sweep_theory import Theory
from core.trainer import Trainer

OPTIMIZERS = {
    "numpy": ("sgd", "momentum", "nesterov", "adam"),
    "scratch": ("sgd", "momentum", "nesterov", "adam"),
    "module": ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad"),
}
LRS = (0.002, 0.03, 0.25)


def small(implementation: str = "numpy", dtype: str = "float64", **train) -> Config:
    """Two features, 53 rows (a partial last batch of 3), shuffled, two epochs."""
    changes = {
        "data.true_weights": [2.0, -1.0],
        "data.n_samples": 53,
        "train.implementation": implementation,
        "model.dtype": dtype,
        "train.epochs": 2,
        "train.momentum": 0.6,
        "train.betas": [0.8, 0.99],
    }
    changes.update({f"train.{k}": v for k, v in train.items()})
    return preset_config("playground").with_values(changes)


def solo_path(config: Config) -> np.ndarray:
    """The run alone through Trainer: its parameters after every step (trained units)."""
    trainer = Trainer(config)
    path = [trainer.theta()]
    while not trainer.done and trainer.stopped_reason != "diverged":
        if trainer.step() == 0:
            break
        path.append(trainer.theta())
    return np.array(path)


def group_paths(configs: list[Config]) -> tuple[np.ndarray, GroupRun]:
    """The runs trained together: every run's parameters after every step (steps, runs, d+1)."""
    group = GroupRun(configs, 0.01)
    path = [group.theta.copy()]
    while not group.done:
        assert group.advance(max_steps=1) == 1
        path.append(group.theta.copy())
    return np.array(path), group


# ---- runs trained together equal runs alone ----------------------------------------------------
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("optimizer", OPTIMIZERS["numpy"])
@pytest.mark.parametrize("extras", [{}, {"weight_decay": 0.01, "l2_penalty": 0.1}])
def test_numpy_stack_is_each_run_alone_bit_for_bit(dtype, optimizer, extras) -> None:
    configs = [small("numpy", dtype, optimizer=optimizer, lr=lr, **extras) for lr in LRS]
    together, group = group_paths(configs)
    for j, config in enumerate(configs):
        alone = solo_path(config)
        assert np.array_equal(alone, together[: len(alone), j]), (optimizer, config.train.lr)
        assert group.step_count[j] == len(alone) - 1


@pytest.mark.parametrize(
    "implementation,optimizer",
    [(impl, opt) for impl in ("scratch", "module") for opt in OPTIMIZERS[impl]],
)
def test_torch_stack_is_each_run_alone_to_float_tolerance(implementation, optimizer) -> None:
    for dtype, rtol in (("float64", 1e-10), ("float32", 2e-4)):
        configs = [
            small(implementation, dtype, optimizer=optimizer, lr=lr, weight_decay=0.001)
            for lr in LRS
        ]
        together, _ = group_paths(configs)
        for j, config in enumerate(configs):
            alone = solo_path(config)
            np.testing.assert_allclose(together[: len(alone), j], alone, rtol=rtol, atol=rtol)


def test_fixed_design_seeds_stack_with_their_own_targets() -> None:
    base = small().with_value("data.noise_seed", 7)
    configs = [base.with_value("data.noise_seed", s) for s in (7, 8, 9)]
    assert len({batch_key(c) for c in configs}) == 1  # one stack: features and order shared
    together, _ = group_paths(configs)
    for j, config in enumerate(configs):
        assert np.array_equal(solo_path(config), together[:, j])


def test_a_diverging_run_is_frozen_and_the_others_go_on() -> None:
    configs = [small(lr=0.01, epochs=20), small(lr=40.0, epochs=20), small(lr=0.05, epochs=20)]
    group = GroupRun(configs, 0.01)
    group.run_to_end()
    assert list(group.diverged) == [False, True, False]
    for j, config in enumerate(configs):
        trainer = Trainer(config)
        while not trainer.done and trainer.stopped_reason != "diverged":
            trainer.run_steps(10**6)
        assert (trainer.stopped_reason == "diverged") == group.diverged[j]
        assert trainer.step_count == group.step_count[j]
        # The diverged run keeps its last finite parameters, as Trainer rolls back to.
        assert np.array_equal(trainer.theta(), group.theta[j])
        result = group.result(j)
        assert result.final_loss == trainer.train_loss()
        assert result.initial_loss == trainer.train_loss(trainer.theta0)
    assert group.step_count[1] < group.step_count[0] == group.total_steps


def test_steps_to_tolerance_match_the_race() -> None:
    from core.race import Race, RaceEntry

    config = small(epochs=10)
    race = Race(config, [RaceEntry(lr=lr) for lr in (0.01, 0.1)], 0.01)
    race.run_to_end()
    group = GroupRun([config.with_value("train.lr", lr) for lr in (0.01, 0.1)], 0.01)
    group.run_to_end()
    assert [r.steps_to_tolerance for r in race.runs] == [
        group.result(j).steps_to_tolerance for j in range(2)
    ]


# ---- grids --------------------------------------------------------------------------------------
def test_grid_values() -> None:
    assert parse_axis("train.lr=log:1e-3:1e-1:3").values == pytest.approx((1e-3, 1e-2, 1e-1))
    assert parse_axis("train.momentum=lin:0:0.9:4").values == pytest.approx((0, 0.3, 0.6, 0.9))
    axis = parse_axis("train.batch_size=log:1:256:9")
    assert axis.values == (1, 2, 4, 8, 16, 32, 64, 128, 256)
    assert all(isinstance(v, int) for v in axis.values)
    assert parse_axis("train.betas[0]=0.5,0.9").key == "train.betas[0]"
    assert parse_axis("train.lr=0.1").values == (0.1,)


@pytest.mark.parametrize(
    "spec,message",
    [
        ("train.nope=1,2", "unknown grid key"),
        ("train.optimizer=1", "unknown grid key"),
        ("train.betas=0.5", "is a list"),
        ("train.lr=log:1:2:0", "empty range"),
        ("train.lr=", "no values"),
        ("train.lr=1,,2", "empty value"),
        ("train.lr=0.1,abc", "is not a number"),
        ("train.lr=nan", "not a finite number"),
        ("train.lr=log:0:1:3", "above 0"),
        ("train.lr=log:1:2", "START:STOP:COUNT"),
        ("train.batch_size=2.5", "not an integer"),
        ("train.lr=5000", "out of range"),
        ("train.lr", "KEY=VALUES"),
        ("train.lr=1,1", "appears twice"),
    ],
)
def test_bad_grids_are_refused_in_one_line(spec: str, message: str) -> None:
    with pytest.raises(SweepError, match=message) as info:
        parse_grid([spec])
    assert "\n" not in str(info.value)


def test_bad_plans_are_refused() -> None:
    base = small()
    with pytest.raises(SweepError, match="given twice"):
        parse_grid(["train.lr=1", "train.lr=2"])
    with pytest.raises(SweepError, match="at least one"):
        parse_grid([])
    with pytest.raises(SweepError, match=r"cell train\.momentum=0"):
        SweepPlan(small(optimizer="nesterov"), parse_grid(["train.momentum=0,0.5"]))
    with pytest.raises(SweepError, match="--seeds"):
        SweepPlan(base, parse_grid(["train.lr=0.1"]), seeds=0)
    with pytest.raises(SweepError, match="the seeds vary it"):
        SweepPlan(base, parse_grid(["data.seed=1,2"]), seeds=2)


def test_plan_groups_share_data_and_order() -> None:
    plan = SweepPlan(
        small(),
        parse_grid(["train.lr=log:1e-3:1:5", "train.batch_size=10,100,200"]),
        seeds=2,
    )
    assert len(plan.cells) == 5 * 3 * 2
    # Batch sizes 100 and 200 both exceed the 53 rows: one full batch, one group per seed.
    assert sorted(len(g.cells) for g in plan.groups) == [5, 5, 10, 10]
    assert [c.seed for c in plan.cells[:2]] == [0, 1]
    fixed = SweepPlan(small().with_value("data.noise_seed", 3), parse_grid(["train.lr=0.1,0.2"]), 4)
    assert fixed.seed_key == "data.noise_seed" and len(fixed.groups) == 1
    assert [c.config.data.noise_seed for c in fixed.cells[:4]] == [3, 4, 5, 6]


def test_sweep_in_slices_equals_run_to_end_and_shows_diverged_cells_early() -> None:
    plan = SweepPlan(
        small(epochs=30), parse_grid(["train.lr=0.01,40", "train.batch_size=5,53"]), seeds=1
    )
    stepped = Sweep(plan)
    seen_early = False
    while not stepped.done:
        stepped.advance(math.inf, step_budget=3)
        snap = stepped.snapshot()
        unfinished = [r for r in snap.results if r is None]
        seen_early |= bool(unfinished) and any(r is not None and r.diverged for r in snap.results)
    assert seen_early
    whole = run_sweep(plan)
    strip = [(r.cell, r.final_loss, r.steps_to_tolerance, r.diverged) for r in whole.results]
    assert strip == [
        (r.cell, r.final_loss, r.steps_to_tolerance, r.diverged) for r in stepped.results
    ]


def test_cell_table_medians_and_spread() -> None:
    plan = SweepPlan(small(epochs=5), parse_grid(["train.lr=0.01,0.1,50"]), seeds=3)
    out = run_sweep(plan)
    table = cell_table(plan.axes, [c.grid_index for c in plan.cells], out.results, "steps")
    steps = [[r.steps_to_tolerance for r in out.results[i * 3 : i * 3 + 3]] for i in range(3)]
    expected = sorted(math.inf if s is None else s for s in steps[1])[1]
    assert table.median[1, 0] == expected
    assert table.diverged[2, 0] == 1.0 and table.finished[2, 0] == 3
    loss = cell_table(plan.axes, [c.grid_index for c in plan.cells], out.results, "loss")
    assert loss.low[0, 0] <= loss.median[0, 0] <= loss.high[0, 0]


# ---- fixed design -------------------------------------------------------------------------------
def test_noise_seed_redraws_the_noise_and_holds_the_features() -> None:
    base = small()
    plain = make_dataset(base.data)
    a = make_dataset(base.with_value("data.noise_seed", 1).data)
    b = make_dataset(base.with_value("data.noise_seed", 2).data)
    assert np.array_equal(a.x_train, plain.x_train) and np.array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.y_train, b.y_train)
    assert not np.array_equal(a.y_train, plain.y_train)
    noiseless = base.with_value("data.noise_std", 0.0)
    assert np.array_equal(make_dataset(noiseless.data).y_train, plain.x_train @ [2.0, -1.0] + 1.0)
    with pytest.raises(UserInputError, match=r"data\.noise_seed"):
        base.with_value("data.noise_seed", -1)
    assert Config.from_dict(base.to_dict()).data.noise_seed is None


# ---- theory -------------------------------------------------------------------------------------
def test_limits_match_their_closed_forms() -> None:
    config = small()
    ds = make_dataset(config.data)
    theory = Theory.of(ds, config)
    full = Trainer(config, dataset=ds).max_stable_lr()
    assert theory.lr_limit("full_batch", ds.n_train) == pytest.approx(full, rel=1e-9)
    assert theory.lr_limit("heavy_ball", 10, momentum=0.9) == pytest.approx(3.8 / 2 * full)
    assert theory.lr_limit("nesterov", 10, momentum=0.5) == pytest.approx(1.5 / 2 * full)
    # The minibatch limit reaches the full-batch one at B = n, and falls as the batch shrinks.
    mini = [theory.lr_limit("minibatch", b) for b in (1, 4, 16, ds.n_train)]
    assert mini == sorted(mini) and mini[-1] == pytest.approx(full, rel=1e-9)
    x = np.column_stack([ds.x_train, np.ones(ds.n_train)])
    assert mini[0] == pytest.approx(2 / max(theory.batch_curvature(1), 0), rel=1e-12)
    assert mini[0] <= 2.0 / (2.0 * np.mean(np.einsum("ij,ij->i", x, x)) * 1.0000001) * 2
    wd = theory.lr_limit("full_batch", ds.n_train, weight_decay=0.5)
    assert wd == pytest.approx(2.0 / (2.0 / full + 0.5))


def test_full_batch_runs_diverge_just_above_the_limit() -> None:
    config = small(epochs=200, batch_size=53)
    bound = Trainer(config).max_stable_lr()
    group = GroupRun([config.with_value("train.lr", f * bound) for f in (0.97, 1.03)], 0.01)
    group.run_to_end()
    assert list(group.diverged) == [False, True]


def test_sweep_json_limits_name_themselves() -> None:
    plan = SweepPlan(small(), parse_grid(["train.lr=0.01,0.1", "train.batch_size=1,10,53"]))
    records, lines = plan_limits(plan)
    names = [r["name"] for r in records]
    assert names == ["full-batch stability", "minibatch SGD stability (mean square)"]
    mini = records[1]["along"]["train.batch_size"]
    assert [b for b, _ in mini] == [1, 10, 53] and mini[0][1] < mini[1][1] < mini[2][1]
    assert {line.key for line in lines} == {"full_batch", "minibatch"}
    momentum = SweepPlan(small(optimizer="momentum"), parse_grid(["train.momentum=0.5,0.9"]))
    hb = plan_limits(momentum)[0][1]
    assert hb["name"] == "heavy-ball stability"
    assert hb["along"]["train.momentum"][1][1] == pytest.approx(
        hb["along"]["train.momentum"][0][1] * 1.9 / 1.5
    )
    assert plan_limits(SweepPlan(small(optimizer="adam"), parse_grid(["train.lr=0.1"])))[0] == []


# ---- seeds --------------------------------------------------------------------------------------
def test_seeds_scatter_like_the_sampling_ellipse() -> None:
    config = preset_config("playground").with_value("train.implementation", "numpy")
    plan = seeds_plan(config, 300)
    assert plan.seed_key == "data.noise_seed" and len(plan.groups) == 5
    out = run_sweep(plan)
    thetas = np.array([r.theta for r in out.results])
    spread = seed_spread(config, thetas, np.array([r.diverged for r in out.results]))
    # Binomial(300, 0.95): 90 % to 99 % is more than four standard deviations either side.
    assert 0.90 <= spread.inside <= 0.99
    assert "inside the 95% sampling ellipse" in spread.text()
    # The spread of the seeds is the ellipse's: the sample covariance within 25 %.
    sample = np.cov(thetas.T)
    np.testing.assert_allclose(np.diag(sample), np.diag(spread.cov), rtol=0.25)


def test_share_inside_counts_mahalanobis_distance() -> None:
    cov = np.diag([4.0, 1.0])
    r = math.sqrt(-2 * math.log(0.05))
    pts = np.array([[2 * r * 0.99, 0.0], [2 * r * 1.01, 0.0], [0.0, r * 0.99], [0.0, r * 1.01]])
    assert share_inside(pts, np.zeros(2), cov) == 0.5


def test_seeds_need_generated_noisy_data() -> None:
    with pytest.raises(UserInputError, match="noisy"):
        seeds_plan(small().with_value("data.noise_std", 0.0), 10)
    with pytest.raises(UserInputError, match="at least 2"):
        seeds_plan(small(), 1)


def test_axis_positions_interpolate_on_the_axis_scale() -> None:
    axis = Axis("train.lr", (0.001, 0.01, 0.1), "log:1e-3:0.1:3")
    assert axis.value_at(0.5) == pytest.approx(10**-2.5)
    assert axis.value_at(np.array([0.0, 2.0, 5.0])) == pytest.approx([0.001, 0.1, 0.1])
    lin = Axis("train.momentum", (0.0, 0.5), "0,0.5")
    assert not lin.log_scale and lin.value_at(0.5) == pytest.approx(0.25)
