"""Data that moves under a running fit: new targets, rows moved by hand, the data rebuilt from
the current parameters, and parameters put anywhere; each without a reset.

Generated targets are y = X w + b + noise_std * eps, with X the generated features and eps the
unit noise draws, both fixed by the seed. Changing w, b or noise_std moves only y. TargetBasis
keeps what that takes (the features as generated, eps, the split, and the centred products of
the training features with eps: X^T X, X^T 1, X^T eps, 1^T eps, eps^T eps), built once per
dataset in O(n d^2). Each change then rewrites y in O(n d), bit for bit the targets a freshly
generated dataset with the new values has, and the sufficient statistics in O(d^2).

LiveData is the Trainer's side of it (a mixin: the trainer's own methods, kept here).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from core.analysis import Objective, SufficientStats
from core.config import Config, DataConfig, replace_section
from core.data import (
    Dataset,
    add_noise,
    line_targets,
    make_dataset,
    regenerate_features,
    split_rows,
    unit_noise,
)
from core.engine_base import Engine
from core.errors import DataError
from core.history import History
from core.progress import Progress

# Data keys a run follows live: those that only move the targets, and those that rebuild the
# data (same features) under the current parameters.
TARGET_KEYS = frozenset({"data.true_weights", "data.true_bias", "data.noise_std"})
REBUILD_KEYS = frozenset(
    {
        "data.n_samples",
        "data.seed",
        "data.feature_correlation",
        "data.feature_distribution",
        "data.val_fraction",
        "data.standardize",
    }
)
MAX_NAMED_WEIGHTS = 3  # an event names at most this many changed weights


@dataclass
class TargetBasis:
    """What generated targets are made of, for moving them: see the module docstring."""

    features: np.ndarray  # (n, d) as generated: every row, in generation order
    noise: np.ndarray  # (n,) the unit noise draws
    rows: tuple[np.ndarray, np.ndarray] | None  # (training, validation) rows; None: unsplit
    inline: bool  # rows given in the configuration (summed in one product, not in chunks)
    # Moments of (features, eps) over the training (validation) rows in trained units: x_mean
    # and cxx of the features, cxy = cov(x, eps), y_mean and syy the mean and variance of eps.
    train: SufficientStats
    val: SufficientStats | None

    @classmethod
    def of(cls, ds: Dataset) -> TargetBasis:
        """The dataset's basis, built on first use (O(n d^2) once) and kept with it."""
        origin = ds.origin
        if origin is None:
            raise DataError(f"{ds.source}: the targets of a file cannot move (only generated data)")
        if origin.basis is not None:
            return origin.basis
        cfg = origin.config
        # As generated: x_train itself when nothing was split off or standardised, else the
        # features drawn again (the same draws, once).
        x = ds.x_train if origin.raw_features else regenerate_features(origin)
        n = x.shape[0]
        eps = unit_noise(origin, n)
        rows = split_rows(n, cfg.val_fraction, cfg.seed)
        train = SufficientStats.from_data(ds.x_train, eps if rows is None else eps[rows[0]])
        val = None
        if rows is not None and ds.y_val.size:
            val = SufficientStats.from_data(ds.x_val, eps[rows[1]])
        basis = cls(x, eps, rows, cfg.inline_features is not None, train, val)
        origin.basis = basis
        return basis

    def targets(
        self, weights: np.ndarray, bias: float, noise_std: float, out: np.ndarray | None = None
    ) -> np.ndarray:
        """y of every generated row for these values, as make_dataset makes it (bit for bit),
        into out if given."""
        y = line_targets(self.features, weights, bias, self.inline, out)
        add_noise(y, noise_std, self.noise)
        return y


def moved_stats(m: SufficientStats, u: np.ndarray, c: float, noise_std: float) -> SufficientStats:
    """Moments of (X, X u + c + noise_std * eps), from the moments m of (X, eps), in O(d^2)."""
    cu = m.cxx @ u
    y_mean = float(m.x_mean @ u) + c + noise_std * m.y_mean
    cxy = cu + noise_std * m.cxy
    syy = float(u @ cu) + 2.0 * noise_std * float(u @ m.cxy) + noise_std**2 * m.syy
    return SufficientStats(
        n=m.n, x_mean=m.x_mean, y_mean=y_mean, cxx=m.cxx, cxy=cxy, syy=max(syy, 0.0)
    )


