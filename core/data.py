"""Training data: seeded synthetic lines or CSV columns, standardisation and the val split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.config import DataConfig
from core.errors import DataError


@dataclass
class Dataset:
    """Train/validation arrays (float64) plus what is needed to report in original units."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    feature_names: list[str]
    target_name: str
    true_weights: np.ndarray | None
    true_bias: float | None
    # Standardisation: the model sees (x - shift) / scale; identity when not standardising.
    shift: np.ndarray
    scale: np.ndarray
    source: str

    @property
    def n_features(self) -> int:
        """Number of feature columns."""
        return self.x_train.shape[1]

    @property
    def n_train(self) -> int:
        """Number of training rows."""
        return self.x_train.shape[0]

    def __post_init__(self) -> None:
        # Asked on every recorded chunk: compute once.
        self.standardized = bool(np.any(self.shift != 0.0) or np.any(self.scale != 1.0))

    def to_original(self, theta: np.ndarray) -> np.ndarray:
        """Convert parameters [w..., b] (rows or one vector) from trained to original units."""
        theta = np.asarray(theta, dtype=np.float64)
        w = theta[..., :-1] / self.scale
        b = theta[..., -1] - w @ self.shift
        return np.concatenate([w, b[..., None]], axis=-1)

    def to_trained(self, theta: np.ndarray) -> np.ndarray:
        """Convert parameters [w..., b] from original to trained (standardised) units."""
        theta = np.asarray(theta, dtype=np.float64)
        w = theta[..., :-1]
        b = theta[..., -1] + w @ self.shift
        return np.concatenate([w * self.scale, b[..., None]], axis=-1)

    def true_theta(self) -> np.ndarray | None:
        """True [w..., b] in original units, or None for CSV data."""
        if self.true_weights is None:
            return None
        return np.append(self.true_weights, self.true_bias or 0.0)


def _synthetic_features(cfg: DataConfig, rng: np.random.Generator) -> np.ndarray:
    d = len(cfg.true_weights)
    if cfg.inline_features is not None:
        return np.asarray(cfg.inline_features, dtype=np.float64)
    n = cfg.n_samples
    if cfg.feature_distribution == "uniform":
        # Unit variance, like the normal case, so the two are comparable.
        z = rng.uniform(-np.sqrt(3.0), np.sqrt(3.0), size=(n, d))
        common = rng.uniform(-np.sqrt(3.0), np.sqrt(3.0), size=(n, 1))
    else:
        z = rng.standard_normal((n, d))
        common = rng.standard_normal((n, 1)) if cfg.feature_correlation > 0 else None
    rho = cfg.feature_correlation
    if rho > 0 and d > 1:
        # A shared component gives every pair of features correlation rho, unit variance kept.
        z *= np.sqrt(1.0 - rho)
        z += np.sqrt(rho) * common
    return z


def synthetic(cfg: DataConfig) -> tuple[np.ndarray, np.ndarray]:
    """Return X and y = X w + b + noise, reproducible from cfg.seed."""
    rng = np.random.default_rng([cfg.seed, 1])
    x = _synthetic_features(cfg, rng)
    w = np.asarray(cfg.true_weights, dtype=np.float64)
    y = x @ w + cfg.true_bias
    if cfg.noise_std > 0:
        y += cfg.noise_std * rng.standard_normal(x.shape[0])
    return np.ascontiguousarray(x), y


def split(
    x: np.ndarray, y: np.ndarray, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split rows into train and validation sets at random (seeded); no split if fraction is 0."""
    n = x.shape[0]
    n_val = round(n * val_fraction)
    if n_val == 0:
        return x, y, x[:0], y[:0]
    if n - n_val < 2:
        raise DataError(
            f"val_fraction {val_fraction} leaves {n - n_val} training row(s) of {n}; need 2"
        )
    order = np.random.default_rng([seed, 4]).permutation(n)
    val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
    return x[train], y[train], x[val], y[val]


def make_dataset(cfg: DataConfig) -> Dataset:
    """Build the dataset a configuration describes (synthetic or CSV)."""
    if cfg.csv_path:
        from core.csvdata import load_csv

        table = load_csv(cfg.csv_path, cfg.target_column, cfg.feature_columns)
        x, y = table.x, table.y
        names, target = list(table.feature_names), table.target_name
        true_w, true_b = None, None
        source = str(cfg.csv_path)
    else:
        x, y = synthetic(cfg)
        names = [f"x{i + 1}" for i in range(x.shape[1])]
        target = "y"
        true_w, true_b = np.asarray(cfg.true_weights, dtype=np.float64), float(cfg.true_bias)
        source = "synthetic"
    x_tr, y_tr, x_va, y_va = split(x, y, cfg.val_fraction, cfg.seed)
    d = x.shape[1]
    shift, scale = np.zeros(d), np.ones(d)
    if cfg.standardize:
        # Statistics from the training rows only, so validation stays unseen.
        shift = x_tr.mean(axis=0)
        scale = x_tr.std(axis=0)
        scale[scale == 0.0] = 1.0
        x_tr = (x_tr - shift) / scale
        x_va = (x_va - shift) / scale
    return Dataset(
        x_train=np.ascontiguousarray(x_tr),
        y_train=np.ascontiguousarray(y_tr),
        x_val=np.ascontiguousarray(x_va),
        y_val=np.ascontiguousarray(y_va),
        feature_names=names,
        target_name=target,
        true_weights=true_w,
        true_bias=true_b,
        shift=shift,
        scale=scale,
        source=source,
    )


def epoch_order(n: int, seed: int, epoch: int, shuffle: bool) -> np.ndarray | None:
    """Row order for one epoch: a seeded permutation, or None (natural order) without shuffling."""
    if not shuffle:
        return None
    # Seeded per epoch, so any epoch's order is known without replaying earlier ones.
    return np.random.default_rng([seed, 3, epoch]).permutation(n)
