"""The loss SGD settles at with a constant learning rate, predicted from the data.

With a constant rate, minibatch SGD never reaches the minimum theta*: each step's gradient is
the full gradient plus noise, and the parameters wander around theta* with a stationary spread.
The training loss then sits above its minimum by, on average,

    E[L(theta)] - L(theta*) = 1/2 tr(H_L S),     S = E[(theta - theta*)(theta - theta*)^T],

exactly, since the loss is quadratic and the mean error is zero (H_L: the loss's Hessian).
`predicted_excess_loss` solves for S exactly, for batches drawn with replacement.

The recursion. With a batch of B rows drawn independently (uniformly, with replacement), the
error e = theta - theta* takes the step e' = (I - lr A) e - lr b, where A is the batch mean of
the per-row Hessians 2c x x^T (+ the penalty's, a constant) and b the batch mean of the per-row
gradients at theta*, 2c x (x^T theta* - y) (+ the penalty's). Both are random; E[A] = H and
E[b] = 0. Since the batch is independent of e and E[e] = 0 in the stationary regime,

    S = E[(I - lr A) S (I - lr A)^T] + lr^2 E[b b^T]
      = (I - lr H) S (I - lr H) + (lr^2 / B) (N(S) + Sigma),

    N(S)  = E[(D - G) S (D - G)] * 4c^2,  D = x x^T per row, G = E[x x^T]  (multiplicative noise)
    Sigma = Cov(2c x r) per row, r = x^T theta* - y                       (additive noise)

N(S) needs the data's fourth moments E[(x^T S x) x x^T]: that is the part the first-order
formula sum_i lr sigma^2 lambda_i / (B (2 - lr lambda_i)) leaves out (it keeps the additive
noise alone, and takes Sigma = 2c sigma^2 H). In the eigenbasis of H the deterministic part is
diagonal, S_ij = kappa_ij (N(S) + Sigma)_ij with kappa_ij = lr / (B (lambda_i + lambda_j -
lr lambda_i lambda_j)), and the linear equation S = kappa o (N(S) + Sigma) is solved by GMRES
(N applied through the fourth-moment tensor, computed once, for up to MOMENT_TENSOR_MAX_Q
directions; by two passes over the rows beyond).
Heavy-ball and Nesterov momentum add a velocity to the state; each pair of directions then
has a 2x2 block whose stationary covariance gives kappa_ij (the same equation, other kappa).

Assumptions (say so where the prediction is shown):
- batches drawn with replacement, independent from step to step (train.sampling = replacement;
  an epoch's last, smaller batch counts through the mean of 1 / batch size over an epoch);
- a constant learning rate, long after the transient (the stationary regime);
- the arithmetic is exact (float32 rounding adds its own floor);
- plain SGD or SGD with (Nesterov) momentum; adaptive optimizers get no prediction (None).
The training set is the population: the moments are the training rows' own, so nothing is
assumed about how the data was generated. With more rows than a budget, the fourth moments and
the noise come from an evenly strided subset of rows (see predicted_excess_loss).
If the equation has no positive semi-definite solution, SGD's spread grows without bound
(it is unstable in mean square even where full-batch descent is stable): the prediction is inf.
Near that edge the loss has heavy tails: the prediction is still the mean, but a measured
average converges slowly, typically from below (many steps are needed to meet the rare large
excursions that carry much of the mean).
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from core.analysis import SufficientStats, loss_scale, ridge
from core.theory import RATE_OPTIMIZERS, eigen_directions, step_matrices

if TYPE_CHECKING:
    from core.config import TrainConfig
    from core.data import Dataset
    from core.trainer import Trainer

__all__ = [
    "Plateau",
    "fourth_moments",
    "mean_inverse_batch",
    "noise_rows",
    "predicted_excess_loss",
    "run_plateau",
    "sgd_plateau",
]

_EPS = float(np.finfo(np.float64).eps)
# Rows x (directions)^2 per application of N(S): bounds the cost of one solver iteration.
MAX_NOISE_VALUES = 1 << 22
MIN_NOISE_ROWS = 4096
# Up to this many directions N(S) goes through the data's fourth-moment tensor (q^4 numbers).
MOMENT_TENSOR_MAX_Q = 6


@dataclass(frozen=True)
class Plateau:
    """Where SGD's training loss settles, above the least-squares loss."""

    excess: float  # expected loss above the least-squares loss (inf: the spread diverges)
    additive: float  # the same without the multiplicative noise (the first-order formula)
    bias: float  # the part owed to the penalty alone: L(theta*) - L(least squares)
    rows_used: int  # training rows the noise moments came from (all, or a subset)


