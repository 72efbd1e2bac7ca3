"""Every preset reaches the numbers its seed article reports."""

from __future__ import annotations

import numpy as np
import pytest

from core.analysis import ridge
from core.presets import ARTICLES, D2L_W3, D2L_W5, NOISE_DATA, PRESETS, preset_config
from core.sgd_noise import run_plateau
from core.trainer import Trainer

# Seed 004: NumPy float64 reaches [10.00000008, 19.99999994]; torch float32 stalls here.
TINY_F64_END = np.array([10.00000008, 19.99999994])
TINY_F32_STALL = np.array([10.0429, 19.9661])
TINY_TRUE = np.array([10.0, 20.0])
TINY_TORCH_PRESETS = ("tiny-scratch-f32", "tiny-module-f32")
# The noise of SGD (issue "Why it converges"): one dataset at batch 1, 10, 100, and decaying.
NOISE_PRESETS = ("sgd-noise-b1", "sgd-noise-b10", "sgd-noise-b100", "sgd-noise-decay")

# The seed article each preset reproduces (playground is the app's own default).
SEEDS = {
    "d2l-scratch": "000",
    "d2l-concise-5": "001",
    "d2l-concise-3": "002",
    "sgd-1d": "003",
    "adam-5": "003",
    "l2-1d": "003",
    "tiny-numpy-f64": "004",
    "tiny-scratch-f32": "004",
    "tiny-module-f32": "004",
}


def run_preset(name: str, **overrides) -> Trainer:
    """Run a preset (with section.key overrides) through all its epochs."""
    config = preset_config(name)
    for key, value in overrides.items():
        config = config.with_value(key.replace("__", "."), value)
    trainer = Trainer(config)
    trainer.run_steps(trainer.total_steps)
    assert trainer.stopped_reason == "completed"
    return trainer


def test_d2l_scratch_seed_000():
    trainer = run_preset("d2l-scratch")
    assert trainer.loss_kind == "half_mse"
    assert trainer.epoch == 3
    assert trainer.train_loss() < 1e-4  # seed: 0.00004 after epoch 3
    snap = trainer.snapshot()
    np.testing.assert_allclose(snap.weights, D2L_W3, rtol=0, atol=2e-3)
    assert snap.bias == pytest.approx(3.0, abs=2e-3)


def test_d2l_concise_5_seed_001():
    trainer = run_preset("d2l-concise-5")
    # Seed: full-data MSE after each epoch 0.000357, 0.000110, 0.000111.
    per_epoch = trainer.history.epochs()["train_loss"][1:]
    assert per_epoch.shape == (3,)
    assert np.all(per_epoch < 1e-3)
    assert per_epoch[-1] < 2e-4
    # Seed: weight estimation errors ~1e-4..7e-4, bias error 0.0013.
    snap = trainer.snapshot()
    np.testing.assert_allclose(snap.weights, D2L_W5, rtol=0, atol=3e-3)
    assert snap.bias == pytest.approx(4.2, abs=3e-3)


def test_d2l_concise_3_seed_002():
    trainer = run_preset("d2l-concise-3")
    assert trainer.train_loss() < 2e-4  # seed: 0.00007 (last minibatch) after epoch 3
    np.testing.assert_allclose(trainer.snapshot().weights, D2L_W3, rtol=0, atol=3e-3)


def full_batch_descent(trainer: Trainer, theta0: np.ndarray, steps: int) -> np.ndarray:
    """Where full-batch gradient descent on trainer's data and objective (mean squared error
    plus l2 * |p|^2) ends after steps from theta0, in float64: for a quadratic the iterate is
    theta* + (I - lr H)^steps (theta0 - theta*), H the Hessian of the objective."""
    t = trainer.config.train
    x = trainer.dataset.x_train.astype(np.float64)
    y = trainer.dataset.y_train.astype(np.float64).ravel()
    design = np.column_stack([x, np.ones(len(y))])
    hessian = 2.0 / len(y) * design.T @ design + 2.0 * t.l2_penalty * np.eye(design.shape[1])
    minimum = np.linalg.solve(hessian, 2.0 / len(y) * design.T @ y)
    contraction = np.linalg.matrix_power(np.eye(len(minimum)) - t.lr * hessian, steps)
    return minimum + contraction @ (theta0 - minimum)