def replaced_rows(
    m: SufficientStats, x_old: np.ndarray, y_old: np.ndarray, x_new: np.ndarray, y_new: np.ndarray
) -> SufficientStats:
    """Moments after rows (x_old, y_old) became (x_new, y_new), n unchanged, in O(k d^2)."""
    n = m.n
    dx_new, dx_old = x_new - m.x_mean, x_old - m.x_mean
    dy_new, dy_old = y_new - m.y_mean, y_old - m.y_mean
    # Sums of products about the old means, then moved to the new means (centred: large
    # means cost no precision).
    sxx = n * m.cxx + dx_new.T @ dx_new - dx_old.T @ dx_old
    sxy = n * m.cxy + dx_new.T @ dy_new - dx_old.T @ dy_old
    syy = n * m.syy + float(dy_new @ dy_new - dy_old @ dy_old)
    shift_x = (dx_new.sum(axis=0) - dx_old.sum(axis=0)) / n
    shift_y = float(dy_new.sum() - dy_old.sum()) / n
    cxx = sxx / n - np.outer(shift_x, shift_x)
    return SufficientStats(
        n=n,
        x_mean=m.x_mean + shift_x,
        y_mean=m.y_mean + shift_y,
        cxx=0.5 * (cxx + cxx.T),
        cxy=sxy / n - shift_x * shift_y,
        syy=max(syy / n - shift_y * shift_y, 0.0),
    )


def live_kind(old: DataConfig, new: DataConfig) -> str | None:
    """How a run follows a change of its data: "targets" (only y moves), "rebuild" (new data
    under the current parameters) or None (a new run: other features, a file)."""
    if old == new:
        return "targets"
    if old.csv_path or new.csv_path or old.inline_features != new.inline_features:
        return None
    if len(old.true_weights) != len(new.true_weights):
        return None
    changed = {f"data.{k}" for k, v in vars(new).items() if getattr(old, k) != v}
    if changed <= TARGET_KEYS:
        return "targets"
    if changed <= TARGET_KEYS | REBUILD_KEYS:
        return "rebuild"
    return None


def describe_data(old: DataConfig, new: DataConfig) -> str:
    """What changed between two data configurations, in an event's words."""
    parts = []
    moved = [
        (i, a, b)
        for i, (a, b) in enumerate(zip(old.true_weights, new.true_weights, strict=False))
        if a != b
    ]
    for i, a, b in moved[:MAX_NAMED_WEIGHTS]:
        name = "w" if len(new.true_weights) == 1 else f"w[x{i + 1}]"
        parts.append(f"{name} {a:g} -> {b:g}")
    if len(moved) > MAX_NAMED_WEIGHTS:
        parts.append(f"{len(moved) - MAX_NAMED_WEIGHTS} more weights")
    words = {
        "true_bias": "bias",
        "noise_std": "noise",
        "n_samples": "samples",
        "seed": "seed",
        "feature_correlation": "correlation",
        "feature_distribution": "features",
        "val_fraction": "validation",
        "standardize": "standardised",
    }
    for key, word in words.items():
        a, b = getattr(old, key), getattr(new, key)
        if a != b:
            parts.append(f"{word} {_show(a)} -> {_show(b)}")
    return ", ".join(parts)


def describe_theta(theta: np.ndarray, feature_names: list[str]) -> str:
    """Parameters in an event's words: 'parameters set to w 1.2, b 0.3'."""
    d = len(feature_names)
    names = ["w"] if d == 1 else [f"w[{n}]" for n in feature_names]
    shown = [f"{n} {v:.3g}" for n, v in zip(names, theta[:d], strict=True)]
    more = [f"{d - MAX_NAMED_WEIGHTS} more"] if d > MAX_NAMED_WEIGHTS else []
    return "parameters set to " + ", ".join(
        [*shown[:MAX_NAMED_WEIGHTS], *more, f"b {theta[-1]:.3g}"]
    )


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _host_views(engine: Any) -> tuple[np.ndarray, ...] | None:
    """The engine's own rows as writable NumPy views: features, targets, and the rows it
    gathered for the current epoch (the same memory when it gathers none); None on a device
    NumPy cannot see. Both engine families keep them under these names (core.engines)."""
    if engine.name == "numpy":
        d = engine.d
        return engine.xa[:, :d], engine.y, engine.xs[:, :d], engine.ys
    if engine.device.type != "cpu":
        return None
    return engine.x.numpy(), engine.y.numpy()[:, 0], engine.xs.numpy(), engine.ys.numpy()[:, 0]