def mean_inverse_batch(n_rows: int, batch_size: int) -> float:
    """The mean of 1 / (rows in a batch) over an epoch's batches (the last may be smaller)."""
    b = min(operator.index(batch_size), n_rows)
    full, rest = divmod(n_rows, b)
    return (full / b + (1.0 / rest if rest else 0.0)) / (full + (1 if rest else 0))


def noise_rows(n: int, eigenvalues: np.ndarray, max_rows: int | None = None) -> np.ndarray:
    """The training rows sgd_plateau takes the noise's moments from, for an objective with
    these Hessian eigenvalues: all n, or an evenly strided subset past the budget. A caller
    holding those rows only (a window) passes them with n_rows=n and gets the same plateau."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    # Directions without curvature have no data along them either: no noise moves them.
    q = int((lam > max(lam[-1], 0.0) * lam.size * _EPS).sum()) if lam.size else 0
    budget = (
        max(MIN_NOISE_ROWS, MAX_NOISE_VALUES // max(q * q, 1)) if max_rows is None else max_rows
    )
    if n > budget:
        # Evenly strided: representative of a file sorted by any column too, and cheap.
        return np.linspace(0, n - 1, budget).round().astype(np.int64)
    return np.arange(n)


def _kappa(lam: np.ndarray, lr: float, inv_b: float, optimizer: str, mu: float) -> np.ndarray:
    """kappa_ij: the stationary covariance of directions i and j per unit of shared noise."""
    if optimizer == "sgd" or mu == 0.0:
        # lr^2 / (1 - (1 - lr li)(1 - lr lj)), written without the cancellation.
        return lr * inv_b / (lam[:, None] + lam[None, :] - lr * lam[:, None] * lam[None, :])
    f = step_matrices(lam, lr, optimizer, mu)  # (q, 2, 2) on (error, velocity)
    q = lam.size
    a = lr * (1.0 + mu) if optimizer == "nesterov" else lr
    w = np.array([-a, 1.0])  # how a gradient's noise enters (error, velocity)
    # Block (i, j) of the state covariance: X = F_i X F_j^T + w w^T, i.e. with column-major
    # vec, (I - F_j kron F_i) vec(X) = vec(w w^T).
    kron = np.einsum("jab,icd->ijacbd", f, f).reshape(q, q, 4, 4)
    rhs = np.outer(w, w).reshape(-1, order="F")
    sol = np.linalg.solve(np.eye(4) - kron, np.broadcast_to(rhs, (q, q, 4))[..., None])
    return inv_b * sol[:, :, 0, 0]


def fourth_moments(z: np.ndarray, chunk: int = 1 << 16) -> np.ndarray:
    """The rows' mean of z_a z_b z_k z_l, (q, q, q, q), a chunk of rows at a time."""
    m, q = z.shape
    total = np.zeros((q * q, q * q))
    for start in range(0, m, chunk):
        part = z[start : start + chunk]
        pairs = (part[:, :, None] * part[:, None, :]).reshape(-1, q * q)
        total += pairs.T @ pairs
    return (total / max(m, 1)).reshape(q, q, q, q)


