"""What the views need to know about a run that does not change while it trains."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from core.analysis import SufficientStats, noise_floor
from core.config import TrainConfig
from core.sgd_noise import noise_rows
from core.theory import Eigen, run_eigen

if TYPE_CHECKING:  # the window imports this module before torch has loaded
    from core.trainer import Trainer

MAX_SCATTER = 5000  # points drawn in the fit view; more only blur into a cloud


@dataclass(frozen=True)
class RunInfo:
    """Static facts of a run, as plain copied arrays in the data's original units."""

    x: np.ndarray  # (m, d) display sample of training features
    y: np.ndarray  # (m,)
    sample_rows: np.ndarray  # indices of the displayed rows in the training set
    feature_names: list[str]
    target_name: str
    param_names: list[str]  # weights then "bias"
    true_theta: np.ndarray | None  # [w..., b] or None for CSV data
    ols_theta: np.ndarray  # least-squares [w..., b]
    noise_floor: float  # expected loss at the true parameters (the OLS loss for CSV data)
    ols_loss: float
    initial_loss: float
    max_stable_lr: float
    condition_number: float
    loss_kind: str
    n_train: int
    n_batches: int
    total_steps: int
    fit_bias: bool
    # The space the optimizer moves in (for the loss landscape). The statistics are immutable
    # (read-only arrays), so sharing them with the GUI thread is safe.
    stats: SufficientStats | None = None  # of the training set, in trained units
    # The model sees (x - shift) / scale: w_trained = w * scale, b_trained = b + w @ shift.
    shift: np.ndarray = field(default_factory=lambda: np.zeros(0))
    scale: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ols_trained: np.ndarray = field(default_factory=lambda: np.zeros(0))  # [w..., b]
    initial_trained: np.ndarray = field(default_factory=lambda: np.zeros(0))  # [w..., b]
    l2_penalty: float = 0.0  # the objective is loss + l2_penalty * |params|^2
    floor_label: str = "noise floor"  # what the noise_floor line is, in words
    # The objective's Hessian over the trained parameters (trained units, weight decay
    # included): eigenvalues ascending, eigenvectors as columns, and the point gradient
    # descent converges to ([w..., b]). condition_number is eigenvalues[-1] / eigenvalues[0].
    hessian_eigenvalues: np.ndarray = field(default_factory=lambda: np.zeros(0))
    hessian_eigenvectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    theta_star: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # The training settings the run was built with (immutable; live changes come later), the
    # rows a batch holds (at most the training rows) and the steps a schedule spans.
    train: TrainConfig = field(default_factory=TrainConfig)
    batch_size: int = 0
    schedule_horizon: int = 0
    # The training rows (trained units) the SGD plateau takes its noise from
    # (core.sgd_noise.noise_rows): with n_rows=n_train they give run_plateau's figure.
    noise_x: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    noise_y: np.ndarray = field(default_factory=lambda: np.zeros(0))


def floor_of(
    ols_loss: float, noise: float | None, fit_bias: bool, true_bias: float
) -> tuple[float, str]:
    """The loss line drawn as the best a run can reach, and its label: the noise floor of
    generated data, least squares for a file, and the model's own least squares when, without
    a bias term, it cannot reach the data's intercept (the noise floor would mislead)."""
    if not fit_bias and (noise is None or true_bias != 0.0):
        return ols_loss, "best loss without a bias term"
    if noise is None:
        return ols_loss, "least-squares loss"
    return noise, "noise floor"


def run_info(trainer: Trainer) -> RunInfo:
    """Collect a run's static facts for display."""
    ds = trainer.dataset
    n = ds.n_train
    rows = (
        np.arange(n)
        if n <= MAX_SCATTER
        else np.sort(np.random.default_rng(0).choice(n, MAX_SCATTER, replace=False))
    )
    x = ds.x_train[rows] * ds.scale + ds.shift
    eigen, ols_trained, ols_loss, true, floor, floor_label = _fit_facts(trainer)
    noisy = noise_rows(n, eigen.eigenvalues)
    return RunInfo(
        x=x,
        y=ds.y_train[rows].copy(),
        sample_rows=rows,
        feature_names=list(ds.feature_names),
        target_name=ds.target_name,
        param_names=[*ds.feature_names, "bias"],
        true_theta=true,
        ols_theta=ds.to_original(ols_trained),
        noise_floor=floor,
        ols_loss=ols_loss,
        initial_loss=trainer.train_loss(trainer.theta0),
        max_stable_lr=trainer.max_stable_lr(),
        condition_number=eigen.condition_number,
        loss_kind=trainer.loss_kind,
        n_train=n,
        n_batches=trainer.n_batches,
        total_steps=trainer.total_steps,
        fit_bias=trainer.config.model.fit_bias,
        stats=trainer.stats,
        shift=np.array(ds.shift, dtype=np.float64),
        scale=np.array(ds.scale, dtype=np.float64),
        ols_trained=ols_trained,
        initial_trained=trainer.theta0.copy(),
        l2_penalty=float(trainer.config.train.l2_penalty),
        floor_label=floor_label,
        hessian_eigenvalues=eigen.eigenvalues,
        hessian_eigenvectors=eigen.eigenvectors,
        theta_star=eigen.theta_star,
        train=trainer.config.train,
        batch_size=trainer.batch_size,
        schedule_horizon=trainer.schedule_horizon,
        noise_x=ds.x_train[noisy],
        noise_y=ds.y_train[noisy],
    )


def moved_info(trainer: Trainer, info: RunInfo) -> RunInfo:
    """info after the run's data moved under it (core.live_data): the same displayed rows and
    start, the new targets, true and least-squares lines, floors and statistics (O(d^3))."""
    ds = trainer.dataset
    rows = info.sample_rows
    eigen, ols_trained, ols_loss, true, floor, floor_label = _fit_facts(trainer)
    return replace(
        info,
        x=ds.x_train[rows] * ds.scale + ds.shift,
        y=ds.y_train[rows].copy(),
        true_theta=true,
        ols_theta=ds.to_original(ols_trained),
        noise_floor=floor,
        floor_label=floor_label,
        ols_loss=ols_loss,
        initial_loss=trainer.train_loss(np.asarray(info.initial_trained)),
        max_stable_lr=trainer.max_stable_lr(),
        condition_number=eigen.condition_number,
        stats=trainer.stats,
        ols_trained=ols_trained,
        hessian_eigenvalues=eigen.eigenvalues,
        hessian_eigenvectors=eigen.eigenvectors,
        theta_star=eigen.theta_star,
    )


class FitFacts(NamedTuple):
    """What the data says of the fit now: the Hessian's eigen-directions, least squares (in
    trained units) and its loss, the true line, and the floor line with its label."""

    eigen: Eigen
    ols_trained: np.ndarray
    ols_loss: float
    true: np.ndarray | None
    floor: float
    floor_label: str


def _fit_facts(trainer: Trainer) -> FitFacts:
    """The run's FitFacts, from its data as it is now."""
    ds = trainer.dataset
    eigen = run_eigen(trainer)
    ols_trained = trainer.least_squares()
    ols_loss = trainer.train_loss(ols_trained)
    true = ds.true_theta()
    noise = None if true is None else noise_floor(trainer.config.data.noise_std, trainer.loss_kind)
    true_bias = 0.0 if true is None else float(true[-1])
    floor, floor_label = floor_of(ols_loss, noise, trainer.config.model.fit_bias, true_bias)
    return FitFacts(eigen, ols_trained, ols_loss, true, floor, floor_label)
