"""Closed-form analysis of linear least squares: sufficient statistics, exact fits and curvature."""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = [
    "LossKind",
    "Objective",
    "SufficientStats",
    "condition_number",
    "hessian",
    "least_squares",
    "loss_label",
    "loss_scale",
    "max_stable_lr",
    "minibatch_gradients",
    "noise_floor",
    "r2",
    "ridge",
]

LossKind = Literal["mse", "half_mse"]

_EPS = float(np.finfo(np.float64).eps)
# Values of minibatch gradients computed per block (bounds the temporaries to ~32 MB).
_BLOCK_VALUES = 1 << 22


# half_mse is d2l's squared_loss: (y_hat - y)^2 / 2, averaged.
_LOSS_SCALES = {"mse": 1.0, "half_mse": 0.5}
_LOSS_LABELS = {"mse": "MSE", "half_mse": "½·MSE"}


def loss_scale(kind: str) -> float:
    """Factor that turns the mean squared error into the loss of the given kind."""
    try:
        return _LOSS_SCALES[kind]
    except KeyError:
        raise ValueError(f"unknown loss kind {kind!r}; expected 'mse' or 'half_mse'") from None


def loss_label(kind: str) -> str:
    """How plots name the loss of the given kind ("MSE" or "½·MSE")."""
    loss_scale(kind)  # the same message for an unknown kind
    return _LOSS_LABELS[kind]