def _gmres(apply, rhs: np.ndarray, tol: float = 1e-13, restart: int = 40, rounds: int = 25):
    """x with apply(x) = rhs (restarted GMRES on flat vectors); also whether it converged."""
    x = np.zeros_like(rhs)
    scale = float(np.linalg.norm(rhs))
    if scale == 0.0:
        return x, True
    for _ in range(rounds):
        r = rhs - apply(x)
        beta = float(np.linalg.norm(r))
        if beta <= tol * scale:
            return x, True
        basis = [r / beta]
        hess = np.zeros((restart + 1, restart))
        for j in range(restart):
            v = apply(basis[j])
            for i in range(j + 1):  # modified Gram-Schmidt
                hess[i, j] = float(basis[i] @ v)
                v -= hess[i, j] * basis[i]
            hess[j + 1, j] = float(np.linalg.norm(v))
            e1 = np.zeros(j + 2)
            e1[0] = beta
            y = np.linalg.lstsq(hess[: j + 2, : j + 1], e1)[0]
            left = float(np.linalg.norm(hess[: j + 2, : j + 1] @ y - e1))
            if hess[j + 1, j] <= tol * beta or left <= tol * scale:
                break
            basis.append(v / hess[j + 1, j])
        x = x + np.stack(basis[: y.size], axis=1) @ y
    return x, float(np.linalg.norm(rhs - apply(x))) <= 1e-8 * scale


def sgd_plateau(
    x: np.ndarray,
    y: np.ndarray,
    lr: float,
    batch_size: int,
    kind: str = "mse",
    fit_bias: bool = True,
    l2: float = 0.0,
    weight_decay: float = 0.0,
    optimizer: str = "sgd",
    momentum: float = 0.0,
    max_rows: int | None = None,
    stats: SufficientStats | None = None,
    n_rows: int | None = None,
) -> Plateau | None:
    """Where SGD with batches drawn with replacement settles at this constant rate (None for
    optimizers without a linear step). See the module's docstring for what it assumes.
    n_rows: the training set's size when x, y are the rows noise_rows picked from it (stats
    must then be the whole set's)."""
    if optimizer not in RATE_OPTIMIZERS:
        return None
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    n = y.size if n_rows is None else operator.index(n_rows)
    stats = SufficientStats.from_data(x, y) if stats is None else stats
    eig = eigen_directions(stats, kind, fit_bias, l2, weight_decay)
    lam, vec = eig.eigenvalues, eig.eigenvectors
    p = lam.size
    star = eig.theta_star[:p]
    c = loss_scale(kind)
    lam_p = 2.0 * l2 + weight_decay
    bias = 0.0
    if l2 or weight_decay:
        ols_w, ols_b = ridge(stats, 0.0, fit_bias)
        bias = max(stats.loss(star[: stats.n_features], eig.theta_star[-1], kind) -
                   stats.loss(ols_w, ols_b, kind), 0.0)  # fmt: skip
    # Directions without curvature have no data along them either: no noise moves them.
    keep = lam > max(lam[-1], 0.0) * p * _EPS
    q = int(keep.sum())
    rows = noise_rows(n, lam, max_rows) if n_rows is None else np.arange(y.size)
    if q == 0 or lr == 0.0:
        return Plateau(bias, bias, bias, rows.size)
    xs = np.asarray(x)[rows]
    xs = np.asarray(xs, dtype=np.float64).reshape(rows.size, -1)
    design = np.hstack([xs, np.ones((rows.size, 1))]) if fit_bias else xs
    z = design @ vec[:, keep]  # rows in eigen-coordinates
    r = design @ star - y[rows]
    m = rows.size
    mu = 0.0 if optimizer == "sgd" else float(momentum)
    inv_b = mean_inverse_batch(n, batch_size)
    lam_k = lam[keep]
    if np.any(rate_of(lam_k, lr, optimizer, mu) >= 1.0):
        return Plateau(math.inf, math.inf, bias, m)  # full-batch descent itself diverges
    kappa = _kappa(lam_k, lr, inv_b, optimizer, mu)
    u = z * r[:, None]
    u -= np.ones(m) @ u / m  # the mean by a matrix product: u.mean(axis=0) took ~20 ms on 1e6 rows
    sigma = (4.0 * c * c / m) * (u.T @ u)
    g = z.T @ z / m

    if q <= MOMENT_TENSOR_MAX_Q:
        # Few directions: the fourth moments once (one pass over the rows), then every
        # application of N is q^4 numbers, not two passes (a million rows: ~195 -> ~90 ms).
        moments = fourth_moments(z)

        def noise(s: np.ndarray) -> np.ndarray:
            quad = np.tensordot(s, moments, axes=([0, 1], [0, 1]))
            return (4.0 * c * c) * (quad - g @ s @ g)

    else:

        def noise(s: np.ndarray) -> np.ndarray:
            quad = np.einsum("ij,ij->i", z @ s, z)
            return (4.0 * c * c) * ((z * quad[:, None]).T @ z / m - g @ s @ g)

    s0 = kappa * sigma

    def apply(flat: np.ndarray) -> np.ndarray:
        s = flat.reshape(q, q)
        return (s - kappa * noise(0.5 * (s + s.T))).reshape(-1)

    flat, converged = _gmres(apply, s0.reshape(-1))
    s = flat.reshape(q, q)
    s = 0.5 * (s + s.T)
    h_loss = lam_k - lam_p  # the loss's Hessian (without the penalty) in the same basis
    additive = bias + 0.5 * float(h_loss @ np.diag(s0))
    # A stable regime has a positive semi-definite spread; its absence means the spread grows
    # without bound (the Perron root of kappa o N is past one).
    spread = np.linalg.eigvalsh(s)
    if not converged or spread[0] < -1e-8 * max(abs(spread[-1]), 1e-300):
        return Plateau(math.inf, additive, bias, m)
    return Plateau(bias + 0.5 * float(h_loss @ np.diag(s)), additive, bias, m)


