"""core.landscape: the landscape's grid, minimum, ranges, levels and arrows, without Qt."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from core.analysis import Objective, SufficientStats, least_squares
from core.landscape import (
    ARROW_FRACTION,
    COLOR_STEP,
    GRID,
    MARGIN,
    Curve,
    Grid,
    arrows,
    contour_levels,
    contour_segments,
    log_excess,
    objective_of,
    param_range,
    squared,
    stepped_color_range,
    trained_column,
    trained_theta,
)
from core.presets import preset_config
from core.runinfo import run_info
from core.trainer import Trainer

CASES = [
    # kind, l2 penalty, fit bias
    ("mse", 0.0, True),
    ("half_mse", 0.0, True),
    ("mse", 0.3, True),
    ("half_mse", 0.05, False),
]


def _data(seed: int = 0, n: int = 300, d: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = 2.0 + rng.normal(size=(n, d)) * rng.uniform(0.5, 2.0, d)
    y = x @ rng.normal(size=d) + 1.5 + 0.3 * rng.normal(size=n)
    return x, y


def _direct(
    x: np.ndarray, y: np.ndarray, theta: np.ndarray, kind: str, l2: float, fit_bias: bool
) -> float:
    """The objective computed from the data rows themselves."""
    r = x @ theta[:-1] + theta[-1] - y
    value = (0.5 if kind == "half_mse" else 1.0) * float(np.mean(r * r))
    params = theta if fit_bias else theta[:-1]
    return value + l2 * float(np.sum(params**2))


def _objective(kind: str, l2: float, fit_bias: bool) -> tuple[Objective, np.ndarray, np.ndarray]:
    x, y = _data()
    return Objective(SufficientStats.from_data(x, y), kind, l2, fit_bias), x, y


@pytest.mark.parametrize(("kind", "l2", "fit_bias"), CASES)
def test_grid_equals_the_objective_from_the_data_rows(kind: str, l2: float, fit_bias: bool) -> None:
    objective, x, y = _objective(kind, l2, fit_bias)
    held = np.array([0.4, -1.2, 0.7, 0.0 if not fit_bias else 2.0])
    pairs = [(0, 1), (2, 0)] + ([(1, 3), (3, 2)] if fit_bias else [])
    rng = np.random.default_rng(1)
    for i, j in pairs:
        ranges = ((-3.0, 4.0), (-2.0, 5.0))
        grid = Grid.compute(objective, held, (i, j), ranges, floor=0.0)
        assert grid.z.shape == (GRID, GRID)
        assert (grid.u[0], grid.u[-1], grid.v[0], grid.v[-1]) == (-3.0, 4.0, -2.0, 5.0)
        for row, col in [(0, 0), (GRID - 1, GRID - 1), *rng.integers(0, GRID, (6, 2))]:
            theta = held.copy()
            theta[i], theta[j] = grid.u[col], grid.v[row]
            want = _direct(x, y, theta, kind, l2, fit_bias)
            assert grid.z[row, col] == pytest.approx(want, rel=1e-10)
            assert objective.value(theta) == pytest.approx(want, rel=1e-10)


@pytest.mark.parametrize("fit_bias", [True, False])
def test_minimum_is_least_squares_without_a_penalty(fit_bias: bool) -> None:
    objective, x, y = _objective("mse", 0.0, fit_bias)
    w, b = least_squares(x, y, fit_bias)
    ols = np.append(w, b)
    # Given the least-squares fit it returns it; computed from the statistics it agrees.
    np.testing.assert_array_equal(objective.minimum(ols), ols)
    np.testing.assert_allclose(objective.minimum(), ols, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(objective.gradient(ols), 0.0, atol=1e-9)


@pytest.mark.parametrize(("kind", "l2", "fit_bias"), CASES)
def test_minimum_zeroes_the_objective_gradient(kind: str, l2: float, fit_bias: bool) -> None:
    objective, x, y = _objective(kind, l2, fit_bias)
    w, b = least_squares(x, y, fit_bias)
    best = objective.minimum(np.append(w, b))
    np.testing.assert_allclose(objective.gradient(best), 0.0, atol=1e-9)
    # Every nearby point is higher.
    for k, step in itertools.product(range(objective.n_params), (-1e-3, 1e-3)):
        moved = best.copy()
        moved[k] += step
        assert objective.value(moved) > objective.value(best)


@pytest.mark.parametrize(("kind", "l2", "fit_bias"), CASES)
def test_gradient_equals_finite_differences(kind: str, l2: float, fit_bias: bool) -> None:
    objective, _, _ = _objective(kind, l2, fit_bias)
    theta = np.array([0.3, -0.8, 1.1, 0.5 if fit_bias else 0.0])
    h = 1e-6
    numeric = np.zeros(4)
    for k in range(objective.n_params):
        up, down = theta.copy(), theta.copy()
        up[k] += h
        down[k] -= h
        numeric[k] = (objective.value(up) - objective.value(down)) / (2 * h)
    np.testing.assert_allclose(objective.gradient(theta), numeric, rtol=1e-6, atol=1e-8)
    for k in range(objective.n_params):
        # The objective is quadratic: its second difference is the curvature, exactly.
        up, down = theta.copy(), theta.copy()
        up[k] += 0.5
        down[k] -= 0.5
        second = (objective.value(up) - 2 * objective.value(theta) + objective.value(down)) / 0.25
        assert objective.curvature(k) == pytest.approx(second, rel=1e-7)


def test_arrows_are_the_scaled_finite_difference_descent_direction() -> None:
    objective, _, _ = _objective("half_mse", 0.1, True)
    theta = np.array([0.3, -0.8, 1.1, 0.5])
    h = 1e-6

    def numeric(k: int) -> float:
        up, down = theta.copy(), theta.copy()
        up[k] += h
        down[k] -= h
        return (objective.value(up) - objective.value(down)) / (2 * h)

    full = objective.gradient(theta)
    batch = 0.5 * full + np.array([0.3, -0.1, 0.2, 0.4])  # a noisier, shorter estimate
    spans = (4.0, 2.0)
    for pair in [(0, 3), (2, 1)]:
        i, j = pair
        a_full, a_batch = arrows([full, batch], pair, spans)
        assert a_full is not None and a_batch is not None
        # Minus the finite-difference gradient, projected on the pair, with one scale k > 0.
        k = a_full[0] / -numeric(i)
        assert k > 0 and a_full[1] == pytest.approx(-k * numeric(j), rel=1e-5)
        assert a_batch == pytest.approx((-k * batch[i], -k * batch[j]), rel=1e-5)
        longest = max(np.hypot(a[0] / spans[0], a[1] / spans[1]) for a in (a_full, a_batch))
        assert longest == pytest.approx(ARROW_FRACTION)
    # One parameter: along x only. Missing or non-finite gradients: no arrow.
    along = arrows([full, None, np.full(4, np.nan)], (1, 1), spans)
    assert along[0] is not None and along[0][1] == 0.0 and along[1:] == [None, None]
    assert arrows([np.zeros(4)], (0, 1), spans) == [None]


def test_levels_increase_and_the_colour_scale_spans_decades() -> None:
    objective, x, y = _objective("mse", 0.0, True)
    w, b = least_squares(x, y)
    best = np.append(w, b)
    floor = objective.value(best)
    grid = Grid.compute(objective, best, (0, 3), ((-2.0, 3.0), (-1.0, 4.0)), floor)
    assert np.all(np.diff(grid.levels) > 0)
    lo, hi = grid.color_range
    assert lo < grid.levels[0] and grid.levels[-1] < hi
    assert hi - lo == pytest.approx(4.0, abs=0.01)  # DECADES below the largest excess
    assert grid.segments[0].size > 0 and grid.segments[0].size % 2 == 0
    # A flat grid still gets a colour range and increasing levels.
    log, lo, hi = log_excess(np.full((3, 3), 2.0), 2.0)
    assert hi > lo and np.all(np.isfinite(log))
    assert np.all(np.diff(contour_levels(lo, hi)) > 0)


def test_contour_segments_lie_on_their_levels() -> None:
    u = np.linspace(-2.0, 2.0, 81)
    v = np.linspace(-2.0, 2.0, 81)
    z = u[None, :] ** 2 + v[:, None] ** 2
    levels = np.array([0.25, 1.0, 2.25])
    xs, ys = contour_segments(u, v, z, levels)
    assert xs.size > 0 and xs.size % 2 == 0
    radius = np.hypot(xs, ys)
    nearest = np.min(np.abs(radius[:, None] - np.sqrt(levels)[None, :]), axis=1)
    assert nearest.max() < 0.01
    for r in np.sqrt(levels):  # every level shows up
        assert np.any(np.abs(radius - r) < 0.01)
    assert contour_segments(u, v, z, np.array([100.0]))[0].size == 0


def test_param_range_holds_its_marks_with_margins_and_always_a_bowl() -> None:
    objective, x, y = _objective("mse", 0.0, True)
    w, b = least_squares(x, y)
    best = np.append(w, b)
    start = np.zeros(4)
    lo, hi = param_range(objective, 0, start, best, marks=[5.0, np.nan])
    marks = [0.0, best[0], 5.0]
    span = max(marks) - min(marks)
    assert (lo, hi) == pytest.approx((min(marks) - MARGIN * span, max(marks) + MARGIN * span))
    # Starting at the minimum: still a bowl, where the objective rises visibly.
    lo, hi = param_range(objective, 0, best, best)
    assert lo < best[0] < hi
    edge = best.copy()
    edge[0] = hi
    assert objective.value(edge) > 1.05 * objective.value(best)


def test_squared_axes_only_when_comparable() -> None:
    assert squared((0.0, 2.0), (0.0, 1.0)) == ((0.0, 2.0), (-0.5, 1.5))
    assert squared((0.0, 10.0), (0.0, 1.0)) == ((0.0, 10.0), (0.0, 1.0))


def test_curve_is_the_exact_quadratic_along_a_parameter() -> None:
    objective, _, _ = _objective("half_mse", 0.2, False)
    theta = np.array([0.3, -0.8, 1.1, 0.0])
    curve = Curve.compute(objective, theta, 1, (-2.0, 2.0))
    for t in (-2.0, 0.37, 2.0):
        moved = theta.copy()
        moved[1] = t
        assert float(curve.at(t)) == pytest.approx(objective.value(moved), rel=1e-10)
    lo, hi = curve.y_range()
    assert lo <= 0.0 and hi > curve.z.max()


def test_run_space_conversions_match_the_dataset() -> None:
    config = preset_config("d2l-concise-3").with_value("data.standardize", True)
    trainer = Trainer(config.with_value("train.implementation", "numpy"))
    trainer.run_steps(30)
    info, snap = run_info(trainer), trainer.snapshot()
    ds = trainer.dataset
    trained = ds.to_trained(snap.param_values)
    for k in range(4):
        column = trained_column(snap.param_values, k, info.shift, info.scale)
        np.testing.assert_allclose(column, trained[:, k], rtol=1e-12)
    assert trained_column(np.zeros((3, 2)), 0, info.shift, info.scale).size == 0
    np.testing.assert_allclose(
        trained_theta(info.true_theta, info.shift, info.scale), ds.to_trained(info.true_theta)
    )
    objective = objective_of(info)
    assert (objective.kind, objective.fit_bias, objective.n_params) == ("mse", True, 4)
    assert objective.value(snap.theta_trained) == pytest.approx(trainer.train_loss(), rel=1e-12)
    with pytest.raises(ValueError, match="statistics"):
        objective_of(type(info)(**{**info.__dict__, "stats": None}))


def test_the_colour_scale_moves_in_steps_of_a_quarter_decade() -> None:
    """A slightly moved grid (a drag) keeps the scale's ends: its bar is not relabelled."""
    assert stepped_color_range((-1.3, 2.7)) == (-1.5, 2.75)
    # Both ends move within their steps (a drag changes the span too): the same scale.
    assert stepped_color_range((-1.28, 2.72)) == stepped_color_range((-1.33, 2.63))
    assert stepped_color_range((-2.0, 2.0)) == (-2.0, 2.0)  # on a step: as it is
    lo, hi = stepped_color_range((-3.01, 0.99))
    assert (lo, hi) == (-3.25, 1.0) and -3.01 - lo < COLOR_STEP and hi - 0.99 < COLOR_STEP
    inf = (-math.inf, math.inf)
    assert stepped_color_range(inf) == inf
