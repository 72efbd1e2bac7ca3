"""The theory drawn on a sweep's map: the learning rates above which training diverges.

For the objective's Hessian H = 2c E[x~ x~^T] + (2 l2 + wd) I (x~ = [x, 1] with a bias; c the
loss scale; l2 the penalty; wd the weight decay, which torch adds to the gradient):

- full-batch gradient descent is stable for lr < 2 / lambda_max(H);
- heavy-ball momentum (torch's SGD momentum) for lr < 2 (1 + beta) / lambda_max(H);
- Nesterov (torch's form) for lr < 2 (1 + beta) / ((1 + 2 beta) lambda_max(H)) (the iteration
  z^2 - (1 + beta)(1 - h) z + beta (1 - h) = 0, h = lr lambda, has both roots inside the unit
  circle exactly for 0 < h < 2 (1 + beta) / (1 + 2 beta));
- minibatch SGD of B rows drawn without replacement shrinks the expected squared distance to
  the minimum of a noiseless problem for lr < 2 / c(B), c(B) the largest eigenvalue of
  E[H_B^2] = (1 - f) H0^2 + f E[h^2] + 2 s H0 + s^2 I relative to H = H0 + s I, with
  f = (n - B) / (B (n - 1)), h the per-row Hessian and s = 2 l2 + wd. At B = n it is the
  full-batch limit; at B = 1 about 2 / max |x~|^2 (Kaczmarz). It is the learning rate below
  which one step is a contraction on average; above it SGD can still converge.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.analysis import loss_scale
from core.config import Config
from core.data import Dataset

CHUNK_ROWS = 65_536
FIELD_POINTS = 160  # samples per axis of the limit fields the map draws
BOTH_POINTS = 60  # ... when the limit varies along both axes (an eigenproblem per point)


@dataclass(frozen=True)
class LimitKind:
    """One theoretical limit: its name, formula and the optimizers it applies to."""

    key: str
    name: str
    formula: str
    optimizers: tuple[str, ...]


LIMIT_KINDS = (
    LimitKind("full_batch", "full-batch stability", "2/λmax", ("sgd", "momentum", "nesterov")),
    LimitKind("heavy_ball", "heavy-ball stability", "2(1+β)/λmax", ("momentum",)),
    LimitKind("nesterov", "Nesterov stability", "2(1+β)/((1+2β)λmax)", ("nesterov",)),
    LimitKind("minibatch", "minibatch SGD stability (mean square)", "2/c(B)", ("sgd",)),
)
KINDS = {k.key: k for k in LIMIT_KINDS}


def _top_relative(s: np.ndarray, h: np.ndarray) -> float:
    """Largest eigenvalue of s relative to h (both symmetric, h positive semi-definite), on
    the range of h."""
    lam, vec = np.linalg.eigh(h)
    keep = lam > max(float(lam[-1]), 0.0) * h.shape[0] * 1e-12
    if not keep.any():
        return 0.0
    root = vec[:, keep] / np.sqrt(lam[keep])
    return float(np.linalg.eigvalsh(root.T @ s @ root)[-1])


class Theory:
    """The data's curvature facts, and from them each limit for any batch size, momentum and
    weight decay."""

    def __init__(self, x: np.ndarray, kind: str, fit_bias: bool, l2: float = 0.0) -> None:
        n, d = x.shape
        c = loss_scale(kind)
        p = d + 1 if fit_bias else d
        second = np.zeros((p, p))
        fourth = np.zeros((p, p))
        for lo in range(0, n, CHUNK_ROWS):
            part = np.asarray(x[lo : lo + CHUNK_ROWS], dtype=np.float64)
            if fit_bias:
                part = np.column_stack([part, np.ones(part.shape[0])])
            second += part.T @ part
            norms = np.einsum("ij,ij->i", part, part)
            fourth += (part * norms[:, None]).T @ part
        self.n = n
        self.h0 = 2.0 * c * second / n  # the loss's Hessian
        self.m4 = (2.0 * c) ** 2 * fourth / n  # E[h^2] of the per-row Hessians
        self.shift = 2.0 * l2
        self.lam0 = float(np.linalg.eigvalsh(self.h0)[-1]) if p else 0.0

    @classmethod
    def of(cls, dataset: Dataset, config: Config) -> Theory:
        """The theory of a configuration's data, model and loss."""
        t = config.train
        return cls(dataset.x_train, t.loss, config.model.fit_bias, t.l2_penalty)

    def lambda_max(self, weight_decay: float = 0.0) -> float:
        """Largest eigenvalue of the objective's Hessian with this weight decay."""
        return self.lam0 + self.shift + weight_decay

    def batch_curvature(self, batch: float, weight_decay: float = 0.0) -> float:
        """c(B): the curvature that bounds minibatch SGD of B rows (see the module docstring)."""
        n = self.n
        f = 0.0 if batch >= n or n <= 1 else (n - batch) / (batch * (n - 1))
        s = self.shift + weight_decay
        eye = np.eye(self.h0.shape[0])
        second = (1.0 - f) * self.h0 @ self.h0 + f * self.m4 + 2.0 * s * self.h0 + s * s * eye
        return _top_relative(second, self.h0 + s * eye)

    def lr_limit(
        self, key: str, batch: float, momentum: float = 0.0, weight_decay: float = 0.0
    ) -> float:
        """The learning rate the limit called key allows (inf: any)."""
        if key == "minibatch":
            top = self.batch_curvature(batch, weight_decay)
        else:
            top = self.lambda_max(weight_decay)
        if not top > 0:
            return math.inf
        if key == "heavy_ball":
            return 2.0 * (1.0 + momentum) / top
        if key == "nesterov":
            return 2.0 * (1.0 + momentum) / ((1.0 + 2.0 * momentum) * top)
        return 2.0 / top


