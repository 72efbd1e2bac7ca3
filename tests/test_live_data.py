"""Data that moves under a running fit (core/live_data.py): targets moved bit for bit as fresh
data has them, statistics in O(d^2), training on moved data as on fresh data, rebuilt data
under the current parameters, rows moved by hand and parameters put anywhere."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import core.analysis
import core.trainer
from core.analysis import SufficientStats
from core.branches import RunTree
from core.data import make_dataset
from core.errors import DataError
from core.live_data import describe_data, live_kind
from core.presets import preset_config
from core.trainer import Trainer

DATA = {
    "plain": {},
    "split": {"data.val_fraction": 0.25},
    "standardised": {"data.standardize": True, "data.val_fraction": 0.1},
    "correlated": {"data.true_weights": [1.0, -2.0, 0.5], "data.feature_correlation": 0.6},
    "uniform": {"data.true_weights": [1.0, 3.0], "data.feature_distribution": "uniform"},
    "noiseless": {"data.noise_std": 0.0, "data.val_fraction": 0.2},
    "inline": {
        "data.true_weights": [10.0, 20.0],
        "data.inline_features": [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 9.0]],
    },
}


def _config(dtype: str = "float64", impl: str = "numpy", **changes):
    base = {
        "model.dtype": dtype,
        "train.implementation": impl,
        "train.batch_size": 16,
        "train.epochs": 1000,
        "data.n_samples": 300,
    }
    return preset_config("playground").with_values({**base, **changes})


def _moved(trainer: Trainer) -> tuple[np.ndarray, float, float]:
    d = trainer.dataset.n_features
    return np.linspace(-1.5, 2.5, d), -2.25, 1.75


def _stats_close(a: SufficientStats, b: SufficientStats, rtol: float) -> None:
    scale = max(1.0, abs(b.y_mean), b.syy)
    for name in ("x_mean", "cxx", "cxy"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=rtol, atol=rtol * scale)
    np.testing.assert_allclose([a.y_mean, a.syy], [b.y_mean, b.syy], rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", list(DATA))
def test_new_targets_are_a_fresh_datasets_bit_for_bit(kind, dtype):
    trainer = Trainer(_config(dtype, **DATA[kind]))
    trainer.run_steps(37)
    w, b, noise = _moved(trainer)
    assert trainer.set_targets(w, b, noise)
    fresh = make_dataset(trainer.config.data, dtype=dtype)
    ds = trainer.dataset
    assert trainer.config.data.true_bias == b and trainer.config.data.noise_std == noise
    # The same bits, not merely close: the targets a new run with these values would have.
    assert ds.y_train.tobytes() == fresh.y_train.tobytes()
    assert ds.y_val.tobytes() == fresh.y_val.tobytes()
    assert ds.x_train.tobytes() == fresh.x_train.tobytes()  # the features never moved
    np.testing.assert_array_equal(ds.true_theta(), fresh.true_theta())


@pytest.mark.parametrize("kind", list(DATA))
def test_moved_statistics_equal_those_of_the_rows(kind):
    trainer = Trainer(_config(**DATA[kind]))
    for step in range(3):  # each change from the cached products, not from the last change
        w, b, noise = _moved(trainer)
        trainer.set_targets(w * (step + 1), b - step, noise / (step + 1))
        ds = trainer.dataset
        _stats_close(trainer.stats, SufficientStats.from_data(ds.x_train, ds.y_train), 1e-9)
        if ds.y_val.size:
            _stats_close(trainer.val_stats, SufficientStats.from_data(ds.x_val, ds.y_val), 1e-9)
        # The least squares and the losses follow the moved data.
        w_ls, b_ls = core.analysis.least_squares(ds.x_train, ds.y_train)
        np.testing.assert_allclose(trainer.least_squares(), np.append(w_ls, b_ls), atol=1e-8)
        theta = trainer.theta()
        r = ds.x_train @ theta[:-1] + theta[-1] - ds.y_train
        assert trainer.train_loss() == pytest.approx(float(r @ r) / r.size, rel=1e-9)


def test_a_target_change_does_no_work_of_n_times_d_squared(monkeypatch):
    trainer = Trainer(_config(**DATA["correlated"], **{"data.n_samples": 20_000}))
    trainer.run_steps(10)
    w, b, noise = _moved(trainer)
    trainer.set_targets(w, b, noise)  # the first builds the cached products (once per data)

    def refuse(*args, **kwargs):
        raise AssertionError("an O(n d^2) computation on a target change")

    # Every way the rows' moments or least squares are computed from the data.
    monkeypatch.setattr(SufficientStats, "from_data", classmethod(refuse))
    monkeypatch.setattr(core.trainer, "least_squares", refuse)
    monkeypatch.setattr(np.linalg, "lstsq", refuse)
    for k in range(1, 6):
        assert trainer.set_targets(w + k, b - k, noise + 0.1 * k)
    trainer.run_steps(10)
    assert trainer.history.events()[-1][1].startswith("w[x1]")


@pytest.mark.parametrize("impl", ["numpy", "scratch", "module"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_training_on_moved_targets_is_training_on_fresh_data(impl, dtype):
    # Mid-epoch (37 of 19 batches per epoch: epoch 1, batch 18), shuffled, with momentum: the
    # engine's own copies of the targets, and the rows it gathered for the epoch, moved too.
    config = _config(dtype, impl, **{"train.optimizer": "momentum", "train.momentum": 0.9})
    moved = Trainer(config)
    moved.run_steps(37)
    moved.set_targets(*_moved(moved))
    start = moved.state()
    moved.run_steps(60)
    fresh = Trainer.from_state(start, make_dataset(start.config.data, dtype=dtype))
    fresh.run_steps(60)
    assert moved.step_count == fresh.step_count == 97
    np.testing.assert_array_equal(moved.theta(), fresh.theta())


def test_rebuilt_data_keeps_the_model_the_steps_and_the_history():
    trainer = Trainer(_config(**{"train.optimizer": "momentum", "train.momentum": 0.5}))
    trainer.run_steps(50)
    before = trainer.theta_original()
    for changes in (
        {"data.n_samples": 500},
        {"data.seed": 7},
        {"data.standardize": True},
        {"data.val_fraction": 0.2, "data.feature_distribution": "uniform"},
    ):
        rebuilt = trainer.rebuilt(trainer.config.with_values(changes).data)
        # The same model in the data's units, the same step, the same history, going on.
        np.testing.assert_allclose(rebuilt.theta_original(), before, rtol=1e-12, atol=1e-12)
        assert rebuilt.step_count == trainer.step_count and rebuilt.history is trainer.history
        assert rebuilt.batch_in_epoch == 0
        assert rebuilt.engine.optimizer_state()["momentum_buffer"].any()  # momentum kept
        rebuilt.run_steps(20)
        trainer, before = rebuilt, rebuilt.theta_original()
    assert trainer.dataset.n_train == 400 and trainer.dataset.standardized
    events = [text for _, text in trainer.history.events()]
    assert events == [
        "samples 300 -> 500",
        "seed 0 -> 7",
        "standardised off -> on",
        "features normal -> uniform, validation 0 -> 0.2",
    ]


def test_rebuilt_data_with_other_features_is_refused():
    trainer = Trainer(_config())
    with pytest.raises(DataError, match="features"):
        trainer.rebuilt(trainer.config.with_value("data.true_weights", [1.0, 2.0]).data)


def test_branches_replay_the_data_each_step_saw():
    trainer = Trainer(_config())
    tree = RunTree(trainer)
    trainer.run_steps(300)
    trainer.set_targets(*_moved(trainer))
    trainer.run_steps(200)
    tree.continue_with(trainer.rebuilt(trainer.config.with_value("data.n_samples", 400).data))
    tree.trainer.run_steps(200)
    steps, _, params = tree.trainer.history.steps()
    for step in (150, 299, 300, 450, 500, 640):
        # Replayed from the nearest checkpoint on the data that step trained on.
        np.testing.assert_array_equal(tree.state_at(step).theta, params[steps == step][0])


def test_placed_parameters_are_exact_and_restart_the_path():
    config = _config(**{"train.optimizer": "momentum", "train.momentum": 0.9})
    trainer = Trainer(config)
    trainer.run_steps(40)
    theta = np.array([-3.0, 4.5])
    trainer.place(theta)
    np.testing.assert_array_equal(trainer.theta(), theta)
    assert not any(v.any() for v in trainer.engine.optimizer_state().values())  # fresh state
    assert trainer.history.events() == [(40, "parameters set to w -3, b 4.5")]
    snap = trainer.snapshot()
    np.testing.assert_array_equal(snap.theta_trained, theta)
    np.testing.assert_array_equal(snap.path(), theta[None, :])  # the path starts there
    start = trainer.state()
    trainer.run_steps(30)
    path = trainer.snapshot().path()
    np.testing.assert_array_equal(path[0], theta)
    assert len(path) == 31  # the point placed, then every step from it
    again = Trainer.from_state(start.with_changes(optimizer={}), trainer.dataset)
    again.run_steps(30)
    np.testing.assert_array_equal(again.theta(), trainer.theta())
    with pytest.raises(ValueError, match="finite"):
        trainer.place([np.nan, 1.0])


def test_placing_parameters_lets_a_diverged_run_go_on():
    trainer = Trainer(_config(**{"train.lr": 5.0}))
    trainer.run_steps(200)
    assert trainer.stopped_reason == "diverged"
    trainer.set_hyper(lr=0.01, record=False)
    trainer.stopped_reason = "diverged"  # still diverged when the point is placed
    trainer.place([2.0, 1.0])
    assert trainer.stopped_reason is None and trainer.run_steps(10) == 10


def test_moved_rows_update_the_statistics_and_new_targets_bring_them_back():
    trainer = Trainer(_config(**DATA["standardised"]))
    trainer.run_steps(20)
    ds = trainer.dataset
    generated_x, generated_y = ds.x_train.copy(), ds.y_train.copy()
    trainer.move_rows([3, 17], [[4.0], [-2.5]], [30.0, -12.0])
    # In the data's units the rows are where they were put.
    np.testing.assert_allclose(ds.x_train[[3, 17], 0] * ds.scale + ds.shift, [4.0, -2.5])
    np.testing.assert_array_equal(ds.y_train[[3, 17]], [30.0, -12.0])
    _stats_close(trainer.stats, SufficientStats.from_data(ds.x_train, ds.y_train), 1e-9)
    assert trainer.history.events()[-1] == (20, "moved 2 samples (2 moved in all)")
    trainer.move_rows([3], [[1.0]], [2.0])  # again: the generated row is still remembered
    assert sorted(ds.edits) == [3, 17]
    trainer.run_steps(10)
    trainer.set_targets(*_moved(trainer))
    fresh = make_dataset(trainer.config.data, dtype="float64")
    assert ds.edits == {}
    np.testing.assert_array_equal(ds.x_train, generated_x)
    assert ds.y_train.tobytes() == fresh.y_train.tobytes()
    assert not np.array_equal(ds.y_train, generated_y)
    # With nothing else changed, new targets equal to the old ones still bring rows back.
    trainer.move_rows([5], [[0.0]], [0.0])
    assert trainer.set_targets(*_moved(trainer))
    assert ds.y_train.tobytes() == fresh.y_train.tobytes()
    with pytest.raises(ValueError, match="rows"):
        trainer.move_rows([ds.n_train], [[0.0]], [0.0])


def test_a_files_targets_do_not_move(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("x,y\n" + "".join(f"{i},{2 * i + 1}\n" for i in range(20)))
    config = _config().with_values(
        {"data.csv_path": str(path), "data.target_column": "y", "data.feature_columns": ["x"]}
    )
    trainer = Trainer(config)
    with pytest.raises(DataError, match="only generated data"):
        trainer.set_targets([3.0], 0.0, 0.0)
    trainer.move_rows([0], [[100.0]], [5.0])  # a file's rows can still be moved by hand
    assert trainer.dataset.y_train[0] == 5.0


def test_which_changes_follow_the_run_live():
    data = _config().data
    assert live_kind(data, replace(data, true_bias=3.0, noise_std=0.1)) == "targets"
    assert live_kind(data, replace(data, true_weights=(5.0,))) == "targets"
    assert live_kind(data, replace(data, n_samples=50, true_bias=2.0)) == "rebuild"
    assert live_kind(data, replace(data, feature_correlation=0.3)) == "rebuild"
    assert live_kind(data, replace(data, true_weights=(1.0, 2.0))) is None
    assert live_kind(data, replace(data, csv_path="x.csv", target_column="y")) is None
    assert describe_data(data, replace(data, true_bias=3.0, n_samples=2000)) == (
        "bias 1 -> 3, samples 300 -> 2,000"
    )
