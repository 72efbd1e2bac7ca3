"""A plain, copied picture of a run at one moment (no torch, safe across threads)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Snapshot:
    """Plain, copied values describing a run at one moment (safe to hand to another thread)."""

    step: int
    epoch: int
    batch_in_epoch: int
    n_batches: int
    train_loss: float
    val_loss: float | None
    batch_loss: float | None
    weights: np.ndarray  # original units
    bias: float
    theta_trained: np.ndarray  # [w..., b] in trained (possibly standardised) units
    steps_per_second: float
    stopped_reason: str | None
    message: str | None
    batch_indices: np.ndarray  # training rows of the last minibatch
    # Display series, decimated to what a screen can show.
    loss_steps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    loss_values: np.ndarray = field(default_factory=lambda: np.zeros(0))
    param_values: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    epoch_steps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    epoch_train: np.ndarray = field(default_factory=lambda: np.zeros(0))
    epoch_val: np.ndarray = field(default_factory=lambda: np.zeros(0))
    events: tuple[tuple[int, str], ...] = ()
    # The max_points the display series were decimated with (0: not known): a rewound step
    # decimates with the same, so it draws the curves the live view drew.
    series_points: int = 0
    lr_values: np.ndarray = field(default_factory=lambda: np.zeros(0))  # rate at loss_steps
    # [w..., b] (original units) as recorded at each of loss_steps: whole rows, where
    # param_values holds each column's envelope (the eigen view projects rows; zeros(0): none).
    param_rows: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    # Gradients [w..., b] in trained units of the configured objective (loss + l2 penalty) at
    # the current parameters; zeros(0) when unknown. The bias entry is 0 without a fitted bias.
    batch_grad: np.ndarray = field(default_factory=lambda: np.zeros(0))  # last minibatch's rows
    full_grad: np.ndarray = field(default_factory=lambda: np.zeros(0))  # whole training set
    # The landscape's path starts after this step, from path_origin ([w..., b], original
    # units): parameters put somewhere by hand restart it (0 and empty: the whole history).
    path_start: int = 0
    path_origin: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def path(self) -> np.ndarray:
        """The parameter rows ([w..., b], original units) of the path the landscape draws."""
        if self.path_origin.size == 0:
            return self.param_values
        later = self.param_values[self.loss_steps > self.path_start]
        if later.ndim != 2 or later.shape[1] != self.path_origin.size:
            return self.path_origin[None, :].copy()
        return np.vstack([self.path_origin[None, :], later])