def applicable(optimizer: str, batch_sizes: Sequence[int], n_train: int) -> list[LimitKind]:
    """The limits that apply to an optimizer at these batch sizes."""
    out = []
    for kind in LIMIT_KINDS:
        if optimizer not in kind.optimizers:
            continue
        if kind.key == "minibatch" and all(b >= n_train for b in batch_sizes):
            continue  # every run is full-batch: the full-batch limit says it all
        out.append(kind)
    return out


# The settings a limit depends on, as configuration keys.
DEPENDS = {
    "full_batch": ("train.weight_decay",),
    "heavy_ball": ("train.weight_decay", "train.momentum"),
    "nesterov": ("train.weight_decay", "train.momentum"),
    "minibatch": ("train.weight_decay", "train.batch_size"),
}


def _settings(config: Config, n_train: int, overrides: dict[str, Any]) -> dict[str, Any]:
    t = config.train
    get = overrides.get
    return {
        "lr": get("train.lr", t.lr),
        "batch": min(get("train.batch_size", t.batch_size), n_train),
        "momentum": get("train.momentum", t.momentum),
        "weight_decay": get("train.weight_decay", t.weight_decay),
    }


def limit_records(
    theory: Theory, config: Config, axes: Sequence[Any], n_train: int
) -> list[dict[str, Any]]:
    """Each applicable limit with its name and formula, its value at the configuration's own
    settings, and its values along every axis it depends on (sweep.json's "limits")."""
    batches = [config.train.batch_size]
    for axis in axes:
        if axis.key == "train.batch_size":
            batches = list(axis.values)
    records = []
    for kind in applicable(config.train.optimizer, batches, n_train):
        own = _settings(config, n_train, {})
        record: dict[str, Any] = {
            "name": kind.name,
            "formula": kind.formula,
            "bounds": "train.lr",
            "lr": theory.lr_limit(kind.key, own["batch"], own["momentum"], own["weight_decay"]),
        }
        for axis in axes:
            if axis.key in DEPENDS[kind.key]:
                points = []
                for value in axis.values:
                    s = _settings(config, n_train, {axis.key: value})
                    lr = theory.lr_limit(kind.key, s["batch"], s["momentum"], s["weight_decay"])
                    points.append([value, lr])
                record.setdefault("along", {})[axis.key] = points
        records.append(record)
    return records


def limit_field(
    theory: Theory,
    config: Config,
    axes: Sequence[Any],
    kind: str,
    n_train: int,
    points: int = FIELD_POINTS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """lr / its limit over a fine grid of the first two axes' cell positions (x, y, ratio of
    shape (len(y), len(x))): the map draws the limit where the ratio crosses 1."""
    two = len(axes) > 1
    keys = [a.key for a in axes[:2]]
    x_dep = keys[0] in DEPENDS[kind]
    y_dep = two and keys[1] in DEPENDS[kind]
    if x_dep and y_dep:
        points = min(points, BOTH_POINTS)  # an eigenvalue problem per point of the plane
    fx = np.linspace(0, len(axes[0].values) - 1, points)
    fy = np.linspace(0, len(axes[1].values) - 1, points) if two else np.zeros(1)
    xs = np.atleast_1d(axes[0].value_at(fx)).astype(np.float64)
    ys = np.atleast_1d(axes[1].value_at(fy)).astype(np.float64) if two else np.zeros(1)
    limit = np.empty((ys.size if y_dep else 1, xs.size if x_dep else 1))
    for r in range(limit.shape[0]):
        for col in range(limit.shape[1]):
            over = {}
            if x_dep:
                over[keys[0]] = float(xs[col])
            if y_dep:
                over[keys[1]] = float(ys[r])
            s = _settings(config, n_train, over)
            if "train.batch_size" in over:
                s["batch"] = min(over["train.batch_size"], n_train)
            limit[r, col] = theory.lr_limit(kind, s["batch"], s["momentum"], s["weight_decay"])
    if keys[0] == "train.lr":
        lr = xs[None, :]
    elif two and keys[1] == "train.lr":
        lr = ys[:, None]
    else:
        lr = np.full((1, 1), config.train.lr)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.broadcast_to(lr / limit, (ys.size, xs.size)).copy()
    return fx, fy, ratio
