"""Why a run converges: the Hessian's eigen-directions, the rates gradient descent predicts
along them, and the cloud of minibatch gradients.

Everything is in trained units (after any standardisation), over the parameters the model
trains: [w..., b] with a fitted bias, w alone without. Parameter rows handed in are [w..., b]
(the history's layout, converted to trained units); a bias that is not fitted is ignored.

Gradient descent on a quadratic moves each eigen-direction on its own: with full batches, the
error e_i = <theta - theta*, v_i> follows e_i(t+1) = (1 - lr * lambda_i) e_i(t), so
|e_i(t)| = |1 - lr * lambda_i|^t |e_i(0)|. Heavy-ball momentum (torch's SGD with momentum mu:
v <- mu v + g, theta <- theta - lr v) makes each direction a two-term recursion
e(t+1) = (1 + mu - lr lambda) e(t) - mu e(t-1), whose rate is the larger root of
z^2 - (1 + mu - lr lambda) z + mu = 0 in modulus; Nesterov's has its own pair of roots.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from core.analysis import SufficientStats, hessian, loss_scale, minibatch_gradients, ridge

if TYPE_CHECKING:  # the window imports this module before torch has loaded
    from core.trainer import Trainer

__all__ = [
    "RATE_OPTIMIZERS",
    "Eigen",
    "distinct_rows",
    "eigen_directions",
    "eigen_errors",
    "eigen_history",
    "gd_rate_curves",
    "gradient_cloud",
    "gradient_noise_covariance",
    "minibatch_gradients",
    "predicted_errors",
    "rate_per_step",
    "run_eigen",
    "step_matrices",
    "trained_rows",
]

# Optimizers whose full-batch dynamics on a quadratic are linear: the rates apply to them.
RATE_OPTIMIZERS = ("sgd", "momentum", "nesterov")


@dataclass(frozen=True, eq=False)
class Eigen:
    """The training objective's Hessian, eigen-decomposed, and the point gradient descent
    converges to (the minimum of loss + L2 penalty, with any weight decay)."""

    eigenvalues: np.ndarray  # (p,) ascending
    eigenvectors: np.ndarray  # (p, p): column i is the direction of eigenvalues[i]
    theta_star: np.ndarray  # (d + 1,) [w..., b]; b = 0 without a fitted bias

    @property
    def condition_number(self) -> float:
        """lambda_max / lambda_min (inf when the smallest is zero or below rounding)."""
        lam = self.eigenvalues
        if lam[-1] <= 0.0 or lam[0] <= lam[-1] * lam.size * np.finfo(np.float64).eps:
            return float("inf")
        return float(lam[-1] / lam[0])


def eigen_directions(
    stats: SufficientStats,
    kind: str = "mse",
    fit_bias: bool = True,
    l2: float = 0.0,
    weight_decay: float = 0.0,
) -> Eigen:
    """Eigenvalues (ascending) and eigenvectors of the objective's Hessian, and its minimum."""
    h = hessian(stats, kind, fit_bias, l2, weight_decay)  # type: ignore[arg-type]
    lam, vec = np.linalg.eigh(h)
    # Gradient descent stops where 2c (E[xx] theta - E[xy]) + (2 l2 + wd) theta = 0: the
    # ridge solution of mse + (l2 + wd / 2) / c * |theta|^2.
    w, b = ridge(stats, (l2 + weight_decay / 2.0) / loss_scale(kind), fit_bias)
    for arr in (lam, vec):
        arr.setflags(write=False)
    star = np.append(w, b)
    star.setflags(write=False)
    return Eigen(lam, vec, star)


def _trained(theta: np.ndarray, p: int) -> np.ndarray:
    """The trained parameters of [w..., b] rows: all of them, or w alone without a bias."""
    return np.asarray(theta, dtype=np.float64)[..., :p]


