"""Eigen-directions, full-batch rates and minibatch gradient clouds, against the data and runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.analysis import SufficientStats, condition_number, loss_scale
from core.config import IMPLEMENTATIONS, make_config
from core.runinfo import run_info
from core.schedules import Schedule, lr_sequence
from core.theory import (
    eigen_directions,
    eigen_errors,
    eigen_history,
    gd_rate_curves,
    gradient_cloud,
    gradient_noise_covariance,
    minibatch_gradients,
    predicted_errors,
    rate_per_step,
    run_eigen,
)
from core.trainer import Trainer


def config(**train):
    """Three correlated features (a spread of eigenvalues), float64, full batches by default."""
    return make_config(
        data={
            "true_weights": [1.0, -2.0, 0.5],
            "true_bias": 0.7,
            "noise_std": 0.3,
            "n_samples": 120,
            "feature_correlation": 0.6,
            "seed": 4,
        },
        model={"dtype": "float64", "init": "normal", "init_std": 2.0},
        train={"implementation": "numpy", "batch_size": 120, "shuffle": False, **train},
    )


def hessian_from_rows(trainer: Trainer) -> np.ndarray:
    """2c/n X~^T X~ + (2 l2 + wd) I, built from the training rows themselves."""
    t, fit_bias = trainer.config.train, trainer.config.model.fit_bias
    x = np.asarray(trainer.dataset.x_train, dtype=np.float64)
    if fit_bias:
        x = np.hstack([x, np.ones((x.shape[0], 1))])
    c = loss_scale(t.loss)
    return 2 * c * x.T @ x / x.shape[0] + (2 * t.l2_penalty + t.weight_decay) * np.eye(x.shape[1])


# ---- eigenvalues --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("train", "model", "data"),
    [
        ({}, {}, {}),
        ({"loss": "half_mse"}, {}, {}),
        ({"l2_penalty": 0.05, "weight_decay": 0.02}, {}, {}),
        ({"l2_penalty": 0.1}, {"fit_bias": False}, {}),
        ({}, {}, {"standardize": True}),
        ({}, {}, {"feature_correlation": 0.95, "n_samples": 40}),
    ],
)
def test_eigenvalues_are_those_of_the_hessian_built_from_the_data(train, model, data):
    base = config(**train)
    trainer = Trainer(
        base.with_values({f"model.{k}": v for k, v in model.items()}).with_values(
            {f"data.{k}": v for k, v in data.items()}
        )
    )
    eigen = run_eigen(trainer)
    expected = np.linalg.eigvalsh(hessian_from_rows(trainer))
    np.testing.assert_allclose(eigen.eigenvalues, expected, rtol=1e-10)
    assert np.all(np.diff(eigen.eigenvalues) >= 0)  # ascending
    vec = eigen.eigenvectors
    h = hessian_from_rows(trainer)
    np.testing.assert_allclose(h @ vec, vec * eigen.eigenvalues, atol=1e-10 * expected[-1])
    # theta* is where the update stops: the objective's gradient plus weight decay vanish.
    t = trainer.config.train
    p = vec.shape[0]
    grad = trainer.full_gradient(eigen.theta_star)[:p] + t.weight_decay * eigen.theta_star[:p]
    assert np.abs(grad).max() < 1e-10
    # The window's condition number is lambda_max / lambda_min of this Hessian.
    info = run_info(trainer)
    assert info.condition_number == pytest.approx(expected[-1] / expected[0], rel=1e-9)
    np.testing.assert_array_equal(info.hessian_eigenvalues, eigen.eigenvalues)


def test_the_penalty_changes_the_condition_number():
    stats = SufficientStats.from_data(*np.random.default_rng(0).normal(size=(2, 50)))
    plain = condition_number(stats)
    assert condition_number(stats, l2=1.0) < plain
    lam = np.linalg.eigvalsh(2 * stats._second_moment(True) + 2 * np.eye(2))
    assert condition_number(stats, l2=1.0) == pytest.approx(lam[-1] / lam[0])
    half = np.linalg.eigvalsh(stats._second_moment(True) + 2 * np.eye(2))
    assert condition_number(stats, l2=1.0, kind="half_mse") == pytest.approx(half[-1] / half[0])


def test_standardising_and_correlation_change_the_spread():
    spread = {}
    for corr in (0.0, 0.9):
        for std in (False, True):
            c = config().with_values(
                {"data.feature_correlation": corr, "data.standardize": std, "data.n_samples": 400}
            )
            spread[corr, std] = run_eigen(Trainer(c)).condition_number
    assert spread[0.9, True] > 3 * spread[0.0, True]
    assert spread[0.0, True] < 1.5


# ---- full-batch gradient descent follows the rates -----------------------------------------


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("l2", [0.0, 0.05])
def test_full_batch_errors_follow_one_minus_lr_lambda_to_the_t(impl, l2):
    probe = Trainer(config(l2_penalty=l2))
    lam = run_eigen(probe).eigenvalues
    # lr * lambda_max = 1.6: the stiffest direction overshoots (1 - lr lambda < 0) each step.
    lr = 1.6 / lam[-1]
    trainer = Trainer(config(l2_penalty=l2, lr=lr, epochs=60, implementation=impl))
    trainer.run_steps(trainer.total_steps)
    steps, errors = eigen_history(trainer)
    assert steps.tolist() == list(range(61))
    predicted = errors[0] * np.abs(1 - lr * lam) ** steps[:, None]
    # Only where the error is well above float64 rounding of the parameters.
    visible = predicted > 1e-6
    assert visible[-1].any() and visible.sum() > 100
    rel = np.abs(errors - predicted)[visible] / predicted[visible]
    assert rel.max() < 1e-8
    np.testing.assert_allclose(gd_rate_curves(errors[0], lam, lr, steps), predicted, rtol=1e-12)


@pytest.mark.parametrize("optimizer", ["momentum", "nesterov"])
def test_momentum_errors_follow_their_recursion_and_its_roots(optimizer):
    probe = Trainer(config())
    eigen = run_eigen(probe)
    lam = eigen.eigenvalues
    lr, mu = 0.5 / lam[-1], 0.8
    trainer = Trainer(config(optimizer=optimizer, momentum=mu, lr=lr, epochs=200))
    trainer.run_steps(trainer.total_steps)
    _, errors = eigen_history(trainer)
    _, _, params = trainer.history.steps()
    signed = (params[0, :4] - eigen.theta_star) @ eigen.eigenvectors
    predicted = predicted_errors(signed, lam, np.full(200, lr), optimizer, mu)
    visible = predicted > 1e-6
    assert np.abs(errors - predicted)[visible].max() / predicted[visible].min() < 1e-6
    np.testing.assert_allclose(errors[visible], predicted[visible], rtol=1e-7)
    rho = rate_per_step(lam, lr, optimizer, mu)
    # Complex roots (lr lambda small next to mu): the rate is sqrt(mu) for heavy ball.
    if optimizer == "momentum":
        disc = (1 + mu - lr * lam) ** 2 - 4 * mu
        np.testing.assert_allclose(rho[disc < 0], math.sqrt(mu))
        real = disc >= 0
        roots = np.abs(((1 + mu - lr * lam) + np.sqrt(np.maximum(disc, 0))) / 2)
        np.testing.assert_allclose(rho[real], roots[real])
    # The rate is the long-run slope of the recursion: error / rho^t stays bounded, and a
    # rate a little faster is overtaken.
    t = np.arange(201)[:, None]
    ratio = predicted / rho**t
    assert ratio[100:].max() < 10 * ratio[:20].max()
    assert np.all((predicted / (0.97 * rho) ** t)[-1] > ratio[:20].max(axis=0))


def test_predicted_errors_take_a_schedule():
    schedule = Schedule.of({"name": "cosine", "lr_min": 0.0})
    probe = Trainer(config())
    lam = run_eigen(probe).eigenvalues
    lr = 1.0 / lam[-1]
    trainer = Trainer(config(lr=lr, epochs=80, schedule=schedule.to_dict()))
    trainer.run_steps(trainer.total_steps)
    eigen = run_eigen(trainer)
    _, errors = eigen_history(trainer, eigen)
    signed = (trainer.history.steps()[2][0] - eigen.theta_star) @ eigen.eigenvectors
    lrs = lr_sequence(schedule, 80, lr)
    predicted = predicted_errors(signed, lam, lrs)
    np.testing.assert_allclose(predicted, errors, rtol=1e-8, atol=1e-12)
    assert np.isnan(predicted_errors(signed, lam, lrs, "adam")[1:]).all()
    assert np.isnan(rate_per_step(lam, lr, "adam")).all()


def test_eigen_errors_ignore_a_bias_that_is_not_fitted():
    vec = np.eye(2)
    thetas = np.array([[1.0, -2.0, 99.0], [0.5, 0.5, -3.0]])
    np.testing.assert_array_equal(eigen_errors(thetas, np.zeros(3), vec), [[1, 2], [0.5, 0.5]])


# ---- minibatch gradient clouds --------------------------------------------------------------


@pytest.mark.parametrize("fit_bias", [True, False])
def test_minibatch_gradients_are_the_trainers(fit_bias):
    trainer = Trainer(config(l2_penalty=0.03).with_value("model.fit_bias", fit_bias))
    theta = np.array([0.3, -0.1, 2.0, 0.4 if fit_bias else 0.0])
    rows = np.random.default_rng(0).integers(0, 120, size=(5, 7))
    ds = trainer.dataset
    got = minibatch_gradients(ds.x_train, ds.y_train, theta, rows, "mse", fit_bias, l2=0.03)
    for k in range(5):
        np.testing.assert_allclose(got[k], trainer.batch_gradient(rows[k], theta), rtol=1e-12)


@pytest.mark.parametrize("replacement", [True, False])
def test_a_gradient_cloud_centres_on_the_full_gradient_with_the_exact_covariance(replacement):
    trainer = Trainer(config(l2_penalty=0.02))
    ds = trainer.dataset
    theta = np.array([0.5, -1.0, 0.0, 1.5])
    rng = np.random.default_rng(1)
    batch = 30
    grads, mean, cov = gradient_cloud(
        ds.x_train, ds.y_train, theta, batch, 4000, rng, l2=0.02, replacement=replacement
    )
    assert grads.shape == (4000, 4) and cov.shape == (4, 4)
    exact = gradient_noise_covariance(ds.x_train, ds.y_train, theta, batch, replacement=replacement)
    full = trainer.full_gradient(theta)
    se = np.sqrt(np.diag(exact) / 4000)
    assert np.all(np.abs(mean - full) < 5 * se)
    np.testing.assert_allclose(np.diag(cov), np.diag(exact), rtol=0.1)
    # Distinct rows: a quarter of the data per batch makes the spread visibly smaller.
    other = gradient_noise_covariance(
        ds.x_train, ds.y_train, theta, batch, replacement=not replacement
    )
    ratio = np.trace(exact) / np.trace(other)
    assert ratio == pytest.approx((119 / 90) ** (1 if replacement else -1), rel=1e-12)


def test_a_cloud_needs_two_gradients():
    with pytest.raises(ValueError, match="at least 2"):
        gradient_cloud(np.zeros((3, 1)), np.zeros(3), np.zeros(2), 1, 1, np.random.default_rng())


def test_eigen_directions_of_statistics_match_run_eigen():
    trainer = Trainer(config(weight_decay=0.1))
    direct = eigen_directions(trainer.stats, "mse", True, 0.0, 0.1)
    np.testing.assert_array_equal(direct.eigenvalues, run_eigen(trainer).eigenvalues)
    assert not direct.eigenvalues.flags.writeable


def test_errors_from_a_snapshots_rows_in_original_units():
    from core.theory import trained_rows

    trainer = Trainer(
        config(batch_size=10, shuffle=True, epochs=3).with_value("data.standardize", True)
    )
    trainer.run_steps(trainer.total_steps)
    info = run_info(trainer)
    snap = trainer.snapshot(max_points=50)
    rows = trained_rows(snap.param_values, info.shift, info.scale)
    np.testing.assert_allclose(rows, trainer.dataset.to_trained(snap.param_values), rtol=1e-12)
    got = eigen_errors(rows, info.theta_star, info.hessian_eigenvectors)
    steps, errors = eigen_history(trainer)
    picked = np.searchsorted(steps, snap.loss_steps.astype(np.int64))
    np.testing.assert_allclose(got, errors[picked], rtol=1e-9, atol=1e-12)
