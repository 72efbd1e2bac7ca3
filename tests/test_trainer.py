"""Trainer: stepping vs running, seeds, epochs, divergence, live changes, units, memory."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from core import data as data_module
from core import trainer as trainer_module
from core.config import IMPLEMENTATIONS, Config, DataConfig, make_config
from core.data import epoch_order, synthetic
from core.errors import ConfigError, DataError
from core.history import History, step_capacity
from core.presets import preset_config
from core.trainer import CHUNK, Trainer


def minibatch_config(impl: str = "numpy", **train) -> Config:
    """50 shuffled rows in batches of 8: 7 batches an epoch, the last one partial."""
    return make_config(
        data={"true_weights": [1.5, -2.0], "true_bias": 0.5, "n_samples": 50, "seed": 3},
        train={
            "implementation": impl,
            "optimizer": "momentum",
            "lr": 0.05,
            "batch_size": 8,
            "epochs": 5,
            **train,
        },
    )


def full_batch_config(impl: str = "numpy", **train) -> Config:
    """40 training rows (10 held out), one batch holding all of them (the fast path)."""
    return make_config(
        data={"true_weights": [1.5, -2.0], "n_samples": 50, "seed": 3, "val_fraction": 0.2},
        train={
            "implementation": impl,
            "optimizer": "momentum",
            "lr": 0.05,
            "batch_size": 64,
            "epochs": 700,
            **train,
        },
    )


def assert_same_steps(a: Trainer, b: Trainer) -> None:
    """Identical step histories (bit for bit) and identical engine parameters."""
    for x, y in zip(a.history.steps(), b.history.steps(), strict=True):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a.theta(), b.theta())
    assert (a.step_count, a.epoch, a.batch_in_epoch) == (b.step_count, b.epoch, b.batch_in_epoch)


# ---- stepping equals running -------------------------------------------------------


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize(
    ("make", "n"),
    [
        (minibatch_config, 9),  # one epoch and a bit
        (minibatch_config, 23),  # across three epoch boundaries, ending mid-epoch
        (full_batch_config, 17),
        (full_batch_config, 2 * CHUNK + 40),  # several engine calls
    ],
)
def test_stepping_equals_running(impl, make, n):
    config = make(impl)
    a, b, c = Trainer(config), Trainer(config), Trainer(config)
    for _ in range(n):
        assert a.step() == 1
    assert b.run_steps(n) == n
    k = c.run_epoch()
    assert k == c.n_batches
    assert c.run_steps(n - k) == n - k
    assert a.step_count == n
    assert_same_steps(a, b)
    assert_same_steps(a, c)
    ea, eb, ec = a.history.epochs(), b.history.epochs(), c.history.epochs()
    for other in (eb, ec):
        for name in ("epoch", "step"):
            np.testing.assert_array_equal(ea[name], other[name])
        # Full-batch epochs evaluate many rows at once, which may round the last bit apart.
        for name in ("train_loss", "val_loss"):
            np.testing.assert_allclose(ea[name], other[name], rtol=1e-12, atol=0)


def test_minibatch_epoch_records_are_identical_bit_for_bit():
    config = minibatch_config("numpy", epochs=4)
    a, b = Trainer(config), Trainer(config)
    while a.step():
        pass
    b.run_steps(10**6)
    for name, column in a.history.epochs().items():
        if name != "seconds":
            np.testing.assert_array_equal(column, b.history.epochs()[name])


def test_irregular_chunks_equal_one_call():
    config = minibatch_config("numpy", epochs=400)  # 2800 steps: crosses CHUNK many times
    a, b = Trainer(config), Trainer(config)
    a.run_steps(a.total_steps)
    for size in (1, 300, 7, 6, 999, 2, 10**6):
        b.run_steps(size)
    assert b.done
    assert_same_steps(a, b)


# ---- seeds -------------------------------------------------------------------------


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_same_seed_same_run_other_seed_other_run(impl):
    config = minibatch_config(impl, epochs=2)
    a, b = Trainer(config), Trainer(config)
    a.run_steps(10**6)
    b.run_steps(10**6)
    assert_same_steps(a, b)
    other = Trainer(config.with_value("data.seed", 4))
    other.run_steps(10**6)
    assert not np.array_equal(a.dataset.x_train, other.dataset.x_train)
    assert not np.array_equal(a.dataset.y_train, other.dataset.y_train)
    assert not np.array_equal(a.history.steps()[2], other.history.steps()[2])
    assert not np.array_equal(a.theta(), other.theta())


# ---- epochs and completion ---------------------------------------------------------


@pytest.mark.parametrize(("make", "epochs"), [(minibatch_config, 3), (full_batch_config, 5)])
def test_run_steps_stops_at_the_configured_epochs(make, epochs):
    trainer = Trainer(make("numpy", epochs=epochs))
    assert not trainer.done
    assert trainer.stopped_reason is None
    ran = trainer.run_steps(10**6)
    assert ran == trainer.total_steps == epochs * trainer.n_batches
    assert trainer.step_count == trainer.total_steps
    assert trainer.done
    assert trainer.stopped_reason == "completed"
    assert trainer.epoch == epochs
    assert trainer.run_steps(10) == 0
    assert trainer.step() == 0
    assert trainer.run_epoch() == 0
    assert trainer.step_count == trainer.total_steps
    ep = trainer.history.epochs()
    np.testing.assert_array_equal(ep["epoch"], np.arange(epochs + 1))
    np.testing.assert_array_equal(ep["step"], np.arange(epochs + 1) * trainer.n_batches)
    assert trainer.history.last_step == trainer.total_steps


def test_run_steps_stops_at_the_last_epoch_when_asked_for_more_in_pieces():
    trainer = Trainer(minibatch_config("numpy", epochs=2))  # 14 steps
    assert trainer.run_steps(10) == 10
    assert trainer.run_steps(10) == 4
    assert trainer.stopped_reason == "completed"
    assert len(trainer.history.epochs()["epoch"]) == 3


# ---- divergence --------------------------------------------------------------------


def assert_diverged(trainer: Trainer) -> None:
    assert trainer.stopped_reason == "diverged"
    bound = trainer.max_stable_lr()
    assert f"stable below {bound:.3g}" in trainer.message
    assert f"{trainer.hyper.lr:g}" in trainer.message
    assert np.isfinite(trainer.theta()).all()
    _, losses, params = trainer.history.steps()
    assert np.isfinite(losses).all()
    assert np.isfinite(params).all()
    assert (trainer.step_count, "diverged") in trainer.history.events()
    before = trainer.step_count
    assert trainer.run_steps(100) == 0
    assert trainer.step() == 0
    assert trainer.run_epoch() == 0
    assert trainer.step_count == before
    assert trainer.stopped_reason == "diverged"


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_divergence_stops_with_a_message_and_training_can_continue(impl):
    config = preset_config("playground").with_value("train.implementation", impl)
    config = config.with_value("train.lr", 5.0)
    trainer = Trainer(config)
    assert config.train.lr > 2 * trainer.max_stable_lr()
    ran = trainer.run_steps(trainer.total_steps)
    assert 0 < ran < 50
    assert_diverged(trainer)
    loss_at_divergence = trainer.train_loss()

    # A smaller learning rate is the fix: the run continues from where it stopped.
    trainer.set_hyper(lr=0.01)
    assert trainer.stopped_reason is None
    assert trainer.message is None
    assert trainer.run_steps(40) == 40
    assert trainer.step_count == ran + 40
    trainer.run_steps(trainer.total_steps)
    assert trainer.stopped_reason == "completed"
    assert np.isfinite(trainer.history.steps()[2]).all()
    assert trainer.train_loss() < 1e-3 * loss_at_divergence


def test_full_batch_divergence_and_recovery():
    trainer = Trainer(preset_config("sgd-1d").with_value("train.implementation", "numpy"))
    bound = trainer.max_stable_lr()
    trainer.set_hyper(lr=2.5 * bound)
    ran = trainer.run_steps(trainer.total_steps)
    assert 0 < ran < 100
    assert trainer.epoch == ran  # one epoch per full-batch step, none past the divergence
    assert_diverged(trainer)
    trainer.set_hyper(lr=0.5 * bound)
    trainer.run_steps(trainer.total_steps)
    assert trainer.stopped_reason == "completed"
    np.testing.assert_allclose(trainer.theta(), trainer.least_squares(), rtol=0, atol=1e-4)


# ---- live hyper-parameter changes --------------------------------------------------


def test_set_hyper_changes_lr_mid_run_without_reset():
    config = preset_config("sgd-1d").with_value("train.implementation", "numpy")
    trainer = Trainer(config.with_value("model.dtype", "float64"))
    trainer.run_steps(10)
    before = trainer.theta()
    trainer.set_hyper(lr=0.1)
    assert trainer.step_count == 10
    assert trainer.config.train.lr == 0.1
    assert trainer.hyper.lr == 0.1
    assert trainer.history.events() == [(10, "lr 0.01 -> 0.1")]
    assert trainer.step() == 1
    assert trainer.step_count == 11
    # Full-batch SGD: the step just taken used the new learning rate.
    gw, gb = trainer.stats.gradient(before[:-1], before[-1])
    np.testing.assert_allclose(trainer.theta(), before - 0.1 * np.append(gw, gb), atol=1e-12)
    steps, _, _ = trainer.history.steps()
    np.testing.assert_array_equal(steps, np.arange(12))
    # Setting the same value again is not an event.
    trainer.set_hyper(lr=0.1)
    assert len(trainer.history.events()) == 1


def test_set_hyper_keeps_other_settings_and_records_each_change():
    trainer = Trainer(minibatch_config("module"))
    trainer.run_steps(3)
    trainer.set_hyper(momentum=0.5, weight_decay=0.01)
    assert trainer.config.train.momentum == 0.5
    assert trainer.config.train.weight_decay == 0.01
    assert trainer.config.train.lr == 0.05
    group = trainer.engine.opt.param_groups[0]
    assert (group["lr"], group["momentum"], group["weight_decay"]) == (0.05, 0.5, 0.01)
    assert trainer.history.events() == [(3, "momentum 0.9 -> 0.5, weight_decay 0 -> 0.01")]


def test_live_changes_give_the_trainer_a_new_config_and_leave_the_given_one_alone():
    given = minibatch_config("numpy")
    trainer = Trainer(given)
    trainer.set_hyper(lr=0.02, beta1=0.8)
    trainer.extend_epochs(given.train.epochs + 5)
    assert given == minibatch_config("numpy")  # the caller's configuration is untouched
    t = trainer.config.train
    assert (t.lr, t.betas, t.epochs) == (0.02, (0.8, 0.999), given.train.epochs + 5)


def test_an_out_of_range_live_change_is_refused_and_changes_nothing():
    trainer = Trainer(minibatch_config("numpy"))
    trainer.run_steps(2)
    with pytest.raises(ConfigError, match=r"train\.momentum"):
        trainer.set_hyper(momentum=1.5)
    assert trainer.hyper.momentum == trainer.config.train.momentum == 0.9
    assert trainer.history.events() == []
    with pytest.raises(ConfigError, match=r"train\.epochs"):
        trainer.extend_epochs(0)


# ---- standardisation, validation split, snapshots ----------------------------------


@pytest.mark.parametrize(
    ("batch_size", "lr", "epochs", "tol"),
    [(200, 0.4, 200, 1e-9), (20, 0.1, 60, 2e-2)],  # full batch: exact; minibatch: SGD noise
)
def test_standardized_training_reports_original_units(batch_size, lr, epochs, tol):
    rng = np.random.default_rng(11)
    x = rng.normal([5.0, -3.0], [10.0, 0.2], size=(200, 2))
    config = make_config(
        data={
            "true_weights": [0.3, 4.0],
            "true_bias": 2.0,
            "noise_std": 0.01,
            "inline_features": x.tolist(),
            "standardize": True,
        },
        model={"dtype": "float64"},
        train={"implementation": "numpy", "lr": lr, "batch_size": batch_size, "epochs": epochs},
    )
    trainer = Trainer(config)
    ds = trainer.dataset
    assert ds.standardized
    np.testing.assert_allclose(ds.x_train.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(ds.x_train.std(axis=0), 1.0, atol=1e-12)
    trainer.run_steps(trainer.total_steps)
    snap = trainer.snapshot()
    np.testing.assert_allclose(snap.weights, [0.3, 4.0], atol=5e-3)
    assert snap.bias == pytest.approx(2.0, abs=5e-2)
    ols = ds.to_original(trainer.least_squares())
    np.testing.assert_allclose(np.append(snap.weights, snap.bias), ols, rtol=0, atol=tol)
    # The model itself trained on standardised features: its own numbers differ.
    np.testing.assert_array_equal(snap.theta_trained, trainer.theta())
    assert abs(snap.theta_trained[0] - snap.weights[0]) > 1.0
    # History rows are in original units, from the initial parameters on.
    _, _, params = trainer.history.steps()
    np.testing.assert_allclose(params[0], ds.to_original(trainer.theta0), rtol=1e-12)
    np.testing.assert_allclose(params[-1], np.append(snap.weights, snap.bias), rtol=1e-12)


def test_validation_split_gives_a_validation_loss():
    config = make_config(
        data={"true_weights": [1.0], "n_samples": 200, "val_fraction": 0.2},
        train={"implementation": "numpy", "epochs": 2},
    )
    trainer = Trainer(config)
    ds = trainer.dataset
    assert ds.n_train == 160
    assert len(ds.y_val) == 40
    assert ds.n_train + len(ds.y_val) == 200
    assert ds.x_val.shape == (40, 1)
    trainer.run_steps(trainer.total_steps)
    snap = trainer.snapshot()
    assert snap.val_loss is not None
    assert np.isfinite(snap.val_loss)
    assert np.isfinite(trainer.history.epochs()["val_loss"]).all()

    no_split = Trainer(config.with_value("data.val_fraction", 0.0))
    assert no_split.dataset.n_train == 200
    assert no_split.snapshot().val_loss is None
    assert np.isnan(no_split.history.epochs()["val_loss"]).all()


def test_snapshot_values_are_copies():
    trainer = Trainer(minibatch_config("scratch", epochs=2))
    trainer.run_steps(9)
    snap = trainer.snapshot()
    theta = trainer.theta()
    steps, losses, params = trainer.history.steps()
    epochs = trainer.history.epochs()
    for arr in (
        snap.weights,
        snap.theta_trained,
        snap.batch_indices,
        snap.loss_steps,
        snap.loss_values,
        snap.param_values,
        snap.epoch_steps,
        snap.epoch_train,
        snap.epoch_val,
    ):
        arr[...] = 999
    np.testing.assert_array_equal(trainer.theta(), theta)
    for x, y in zip(trainer.history.steps(), (steps, losses, params), strict=True):
        np.testing.assert_array_equal(x, y)
    for name, column in trainer.history.epochs().items():
        np.testing.assert_array_equal(column, epochs[name])
    again = trainer.snapshot()
    np.testing.assert_array_equal(again.theta_trained, theta)
    np.testing.assert_array_equal(again.param_values, params)
    # And the snapshot does not follow the trainer afterwards.
    fresh = trainer.snapshot()
    trainer.run_steps(3)
    np.testing.assert_array_equal(fresh.theta_trained, theta)
    assert fresh.step == 9


def test_batch_indices_follow_the_epoch_permutation():
    config = minibatch_config("numpy", optimizer="sgd")
    config = config.with_value("model.dtype", "float64")
    trainer = Trainer(config)
    n, bs, seed = trainer.dataset.n_train, trainer.batch_size, config.data.seed
    assert trainer.batch_indices().size == 0
    trainer.step()
    rows = trainer.batch_indices()
    assert rows.shape == (bs,)
    np.testing.assert_array_equal(rows, epoch_order(n, seed, 0, True)[:bs])
    # Those rows are the ones the step learned from: redo plain SGD on them by hand.
    ds, th0 = trainer.dataset, trainer.theta0
    xb = np.hstack([ds.x_train[rows], np.ones((bs, 1))])
    grad = 2.0 / bs * xb.T @ (xb @ th0 - ds.y_train[rows])
    np.testing.assert_allclose(trainer.theta(), th0 - config.train.lr * grad, atol=1e-12)
    # The partial last batch of an epoch, then the start of the next epoch's permutation.
    trainer.run_steps(trainer.n_batches - 1)
    np.testing.assert_array_equal(trainer.batch_indices(), epoch_order(n, seed, 0, True)[48:])
    trainer.step()
    np.testing.assert_array_equal(trainer.batch_indices(), epoch_order(n, seed, 1, True)[:bs])
    assert not np.array_equal(epoch_order(n, seed, 0, True), epoch_order(n, seed, 1, True))

    unshuffled = Trainer(config.with_value("train.shuffle", False))
    unshuffled.run_steps(2)
    np.testing.assert_array_equal(unshuffled.batch_indices(), np.arange(bs, 2 * bs))


# ---- memory ------------------------------------------------------------------------


def test_history_memory_stays_bounded_on_a_long_run():
    steps = 300_000
    config = preset_config("tiny-numpy-f64").with_value("train.epochs", steps)
    trainer = Trainer(config)
    history = trainer.history
    max_bytes = inspect.signature(History).parameters["max_bytes"].default
    assert history.capacity == step_capacity(history.n_params, max_bytes)
    assert history.capacity < steps  # the step buffers really had to thin
    trainer.run_steps(steps)
    assert trainer.stopped_reason == "completed"
    assert history.n_steps_recorded <= history.capacity
    assert history.last_step == steps
    recorded = history.steps()[0]
    assert recorded[0] == 0
    assert np.all(np.diff(recorded) > 0)
    # Every full-batch step is an epoch, and every epoch record is kept (in buffers that at
    # most double): the step buffers stay within max_bytes whatever the run length.
    n_epochs = history.n_epochs_recorded
    assert n_epochs == steps + 1
    epoch_bytes = 2 * n_epochs * 5 * 8
    assert history.memory_bytes() <= max_bytes + epoch_bytes


# ---- large data: generation, next epoch's order, magnitudes -----------------------


def _reference_synthetic(cfg: DataConfig) -> tuple[np.ndarray, np.ndarray]:
    """The one-shot float64 generation the chunked one must reproduce."""
    rng = np.random.default_rng([cfg.seed, 1])
    n, d = cfg.n_samples, len(cfg.true_weights)
    root3 = np.sqrt(3.0)
    if cfg.feature_distribution == "uniform":
        z = rng.uniform(-root3, root3, size=(n, d))
        common = rng.uniform(-root3, root3, size=(n, 1))
    else:
        z = rng.standard_normal((n, d))
        common = rng.standard_normal((n, 1)) if cfg.feature_correlation > 0 else None
    if cfg.feature_correlation > 0 and d > 1:
        z = z * np.sqrt(1.0 - cfg.feature_correlation) + np.sqrt(cfg.feature_correlation) * common
    y = z @ np.asarray(cfg.true_weights) + cfg.true_bias
    return z, y + cfg.noise_std * rng.standard_normal(n)


@pytest.mark.parametrize("distribution", ["normal", "uniform"])
@pytest.mark.parametrize("rho", [0.0, 0.6])
@pytest.mark.parametrize("d", [1, 3])
def test_chunked_generation_draws_the_same_data(monkeypatch, distribution, rho, d):
    cfg = DataConfig(
        true_weights=[1.5, -2.0, 0.5][:d],
        n_samples=1001,
        seed=9,
        feature_distribution=distribution,
        feature_correlation=rho,
    )
    x_ref, y_ref = _reference_synthetic(cfg)
    monkeypatch.setattr(data_module, "_GEN_CHUNK_VALUES", 64)  # many chunks, one short
    for dtype in ("float64", "float32"):
        x, y = synthetic(cfg, dtype)
        assert x.dtype == np.dtype(dtype) and y.dtype == np.float64
        np.testing.assert_array_equal(x, x_ref.astype(dtype))
        # y lies on the true line through the stored (rounded) features.
        noise = y_ref - (x_ref @ np.asarray(cfg.true_weights) + cfg.true_bias)
        line = x.astype(np.float64) @ np.asarray(cfg.true_weights) + cfg.true_bias
        np.testing.assert_allclose(y, line + noise, rtol=1e-13, atol=1e-13)


def test_next_epochs_order_drawn_ahead_is_the_same_order(monkeypatch):
    config = minibatch_config("numpy", epochs=6)
    plain = Trainer(config)
    plain.run_steps(plain.total_steps)
    monkeypatch.setattr(trainer_module, "PREFETCH_ROWS", 1)
    ahead = Trainer(config)
    ahead.run_steps(10)
    assert ahead._orders.ahead is not None and ahead._orders.ahead[0] == 2
    ahead.run_steps(ahead.total_steps)
    assert_same_steps(plain, ahead)
    for epoch in range(6):
        np.testing.assert_array_equal(ahead._order(epoch), epoch_order(50, 3, epoch, True))


def _csv(tmp_path, rows: list[str]) -> str:
    path = tmp_path / "data.csv"
    path.write_text("a,b,y\n" + "\n".join(rows) + "\n")
    return str(path)


@pytest.mark.parametrize(
    ("value", "dtype", "fragment"),
    [
        ("1e20", "float32", "column 'a' reaches 1e+20"),
        ("1e300", "float32", "column 'a' reaches 1e+300"),
        ("1e120", "float64", "column 'a' reaches 1e+120"),
        ("1e-120", "float64", "column 'a' peaks at 1e-120"),
    ],
)
def test_values_the_dtype_cannot_train_on_are_refused(tmp_path, value, dtype, fragment):
    path = _csv(tmp_path, [f"{value},1,2", f"-{value},2,3", "0,3,5"])
    config = make_config(data={"csv_path": path}, model={"dtype": dtype})
    with pytest.raises(DataError) as err:
        Trainer(config)
    assert fragment in str(err.value) and f"model.dtype {dtype}" in str(err.value)
    standardized = config.with_value("data.standardize", True)
    if value == "1e20":
        Trainer(standardized)  # standardised, the column suits float32
    else:
        # Weights return to original units in float64: the column's spread must suit it.
        with pytest.raises(DataError, match="standardised units"):
            Trainer(standardized)


def test_standardising_large_offsets_keeps_float32_precise(tmp_path):
    # Timestamps: a huge mean, a small spread. Standardised in float64, then stored as float32.
    rows = [f"{1.7e9 + 10 * i},{i % 3},{2 * i + 1}" for i in range(50)]
    config = make_config(data={"csv_path": _csv(tmp_path, rows), "standardize": True})
    ds = Trainer(config).dataset
    assert ds.x_train.dtype == np.float32
    expected = (np.arange(50) - 24.5) / np.arange(50).std()
    np.testing.assert_allclose(ds.x_train[:, 0], expected, atol=1e-6)


@pytest.mark.parametrize("fit_bias", [True, False])
def test_least_squares_of_large_data_comes_from_the_statistics(monkeypatch, fit_bias):
    config = make_config(
        data={"true_weights": [1.5, -2.0, 0.5], "n_samples": 400, "feature_correlation": 0.9},
        model={"dtype": "float64", "fit_bias": fit_bias},
    )
    exact = Trainer(config).least_squares()
    monkeypatch.setattr(trainer_module, "LSTSQ_MAX_VALUES", 0)  # every dataset is "large"
    fast = Trainer(config)
    np.testing.assert_allclose(fast.least_squares(), exact, rtol=0, atol=1e-10)
    assert fast.least_squares() is not fast.least_squares()  # cached, handed out as copies


def test_ill_conditioned_large_data_still_uses_lstsq(monkeypatch, tmp_path):
    rng = np.random.default_rng(2)
    # Column b is column a plus a 1e-7 wobble: nearly collinear.
    pairs = zip(rng.normal(size=200).tolist(), rng.normal(size=200).tolist(), strict=True)
    rows = [f"{x!r},{x + 1e-7 * e!r},{2 * x!r}" for x, e in pairs]
    config = make_config(data={"csv_path": _csv(tmp_path, rows)}, model={"dtype": "float64"})
    exact = Trainer(config).least_squares()
    monkeypatch.setattr(trainer_module, "LSTSQ_MAX_VALUES", 0)
    assert not trainer_module._well_conditioned(Trainer(config).stats, True)
    np.testing.assert_array_equal(Trainer(config).least_squares(), exact)


def test_progress_of_generated_data_rises_to_one() -> None:
    from core import data

    config = preset_config("playground").with_value("data.n_samples", 3 * data._GEN_CHUNK_VALUES)
    seen: list[float] = []
    Trainer(config, progress=seen.append)
    assert len(seen) >= 3 and seen == sorted(seen) and seen[-1] == 1.0


def test_gradients_at_far_out_parameters_are_quietly_not_finite():
    # Found by fuzzing a CSV with values near 1e87: a snapshot of a run close to divergence
    # overflowed in the minibatch gradient and warned (warnings fail the suite).
    trainer = Trainer(Config.from_dict({"data": {"true_weights": [2.0, -1.0], "n_samples": 50}}))
    far = np.full(3, 1e308)
    grad = trainer.batch_gradient(np.arange(10), far)
    assert grad.shape == (3,) and not np.isfinite(grad).all()
    assert not np.isfinite(trainer.full_gradient(far)).all()


def test_data_near_1e32_diverges_quietly(tmp_path):
    # Found by fuzzing: the epoch losses of such a run overflowed with a warning.
    path = tmp_path / "huge.csv"
    path.write_text("a,b,y\n0.0,0.0,0.0\n0.0,2.2214298713966067e+32,0.0\n", encoding="utf-8")
    config = Config.from_dict(
        {
            "data": {"csv_path": str(path), "standardize": False},
            "model": {"dtype": "float64"},
            "train": {"epochs": 2, "batch_size": 4, "lr": 0.01},
        }
    )
    for implementation in IMPLEMENTATIONS:
        trainer = Trainer(config.with_value("train.implementation", implementation))
        trainer.run_steps(20)
        trainer.set_hyper(lr=0.001)
        trainer.run_steps(2)
        assert np.isfinite(trainer.theta()).all()


@pytest.mark.parametrize("name", ["playground", "d2l-scratch", "sgd-1d"])
def test_the_wall_rate_counts_bookkeeping_and_only_the_steps_run(name):
    """The rate a user times: every step run_steps ran, over its whole time (engine time
    and the recording and epoch ends around it), so never above the engine-only rate."""
    t = Trainer(preset_config(name).with_value("train.epochs", 3))
    assert t.wall_steps_per_second() == 0.0
    ran = t.run_steps(7) + t.run_epoch() + t.run_steps(10**9)
    assert t.wall_steps == ran == t.step_count
    assert t.wall_seconds >= t.seconds > 0
    assert 0 < t.wall_steps_per_second() <= t.steps_per_second()
    assert t.run_steps(5) == 0 and t.wall_steps == ran  # finished: nothing more counted
