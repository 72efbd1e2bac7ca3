"""The run as a standalone Python script, in the style of the articles the presets reproduce.

make_script(config) writes the data generation, the model, the loss and the update out in full
(hand-derived gradients for numpy; autograd and a hand-written update for scratch; nn.Linear and
torch.optim for module), so that running it trains the same run, step for step, and prints the
final weights and bias as JSON on its last line.

Every number matches the app's because the script repeats the app's arithmetic in the app's
order: the same NumPy generator streams ([seed, 1] data, [seed, 2] initial values, [seed, 3,
epoch] batch order or [seed, 4, epoch] rows drawn with replacement, [seed, 4] validation rows),
the same gathering of each epoch's rows, the update written as the engines write it (plain SGD
in NumPy folds the learning rate into the gradient's factor, Adam divides by sqrt(v) / sqrt(c2)
+ eps, ...), and a learning-rate schedule stepped as the engines step it (torch's scheduler for
module, its arithmetic in plain Python for numpy and scratch). A CSV file is read again with
NumPy when the script runs (it is not copied into the script).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from core.branch_history import row_at
from core.config import Config
from core.engines import gathers_per_batch
from core.script_loop import (
    NEEDS_MATH,
    TORCH_OPTIMIZERS,
    WIDTH,
    Lines,
    literal,
    training_loop,
)

if TYPE_CHECKING:
    from core.trainer import Trainer

# Values each optimizer's update lines compute, by the names update_lines and script_values use.
UPDATE_VALUES = {
    "sgd": ("grad", "lr", "theta"),
    "momentum": ("grad", "velocity", "lr", "theta"),
    "nesterov": ("grad", "velocity", "lr", "theta"),
    "adam": ("grad", "m", "v", "t", "c1", "c2", "lr", "theta"),
    "adamw": ("grad", "m", "v", "t", "c1", "c2", "lr", "theta"),
    "rmsprop": ("grad", "square_avg", "lr", "theta"),
    "adagrad": ("grad", "sum", "lr", "theta"),
}
# Rows the app draws, sums and standardises at a time (core.data): the script does the same.
GEN_CHUNK_VALUES = 1 << 20
STATS_CHUNK_ROWS = 65_536


@dataclass(frozen=True)
class ScriptText:
    """A generated script and, for a code view, the line (1-based) each update value is on."""

    text: str
    update_lines: Mapping[str, int] = field(default_factory=dict)

    @property
    def n_lines(self) -> int:
        """Lines of the script."""
        return self.text.count("\n")


def make_script(config: Config, title: str = "linear regression") -> ScriptText:
    """The standalone script that trains the run config describes."""
    t, m = config.train, config.model
    out = Lines()
    impl = {
        "numpy": "NumPy with hand-derived gradients",
        "scratch": "tensors, autograd and a hand-written update",
        "module": f"nn.Linear, nn.MSELoss and torch.optim.{TORCH_OPTIMIZERS[t.optimizer]}",
    }[t.implementation]
    out.add(f'"""{title.strip() or "linear regression"}: {impl}, in {m.dtype}.')
    out.add("")
    out.add("Written by linreg-viz (python main.py script). Running it trains the same run as the")
    out.add("app, step for step, and prints the final weights and bias as JSON on its last line.")
    out.add('"""')
    out.add("")
    out.add("import json")
    if t.implementation != "module" and t.schedule.name in NEEDS_MATH:
        out.add("import math")
    out.add("")
    out.add("import numpy as np")
    if t.implementation != "numpy":
        out.add("import torch")
    if t.implementation == "module":
        out.add("from torch import nn")
    out.add("")
    n_train, n_features = _data(out, config)
    _initial(out, config)
    big = gathers_per_batch(n_train, (n_features + 1) * np.dtype(m.dtype).itemsize)
    training_loop(out, config, n_train, per_batch=big)
    _result(out, config)
    tags = dict(out.tags)
    tags["theta"] = tags["lr"]  # the update line gives the new parameters
    if "c1" in tags:
        tags.setdefault("t", tags["c1"])  # the bias corrections' line reads the step count
    return ScriptText("\n".join(out.lines) + "\n", tags)


def _data(out: Lines, config: Config) -> tuple[int, int]:
    """Lines making X (n_train, d) in the model's dtype and y (float64); returns n_train, d."""
    d, dtype = config.data, config.model.dtype
    cast = "" if dtype == "float64" else ".astype(np.float32)"
    out.add("seed = " + str(d.seed))
    if d.csv_path:
        n_rows, n_features = _csv_data(out, config)
    else:
        n_rows, n_features = _synthetic_data(out, config)
    # The app keeps features in float64 while it standardises inline or file data.
    late_cast = bool(d.csv_path) or (d.inline_features is not None and d.standardize)
    n_train = n_rows
    if d.val_fraction > 0:
        n_val = round(n_rows * d.val_fraction)
        n_train = n_rows - n_val
        if n_val:
            out.add(f"# Hold out {n_val} of the {n_rows} rows for validation (stream [seed, 4]).")
            out.add(
                f"train = np.sort(np.random.default_rng([seed, 4]).permutation({n_rows})[{n_val}:])"
            )
            out.add("X, y = X[train], y[train]")
    out.add(f"n, d = {n_train}, {n_features}")
    if d.standardize:
        _standardise(out)
    if late_cast and dtype == "float32":
        out.add(f"X = X{cast}  # the model's precision")
    out.add("")
    return n_train, n_features