def float32_stall(trainer: Trainer, theta: np.ndarray) -> float:
    """How far from the minimum float32 descent may stop: an update lr * g smaller than half
    the spacing of float32 numbers at theta rounds away, and near the minimum |g| is at least
    lambda_min(H) times the distance; twice that, for the rounding of g itself."""
    t = trainer.config.train
    x = trainer.dataset.x_train.astype(np.float64)
    design = np.column_stack([x, np.ones(len(x))])
    hessian = 2.0 / len(x) * design.T @ design + 2.0 * t.l2_penalty * np.eye(design.shape[1])
    spacing = np.spacing(np.abs(theta).astype(np.float32)).max()
    return float(spacing / (t.lr * np.linalg.eigvalsh(hessian)[0]))


@pytest.mark.parametrize("name", ["sgd-1d", "l2-1d"])
def test_full_batch_presets_follow_gradient_descent_exactly(name):
    # Deterministic full-batch descent on a quadratic: where it ends is known in closed form.
    for dtype in ("float64", "float32"):  # the presets train in float32
        trainer = run_preset(name, model__dtype=dtype)
        theta0 = trainer.history.steps()[2][0].astype(np.float64)
        expected = full_batch_descent(trainer, theta0, trainer.step_count)
        atol = 1e-12 if dtype == "float64" else float32_stall(trainer, expected)
        np.testing.assert_allclose(trainer.theta(), expected, rtol=0, atol=atol, err_msg=dtype)
    assert atol < 1e-5
    if name == "sgd-1d":  # 1000 steps at lr 0.01 close on least squares within 1e-8
        np.testing.assert_allclose(expected, trainer.least_squares(), rtol=0, atol=1e-8)


def test_adam_5_reaches_the_noise_floor():
    # Pure-noise targets: the best a linear model can do is the OLS loss, about the noise variance.
    trainer = run_preset("adam-5")
    ols_loss = trainer.train_loss(trainer.least_squares())
    assert ols_loss == pytest.approx(1.0, rel=0.1)
    assert trainer.train_loss() == pytest.approx(ols_loss, rel=0.05)
    assert trainer.train_loss() >= ols_loss


def test_l2_1d_ends_at_ridge():
    trainer = run_preset("l2-1d")
    w, b = ridge(trainer.stats, trainer.config.train.l2_penalty)
    ends = full_batch_descent(trainer, trainer.history.steps()[2][0], trainer.step_count)
    np.testing.assert_allclose(ends, np.append(w, b), rtol=0, atol=1e-8)


def test_tiny_numpy_f64_seed_004():
    trainer = run_preset("tiny-numpy-f64")  # 1,000,000 full-batch steps
    assert trainer.step_count == 1_000_000
    w = trainer.snapshot().weights
    np.testing.assert_allclose(w, TINY_F64_END, rtol=0, atol=1e-8)
    np.testing.assert_allclose(np.round(w, 8), TINY_F64_END, rtol=0, atol=1e-12)
    assert trainer.snapshot().bias == 0.0


def test_tiny_numpy_float32_stalls_where_the_seed_torch_runs_stall():
    # The run stops moving near step 251,000. Full-batch descent is deterministic, so once one
    # update rounds away to nothing every later one does too: 300,000 steps end where 1e6 would.
    trainer = run_preset("tiny-numpy-f64", model__dtype="float32", train__epochs=300_000)
    w = trainer.snapshot().weights
    np.testing.assert_array_equal(np.round(w, 4), TINY_F32_STALL)  # the article's four places
    assert np.all(np.abs(w - TINY_TRUE) > 1e-3)
    steps, _, params = trainer.history.steps()
    stalled = steps >= 260_000
    assert stalled.sum() == 40_001  # the newest rows are all kept
    assert np.all(params[stalled] == params[-1])