def _sync_engine(trainer: LiveData, rows: np.ndarray | None = None) -> None:
    """Copy the dataset's targets (rows=None) or the features and targets of rows into the
    engine's own arrays or tensors, and into the rows it gathered for this epoch, in place."""
    ds, engine = trainer.dataset, trainer.engine
    views = _host_views(engine)
    mid_epoch = trainer.batch_in_epoch > 0
    if views is None:  # a CUDA device: copy whole, then gather this epoch's rows again
        torch = engine.torch
        engine.y.copy_(torch.from_numpy(ds.y_train).reshape(-1, 1))
        engine.x.copy_(torch.from_numpy(np.ascontiguousarray(ds.x_train)))
        if mid_epoch:
            engine.begin_epoch(trainer.epoch_order())
        return
    x, y, xs, ys = views
    gathered = mid_epoch and not np.may_share_memory(ys, y)
    order = trainer.epoch_order() if gathered else None
    # Rows of this epoch already trained on are not read again: only the rest is gathered.
    rest = trainer.batch_in_epoch * trainer.batch_size
    if rows is None:
        if not np.may_share_memory(y, ds.y_train):
            y[:] = ds.y_train  # (float32 models round here)
        if order is not None:
            np.take(y, order[rest:], out=ys[rest:], mode="clip")
        return
    x[rows] = ds.x_train[rows]
    y[rows] = ds.y_train[rows]
    if order is not None:
        at = np.flatnonzero(np.isin(order, rows))
        xs[at] = x[order[at]]
        ys[at] = y[order[at]]