def _synthetic_data(out: Lines, config: Config) -> tuple[int, int]:
    d, dtype = config.data, config.model.dtype
    w = list(d.true_weights)
    out.add("")
    out.add("# Data: y = X @ true_w + true_b + noise, drawn from NumPy's generator as the app")
    out.add("# draws it (stream [seed, 1]), so every value is the app's.")
    out.call("true_w = np.array", [[float(v) for v in w]])
    out.add(f"true_b = {literal(float(d.true_bias))}")
    if d.inline_features is None or d.noise_std > 0:
        out.add("rng = np.random.default_rng([seed, 1])")
    inline_std = d.inline_features is not None and d.standardize
    store = "" if dtype == "float64" or inline_std else ".astype(np.float32)"
    if d.inline_features is not None:
        n, k = len(d.inline_features), len(w)
        rows = [list(map(float, r)) for r in d.inline_features]
        out.call("X = np.array", [rows], store)
        out.add("y = X @ true_w + true_b  # exactly on the line")
    else:
        n, k = d.n_samples, len(w)
        draw = (
            "rng.standard_normal({shape})"
            if d.feature_distribution == "normal"
            else "rng.uniform(-np.sqrt(3.0), np.sqrt(3.0), size={shape})"
        )
        rho = d.feature_correlation
        mix, shared = rho > 0 and k > 1, d.feature_distribution == "uniform" or rho > 0
        what = "normal" if d.feature_distribution == "normal" else "uniform, unit variance"
        if mix:
            out.add(f"z = {draw.format(shape=f'({n}, {k})')}  # independent features ({what})")
            out.add(f"common = {draw.format(shape=f'({n}, 1)')}  # shared by every feature")
            out.add("# Mixing in the shared part gives every pair of features correlation")
            out.add(f"# {literal(rho)}, keeping unit variance.")
            out.add(f"z *= np.sqrt(1.0 - {literal(rho)})")
            out.add(f"z += np.sqrt({literal(rho)}) * common")
            out.add(f"X = z{store}")
        else:
            out.add(f"X = {draw.format(shape=f'({n}, {k})')}{store}  # features ({what})")
        rows = max(1, GEN_CHUNK_VALUES // k)
        if n > rows:
            out.add(f"y = np.empty({n})")
            out.add(f"for lo in range(0, {n}, {rows}):  # the line, as the app sums it, by chunks")
            out.add(f"    y[lo : lo + {rows}] = X[lo : lo + {rows}] @ true_w")
            out.add("y += true_b")
        else:
            out.add("y = X @ true_w + true_b  # the true line through the stored features")
        if shared and not mix:
            out.add(f"{draw.format(shape=f'({n}, 1)')}  # drawn and unused, as the app does")
    if d.noise_std > 0:
        out.add(f"y += {literal(float(d.noise_std))} * rng.standard_normal({n})  # Gaussian noise")
    return n, k


def _csv_data(out: Lines, config: Config) -> tuple[int, int]:
    from core.csvdata import load_csv

    d = config.data
    table = load_csv(d.csv_path, d.target_column, d.feature_columns)
    layout = _csv_layout(d.csv_path, table.feature_names, table.target_name)
    out.add("")
    names = f"# Data: the columns {literal(table.feature_names)} (features) and"
    if len(names) > WIDTH:
        names = f"# Data: {len(table.feature_names)} feature columns and"
    out.add(names)
    out.add(f"# {literal(table.target_name)} (target) of the CSV file, read with NumPy.")
    out.call("table = np.loadtxt", [literal(d.csv_path), *layout])
    k = table.x.shape[1]
    out.add(f"X, y = table[:, :{k}].copy(), table[:, {k}].copy()  # each a contiguous array")
    return table.x.shape[0], k


def _csv_layout(path: str, features: list[str], target: str) -> list[str]:
    """np.loadtxt's arguments that read the file as core.csvdata does: its delimiter, the lines
    up to the header skipped, the columns used (features in order, then the target), and its
    encoding and quoting if it needs them."""
    from core.csvdata import _decode, _parse_header, _read_bytes

    raw, _ = _read_bytes(path, str(path))
    # The codec the app decoded the file with (utf-8, utf-8-sig, utf-16 or cp1252).
    text, encoding = _decode(raw, str(path))
    names, delimiter, header_line, _ = _parse_header(text, str(path))
    index = {name: i for i, name in enumerate(names)}
    columns = [index[f] for f in features] + [index[target]]
    args = [f"delimiter={literal(delimiter)}", f"skiprows={header_line}"]
    args += [f"usecols={literal(columns)}", "ndmin=2", f"encoding={literal(encoding)}"]
    if '"' in text:
        args.append("quotechar='\"'")
    return args


def _standardise(out: Lines) -> None:
    out.add("# Standardise each column with the training rows' mean and standard deviation,")
    out.add("# computed as the app does: over the column divided by its peak (no overflow),")
    out.add(f"# {STATS_CHUNK_ROWS} rows at a time.")
    out.add("peak = np.maximum(X.max(axis=0), -X.min(axis=0))")
    out.add("peak[~(peak > 0.0)] = 1.0")
    out.add("total, squares = np.zeros(d), np.zeros(d)")
    out.add(f"for lo in range(0, n, {STATS_CHUNK_ROWS}):")
    out.add(f"    total += (X[lo : lo + {STATS_CHUNK_ROWS}] / peak).sum(axis=0)")
    out.add("mean = total / n")
    out.add(f"for lo in range(0, n, {STATS_CHUNK_ROWS}):")
    out.add(f"    z = X[lo : lo + {STATS_CHUNK_ROWS}] / peak")
    out.add("    z -= mean")
    out.add('    squares += np.einsum("ij,ij->j", z, z)')
    out.add("shift, scale = mean * peak, np.sqrt(squares / n) * peak")
    out.add("scale[scale == 0.0] = 1.0")
    out.add("X -= shift")
    out.add("X /= scale")


def _initial(out: Lines, config: Config) -> None:
    m = config.model
    out.add("# Initial parameters theta0 = [w..., b], seeded (stream [seed, 2]).")
    out.add("theta0 = np.zeros(d + 1)")
    if m.init == "normal":
        out.add(
            f"theta0[:d] = np.random.default_rng([seed, 2]).normal(0.0, {literal(m.init_std)}, d)"
        )
    elif m.init == "constant":
        out.add(f"theta0[:d] = {literal(float(m.init_value))}")
    elif m.init == "torch_default":
        out.add("bound = 1.0 / np.sqrt(d)  # nn.Linear's default: U(-1/sqrt(d), 1/sqrt(d))")
        out.add("theta0[:] = np.random.default_rng([seed, 2]).uniform(-bound, bound, d + 1)")
    if not m.fit_bias and m.init == "torch_default":
        out.add("theta0[d] = 0.0  # no bias")
    out.add("")


def _result(out: Lines, config: Config) -> None:
    impl, fit_bias = config.train.implementation, config.model.fit_bias
    out.add("")
    out.add("# The final parameters, in the data's own units, as JSON on the last line.")
    if impl == "numpy":
        out.add("weights = theta[:d].astype(np.float64)")
        out.add("bias = float(theta[d])" if fit_bias else "bias = 0.0")
    elif impl == "scratch":
        out.add("weights = w.detach().double().numpy().reshape(-1)")
        out.add("bias = b.item()" if fit_bias else "bias = 0.0")
    else:
        out.add("weights = model.weight.detach().double().numpy().reshape(-1)")
        out.add("bias = model.bias.item()" if fit_bias else "bias = 0.0")
    if config.data.standardize:
        out.add("weights = weights / scale  # undo the standardisation")
        out.add("bias = bias - weights @ shift")
    out.add('print(json.dumps({"weights": weights.tolist(), "bias": float(bias)}))')


def script_values(trainer: Trainer) -> dict[str, np.ndarray]:
    """The values the script's update lines computed in the trainer's latest step, for a code
    view to show beside them (names as in update_lines, vectors as [w..., b] in trained units):
    "grad" (what the update used), the optimizer's running state after the step ("velocity";
    "m", "v", their bias corrections "c1", "c2" and the step count "t"; "square_avg"; "sum"),
    "lr" and the parameters "theta". Only "lr" and "theta" before the first step."""
    t = trainer.config.train
    # The rate the latest step used (a schedule changes it every step); before the first, the
    # rate the first will use.
    lr = trainer.engine.next_lr()
    if trainer.step_count:
        used = float(trainer.history.lrs_at(np.array([trainer.step_count]))[0])
        lr = used if np.isfinite(used) else trainer.hyper.lr
    values: dict[str, np.ndarray] = {"lr": np.array(lr), "theta": trainer.theta()}
    if trainer.step_count == 0:
        return values
    names = {"momentum_buffer": "velocity", "exp_avg": "m", "exp_avg_sq": "v", "step": "t"}
    for key, value in trainer.engine.optimizer_state().items():
        values[names.get(key, key)] = np.array(value)
    if "m" in values and "t" in values:
        step = float(values["t"])
        values["c1"] = np.array(1.0 - t.betas[0] ** step)
        values["c2"] = np.array(1.0 - t.betas[1] ** step)
    before = row_at(trainer.history, trainer.step_count - 1)
    if before is not None:
        theta = trainer.dataset.to_trained(before)
        grad = trainer.batch_gradient(trainer.batch_indices(), theta)
        if t.implementation != "module" and t.optimizer != "sgd" and t.weight_decay:
            grad = grad + t.weight_decay * theta  # the script's grad line adds the decay
        if not trainer.config.model.fit_bias:
            grad[-1] = 0.0
        values["grad"] = grad
    wanted = UPDATE_VALUES[t.optimizer]
    return {name: value for name, value in values.items() if name in wanted}