@pytest.fixture(scope="module")
def tiny_numpy_f32_start():
    """First 20,000 steps of the torch presets' problem (zeros init) on the NumPy engine."""
    config = preset_config("tiny-scratch-f32").with_value("train.implementation", "numpy")
    trainer = Trainer(config)
    trainer.run_steps(20_000)
    return trainer.history.steps()


@pytest.mark.parametrize("name", TINY_TORCH_PRESETS)
def test_tiny_torch_f32_follows_numpy_f32(name, tiny_numpy_f32_start):
    ref_steps, ref_losses, ref_params = tiny_numpy_f32_start
    trainer = Trainer(preset_config(name))
    assert trainer.config.model.dtype == "float32"
    trainer.run_steps(20_000)
    steps, losses, params = trainer.history.steps()
    np.testing.assert_array_equal(steps, ref_steps)
    np.testing.assert_allclose(params[:, :2], ref_params[:, :2], rtol=1e-3, atol=1e-6)
    assert np.all(params[:, 2] == 0.0)
    np.testing.assert_allclose(losses[-1], ref_losses[-1], rtol=1e-2)
    assert np.abs(params[-1, :2] - TINY_TRUE).max() > 1.0  # still far from the stall point


@pytest.mark.slow
@pytest.mark.timeout(900)  # ~100-160 s each on an idle 2-core machine, more under load
@pytest.mark.parametrize("name", TINY_TORCH_PRESETS)
def test_tiny_torch_f32_full_run_stalls_short(name):
    trainer = run_preset(name)  # 1,000,000 steps: about two minutes each
    w = trainer.snapshot().weights
    assert np.all(np.abs(w - TINY_TRUE) > 1e-3)
    np.testing.assert_array_equal(np.round(w, 4), TINY_F32_STALL)  # the article's four places


@pytest.mark.parametrize("name", list(PRESETS))
def test_summary_names_its_article_by_what_it_is(name):
    summary = PRESETS[name].summary
    assert summary.strip()
    assert PRESETS[name].name == name
    # "seed 000" read as a random seed: the articles are named by what they are.
    assert "seed 00" not in summary
    if name in SEEDS:
        assert summary.startswith(ARTICLES[SEEDS[name]])
    elif name in NOISE_PRESETS:
        assert "batch" in summary and "sgd-noise" in summary
    else:
        assert name == "playground"
        assert "not from an article" in summary


def excess_after(trainer: Trainer, start: float) -> float:
    """Mean training loss above the least-squares loss over the steps past a share of the run."""
    steps, _, params = trainer.history.steps()
    losses = trainer.stats.losses(trainer.dataset.to_trained(params), trainer.loss_kind)
    ols = trainer.train_loss(trainer.least_squares())
    return float(np.mean(losses[int(start * steps.size) :] - ols))


def test_the_noise_presets_settle_where_predicted_and_the_decay_goes_below():
    configs = [preset_config(name) for name in NOISE_PRESETS]
    assert all(c.data == configs[0].data for c in configs)  # the very same data
    assert configs[0].data.true_weights == tuple(NOISE_DATA["true_weights"])
    assert [c.train.batch_size for c in configs] == [1, 10, 100, 1]
    assert {c.train.sampling for c in configs} == {"replacement"}
    plateaus = []
    for name in NOISE_PRESETS[:3]:
        trainer = run_preset(name)
        assert trainer.step_count == 3000
        plateau = run_plateau(trainer)
        assert excess_after(trainer, 1 / 3) == pytest.approx(plateau.excess, rel=0.25), name
        plateaus.append(plateau)
    # Ten times the batch, a tenth of the additive noise's plateau; at batch 1 the
    # multiplicative noise adds a third to it.
    assert plateaus[0].excess == pytest.approx(0.3, rel=0.1)
    assert plateaus[1].additive == pytest.approx(plateaus[0].additive / 10, rel=1e-9)
    assert plateaus[2].excess == pytest.approx(plateaus[1].excess / 10, rel=0.05)
    assert plateaus[0].excess > 1.25 * plateaus[0].additive
    decay = run_preset("sgd-noise-decay")
    assert decay.history.lrs()[-1] == pytest.approx(0.1 / (1 + 0.01 * 9999))
    assert excess_after(decay, 0.9) < plateaus[0].excess / 20
