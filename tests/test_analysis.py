"""Closed-form analysis: sufficient statistics, exact fits, curvature and step-size limits."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.analysis import (
    SufficientStats,
    condition_number,
    hessian,
    least_squares,
    loss_label,
    loss_scale,
    max_stable_lr,
    noise_floor,
    r2,
    ridge,
)

KINDS = ("mse", "half_mse")


def make_data(
    seed: int,
    n: int = 400,
    d: int = 3,
    x_offset: float = 0.0,
    noise: float = 0.5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Random features around x_offset, y = x @ w + b + noise, and the true (w, b)."""
    rng = np.random.default_rng(seed)
    x = x_offset + rng.normal(scale=rng.uniform(0.5, 3.0, size=d), size=(n, d))
    w = rng.normal(size=d)
    b = float(rng.normal())
    y = x @ w + b + noise * rng.normal(size=n)
    return x, y, w, b


def direct_loss(x: np.ndarray, y: np.ndarray, w: np.ndarray, b: float, kind: str = "mse") -> float:
    """The loss computed straight from the data."""
    mse = float(np.mean((x @ w + b - y) ** 2))
    return mse if kind == "mse" else mse / 2


def standardised_uncorrelated(seed: int, n: int, d: int) -> np.ndarray:
    """Features with mean exactly 0, variance 1 and zero pairwise correlation (up to rounding)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, d))
    z -= z.mean(axis=0)
    # Orthonormal columns inside the centred span stay orthogonal to the ones vector.
    q, _ = np.linalg.qr(z)
    return q * math.sqrt(n)


# --- SufficientStats.loss -------------------------------------------------------------------


@pytest.mark.parametrize("x_offset", [0.0, 1e4])
@pytest.mark.parametrize("kind", KINDS)
def test_loss_matches_direct(x_offset: float, kind: str) -> None:
    x, y, w_true, b_true = make_data(1, x_offset=x_offset)
    stats = SufficientStats.from_data(x, y)
    rng = np.random.default_rng(2)
    w_ls, b_ls = least_squares(x, y)
    candidates = [
        (w_true, b_true),
        (w_ls, b_ls),  # the minimum, where the centred terms cancel the most
        (w_ls + 1e-3 * rng.normal(size=3), b_ls),
        (np.zeros(3), 0.0),
    ] + [(rng.normal(size=3), float(rng.normal(scale=10))) for _ in range(5)]
    for w, b in candidates:
        want = direct_loss(x, y, w, b, kind)
        assert stats.loss(w, b, kind) == pytest.approx(want, rel=1e-10)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    d=st.integers(1, 6),
    n=st.integers(1, 60),
    x_offset=st.sampled_from([0.0, -3.0, 1e4]),
)
def test_loss_matches_direct_random(seed: int, d: int, n: int, x_offset: float) -> None:
    x, y, _, _ = make_data(seed, n=n, d=d, x_offset=x_offset)
    stats = SufficientStats.from_data(x, y, chunk_rows=7)
    rng = np.random.default_rng(seed + 1)
    w = rng.normal(size=d)
    b = float(rng.normal())
    want = direct_loss(x, y, w, b)
    assert stats.loss(w, b) == pytest.approx(want, rel=1e-10, abs=1e-12)
    assert stats.loss(w, b, "half_mse") == pytest.approx(want / 2, rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_losses_of_many_rows_match_the_scalar_loss(kind: str) -> None:
    x, y, w, b = make_data(3, x_offset=50.0)
    stats = SufficientStats.from_data(x, y)
    thetas = np.random.default_rng(4).normal(size=(7, 4)) + np.append(w, b)
    expected = [stats.loss(t[:-1], float(t[-1]), kind) for t in thetas]
    np.testing.assert_allclose(stats.losses(thetas, kind), expected, rtol=1e-10)


def test_losses_overflow_to_inf_quietly() -> None:
    # Warnings fail the suite: parameters far out on huge data give inf, never a warning.
    stats = SufficientStats.from_data(np.array([[0.0], [3e99], [1.0]]), np.array([0.0, 0.0, 1.0]))
    thetas = np.array([[1e210, 0.0], [0.0, 1e300], [1.0, 0.0]])
    got = stats.losses(thetas, "half_mse")
    assert np.isinf(got[:2]).all() and np.isfinite(got[2])


def test_loss_scale_and_label() -> None:
    assert (loss_scale("mse"), loss_scale("half_mse")) == (1.0, 0.5)
    assert (loss_label("mse"), loss_label("half_mse")) == ("MSE", "½·MSE")
    for bad in (loss_scale, loss_label):
        with pytest.raises(ValueError, match="unknown loss kind 'mae'"):
            bad("mae")


def test_loss_is_never_negative_at_an_exact_fit() -> None:
    x, y, w, b = make_data(3, x_offset=1e4, noise=0.0)
    stats = SufficientStats.from_data(x, y)
    assert 0.0 <= stats.loss(w, b) < 1e-12


# --- gradient -------------------------------------------------------------------------------


@pytest.mark.parametrize("x_offset", [0.0, 50.0])
@pytest.mark.parametrize("kind", KINDS)
def test_gradient_matches_direct_formula(x_offset: float, kind: str) -> None:
    x, y, _, _ = make_data(4, x_offset=x_offset)
    stats = SufficientStats.from_data(x, y)
    rng = np.random.default_rng(5)
    w = rng.normal(size=3)
    b = float(rng.normal())
    scale = 1.0 if kind == "mse" else 0.5
    resid = x @ w + b - y
    want_w = scale * 2.0 * x.T @ resid / len(y)
    want_b = scale * 2.0 * float(resid.mean())
    grad_w, grad_b = stats.gradient(w, b, kind)
    np.testing.assert_allclose(grad_w, want_w, rtol=1e-9, atol=1e-9 * np.abs(want_w).max())
    assert grad_b == pytest.approx(want_b, rel=1e-9)
    grad_w_nb, grad_b_nb = stats.gradient(w, b, kind, fit_bias=False)
    np.testing.assert_allclose(grad_w_nb, grad_w)
    assert grad_b_nb == 0.0


@pytest.mark.parametrize("kind", KINDS)
def test_gradient_matches_finite_differences(kind: str) -> None:
    x, y, _, _ = make_data(6, d=4, x_offset=2.0)
    stats = SufficientStats.from_data(x, y)
    rng = np.random.default_rng(7)
    w = rng.normal(size=4)
    b = float(rng.normal())
    h = 1e-4
    grad_w, grad_b = stats.gradient(w, b, kind)
    for k in range(4):
        step = np.zeros(4)
        step[k] = h
        # The loss is quadratic, so central differences are exact up to rounding.
        fd = (stats.loss(w + step, b, kind) - stats.loss(w - step, b, kind)) / (2 * h)
        assert grad_w[k] == pytest.approx(fd, rel=1e-6, abs=1e-7)
    fd_b = (stats.loss(w, b + h, kind) - stats.loss(w, b - h, kind)) / (2 * h)
    assert grad_b == pytest.approx(fd_b, rel=1e-6, abs=1e-7)


def test_gradient_vanishes_at_least_squares_solution() -> None:
    x, y, _, _ = make_data(8, x_offset=1e3)
    stats = SufficientStats.from_data(x, y)
    w, b = least_squares(x, y)
    grad_w, grad_b = stats.gradient(w, b)
    scale = np.abs(stats.gradient(np.zeros(3), 0.0)[0]).max()
    assert np.abs(grad_w).max() < 1e-9 * scale
    assert abs(grad_b) < 1e-9 * scale


# --- loss_grid ------------------------------------------------------------------------------


@pytest.mark.parametrize(("i", "j"), [(0, 2), (2, 0), (1, 3), (3, 1)])
@pytest.mark.parametrize("kind", KINDS)
def test_loss_grid_matches_pointwise_loss(i: int, j: int, kind: str) -> None:
    x, y, _, _ = make_data(9, x_offset=100.0)
    stats = SufficientStats.from_data(x, y)
    w = np.array([0.3, -1.2, 0.8])
    b = 0.4
    ui = np.linspace(-2.0, 3.0, 7)
    vj = np.linspace(-1.0, 1.5, 5)
    grid = stats.loss_grid(w, b, i, j, ui, vj, kind)
    assert grid.shape == (5, 7)
    for row, v in enumerate(vj):
        for col, u in enumerate(ui):
            params = np.append(w, b)
            params[i] = u
            params[j] = v
            want = stats.loss(params[:3], params[3], kind)
            assert grid[row, col] == pytest.approx(want, rel=1e-10)
            assert grid[row, col] == pytest.approx(
                direct_loss(x, y, params[:3], params[3], kind), rel=1e-9
            )


@pytest.mark.parametrize(("i", "j"), [(0, 1), (0, 2), (2, 1)])
def test_loss_grid_argmin_is_next_to_least_squares(i: int, j: int) -> None:
    x, y, _, _ = make_data(10, d=2, x_offset=5.0)
    stats = SufficientStats.from_data(x, y)
    w, b = least_squares(x, y)
    best = np.append(w, b)
    ui = np.linspace(best[i] - 1.0, best[i] + 1.0, 401)
    vj = np.linspace(best[j] - 1.0, best[j] + 1.0, 301)
    grid = stats.loss_grid(w, b, i, j, ui, vj)
    row, col = np.unravel_index(np.argmin(grid), grid.shape)
    assert abs(ui[col] - best[i]) <= ui[1] - ui[0]
    assert abs(vj[row] - best[j]) <= vj[1] - vj[0]


def test_loss_grid_rejects_bad_indices() -> None:
    x, y, _, _ = make_data(11)
    stats = SufficientStats.from_data(x, y)
    axis = np.linspace(0.0, 1.0, 3)
    with pytest.raises(ValueError):
        stats.loss_grid(np.zeros(3), 0.0, 1, 1, axis, axis)
    with pytest.raises(ValueError):
        stats.loss_grid(np.zeros(3), 0.0, 0, 4, axis, axis)
    with pytest.raises(ValueError):
        stats.loss_grid(np.zeros(3), 0.0, -1, 0, axis, axis)


# --- least_squares --------------------------------------------------------------------------


@pytest.mark.parametrize("x_offset", [0.0, 1e4])
def test_least_squares_exact_on_nearly_collinear_columns(x_offset: float) -> None:
    rng = np.random.default_rng(13)
    n = 2000
    z = rng.normal(size=n)
    x = np.column_stack([z, z + 1e-3 * rng.normal(size=n), rng.normal(size=n)]) + x_offset
    assert np.corrcoef(x[:, 0], x[:, 1])[0, 1] > 0.999999
    w_true = np.array([2.0, -3.0, 0.5])
    b_true = 0.7
    # Noise-free targets, so (w_true, b_true) is the exact least-squares solution.
    y = x @ w_true + b_true
    w, b = least_squares(x, y)
    np.testing.assert_allclose(w, w_true, rtol=0, atol=1e-8)
    assert b == pytest.approx(b_true, abs=1e-6)
    # The naive normal equations on uncentred data lose most digits here.
    assert condition_number(SufficientStats.from_data(x - x.mean(axis=0), y)) > 1e6


def test_least_squares_condition_1e10() -> None:
    rng = np.random.default_rng(14)
    n = 2000
    z = rng.normal(size=n)
    x = np.column_stack([z, z + 1e-5 * rng.normal(size=n)])
    stats = SufficientStats.from_data(x, np.zeros(n))
    assert condition_number(stats) > 1e10
    w_true = np.array([1.5, -0.25])
    y = x @ w_true - 2.0
    w, b = least_squares(x, y)
    np.testing.assert_allclose(w, w_true, rtol=0, atol=1e-8)
    assert b == pytest.approx(-2.0, abs=1e-10)


def test_least_squares_without_bias() -> None:
    rng = np.random.default_rng(15)
    x = rng.normal(size=(300, 2)) + 3.0
    w_true = np.array([0.5, -1.5])
    w, b = least_squares(x, x @ w_true, fit_bias=False)
    np.testing.assert_allclose(w, w_true, rtol=1e-12)
    assert b == 0.0


@pytest.mark.parametrize("x_offset", [0.0, 1e3])
def test_least_squares_matches_polyfit(x_offset: float) -> None:
    rng = np.random.default_rng(16)
    x = x_offset + rng.uniform(-2.0, 2.0, size=200)
    y = 1.7 * x - 0.3 + rng.normal(scale=0.4, size=200)
    slope, intercept = np.polyfit(x, y, 1)
    w, b = least_squares(x[:, None], y)
    assert w.shape == (1,)
    assert w[0] == pytest.approx(slope, rel=1e-10)
    assert b == pytest.approx(intercept, rel=1e-10, abs=1e-10)


def test_least_squares_duplicate_column_gives_minimum_norm() -> None:
    rng = np.random.default_rng(17)
    z = rng.normal(size=100)
    x = np.column_stack([z, z])
    w, b = least_squares(x, 2.0 * z + 1.0)
    np.testing.assert_allclose(w, [1.0, 1.0], rtol=1e-10)
    assert b == pytest.approx(1.0)


# --- ridge ----------------------------------------------------------------------------------


@pytest.mark.parametrize("l2", [0.0, 1e-3, 0.1, 10.0])
@pytest.mark.parametrize("x_offset", [0.0, 1e3])
def test_ridge_zeroes_regularised_gradient(l2: float, x_offset: float) -> None:
    x, y, _, _ = make_data(18, x_offset=x_offset)
    stats = SufficientStats.from_data(x, y)
    w, b = ridge(stats, l2)
    grad_w, grad_b = stats.gradient(w, b)
    grad_w = grad_w + 2 * l2 * w
    grad_b = grad_b + 2 * l2 * b
    # Gradient scale at the origin, so "~0" is relative to the problem's size.
    g0_w, g0_b = stats.gradient(np.zeros(3), 0.0)
    scale = max(np.abs(g0_w).max(), abs(g0_b))
    assert np.abs(grad_w).max() < 1e-9 * scale
    assert abs(grad_b) < 1e-9 * scale


@pytest.mark.parametrize("l2", [0.0, 0.5])
def test_ridge_without_bias(l2: float) -> None:
    x, y, _, _ = make_data(19, x_offset=2.0)
    stats = SufficientStats.from_data(x, y)
    w, b = ridge(stats, l2, fit_bias=False)
    assert b == 0.0
    grad_w, _ = stats.gradient(w, 0.0, fit_bias=False)
    scale = np.abs(stats.gradient(np.zeros(3), 0.0)[0]).max()
    assert np.abs(grad_w + 2 * l2 * w).max() < 1e-10 * scale
    if l2 == 0.0:
        w_ls, _ = least_squares(x, y, fit_bias=False)
        np.testing.assert_allclose(w, w_ls, rtol=1e-8)


def test_ridge_at_zero_matches_least_squares() -> None:
    x, y, _, _ = make_data(20, x_offset=1e4)
    w_ls, b_ls = least_squares(x, y)
    w, b = ridge(SufficientStats.from_data(x, y), 0.0)
    np.testing.assert_allclose(w, w_ls, rtol=1e-9)
    assert b == pytest.approx(b_ls, rel=1e-9)


def test_ridge_shrinks_towards_zero() -> None:
    x, y, _, _ = make_data(21)
    stats = SufficientStats.from_data(x, y)
    norms = [np.linalg.norm(np.append(*ridge(stats, l2))) for l2 in (0.0, 0.1, 1.0, 100.0)]
    assert norms == sorted(norms, reverse=True)
    with pytest.raises(ValueError):
        ridge(stats, -1.0)


# --- hessian, max_stable_lr, condition_number -----------------------------------------------


def test_hessian_matches_finite_differences_of_gradient() -> None:
    x, y, _, _ = make_data(22, x_offset=1.5)
    stats = SufficientStats.from_data(x, y)
    p0 = np.array([0.2, -0.1, 0.4, 0.3])
    for kind in KINDS:
        h = hessian(stats, kind)
        for k in range(4):
            step = np.zeros(4)
            step[k] = 1.0
            plus = np.append(*stats.gradient((p0 + step)[:3], (p0 + step)[3], kind))
            minus = np.append(*stats.gradient(p0[:3], p0[3], kind))
            # The gradient is linear, so a unit step gives the Hessian column exactly.
            np.testing.assert_allclose(h[:, k], plus - minus, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        hessian(stats, "mse", l2=0.3, weight_decay=0.05), hessian(stats) + 0.65 * np.eye(4)
    )
    assert hessian(stats, fit_bias=False).shape == (3, 3)


def run_gd(
    x: np.ndarray,
    y: np.ndarray,
    lr: float,
    steps: int,
    kind: str,
    fit_bias: bool,
    l2: float,
    weight_decay: float,
) -> np.ndarray:
    """Plain full-batch gradient descent from zero; returns the loss at every step."""
    scale = 1.0 if kind == "mse" else 0.5
    w = np.zeros(x.shape[1])
    b = 0.0
    losses = np.empty(steps)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            resid = x @ w + b - y
            losses[t] = scale * np.mean(resid**2) + l2 * (w @ w + b * b)
            grad_w = scale * 2 * x.T @ resid / len(y) + 2 * l2 * w + weight_decay * w
            grad_b = scale * 2 * resid.mean() + 2 * l2 * b + weight_decay * b
            w = w - lr * grad_w
            if fit_bias:
                b = b - lr * grad_b
    return losses


@pytest.mark.parametrize(
    ("kind", "fit_bias", "l2", "weight_decay"),
    [
        ("mse", True, 0.0, 0.0),
        ("half_mse", True, 0.0, 0.0),
        ("mse", False, 0.0, 0.0),
        ("mse", True, 0.2, 0.0),
        ("half_mse", True, 0.0, 0.3),
    ],
)
def test_max_stable_lr_separates_convergence_from_divergence(
    kind: str, fit_bias: bool, l2: float, weight_decay: float
) -> None:
    x, y, _, _ = make_data(23, n=60, d=2, x_offset=1.0)
    stats = SufficientStats.from_data(x, y)
    lr = max_stable_lr(stats, kind, fit_bias, l2, weight_decay)
    assert 0 < lr < math.inf

    stable = run_gd(x, y, 0.99 * lr, 3000, kind, fit_bias, l2, weight_decay)
    assert np.all(np.isfinite(stable))
    assert stable[-1] < stable[0]
    # Converged: the last steps no longer change the loss.
    assert abs(stable[-1] - stable[-100]) <= 1e-10 * stable[0]
    if l2 == 0.0 and weight_decay == 0.0:
        w_ls, b_ls = least_squares(x, y, fit_bias=fit_bias)
        assert stable[-1] == pytest.approx(stats.loss(w_ls, b_ls, kind), rel=1e-8)

    unstable = run_gd(x, y, 1.01 * lr, 3000, kind, fit_bias, l2, weight_decay)
    assert not np.isfinite(unstable[-1]) or unstable[-1] > 1e6 * unstable[0]


def test_max_stable_lr_scales_with_kind() -> None:
    x, y, _, _ = make_data(24)
    stats = SufficientStats.from_data(x, y)
    assert max_stable_lr(stats, "half_mse") == pytest.approx(2 * max_stable_lr(stats, "mse"))


def test_max_stable_lr_infinite_for_zero_curvature() -> None:
    stats = SufficientStats.from_data(np.zeros((10, 2)), np.arange(10.0))
    assert max_stable_lr(stats, fit_bias=False) == math.inf
    assert condition_number(stats, fit_bias=False) == math.inf


def test_condition_number_grows_with_correlation() -> None:
    n = 5000
    base = standardised_uncorrelated(25, n, 2)
    conds = []
    for rho in (0.0, 0.5, 0.9, 0.99, 0.999):
        x = np.column_stack([base[:, 0], rho * base[:, 0] + math.sqrt(1 - rho**2) * base[:, 1]])
        cond = condition_number(SufficientStats.from_data(x, np.zeros(n)))
        conds.append(cond)
        # Correlation matrix eigenvalues are 1 + rho and 1 - rho; the bias adds eigenvalue 1.
        assert cond == pytest.approx((1 + rho) / (1 - rho), rel=1e-6)
    assert conds == sorted(conds)
    assert conds[-1] > 1000


@pytest.mark.parametrize("d", [1, 3, 8])
def test_condition_number_is_one_for_standardised_uncorrelated_features(d: int) -> None:
    x = standardised_uncorrelated(26, 1000, d)
    stats = SufficientStats.from_data(x, np.ones(1000))
    # With zero-mean unit-variance uncorrelated features the Hessian is 2 * identity.
    np.testing.assert_allclose(hessian(stats), 2 * np.eye(d + 1), atol=1e-12)
    assert condition_number(stats) == pytest.approx(1.0, abs=1e-10)
    assert condition_number(stats, fit_bias=False) == pytest.approx(1.0, abs=1e-10)


def test_condition_number_infinite_for_duplicate_columns() -> None:
    z = np.random.default_rng(27).normal(size=50)
    stats = SufficientStats.from_data(np.column_stack([z, z]), z)
    assert condition_number(stats) == math.inf


# --- from_data ------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk_rows", [1, 7, 100, 999, 1000, 5000])
def test_from_data_chunks_equal_one_shot(chunk_rows: int) -> None:
    x, y, _, _ = make_data(28, n=1000, d=4, x_offset=1e4)
    one = SufficientStats.from_data(x, y, chunk_rows=10**6)
    many = SufficientStats.from_data(x, y, chunk_rows=chunk_rows)
    assert many.n == one.n == 1000
    np.testing.assert_allclose(many.x_mean, one.x_mean, rtol=1e-14)
    assert many.y_mean == pytest.approx(one.y_mean, rel=1e-14)
    np.testing.assert_allclose(many.cxx, one.cxx, rtol=1e-11, atol=1e-11 * np.abs(one.cxx).max())
    np.testing.assert_allclose(many.cxy, one.cxy, rtol=1e-11, atol=1e-11 * np.abs(one.cxy).max())
    assert many.syy == pytest.approx(one.syy, rel=1e-11)


def test_from_data_matches_numpy_moments() -> None:
    x, y, _, _ = make_data(29, n=500, d=3, x_offset=1e6)
    stats = SufficientStats.from_data(x, y, chunk_rows=64)
    np.testing.assert_allclose(stats.x_mean, x.mean(axis=0), rtol=1e-15)
    joint = np.cov(np.column_stack([x, y]), rowvar=False, bias=True)
    np.testing.assert_allclose(stats.cxx, joint[:3, :3], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(stats.cxy, joint[:3, 3], rtol=1e-9, atol=1e-9)
    assert stats.syy == pytest.approx(joint[3, 3], rel=1e-9)
    np.testing.assert_array_equal(stats.cxx, stats.cxx.T)


def test_from_data_float32_input_accumulates_in_float64() -> None:
    x, y, _, _ = make_data(30, n=3000, d=2, x_offset=10.0)
    x32 = x.astype(np.float32)
    y32 = y.astype(np.float32)
    stats32 = SufficientStats.from_data(x32, y32, chunk_rows=256)
    stats64 = SufficientStats.from_data(x32.astype(np.float64), y32.astype(np.float64))
    assert stats32.cxx.dtype == np.float64
    np.testing.assert_allclose(stats32.cxx, stats64.cxx, rtol=1e-12)
    np.testing.assert_allclose(stats32.cxy, stats64.cxy, rtol=1e-12)
    assert stats32.syy == pytest.approx(stats64.syy, rel=1e-12)
    assert stats32.y_mean == pytest.approx(stats64.y_mean, rel=1e-14)


def test_from_data_does_not_copy_whole_array() -> None:
    rng = np.random.default_rng(31)
    n, d = 200_000, 16
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = rng.normal(size=n).astype(np.float32)
    tracemalloc.start()
    try:
        SufficientStats.from_data(x, y, chunk_rows=4096)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    full_float64_copy = n * d * 8
    assert peak < full_float64_copy / 4


def test_from_data_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        SufficientStats.from_data(np.zeros((0, 2)), np.zeros(0))
    with pytest.raises(ValueError):
        SufficientStats.from_data(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(ValueError):
        SufficientStats.from_data(np.array([[1.0], [np.nan]]), np.zeros(2))
    with pytest.raises(ValueError):
        SufficientStats.from_data(np.zeros((3, 1)), np.zeros(3)).loss(np.zeros(1), 0.0, "mae")


def test_stats_are_immutable() -> None:
    stats = SufficientStats.from_data(np.eye(3), np.arange(3.0))
    with pytest.raises(ValueError):
        stats.cxx[0, 0] = 5.0
    with pytest.raises(AttributeError):
        stats.n = 4  # type: ignore[misc]


# --- r2 and noise_floor ---------------------------------------------------------------------


def test_r2() -> None:
    y = np.array([1.0, 2.0, 4.0, 7.0])
    assert r2(y, y) == 1.0
    assert r2(y, np.full(4, y.mean())) == pytest.approx(0.0, abs=1e-15)
    pred = np.array([1.5, 2.0, 3.5, 7.0])
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    assert r2(y, pred) == pytest.approx(1 - 0.5 / ss_tot)
    assert math.isnan(r2(np.full(5, 3.0), np.arange(5.0)))


@pytest.mark.parametrize("kind", KINDS)
def test_noise_floor(kind: str) -> None:
    scale = 1.0 if kind == "mse" else 0.5
    assert noise_floor(0.0, kind) == 0.0
    assert noise_floor(0.3, kind) == pytest.approx(scale * 0.09)
    x, y, w, b = make_data(32, n=200_000, d=2, noise=0.3)
    stats = SufficientStats.from_data(x, y)
    # At the true parameters only the noise remains.
    assert stats.loss(w, b, kind) == pytest.approx(noise_floor(0.3, kind), rel=0.02)
    with pytest.raises(ValueError):
        noise_floor(-1.0)