class LiveData:
    """A Trainer's changes of its data and parameters while it runs (see the module docstring).

    Each keeps the step count, the history and the optimizer (placing parameters resets it),
    records an event (or leaves it to a gesture's one note: record=False) and pins a
    checkpoint, so that branching replays the data each step saw."""

    # The step the landscape's path starts from and where (original units): parameters put
    # somewhere by hand restart it.
    path_start = 0
    path_origin: np.ndarray = np.zeros(0)

    # What the Trainer this mixes into keeps (core.trainer, named here, not imported: it
    # imports this module).
    config: Config
    dataset: Dataset
    engine: Engine
    history: History
    stats: SufficientStats
    val_stats: SufficientStats | None
    objective: Objective
    param_names: list[str]
    step_count: int
    epoch: int
    batch_in_epoch: int
    batch_size: int
    n_batches: int
    first_loss: float | None
    stopped_reason: str | None
    message: str | None
    _ols: np.ndarray | None
    _last_theta: np.ndarray

    def set_targets(
        self,
        weights: np.ndarray,
        bias: float,
        noise_std: float,
        record: bool = True,
    ) -> bool:
        """Move the generated targets to new true weights, bias and noise (the features and the
        noise draws stay); rows moved by hand go back. False if nothing changed."""
        ds = self.dataset
        old = self.config.data
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
        if w.size != ds.n_features:
            raise DataError(f"expected {ds.n_features} true weights, got {w.size}")
        config = replace_section(
            self.config,
            "data",
            true_weights=tuple(float(v) for v in w),
            true_bias=float(bias),
            noise_std=float(noise_std),
        )
        if config.data == old and not ds.edits:
            return False
        self.restore_rows()
        basis = TargetBasis.of(ds)
        if basis.rows is None:
            basis.targets(w, bias, noise_std, out=ds.y_train)
        else:
            y = basis.targets(w, bias, noise_std)
            np.take(y, basis.rows[0], out=ds.y_train)
            np.take(y, basis.rows[1], out=ds.y_val)
        ds.true_weights, ds.true_bias = w, float(bias)
        # In trained units the model sees (X - shift) / scale: y = X_t (w scale) + b + shift.w.
        u, c = w * ds.scale, float(bias) + float(ds.shift @ w)
        stats = moved_stats(basis.train, u, c, noise_std)
        val = None if basis.val is None else moved_stats(basis.val, u, c, noise_std)
        _sync_engine(self)
        self.take_data(config, stats, val, describe_data(old, config.data) if record else "")
        return True

    def move_rows(
        self, rows: np.ndarray, x: np.ndarray, y: np.ndarray, record: bool = True
    ) -> None:
        """Move training rows to features x ((k, d), original units) and targets y; Reset (or
        new targets) brings the generated ones back."""
        ds = self.dataset
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        x = np.asarray(x, dtype=np.float64).reshape(rows.size, ds.n_features)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if rows.size != y.size or np.unique(rows).size != rows.size:
            raise ValueError("one target per row, and each row once")
        if rows.size and not (rows.min() >= 0 and rows.max() < ds.n_train):
            raise ValueError(f"rows must lie in 0..{ds.n_train - 1}")
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise ValueError("a moved sample needs finite values")
        for r in rows.tolist():
            if r not in ds.edits:
                ds.edits[r] = (ds.x_train[r].copy(), float(ds.y_train[r]))
        stats = self._rows_replaced(rows, (x - ds.shift) / ds.scale, y)
        n = len(ds.edits)
        text = f"moved {rows.size} sample{'s' if rows.size != 1 else ''} ({n} moved in all)"
        self.take_data(self.config, stats, self.val_stats, text if record else "")

    def restore_rows(self) -> None:
        """Put rows moved by hand back where they were generated (statistics follow)."""
        ds = self.dataset
        if not ds.edits:
            return
        rows = np.array(sorted(ds.edits), dtype=np.int64)
        x = np.array([ds.edits[r][0] for r in rows.tolist()], dtype=np.float64)
        y = np.array([ds.edits[r][1] for r in rows.tolist()])
        ds.edits.clear()
        self.stats = self._rows_replaced(rows, x, y)
        self.dataset._trainer_stats = (self.stats, self.val_stats)  # type: ignore[attr-defined]

    def _rows_replaced(
        self, rows: np.ndarray, x_trained: np.ndarray, y: np.ndarray
    ) -> SufficientStats:
        """Write rows into the dataset and the engine; the statistics after it (O(k d^2))."""
        ds = self.dataset
        x_old = ds.x_train[rows].astype(np.float64)
        y_old = ds.y_train[rows].copy()
        ds.x_train[rows] = x_trained
        ds.y_train[rows] = y
        x_new = ds.x_train[rows].astype(np.float64)  # as stored (a float32 model rounds)
        _sync_engine(self, rows)
        return replaced_rows(self.stats, x_old, y_old, x_new, ds.y_train[rows])

    def take_data(
        self,
        config: Config,
        stats: SufficientStats,
        val_stats: SufficientStats | None,
        note: str = "",
    ) -> None:
        """The data changed under the run: its configuration and statistics now; the least
        squares refitted; note (if any) recorded; a checkpoint pinned."""
        self.config = config
        self.stats, self.val_stats = stats, val_stats
        self.dataset._trainer_stats = (stats, val_stats)  # type: ignore[attr-defined]
        t = config.train
        self.objective = Objective(stats, t.loss, t.l2_penalty, config.model.fit_bias)
        self._ols = None
        self.least_squares(from_stats=True)
        # Explosions are measured from the moved data's loss (a jump of the targets is no
        # divergence).
        self.first_loss = None
        if note:
            self.history.record_event(self.step_count, note)
        self._checkpoint(pinned=True)

    def epoch_order(self) -> np.ndarray | None:
        """The rows of the current epoch in the order its batches take them (None: in order)."""
        return self._order(self.epoch)

    def place(self, theta: np.ndarray, record: bool = True) -> None:
        """Put the parameters exactly at theta ([w..., b], trained units) with the optimizer's
        state reset; the path restarts there and training goes on from it."""
        theta = np.array(theta, dtype=np.float64).reshape(-1)
        d = self.dataset.n_features
        if theta.size != d + 1 or not np.isfinite(theta).all():
            raise ValueError(f"parameters need {d + 1} finite values, got {theta.size}")
        if not self.config.model.fit_bias:
            theta[-1] = 0.0
        self.engine.set_params(theta)
        self.engine.reset_optimizer()
        th = self.theta()  # as the engine holds it (a float32 model rounds)
        self._last_theta = th.copy()
        self.path_start = self.step_count
        self.path_origin = self.dataset.to_original(th)
        self.first_loss = None
        if self.stopped_reason == "diverged":
            # Parameters put back within reach are the fix a divergence asks for.
            self.stopped_reason, self.message = None, None
        if record:
            words = describe_theta(self.path_origin, self.dataset.feature_names)
            self.history.record_event(self.step_count, words)
        self._checkpoint(pinned=True)

    def rebuilt(
        self,
        data: DataConfig,
        progress: Progress | None = None,
        record: bool = True,
    ) -> LiveData:
        """A trainer on other data (the same features, built anew) going on from this one: the
        same model in original units, optimizer, step count, history and checkpoints; its
        epoch starts again."""
        changed = {k: v for k, v in vars(data).items() if getattr(self.config.data, k) != v}
        config = replace_section(self.config, "data", **changed)  # the rest as it trains now
        ds = make_dataset(config.data, dtype=config.model.dtype, progress=progress)
        if ds.n_features != self.dataset.n_features:
            raise DataError(
                f"the new data has {ds.n_features} features, the run {self.dataset.n_features}"
            )
        theta = ds.to_trained(self.theta_original())
        if not config.model.fit_bias:
            theta[-1] = 0.0
        state = self.state().with_changes(
            config=config, theta=theta, batch_in_epoch=0, first_loss=None, history=None
        )
        trainer = type(self).from_state(state, ds, self.history)
        trainer.checkpoints = self.checkpoints
        trainer.checkpoints.add(trainer.state(), pinned=True)
        trainer.path_start, trainer.path_origin = self.path_start, self.path_origin
        if record:
            note = describe_data(self.config.data, config.data)
            trainer.history.record_event(trainer.step_count, note)
        return trainer