def rate_of(lam: np.ndarray, lr: float, optimizer: str, mu: float) -> np.ndarray:
    """Spectral radius of each direction's full-batch step."""
    if optimizer == "sgd" or mu == 0.0:
        return np.abs(1.0 - lr * lam)
    return np.abs(np.linalg.eigvals(step_matrices(lam, lr, optimizer, mu))).max(axis=1)


def predicted_excess_loss(
    x: np.ndarray,
    y: np.ndarray,
    lr: float,
    batch_size: int,
    kind: str = "mse",
    fit_bias: bool = True,
    l2: float = 0.0,
    weight_decay: float = 0.0,
    optimizer: str = "sgd",
    momentum: float = 0.0,
    max_rows: int | None = None,
) -> float | None:
    """The expected training loss above the least-squares loss that SGD settles at, batches
    drawn with replacement, at a constant rate lr (inf: it never settles; None: no prediction
    for this optimizer). Past max_rows rows (by default as many as keep one solver iteration
    near 2^22 operations, at least 4096), the noise's moments come from an evenly strided
    subset of the rows."""
    plateau = sgd_plateau(
        x, y, lr, batch_size, kind, fit_bias, l2, weight_decay, optimizer, momentum, max_rows
    )
    return None if plateau is None else plateau.excess


def run_plateau(trainer: Trainer, lr: float | None = None) -> Plateau | None:
    """Where a run's SGD settles at its configured rate (or lr), were its batches drawn with
    replacement; None where the data's magnitudes overflow the solver (found by fuzzing: a
    target of 1.9e79)."""
    t, ds = trainer.config.train, trainer.dataset
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        plateau = _plateau(trainer, t, ds, lr)
    # inf stays (unstable in mean square); nan means the numbers overflowed.
    return None if plateau is None or np.isnan(plateau.excess) else plateau


def _plateau(trainer: Trainer, t: TrainConfig, ds: Dataset, lr: float | None) -> Plateau | None:
    return sgd_plateau(
        ds.x_train,
        ds.y_train,
        t.lr if lr is None else lr,
        trainer.batch_size,
        t.loss,
        trainer.config.model.fit_bias,
        t.l2_penalty,
        t.weight_decay,
        t.optimizer,
        t.momentum,
        stats=trainer.stats,
    )
