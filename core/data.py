"""Training data: seeded synthetic lines or CSV columns, standardisation and the val split."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from core.config import DataConfig
from core.csvdata import load_csv
from core.errors import DataError
from core.progress import Progress


@dataclass
class Dataset:
    """Train/validation arrays plus what is needed to report in original units.

    Features are in the model's dtype (a float32 model trains on float32 data: half the memory
    and no copy in the engine); targets are float64.
    """

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


# float64 values generated per chunk of synthetic rows: bounds the temporaries to 8 MB.
_GEN_CHUNK_VALUES = 1 << 20


def _draw(cfg: DataConfig, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Independent feature draws of unit variance (normal or uniform), float64."""
    if cfg.feature_distribution == "uniform":
        # Unit variance, like the normal case, so the two are comparable.
        return rng.uniform(-np.sqrt(3.0), np.sqrt(3.0), size=shape)
    return rng.standard_normal(shape)


def _spans(n: int) -> Iterator[tuple[int, int]]:
    """(lo, hi) bounds of consecutive chunks of _GEN_CHUNK_VALUES rows covering n rows."""
    for lo in range(0, n, _GEN_CHUNK_VALUES):
        yield lo, min(lo + _GEN_CHUNK_VALUES, n)


def _draw_column(
    cfg: DataConfig, rng: np.random.Generator, n: int, keep: bool = True
) -> np.ndarray | None:
    """n draws as an (n, 1) column (or only advance the stream past them), a chunk at a time.

    Chunked draws are the same values as one draw; one numpy call holds the interpreter lock
    throughout, so ten million in one call stalled the window (~100 ms) while its training
    thread built the data.
    """
    out = np.empty((n, 1)) if keep else None
    for lo, hi in _spans(n):
        part = _draw(cfg, rng, (hi - lo, 1))
        if out is not None:
            out[lo:hi] = part
    return out