def trained_rows(params: np.ndarray, shift: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Rows [w..., b] in the data's original units (the history's, a snapshot's) converted to
    trained units, for a model that saw (x - shift) / scale (RunInfo.shift, RunInfo.scale)."""
    params = np.asarray(params, dtype=np.float64)
    w = params[..., :-1]
    b = params[..., -1] + w @ np.asarray(shift, dtype=np.float64)
    return np.concatenate([w * scale, b[..., None]], axis=-1)


def eigen_errors(thetas: np.ndarray, theta_star: np.ndarray, eigvecs: np.ndarray) -> np.ndarray:
    """|<theta - theta*, v_i>| for each row theta = [w..., b] (m, p): the error along each
    eigen-direction, columns in the order of eigvecs' columns."""
    p = eigvecs.shape[0]
    thetas = np.atleast_2d(np.asarray(thetas, dtype=np.float64))
    with np.errstate(over="ignore", invalid="ignore"):  # a diverged row: inf, quietly
        return np.abs((_trained(thetas, p) - _trained(theta_star, p)) @ eigvecs)


def step_matrices(
    eigvals: np.ndarray, lr: float, optimizer: str = "sgd", momentum: float = 0.0
) -> np.ndarray:
    """Per direction, the 2x2 matrix taking (error, velocity) over one full-batch step, (p,2,2).

    torch's SGD: v <- mu v + g, then theta <- theta - lr v (heavy ball) or
    theta <- theta - lr (g + mu v) (Nesterov); g = lambda e along an eigen-direction. Plain
    SGD is mu = 0."""
    lam = np.asarray(eigvals, dtype=np.float64)
    if optimizer not in RATE_OPTIMIZERS:
        raise ValueError(f"no linear rate for optimizer {optimizer!r}")
    mu = 0.0 if optimizer == "sgd" else float(momentum)
    # e' = e - a lambda e - beta v, v' = lambda e + mu v.
    a, beta = (lr * (1.0 + mu), lr * mu * mu) if optimizer == "nesterov" else (lr, lr * mu)
    out = np.empty((lam.size, 2, 2))
    out[:, 0, 0] = 1.0 - a * lam
    out[:, 0, 1] = -beta
    out[:, 1, 0] = lam
    out[:, 1, 1] = mu
    return out


def rate_per_step(
    eigvals: np.ndarray, lr: float, optimizer: str = "sgd", momentum: float = 0.0
) -> np.ndarray:
    """The factor by which full-batch gradient descent shrinks each direction's error per step
    in the long run: |1 - lr lambda| for SGD, the larger root's modulus with momentum (nan for
    optimizers whose steps are not linear, such as Adam)."""
    lam = np.asarray(eigvals, dtype=np.float64)
    if optimizer not in RATE_OPTIMIZERS:
        return np.full(lam.shape, np.nan)
    if optimizer == "sgd" or momentum == 0.0:
        return np.abs(1.0 - lr * lam)
    return np.abs(np.linalg.eigvals(step_matrices(lam, lr, optimizer, momentum))).max(axis=1)


def gd_rate_curves(
    e0: np.ndarray,
    eigvals: np.ndarray,
    lr: float,
    steps: np.ndarray,
    optimizer: str = "sgd",
    momentum: float = 0.0,
) -> np.ndarray:
    """|e_i(0)| * rate_i ** t at each of steps (len(steps), p): the rate line drawn beside each
    direction's measured error (exact for plain full-batch gradient descent)."""
    rho = rate_per_step(eigvals, lr, optimizer, momentum)
    t = np.asarray(steps, dtype=np.float64)[:, None]
    with np.errstate(under="ignore", over="ignore"):
        return np.abs(np.asarray(e0, dtype=np.float64))[None, :] * rho[None, :] ** t


def predicted_errors(
    e0: np.ndarray,
    eigvals: np.ndarray,
    lrs: np.ndarray,
    optimizer: str = "sgd",
    momentum: float = 0.0,
) -> np.ndarray:
    """Full-batch gradient descent's error along each direction after 0..len(lrs) steps, the
    k-th step at rate lrs[k - 1] (a schedule), from signed errors e0 (len(lrs) + 1, p): exact
    on a quadratic, the velocity starting at zero as torch's does."""
    lam = np.asarray(eigvals, dtype=np.float64)
    e = np.asarray(e0, dtype=np.float64).copy()
    v = np.zeros_like(e)
    lrs = np.asarray(lrs, dtype=np.float64).reshape(-1)
    out = np.empty((lrs.size + 1, lam.size))
    out[0] = np.abs(e)
    if optimizer not in RATE_OPTIMIZERS:
        out[1:] = np.nan
        return out
    mu = 0.0 if optimizer == "sgd" else float(momentum)
    with np.errstate(over="ignore", invalid="ignore"):
        for k, lr in enumerate(lrs):
            g = lam * e
            v = mu * v + g
            e = e - lr * (g + mu * v) if optimizer == "nesterov" else e - lr * v
            out[k + 1] = np.abs(e)
    return out


# ---- minibatch gradients --------------------------------------------------------------------


def _design(x: np.ndarray, fit_bias: bool) -> np.ndarray:
    """Rows [x, 1] (or x) in float64."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    return np.hstack([x, np.ones((x.shape[0], 1))]) if fit_bias else x


def gradient_cloud(
    x: np.ndarray,
    y: np.ndarray,
    theta: np.ndarray,
    batch_size: int,
    n: int,
    rng: np.random.Generator,
    kind: str = "mse",
    fit_bias: bool = True,
    l2: float = 0.0,
    replacement: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n minibatch gradients at theta, drawn as training draws its batches (with replacement,
    or batch_size distinct rows), with their mean and covariance: (grads (n, d+1), mean, cov)."""
    n_rows = np.asarray(y).shape[0]
    b = min(operator.index(batch_size), n_rows)
    n = operator.index(n)
    if n < 2:
        raise ValueError(f"a cloud needs at least 2 gradients, got {n}")
    rows = rng.integers(0, n_rows, size=(n, b)) if replacement else distinct_rows(rng, n_rows, b, n)
    grads = minibatch_gradients(x, y, theta, rows, kind, fit_bias, l2)
    return grads, grads.mean(axis=0), np.cov(grads, rowvar=False)


def distinct_rows(rng: np.random.Generator, n_rows: int, b: int, n: int) -> np.ndarray:
    """n draws (n, b) of b distinct rows of n_rows each, every ordered choice equally likely
    (as rng.choice(n_rows, b, replace=False) draws them, in another order of the stream)."""
    if b * b > n_rows:
        # Repeats would be common: draw each without replacement (n is small here, the cloud
        # of a large batch holds few gradients).
        return np.stack([rng.choice(n_rows, b, replace=False) for _ in range(n)])
    # With b^2 <= n_rows, at least ~60% of draws with replacement have no repeat: draw all at
    # once and draw again the few that do (rejection keeps every distinct choice equally likely).
    rows = rng.integers(0, n_rows, size=(n, b))
    while b > 1:
        ordered = np.sort(rows, axis=1)
        again = np.flatnonzero((ordered[:, 1:] == ordered[:, :-1]).any(axis=1))
        if again.size == 0:
            break
        rows[again] = rng.integers(0, n_rows, size=(again.size, b))
    return rows


def gradient_noise_covariance(
    x: np.ndarray,
    y: np.ndarray,
    theta: np.ndarray,
    batch_size: int,
    kind: str = "mse",
    fit_bias: bool = True,
    replacement: bool = True,
) -> np.ndarray:
    """The exact covariance of a minibatch gradient [w..., b] at theta, (d+1, d+1): the
    per-row gradients' covariance over the batch size, times (N - B) / (N - 1) when a batch
    holds distinct rows. (The L2 penalty's gradient is the same for every batch.)"""
    theta = np.asarray(theta, dtype=np.float64)
    d = theta.size - 1
    p = d + 1 if fit_bias else d
    xa = _design(x, fit_bias)
    n_rows = xa.shape[0]
    b = min(operator.index(batch_size), n_rows)
    u = xa * ((xa @ theta[:p] - np.asarray(y, dtype=np.float64)) * 2.0 * loss_scale(kind))[:, None]
    u -= u.mean(axis=0)
    per_row = u.T @ u / n_rows
    # Distinct rows: the finite-population correction (N - B) / (N - 1).
    fpc = 1.0 if replacement else (n_rows - b) / (n_rows - 1) if n_rows > 1 else 0.0
    factor = fpc / b
    out = np.zeros((d + 1, d + 1))
    out[:p, :p] = per_row * factor
    return out


# ---- a run's eigen-directions -------------------------------------------------------------


def run_eigen(trainer: Trainer) -> Eigen:
    """The eigen-directions of a run's objective (its loss, L2 penalty and weight decay)."""
    t = trainer.config.train
    return eigen_directions(
        trainer.stats, t.loss, trainer.config.model.fit_bias, t.l2_penalty, t.weight_decay
    )


def eigen_history(trainer: Trainer, eigen: Eigen | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The recorded steps and the error along each eigen-direction at each (ascending
    eigenvalue order): (steps (m,), errors (m, p))."""
    eigen = run_eigen(trainer) if eigen is None else eigen
    steps, _, params = trainer.history.steps()
    thetas = trainer.dataset.to_trained(params) if trainer.dataset.standardized else params
    return steps, eigen_errors(thetas, eigen.theta_star, eigen.eigenvectors)
