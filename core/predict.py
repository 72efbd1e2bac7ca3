"""Predictions of a trained run: the model's, least squares' with a 95 % prediction interval,
the true line's; the Student t quantile behind the interval; the model as JSON."""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.analysis import SufficientStats
from core.files import atomic_write_text
from core.runinfo import RunInfo

LEVEL = 0.95  # coverage of the least-squares prediction interval
MODEL_FORMAT = "linreg-viz model"
MODEL_VERSION = 1
# Output columns, in order; true_value only where the data has a true line (generated data).
COLUMNS = ("prediction", "ols_prediction", "ols_lower", "ols_upper", "true_value")

_EPS = float(np.finfo(np.float64).eps)
# Stirling series coefficients B_2k / (2k (2k - 1)) of log Gamma, k = 1..7.
_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156)
# From this a on, log Gamma(a + 1/2) - log Gamma(a) comes from the series: lgamma itself is
# accurate only to its result's last bit, ~1e-8 absolute at a = 5e6 (ten million rows).
_SERIES_FROM = 10.0
_CF_TINY = 1e-300
# The t quantile comes from its Cornish-Fisher expansion in 1/df from df >= this * max(1, z^2/3).
_EXPANSION_FROM = 1000.0


# ---- Student t --------------------------------------------------------------------------------
def _log_gamma_half_ratio(a: float) -> float:
    """log Gamma(a + 1/2) - log Gamma(a), accurate to a few ulps of its (small) value."""
    if a < _SERIES_FROM:
        return math.lgamma(a + 0.5) - math.lgamma(a)
    # Stirling for both, subtracted term by term: (a) log(a + 1/2) - (a - 1/2) log a - 1/2 is
    # 1/2 log a + a log1p(1 / 2a) - 1/2, and the series terms are differences of small powers.
    value = 0.5 * math.log(a) + (a * math.log1p(0.5 / a) - 0.5)
    for k, c in enumerate(_STIRLING, start=1):
        value += c * ((a + 0.5) ** (1 - 2 * k) - a ** (1 - 2 * k))
    return value


def _beta_cf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _CF_TINY else _CF_TINY)
    h = d
    # It converges in O(sqrt(max(a, b))) terms on the side of x it is used on.
    for m in range(1, 100_000):
        m2 = 2 * m
        for num in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > _CF_TINY else _CF_TINY)
            c = 1.0 + num / c
            c = c if abs(c) > _CF_TINY else _CF_TINY
            h *= d * c
        if abs(d * c - 1.0) < _EPS:
            return h
    raise ArithmeticError(f"incomplete beta did not converge (a={a}, b={b}, x={x})")


def _t_excess(t: float, df: float, tail: float, central: float) -> float:
    """P(T > t) - tail for t > 0 (tail = 1/2 - central/2 given both ways, so neither side of
    the identity loses digits to a subtraction).

    P(T > t) = I_x(df/2, 1/2) / 2 with x = df / (df + t^2), and P(|T| < t) = I_y(1/2, df/2)
    with y = 1 - x; each is summed on the side where its continued fraction converges. The
    first, for df past ~1e4, loses digits to cancelling terms (~2e-10 at df = 1e7), which is
    why the quantile takes its expansion there."""
    a, b = 0.5 * df, 0.5
    t2 = t * t
    x, y = df / (df + t2), t2 / (df + t2)  # formed apart: neither loses digits to the other
    log_beta = 0.5 * math.log(math.pi) - _log_gamma_half_ratio(a)  # log B(a, 1/2)
    log_front = -a * math.log1p(t2 / df) + b * (2.0 * math.log(t) - math.log(df + t2)) - log_beta
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return 0.5 * front * _beta_cf(a, b, x) / a - tail
    return 0.5 * (central - front * _beta_cf(b, a, y) / b)


def _t_pdf(t: float, df: float) -> float:
    """Density of Student's t with df degrees of freedom at t."""
    log_norm = _log_gamma_half_ratio(0.5 * df) - 0.5 * math.log(df * math.pi)
    return math.exp(log_norm - 0.5 * (df + 1.0) * math.log1p(t * t / df))