def synthetic(
    cfg: DataConfig, dtype: str = "float64", progress: Progress | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return X (in dtype) and y = X w + b + noise (float64), reproducible from cfg.seed.

    The features are generated in float64 a chunk of rows at a time and stored in dtype, so a
    float32 model's data never exists as a float64 copy: they are the values of one big float64
    draw, rounded to dtype. y comes from the stored features, so without noise the data the
    model sees lies exactly on the true line.
    """
    rng = np.random.default_rng([cfg.seed, 1])
    w = np.asarray(cfg.true_weights, dtype=np.float64)
    if cfg.inline_features is not None:
        x = np.asarray(cfg.inline_features, dtype=np.float64).astype(dtype)
        y = x @ w + cfg.true_bias
    else:
        n, d = cfg.n_samples, w.size
        x = np.empty((n, d), dtype=dtype)
        y = np.empty(n)
        rho = cfg.feature_correlation
        # The stream holds every row's features, then a shared component (always drawn for
        # uniform features, for normal ones only with a correlation), then the noise.
        shared = cfg.feature_distribution == "uniform" or rho > 0
        mix = rho > 0 and d > 1
        rows = max(1, _GEN_CHUNK_VALUES // d)
        common = None
        if mix:
            # The shared component follows all the features in the stream: skip ahead to it
            # once, then come back for the features (twice the draws, none of the memory).
            start = rng.bit_generator.state
            for lo in range(0, n, rows):
                _draw(cfg, rng, (min(rows, n - lo), d))
            common = _draw_column(cfg, rng, n)
            after = rng.bit_generator.state
            rng.bit_generator.state = start
        for lo in range(0, n, rows):
            z = _draw(cfg, rng, (min(rows, n - lo), d))
            if mix:
                # A shared component gives every pair of features correlation rho, unit
                # variance kept.
                z *= np.sqrt(1.0 - rho)
                z += np.sqrt(rho) * common[lo : lo + rows]
            x[lo : lo + rows] = z
            y[lo : lo + rows] = x[lo : lo + rows] @ w  # float32 rows promote to float64
            if progress is not None:
                progress(0.9 * min(lo + rows, n) / n)  # the noise below is the last tenth
        y += cfg.true_bias
        if mix:
            rng.bit_generator.state = after
        elif shared:
            _draw_column(cfg, rng, n, keep=False)  # unused, as ever: the noise stays the same
    if cfg.noise_std > 0:
        # A noise seed draws the noise from its own stream, the features held (fixed design).
        noise = rng if cfg.noise_seed is None else np.random.default_rng([cfg.noise_seed, 5])
        for lo, hi in _spans(x.shape[0]):  # chunked for the reason _draw_column gives
            y[lo:hi] += cfg.noise_std * noise.standard_normal(hi - lo)
    if progress is not None:
        progress(1.0)
    return x, y


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
            f"data.val_fraction = {val_fraction} leaves {n - n_val} training row(s) of {n}; "
            "at least 2 are needed"
        )
    order = np.random.default_rng([seed, 4]).permutation(n)
    val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
    return x[train], y[train], x[val], y[val]


# Rows per chunk when scanning columns: bounds the temporaries to a few MB for any data size.
_CHUNK_ROWS = 65_536


def column_mean_std(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and (population) standard deviation, without overflow or big temporaries."""
    n, d = x.shape
    # Dividing by each column's peak magnitude first keeps squares of values near 1e200 finite.
    peak = np.maximum(x.max(axis=0), -x.min(axis=0)) if n else np.ones(d)
    peak[~(peak > 0.0)] = 1.0
    total = np.zeros(d)
    for lo in range(0, n, _CHUNK_ROWS):
        total += (x[lo : lo + _CHUNK_ROWS] / peak).sum(axis=0)
    mean = total / max(n, 1)
    squares = np.zeros(d)
    for lo in range(0, n, _CHUNK_ROWS):
        z = x[lo : lo + _CHUNK_ROWS] / peak
        z -= mean
        squares += np.einsum("ij,ij->j", z, z)
    return mean * peak, np.sqrt(squares / max(n, 1)) * peak


def make_dataset(
    cfg: DataConfig, dtype: str = "float64", progress: Progress | None = None
) -> Dataset:
    """Build the dataset a configuration describes (synthetic or CSV), features in dtype;
    progress, if given, hears how far generating or reading has got."""
    if cfg.csv_path:
        table = load_csv(cfg.csv_path, cfg.target_column, cfg.feature_columns, progress)
        x, y = table.x, table.y
        names, target = list(table.feature_names), table.target_name
        true_w, true_b = None, None
        source = str(cfg.csv_path)
    else:
        # Generated features have unit scale, so they may go straight into dtype; inline rows
        # to standardise (like a file's) are standardised in float64 first, where large
        # offsets cost no precision.
        inline_std = cfg.inline_features is not None and cfg.standardize
        x, y = synthetic(cfg, "float64" if inline_std else dtype, progress)
        names = [f"x{i + 1}" for i in range(x.shape[1])]
        target = "y"
        true_w, true_b = np.asarray(cfg.true_weights, dtype=np.float64), float(cfg.true_bias)
        source = "synthetic"
    x_tr, y_tr, x_va, y_va = split(x, y, cfg.val_fraction, cfg.seed)
    d = x.shape[1]
    shift, scale = np.zeros(d), np.ones(d)
    if cfg.standardize:
        # Statistics from the training rows only, so validation stays unseen.
        shift, scale = column_mean_std(x_tr)
        scale[scale == 0.0] = 1.0
        # In place: x_tr and x_va are this function's own arrays (generated, read or split).
        for part in (x_tr, x_va):
            part -= shift
            part /= scale
    ds = Dataset(
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
    if ds.x_train.dtype != np.dtype(dtype):
        # Checked before the cast, which would turn values float32 cannot hold into inf.
        check_magnitudes(ds, dtype)
        ds.x_train = ds.x_train.astype(dtype)
        ds.x_val = ds.x_val.astype(dtype)
    return ds


# Largest |value| a model of each dtype trains on: squared residuals summed over a batch (or
# over 10^7 rows for the statistics) must stay far from overflow (float32 holds 3.4e38). Its
# inverse is the smallest nonzero peak a column may have: smaller values underflow in squares
# and give weights in original units too large to hold.
MAX_MAGNITUDE = {"float32": 1e15, "float64": 1e100}


def check_magnitudes(ds: Dataset, dtype: str) -> None:
    """Raise DataError naming a column whose values are too large or too small for the dtype."""
    limit = MAX_MAGNITUDE[dtype]
    where = ds.source if ds.source != "synthetic" else "data"
    hint = "rescale the data" + (" or use model.dtype float64" if dtype == "float32" else "")
    columns = [(ds.x_train, ds.feature_names), (ds.y_train[:, None], [ds.target_name])]
    columns += [(ds.x_val, ds.feature_names), (ds.y_val[:, None], [ds.target_name])]
    if ds.standardized:
        # Weights go back to original units in float64, through the column scale: a spread of
        # 1e-300 would turn any weight into inf there, whatever the model's dtype.
        wide = MAX_MAGNITUDE["float64"]
        reach, spread = np.abs(ds.shift) + ds.scale, ds.scale
        for k in np.flatnonzero(~((reach <= wide) & (spread >= 1.0 / wide))):
            what = f"reaches {reach[k]:.3g}" if reach[k] > wide else f"varies by {spread[k]:.3g}"
            raise DataError(
                f"{where}: column {ds.feature_names[k]!r} {what}, outside what can be converted "
                f"back from standardised units (magnitudes {1 / wide:g} to {wide:g}); "
                "rescale the data"
            )
    for values, names in columns:
        if values.shape[0] == 0:
            continue
        # max and min make no temporary copy (np.abs would, 800 MB for 10^8 values).
        peak = np.maximum(values.max(axis=0), -values.min(axis=0))
        units = " after standardising" if ds.standardized and names is ds.feature_names else ""
        for k in np.flatnonzero(~((peak <= limit) & ((peak == 0.0) | (peak >= 1.0 / limit)))):
            what = "reaches" if peak[k] > 1.0 else "peaks at"
            raise DataError(
                f"{where}: column {names[k]!r} {what} {float(peak[k]):.3g}{units}, outside what "
                f"model.dtype {dtype} trains on safely (magnitudes {1 / limit:g} to {limit:g}); "
                f"{hint}"
            )


def epoch_order(
    n: int, seed: int, epoch: int, shuffle: bool, sampling: str = "reshuffle"
) -> np.ndarray | None:
    """Rows of one epoch in the order its batches take them: a seeded permutation (reshuffle),
    n rows drawn with replacement (replacement; shuffle does not apply), or None (natural order)
    for reshuffle without shuffling."""
    if sampling == "replacement":
        # torch's RandomSampler(replacement=True) draws n indices, each uniform and independent;
        # cut into batches in order, every batch is an independent draw with replacement.
        return np.random.default_rng([seed, 4, epoch]).integers(0, n, size=n)
    if not shuffle:
        return None
    # Seeded per epoch, so any epoch's order is known without replaying earlier ones.
    return np.random.default_rng([seed, 3, epoch]).permutation(n)


class EpochOrders:
    """The row order of each epoch of one run: cached, and for large data the next epoch's
    drawn ahead on a helper thread while this one trains."""

    def __init__(self, n: int, seed: int, shuffle: bool, sampling: str = "reshuffle") -> None:
        self.n, self.seed, self.shuffle, self.sampling = n, seed, shuffle, sampling
        self._cache: tuple[int, np.ndarray | None] = (-1, None)
        self.ahead: tuple[int, Future[np.ndarray | None]] | None = None

    @property
    def random(self) -> bool:
        """Whether epochs take their rows in a random order (reshuffled or drawn)."""
        return self.shuffle or self.sampling == "replacement"

    def get(self, epoch: int) -> np.ndarray | None:
        """The order of an epoch (None: natural order)."""
        # Cached: drawing a large epoch's permutation again for every snapshot costs ~ms.
        if self._cache[0] != epoch:
            ahead = self.ahead
            if ahead is not None and ahead[0] == epoch:
                order = ahead[1].result()
            else:
                order = epoch_order(self.n, self.seed, epoch, self.shuffle, self.sampling)
            self._cache = (epoch, order)
        return self._cache[1]

    def prefetch(self, epoch: int, min_rows: int) -> None:
        """Start drawing an epoch's order if it is random and the data has min_rows rows."""
        # A million-row permutation costs ~30 ms, 8% of an epoch at batch 1024; NumPy draws it
        # without the GIL, so it is drawn on a helper thread while this epoch trains.
        if self.n < min_rows or not self.random:
            return
        if self.ahead is None or self.ahead[0] != epoch:
            args = (self.n, self.seed, epoch, self.shuffle, self.sampling)
            self.ahead = (epoch, _order_pool().submit(epoch_order, *args))


@functools.cache
def _order_pool() -> ThreadPoolExecutor:
    """One helper thread, shared by every run, that draws epoch orders ahead of time."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="epoch-order")