def minibatch_gradients(
    x: np.ndarray,
    y: np.ndarray,
    theta: np.ndarray,
    rows: np.ndarray,
    kind: str = "mse",
    fit_bias: bool = True,
    l2: float = 0.0,
) -> np.ndarray:
    """The objective's gradient [w..., b] on each minibatch (a row of `rows`), (m, d + 1),
    as the trainer computes it (bias entry 0 without a fitted bias)."""
    rows = np.atleast_2d(np.asarray(rows))
    theta = np.asarray(theta, dtype=np.float64)
    d = theta.size - 1
    p = d + 1 if fit_bias else d
    scale = 2.0 * loss_scale(kind) / rows.shape[1]
    out = np.zeros((rows.shape[0], d + 1))
    per_block = max(1, _BLOCK_VALUES // max(rows.shape[1] * (d + 1), 1))
    xa = np.asarray(x)
    xa = xa[:, None] if xa.ndim == 1 else xa
    ya = np.asarray(y, dtype=np.float64).reshape(-1)
    bias = theta[d] if fit_bias else 0.0
    with np.errstate(over="ignore", invalid="ignore"):  # far-out parameters: inf, quietly
        for lo in range(0, rows.shape[0], per_block):
            idx = rows[lo : lo + per_block]
            xb = xa[idx].astype(np.float64, copy=False)  # (m, batch, d)
            r = xb @ theta[:d] + (bias - ya[idx])  # (m, batch) residuals
            out[lo : lo + per_block, :d] = np.matmul(r[:, None, :], xb)[:, 0, :] * scale
            if fit_bias:
                out[lo : lo + per_block, d] = r.sum(axis=1) * scale
        if l2:
            out[:, :p] += 2.0 * l2 * theta[:p]
    return out


def _check_xy(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validated views of x as (n, d) and y as (n,), without copying or casting."""
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim == 1:
        # A single feature passed as a flat vector.
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"x must have shape (n, d), got {x.shape}")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"y must have shape (n,), got {y.shape}")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x has {x.shape[0]} rows but y has {y.shape[0]}")
    if x.shape[0] == 0:
        raise ValueError("need at least one sample")
    return x, y


def _check_nonnegative(name: str, value: float) -> float:
    """value as a float, rejecting negatives and non-finite numbers."""
    value = float(value)
    if not (math.isfinite(value) and value >= 0.0):
        raise ValueError(f"{name} must be finite and >= 0, got {value}")
    return value


def _psd_solve(a: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Minimum-norm solution of a @ x = rhs for a symmetric positive semi-definite a."""
    # An eigen-decomposition lets exactly collinear features give the minimum-norm answer
    # (as lstsq would) instead of the huge, rounding-driven values an LU solve returns.
    lam, vec = np.linalg.eigh(a)
    lam_max = float(lam[-1]) if lam.size else 0.0
    if lam_max <= 0.0:
        return np.zeros_like(rhs)
    keep = lam > lam_max * a.shape[0] * _EPS
    coef = (vec.T @ rhs)[keep] / lam[keep]
    return vec[:, keep] @ coef


@dataclass(frozen=True, eq=False)
class SufficientStats:
    """Centred moments of (X, y) from which any linear model's loss follows in O(d^2)."""

    # eq=False: the generated __eq__ would compare arrays, whose truth value is ambiguous.
    n: int
    x_mean: np.ndarray  # (d,)
    y_mean: float
    cxx: np.ndarray  # (d, d) centred covariance  (X-xm)^T (X-xm) / n
    cxy: np.ndarray  # (d,)  (X-xm)^T (y-ym) / n
    syy: float  # (y-ym)^T (y-ym) / n

    def __post_init__(self) -> None:
        n = operator.index(self.n)
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        x_mean = np.array(self.x_mean, dtype=np.float64).reshape(-1)
        d = x_mean.size
        cxx = np.array(self.cxx, dtype=np.float64)
        cxy = np.array(self.cxy, dtype=np.float64).reshape(-1)
        if cxx.shape != (d, d) or cxy.shape != (d,):
            raise ValueError(
                f"inconsistent shapes: x_mean {x_mean.shape}, cxx {cxx.shape}, cxy {cxy.shape}"
            )
        # Private read-only copies keep the frozen dataclass actually immutable.
        for arr in (x_mean, cxx, cxy):
            arr.setflags(write=False)
        object.__setattr__(self, "n", n)
        object.__setattr__(self, "x_mean", x_mean)
        object.__setattr__(self, "y_mean", float(self.y_mean))
        object.__setattr__(self, "cxx", cxx)
        object.__setattr__(self, "cxy", cxy)
        object.__setattr__(self, "syy", float(self.syy))

    @property
    def n_features(self) -> int:
        """Number of feature columns d."""
        return self.x_mean.size

    @classmethod
    def from_data(cls, x: np.ndarray, y: np.ndarray, chunk_rows: int = 65536) -> SufficientStats:
        """Moments of x (n, d) and y (n,), accumulated in float64 a chunk of rows at a time."""
        x, y = _check_xy(x, y)
        chunk_rows = operator.index(chunk_rows)
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
        n, d = x.shape
        starts = range(0, n, chunk_rows)

        # Pass 1: provisional means. Chunking bounds the float64 working set for float32 input.
        sx = np.zeros(d)
        sy = 0.0
        for s in starts:
            sx += x[s : s + chunk_rows].sum(axis=0, dtype=np.float64)
            sy += float(y[s : s + chunk_rows].sum(dtype=np.float64))
        xm = sx / n
        ym = sy / n

        # Pass 2: products of centred values; E[x^2] - E[x]^2 would cancel catastrophically
        # when the mean is large compared with the spread.
        sxx = np.zeros((d, d))
        sxy = np.zeros(d)
        syy = 0.0
        dx = np.zeros(d)
        dy = 0.0
        for s in starts:
            # dtype=float64 matters for y: a float32 array minus a Python float stays float32.
            xc = np.subtract(x[s : s + chunk_rows], xm, dtype=np.float64)
            yc = np.subtract(y[s : s + chunk_rows], ym, dtype=np.float64)
            sxx += xc.T @ xc
            sxy += xc.T @ yc
            syy += float(yc @ yc)
            dx += xc.sum(axis=0)
            dy += float(yc.sum())

        # The provisional means carry rounding error; the centred sums measure it, which corrects
        # both the means and the products (the corrected two-pass algorithm).
        dx /= n
        dy /= n
        cxx = sxx / n - np.outer(dx, dx)
        cxx = 0.5 * (cxx + cxx.T)
        cxy = sxy / n - dx * dy
        syy = max(syy / n - dy * dy, 0.0)
        stats = cls(n=n, x_mean=xm + dx, y_mean=ym + dy, cxx=cxx, cxy=cxy, syy=syy)
        if not (
            np.isfinite(stats.cxx).all()
            and np.isfinite(stats.cxy).all()
            and np.isfinite(stats.x_mean).all()
            and math.isfinite(stats.y_mean)
            and math.isfinite(stats.syy)
        ):
            raise ValueError("data contains non-finite values (or overflows float64)")
        return stats

    def _check_w(self, w: np.ndarray) -> np.ndarray:
        """w as a float64 vector of length d."""
        w = np.asarray(w, dtype=np.float64).reshape(-1)
        if w.size != self.n_features:
            raise ValueError(f"expected {self.n_features} weights, got {w.size}")
        return w

    def _second_moment(self, fit_bias: bool) -> np.ndarray:
        """Uncentred E[x~ x~^T], with x~ = [x, 1] when fitting a bias, else x."""
        exx = self.cxx + np.outer(self.x_mean, self.x_mean)
        if not fit_bias:
            return exx
        d = self.n_features
        m = np.empty((d + 1, d + 1))
        m[:d, :d] = exx
        m[:d, d] = self.x_mean
        m[d, :d] = self.x_mean
        m[d, d] = 1.0
        return m

    def loss(self, w: np.ndarray, b: float, kind: LossKind = "mse") -> float:
        """Training loss of the model x @ w + b."""
        scale = loss_scale(kind)
        w = self._check_w(w)
        # Parameters far out (a diverging run) overflow: their loss is inf, not a warning.
        with np.errstate(over="ignore", invalid="ignore"):
            # Centred form: the mean offset only enters through the mean residual, so large
            # feature means cost no precision. The centred part is a variance: never negative.
            centred = float(w @ (self.cxx @ w - 2.0 * self.cxy)) + self.syy
            r = float(self.x_mean @ w) + float(b) - self.y_mean
            loss = scale * (max(centred, 0.0) + r * r)
        return math.inf if math.isnan(loss) else loss

    def losses(self, thetas: np.ndarray, kind: LossKind = "mse") -> np.ndarray:
        """Training loss of many parameter rows [w..., b] at once (inf where it overflows)."""
        scale = loss_scale(kind)
        thetas = np.asarray(thetas, dtype=np.float64)
        w, b = thetas[:, :-1], thetas[:, -1]
        # Data near 1e32 with parameters on their way to divergence overflows: inf, quietly (a
        # run's divergence check decides what it means; found by fuzzing).
        with np.errstate(over="ignore", invalid="ignore"):
            quad = np.einsum("ki,ij,kj->k", w, self.cxx, w)
            centred = quad - 2.0 * (w @ self.cxy) + self.syy
            r = w @ self.x_mean + b - self.y_mean
            loss = np.maximum(centred, 0.0) + r * r
            if scale != 1.0:
                loss *= scale
        loss[np.isnan(loss)] = np.inf
        return loss

    def gradient(
        self, w: np.ndarray, b: float, kind: LossKind = "mse", fit_bias: bool = True
    ) -> tuple[np.ndarray, float]:
        """Full-batch gradient of the loss with respect to w and b (0.0 for b if it is fixed)."""
        scale = loss_scale(kind)
        w = self._check_w(w)
        with np.errstate(over="ignore", invalid="ignore"):  # far-out parameters: inf, quietly
            r = float(self.x_mean @ w) + float(b) - self.y_mean
            grad_w = (2.0 * scale) * (self.cxx @ w - self.cxy + r * self.x_mean)
            grad_b = 2.0 * scale * r if fit_bias else 0.0
        return grad_w, grad_b

    def loss_grid(
        self,
        w: np.ndarray,
        b: float,
        i: int,
        j: int,
        ui: np.ndarray,
        vj: np.ndarray,
        kind: LossKind = "mse",
    ) -> np.ndarray:
        """Loss over a 2-D slice: param i = ui[col], param j = vj[row] (index d is the bias)."""
        scale = loss_scale(kind)
        w = self._check_w(w)
        d = self.n_features
        i = operator.index(i)
        j = operator.index(j)
        for k in (i, j):
            if not 0 <= k <= d:
                raise ValueError(f"parameter index {k} out of range 0..{d}")
        if i == j:
            raise ValueError(f"the two grid parameters must differ, got i = j = {i}")
        u = np.asarray(ui, dtype=np.float64).reshape(1, -1)
        v = np.asarray(vj, dtype=np.float64).reshape(-1, 1)

        # Zero params i and j to get a base point; the loss is then an exact quadratic in (u, v)
        # whose coefficients come from the same centred form as loss().
        w0 = w.copy()
        b0 = float(b)
        for k in (i, j):
            if k == d:
                b0 = 0.0
            else:
                w0[k] = 0.0
        # A landscape around far-out parameters overflows to inf: shown as such, not warned.
        with np.errstate(over="ignore", invalid="ignore"):
            half_grad0 = self.cxx @ w0 - self.cxy
            q0 = float(w0 @ (half_grad0 - self.cxy)) + self.syy
            r0 = float(self.x_mean @ w0) + b0 - self.y_mean

            def lin(k: int) -> float:
                return 0.0 if k == d else float(half_grad0[k])

            def mean_coef(k: int) -> float:
                return 1.0 if k == d else float(self.x_mean[k])

            def cov(k: int, m: int) -> float:
                return 0.0 if d in (k, m) else float(self.cxx[k, m])

            # Separable terms on the 1-D axes first, so the 2-D work is a handful of broadcasts.
            along_u = q0 + u * (2.0 * lin(i) + cov(i, i) * u)
            along_v = v * (2.0 * lin(j) + cov(j, j) * v)
            centred = along_u + along_v + (2.0 * cov(i, j)) * (u * v)
            resid = (r0 + mean_coef(i) * u) + mean_coef(j) * v
            np.maximum(centred, 0.0, out=centred)
            centred += resid * resid
            if scale != 1.0:
                centred *= scale
            return centred


@dataclass(frozen=True, eq=False)
class Objective:
    """The training objective over [w..., b] in trained units: the loss plus any L2 penalty."""

    stats: SufficientStats
    kind: str = "mse"
    l2_penalty: float = 0.0  # objective = loss + l2_penalty * |params|^2
    fit_bias: bool = True

    @property
    def n_features(self) -> int:
        """Number of weights d (theta holds d + 1 values, the bias last)."""
        return self.stats.n_features

    @property
    def n_params(self) -> int:
        """Parameters the model trains: the weights, and the bias if it is fitted."""
        return self.n_features + 1 if self.fit_bias else self.n_features

    def value(self, theta: np.ndarray) -> float:
        """The objective at theta = [w..., b]."""
        theta = np.asarray(theta, dtype=np.float64)
        value = self.stats.loss(theta[:-1], float(theta[-1]), self.kind)
        if self.l2_penalty:
            value += self.l2_penalty * float(np.sum(theta[: self.n_params] ** 2))
        return value

    def gradient(self, theta: np.ndarray) -> np.ndarray:
        """Full-batch gradient [w..., b] of the objective (0 for a bias that is not fitted)."""
        theta = np.asarray(theta, dtype=np.float64)
        gw, gb = self.stats.gradient(theta[:-1], float(theta[-1]), self.kind, self.fit_bias)
        return self.add_penalty_gradient(np.append(gw, gb), theta)

    def add_penalty_gradient(self, grad: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """grad (of the loss, [w..., b]) with the L2 penalty's gradient added, in place."""
        # A bias that is not fitted is no parameter: it is never penalised.
        if self.l2_penalty:
            with np.errstate(over="ignore", invalid="ignore"):  # far out: inf, quietly
                grad[: self.n_params] += 2.0 * self.l2_penalty * theta[: self.n_params]
        return grad

    def curvature(self, k: int) -> float:
        """Second derivative of the objective along parameter k (index d is the bias)."""
        s = self.stats
        second = 1.0 if k == self.n_features else float(s.cxx[k, k] + s.x_mean[k] ** 2)
        return 2.0 * loss_scale(self.kind) * second + 2.0 * self.l2_penalty

    def minimum(self, ols: np.ndarray | None = None) -> np.ndarray:
        """Where the objective is smallest: ols (the least-squares fit, if known) without a
        penalty, the ridge solution with one."""
        if ols is not None and not self.l2_penalty:
            return np.asarray(ols, dtype=np.float64).copy()
        # objective = c * (mse + (l2 / c) |theta|^2): ridge with l2 / c.
        w, b = ridge(self.stats, self.l2_penalty / loss_scale(self.kind), self.fit_bias)
        return np.append(w, b)

    def grid(self, theta: np.ndarray, i: int, j: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """The objective over parameter i = u[col] and j = v[row], the others held at theta."""
        theta = np.asarray(theta, dtype=np.float64)
        u = np.asarray(u, dtype=np.float64)
        v = np.asarray(v, dtype=np.float64)
        z = self.stats.loss_grid(theta[:-1], float(theta[-1]), i, j, u, v, self.kind)
        if self.l2_penalty:
            held = [k for k in range(self.n_params) if k not in (i, j)]
            # A bias that is not fitted is no parameter: it is never penalised.
            ui = u[None, :] ** 2 if i < self.n_params else 0.0
            vj = v[:, None] ** 2 if j < self.n_params else 0.0
            with np.errstate(over="ignore"):  # far out: inf, as the loss itself
                z += self.l2_penalty * (ui + vj + float(np.sum(theta[held] ** 2)))
        return z

    def curve(self, theta: np.ndarray, k: int) -> np.ndarray:
        """Coefficients [a, b, c] of the objective a*t^2 + b*t + c along parameter k = t, the
        others held at theta (exact: the objective is quadratic)."""
        probe = np.array(theta, dtype=np.float64)
        f = []
        for t in (-1.0, 0.0, 1.0):
            probe[k] = t
            f.append(self.value(probe))
        return np.array([0.5 * (f[2] + f[0]) - f[1], 0.5 * (f[2] - f[0]), f[1]])


def least_squares(x: np.ndarray, y: np.ndarray, fit_bias: bool = True) -> tuple[np.ndarray, float]:
    """Closed-form least squares in float64, correct on ill-conditioned data."""
    x, y = _check_xy(x, y)
    x = np.array(x, dtype=np.float64)  # a private copy, centred and scaled in place below
    y = np.array(y, dtype=np.float64)
    xm = np.zeros(x.shape[1])
    ym = 0.0
    if fit_bias:
        # Centring removes the bias column's coupling to large feature means, which otherwise
        # squares into the conditioning. A second pass mops up the first pass's rounding.
        for _ in range(2):
            dxm = x.mean(axis=0)
            dym = float(y.mean())
            x -= dxm
            y -= dym
            xm += dxm
            ym += dym
    # Unit-norm columns make the result independent of feature units and keep lstsq's rank
    # cut-off relative to each column rather than to the largest one.
    norms = np.sqrt(np.einsum("ij,ij->j", x, x))
    norms[norms == 0.0] = 1.0
    x /= norms
    z = np.linalg.lstsq(x, y)[0]
    w = z / norms
    b = ym - float(xm @ w) if fit_bias else 0.0
    return w, b


def ridge(stats: SufficientStats, l2: float, fit_bias: bool = True) -> tuple[np.ndarray, float]:
    """Minimiser of mse + l2 * (|w|^2 + b^2); the penalty includes the bias, as in the article."""
    l2 = _check_nonnegative("l2", l2)
    d = stats.n_features
    xm, ym = stats.x_mean, stats.y_mean
    if fit_bias:
        # The normal equations are [E[xx^T] + l2 I, E[x]; E[x]^T, 1 + l2] [w; b] = [E[xy]; E[y]].
        # Eliminating b (Schur complement) leaves a centred system that stays well conditioned
        # when the features have large means, and reduces to cxx w = cxy (OLS) at l2 = 0.
        t = l2 / (1.0 + l2)
        a = stats.cxx + l2 * np.eye(d) + t * np.outer(xm, xm)
        rhs = stats.cxy + (t * ym) * xm
        w = _psd_solve(a, rhs)
        b = (ym - float(xm @ w)) / (1.0 + l2)
        return w, b
    a = stats._second_moment(fit_bias=False) + l2 * np.eye(d)
    rhs = stats.cxy + ym * xm
    return _psd_solve(a, rhs), 0.0


def r2(y: np.ndarray, y_pred: np.ndarray) -> float:
    """Coefficient of determination 1 - SS_res / SS_tot (nan when y is constant)."""
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    if y.shape != y_pred.shape:
        raise ValueError(f"y has {y.size} values but y_pred has {y_pred.size}")
    if y.size == 0:
        raise ValueError("need at least one sample")
    with np.errstate(over="ignore", invalid="ignore"):  # a diverged fit: -inf, quietly
        ss_tot = float(np.sum((y - y.mean()) ** 2))
        if ss_tot == 0.0:
            return math.nan
        ss_res = float(np.sum((y - y_pred) ** 2))
        return 1.0 - ss_res / ss_tot


def hessian(
    stats: SufficientStats,
    kind: LossKind = "mse",
    fit_bias: bool = True,
    l2: float = 0.0,
    weight_decay: float = 0.0,
) -> np.ndarray:
    """Hessian of the training objective over [w, b] (or w alone without a bias)."""
    scale = loss_scale(kind)
    l2 = _check_nonnegative("l2", l2)
    weight_decay = _check_nonnegative("weight_decay", weight_decay)
    m = stats._second_moment(fit_bias)
    # The l2 penalty l2*|p|^2 adds 2*l2; weight decay adds wd*p to the gradient, so wd.
    return (2.0 * scale) * m + (2.0 * l2 + weight_decay) * np.eye(m.shape[0])


def max_stable_lr(
    stats: SufficientStats,
    kind: LossKind = "mse",
    fit_bias: bool = True,
    l2: float = 0.0,
    weight_decay: float = 0.0,
) -> float:
    """Largest learning rate for which full-batch gradient descent does not diverge."""
    lam_max = float(np.linalg.eigvalsh(hessian(stats, kind, fit_bias, l2, weight_decay))[-1])
    return math.inf if lam_max <= 0.0 else 2.0 / lam_max


def condition_number(
    stats: SufficientStats,
    fit_bias: bool = True,
    l2: float = 0.0,
    weight_decay: float = 0.0,
    kind: LossKind = "mse",
) -> float:
    """lambda_max / lambda_min of the objective's Hessian (the loss of this kind plus the L2
    penalty, with any weight decay), inf if it is singular."""
    # Without a penalty the kind only scales the Hessian; with one it changes the ratio.
    m = hessian(stats, kind, fit_bias, l2, weight_decay)
    lam = np.linalg.eigvalsh(m)
    lam_min, lam_max = float(lam[0]), float(lam[-1])
    # Eigenvalues within rounding of zero mean the matrix is singular, not merely ill-conditioned.
    if lam_max <= 0.0 or lam_min <= lam_max * m.shape[0] * _EPS:
        return math.inf
    return lam_max / lam_min


def noise_floor(noise_std: float, kind: LossKind = "mse") -> float:
    """Expected loss at the true parameters when the targets carry noise of this std."""
    noise_std = _check_nonnegative("noise_std", noise_std)
    return loss_scale(kind) * noise_std**2