def _cornish_fisher(z: float, df: float) -> float:
    """The t quantile from the normal one by its expansion in 1/df (a starting point)."""
    z2 = z * z
    g1 = z * (z2 + 1) / 4
    g2 = z * ((5 * z2 + 16) * z2 + 3) / 96
    g3 = z * (((3 * z2 + 19) * z2 + 17) * z2 - 15) / 384
    g4 = z * ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def student_t_quantile(p: float, df: float) -> float:
    """The t with P(T <= t) = p for Student's t with df degrees of freedom."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"probability must be strictly between 0 and 1, got {p}")
    if not (df > 0 and math.isfinite(df)):
        raise ValueError(f"degrees of freedom must be finite and > 0, got {df}")
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -_upper_quantile(p, 1.0 - 2.0 * p, df)
    return _upper_quantile(1.0 - p, 2.0 * p - 1.0, df)


def _upper_quantile(tail: float, central: float, df: float) -> float:
    """The t > 0 with P(T > t) = tail = (1 - central) / 2."""
    z = -statistics.NormalDist().inv_cdf(tail)
    if df >= _EXPANSION_FROM * max(1.0, z * z / 3.0):
        # Its first omitted term, ~(z + ... + z^11) / df^5, is below rounding here (checked to
        # 5e-16 against 40-digit values); the continued fraction below starts losing digits.
        return _cornish_fisher(z, df)
    # Newton on P(T > t) = tail, kept inside a bracket that bisection falls back on.
    lo, hi = 0.0, 1.0
    while _t_excess(hi, df, tail, central) > 0:
        lo, hi = hi, 2.0 * hi
    t = _cornish_fisher(z, df)
    if not lo < t < hi:
        t = 0.5 * (lo + hi)
    for _ in range(200):
        f = _t_excess(t, df, tail, central)
        if f > 0:
            lo = t
        else:
            hi = t
        nxt = t + f / _t_pdf(t, df)
        if not lo < nxt < hi:
            nxt = 0.5 * (lo + hi)
        if abs(nxt - t) <= 2 * _EPS * nxt or hi - lo <= 2 * _EPS * hi:
            return nxt
        t = nxt
    return t


# ---- least squares with intervals -------------------------------------------------------------
def _scaled_pinv(m: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(u, lam_inv, rank) with m^+ = u diag(lam_inv) u^T for a symmetric PSD matrix m.

    Columns are scaled to unit diagonal first, so features in very different units keep their
    small directions (the same reason analysis.least_squares scales them)."""
    diag = np.sqrt(np.clip(np.diag(m), 0.0, None))
    diag[diag == 0.0] = 1.0
    corr = m / np.outer(diag, diag)
    lam, vec = np.linalg.eigh(0.5 * (corr + corr.T))
    lam_max = float(lam[-1]) if lam.size else 0.0
    keep = lam > max(lam_max, 0.0) * m.shape[0] * _EPS
    lam_inv = np.where(keep, 1.0 / np.where(keep, lam, 1.0), 0.0)
    return vec / diag[:, None], lam_inv, int(keep.sum())


