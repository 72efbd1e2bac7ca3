"""Seeds of one configuration against least squares' sampling ellipse.

With the features held (a fixed design) and the noise redrawn, the least-squares estimate of
y = X~ theta + noise (X~ = [X, 1] with a bias) is normal around the true parameters with
covariance sigma^2 (X~^T X~)^-1. Runs trained to convergence land where least squares does, so
the final parameters of N seeds should scatter like that: about 95 % inside the 95 % ellipse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.config import Config
from core.data import make_dataset
from core.errors import UserInputError
from core.sweep import Axis, SweepPlan

LEVEL = 0.95
MIN_SEEDS = 2


def fixed_design(config: Config) -> Config:
    """config with a noise seed (0 unless it has one), so seeds redraw only the noise."""
    if config.data.noise_seed is not None:
        return config
    return config.with_value("data.noise_seed", 0)


def check_seedable(config: Config) -> None:
    """Raise UserInputError unless seeds of config redraw noise the ellipse describes."""
    if config.data.csv_path:
        raise UserInputError("the seeds view needs generated data: a file's noise is fixed")
    if not config.data.noise_std > 0:
        raise UserInputError("the seeds view needs noisy data (data.noise_std > 0)")


def seeds_plan(config: Config, seeds: int) -> SweepPlan:
    """One cell (the configuration itself) over seeds noise seeds, features held."""
    check_seedable(config)
    if seeds < MIN_SEEDS:
        raise UserInputError(f"the seeds view needs at least {MIN_SEEDS} seeds, got {seeds}")
    base = fixed_design(config)
    axis = Axis("train.lr", (base.train.lr,), repr(base.train.lr))
    return SweepPlan(base, [axis], seeds=seeds)


def chi2_2(level: float) -> float:
    """The level quantile of the chi-square distribution with 2 degrees of freedom."""
    return -2.0 * math.log1p(-level)


def sampling_covariance(config: Config) -> tuple[np.ndarray, np.ndarray]:
    """The true parameters [w..., b] and sigma^2 (X~^T X~)^-1 in original units (the bias's
    row and column zero without a bias term)."""
    ds = make_dataset(config.data, dtype="float64")
    x = ds.x_train * ds.scale + ds.shift
    d = x.shape[1]
    design = np.column_stack([x, np.ones(x.shape[0])]) if config.model.fit_bias else x
    inv = np.linalg.pinv(design.T @ design)
    cov = np.zeros((d + 1, d + 1))
    p = design.shape[1]
    cov[:p, :p] = config.data.noise_std**2 * inv
    true = ds.true_theta()
    assert true is not None  # generated data
    if not config.model.fit_bias:
        true = true.copy()
        true[-1] = 0.0
    return true, cov


def ellipse(center: np.ndarray, cov: np.ndarray, level: float = LEVEL, points: int = 240):
    """Points (points, 2) on the level ellipse of a 2-D normal with this center and covariance."""
    lam, vec = np.linalg.eigh(cov)
    radius = math.sqrt(chi2_2(level))
    t = np.linspace(0.0, 2.0 * math.pi, points)
    circle = np.stack([np.cos(t), np.sin(t)])
    return (center[:, None] + vec @ (np.sqrt(np.maximum(lam, 0.0))[:, None] * circle) * radius).T


def share_inside(
    points: np.ndarray, center: np.ndarray, cov: np.ndarray, level: float = LEVEL
) -> float:
    """The share of 2-D points inside the level ellipse (Mahalanobis distance)."""
    diff = np.asarray(points, dtype=np.float64) - center
    inv = np.linalg.pinv(cov)
    dist = np.einsum("ki,ij,kj->k", diff, inv, diff)
    return float(np.mean(dist <= chi2_2(level))) if len(diff) else math.nan


@dataclass(frozen=True)
class SeedSpread:
    """Final parameters of N seeds, the sampling ellipse of a pair of them, the share inside."""

    names: tuple[str, ...]  # parameter names, [w..., b]
    thetas: np.ndarray  # (N, d + 1) final parameters, original units
    diverged: np.ndarray  # (N,) bool
    true_theta: np.ndarray
    cov: np.ndarray  # sigma^2 (X~^T X~)^-1, original units
    pair: tuple[int, int]
    inside: float  # share of the converged seeds inside the 95 % ellipse of the pair

    def pair_cov(self) -> np.ndarray:
        """The 2x2 covariance of the pair."""
        i, j = self.pair
        return self.cov[np.ix_([i, j], [i, j])]

    def pair_points(self) -> np.ndarray:
        """The seeds' final values of the pair (N, 2)."""
        return self.thetas[:, list(self.pair)]

    def text(self) -> str:
        """One line: the share inside the ellipse."""
        n = int((~self.diverged).sum())
        names = " and ".join(self.names[k] for k in self.pair)
        return (
            f"{100 * self.inside:.1f}% of {n} seeds inside the 95% sampling ellipse of "
            f"{names} (σ²(XᵀX)⁻¹)"
        )


def default_pair(config: Config) -> tuple[int, int]:
    """The first weight and the bias (or the first two weights without a bias)."""
    d = config.n_features
    if config.model.fit_bias or d < 2:
        return (0, d)
    return (0, 1)


def seed_spread(
    config: Config, thetas: np.ndarray, diverged: np.ndarray, pair: tuple[int, int] | None = None
) -> SeedSpread:
    """The spread of seeds' final parameters (original units) against the ellipse."""
    check_seedable(config)
    base = fixed_design(config)
    true, cov = sampling_covariance(base)
    pair = pair or default_pair(base)
    d = base.n_features
    names = (*(f"w{k + 1}" if d > 1 else "w" for k in range(d)), "b")
    ok = ~np.asarray(diverged, dtype=bool)
    thetas = np.asarray(thetas, dtype=np.float64)
    i, j = pair
    inside = share_inside(thetas[ok][:, [i, j]], true[[i, j]], cov[np.ix_([i, j], [i, j])])
    return SeedSpread(names, thetas, ~ok, true, cov, pair, inside)