@dataclass(frozen=True, eq=False)
class LeastSquaresFit:
    """The least-squares fit of a run with what its prediction intervals need."""

    theta_trained: np.ndarray  # [w..., b] in trained units (b = 0 without a fitted bias)
    shift: np.ndarray  # the model sees (x - shift) / scale
    scale: np.ndarray
    fit_bias: bool
    n: int  # training rows
    n_params: int  # p: the parameters the data determines (rank, the intercept counted)
    residual_variance: float  # RSS / (n - p); nan when n <= p
    t_value: float  # the t quantile of the interval's level at n - p degrees of freedom
    x_mean: np.ndarray  # of the training features, trained units
    # (X^T X)^+ = u diag(lam_inv) u^T of the centred features (with a bias) or the raw ones.
    u: np.ndarray
    lam_inv: np.ndarray
    level: float = LEVEL

    @classmethod
    def from_stats(
        cls,
        stats: SufficientStats,
        ols_trained: np.ndarray,
        shift: np.ndarray,
        scale: np.ndarray,
        fit_bias: bool,
        level: float = LEVEL,
    ) -> LeastSquaresFit:
        """The fit from a training set's statistics (trained units) and its OLS parameters."""
        theta = np.array(ols_trained, dtype=np.float64)
        d = stats.n_features
        shift = np.zeros(d) if np.size(shift) == 0 else np.asarray(shift, dtype=np.float64)
        scale = np.ones(d) if np.size(scale) == 0 else np.asarray(scale, dtype=np.float64)
        n = stats.n
        # With a bias, the variance of a prediction splits into 1/n plus the centred part,
        # which stays accurate when feature means are large against their spread.
        gram = n * (stats.cxx if fit_bias else stats.cxx + np.outer(stats.x_mean, stats.x_mean))
        u, lam_inv, rank = _scaled_pinv(gram)
        p = rank + int(fit_bias)
        df = n - p
        if df > 0:
            rss = n * stats.loss(theta[:-1], float(theta[-1]) if fit_bias else 0.0)
            variance = rss / df
            t_value = student_t_quantile(0.5 + 0.5 * level, df)
        else:
            variance = t_value = math.nan
        return cls(
            theta, shift, scale, fit_bias, n, p, variance, t_value, stats.x_mean, u, lam_inv, level
        )

    @classmethod
    def from_run_info(cls, info: RunInfo) -> LeastSquaresFit | None:
        """The fit of a run's facts (None if they carry no training statistics)."""
        if info.stats is None or np.size(info.ols_trained) == 0:
            return None
        return cls.from_stats(info.stats, info.ols_trained, info.shift, info.scale, info.fit_bias)

    @property
    def df(self) -> int:
        """Residual degrees of freedom n - p."""
        return self.n - self.n_params

    def _trained(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.shift.size:
            raise ValueError(f"expected rows of {self.shift.size} features, got shape {x.shape}")
        return (x - self.shift) / self.scale

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Least-squares predictions for rows of features in the data's original units."""
        z = self._trained(x)
        with np.errstate(over="ignore", invalid="ignore"):
            return z @ self.theta_trained[:-1] + self.theta_trained[-1]

    def interval(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(prediction, lower, upper) of the level's prediction interval for each row."""
        z = self._trained(x)
        with np.errstate(over="ignore", invalid="ignore"):
            pred = z @ self.theta_trained[:-1] + self.theta_trained[-1]
            centred = z - self.x_mean if self.fit_bias else z
            # h = x0^T (X^T X)^+ x0 as a sum of squares: never negative, whatever the rounding.
            proj = centred @ self.u
            h = (proj * proj) @ self.lam_inv + (1.0 / self.n if self.fit_bias else 0.0)
            half = self.t_value * np.sqrt(self.residual_variance * (1.0 + h))
        return pred, pred - half, pred + half

    def original_theta(self) -> np.ndarray:
        """Least-squares [w..., b] in the data's original units."""
        return self._to_original() @ self.theta_trained

    def covariance(self) -> np.ndarray:
        """Covariance of the least-squares [w..., b] in original units (s^2 (X^T X)^-1)."""
        d = self.shift.size
        inv = np.zeros((d + 1, d + 1))
        g = (self.u * self.lam_inv) @ self.u.T
        inv[:d, :d] = g
        if self.fit_bias:
            # The inverse of [[S, X^T 1], [1^T X, n]] from the centred S = X_c^T X_c.
            gm = g @ self.x_mean
            inv[:d, d] = inv[d, :d] = -gm
            inv[d, d] = 1.0 / self.n + float(self.x_mean @ gm)
        a = self._to_original()
        return self.residual_variance * (a @ inv @ a.T)

    def _to_original(self) -> np.ndarray:
        """The linear map from trained [w..., b] to original [w..., b]."""
        d = self.shift.size
        a = np.eye(d + 1)
        a[:d, :d] = np.diag(1.0 / self.scale)
        a[d, :d] = -self.shift / self.scale
        return a


# ---- predictions of a run ---------------------------------------------------------------------
def model_predict(x: np.ndarray, weights: np.ndarray, bias: float) -> np.ndarray:
    """x @ w + b for rows of features and parameters in the data's original units."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if x.ndim != 2 or x.shape[1] != w.size:
        raise ValueError(f"expected rows of {w.size} features, got shape {x.shape}")
    # A diverged run's parameters overflow: their predictions are inf, not a warning.
    with np.errstate(over="ignore", invalid="ignore"):
        return x @ w + float(bias)


def predict_columns(
    x: np.ndarray,
    weights: np.ndarray,
    bias: float,
    fit: LeastSquaresFit | None,
    true_theta: np.ndarray | None,
) -> dict[str, np.ndarray]:
    """The output columns (COLUMNS; true_value only with a true line) for rows of features."""
    x = np.asarray(x, dtype=np.float64)
    out = {"prediction": model_predict(x, weights, bias)}
    if fit is None:
        nan = np.full(x.shape[0], np.nan)
        out.update(ols_prediction=nan, ols_lower=nan.copy(), ols_upper=nan.copy())
    else:
        out["ols_prediction"], out["ols_lower"], out["ols_upper"] = fit.interval(x)
    if true_theta is not None:
        true_theta = np.asarray(true_theta, dtype=np.float64)
        out["true_value"] = model_predict(x, true_theta[:-1], float(true_theta[-1]))
    return out


def run_predictions(info: RunInfo, theta: np.ndarray, x: np.ndarray) -> dict[str, np.ndarray]:
    """The output columns for rows x of a run whose parameters [w..., b] (original units) are
    theta."""
    theta = np.asarray(theta, dtype=np.float64)
    fit = LeastSquaresFit.from_run_info(info)
    return predict_columns(x, theta[:-1], float(theta[-1]), fit, info.true_theta)


def _json_safe(value: Any) -> Any:
    """Lists of floats with non-finite values as None (strict JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    return value


def model_dict(info: RunInfo, weights: np.ndarray, bias: float) -> dict[str, Any]:
    """The model of a run as plain data: what model.json holds."""
    d = len(info.feature_names)
    shift = np.zeros(d) if np.size(info.shift) == 0 else np.asarray(info.shift, dtype=np.float64)
    scale = np.ones(d) if np.size(info.scale) == 0 else np.asarray(info.scale, dtype=np.float64)
    standardized = bool(np.any(shift != 0.0) or np.any(scale != 1.0))
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    fit = LeastSquaresFit.from_run_info(info)
    ols_theta = np.asarray(info.ols_theta, dtype=np.float64)
    least_squares: dict[str, Any] = {
        "weights": ols_theta[:-1],
        "bias": float(ols_theta[-1]),
    }
    if fit is not None:
        least_squares.update(
            covariance=fit.covariance(),
            residual_variance=fit.residual_variance,
            n=fit.n,
            n_params=fit.n_params,
            df=fit.df,
            interval_level=fit.level,
            t_quantile=fit.t_value,
        )
    true = info.true_theta
    return _json_safe(
        {
            "format": MODEL_FORMAT,
            "version": MODEL_VERSION,
            "usage": (
                "prediction = sum(weights[i] * x[i]) + bias, with x in the data's original units "
                "(standardisation is folded into weights and bias)"
            ),
            "feature_names": list(info.feature_names),
            "target_name": info.target_name,
            "weights": w,
            "bias": float(bias),
            "fit_bias": bool(info.fit_bias),
            "standardization": {
                "used": standardized,
                "mean": shift,
                "std": scale,
                "note": "the model trained on (x - mean) / std; weights above are in x's units",
            },
            "least_squares": least_squares,
            "true_weights": None if true is None else np.asarray(true)[:-1],
            "true_bias": None if true is None else float(np.asarray(true)[-1]),
        }
    )


def write_model_json(path: str | Path, info: RunInfo, weights: np.ndarray, bias: float) -> Path:
    """Write model.json for a run whose parameters (original units) are weights and bias."""
    path = Path(path)
    text = json.dumps(model_dict(info, weights, bias), indent=2, allow_nan=False)
    atomic_write_text(path, text + "\n")
    return path
