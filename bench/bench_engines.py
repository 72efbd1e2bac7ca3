"""Engines vs the loops they replace, side by side: training steps per second, median of trials.

Workload of seeds 001/002: 1000 samples, 3 features (w [2.8, -1.7, 3.6], b 3.0, noise 0.01),
minibatch 10, plain SGD lr 0.03, float32, shuffled every epoch.

Contenders:
  a) the seed's loop verbatim: TensorDataset + DataLoader(shuffle=True), nn.Linear, MSELoss, SGD
  b) bare torch loop: x[randperm] gathered once per epoch, sliced batches, same module sequence
  c) bare numpy loop: hand gradients on [X | 1], the numpy engine's arithmetic
  d) bare scratch loop: w, b with requires_grad, autograd, in-place update under no_grad
  e) our engines through Trainer.run_steps (numpy, scratch, module): only run_steps is timed

Run: python -m bench.bench_engines [--trials N] [--seconds S] [--strict]
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.utils import data

from bench import print_tables
from core.config import Config, make_config
from core.data import make_dataset
from core.trainer import Trainer

TRUE_W = [2.8, -1.7, 3.6]
TRUE_B = 3.0
NOISE = 0.01
N_SAMPLES = 1000
BATCH = 10
LR = 0.03
STEPS_PER_EPOCH = N_SAMPLES // BATCH
# Every contender must actually learn: a fast loop computing garbage is no win.
WEIGHT_TOLERANCE = 0.02

# A run returns (steps, seconds of the timed part, final [w..., b]).
Result = tuple[int, float, np.ndarray]


def workload_config(implementation: str, epochs: int) -> Config:
    """The benchmark workload as a validated configuration for one implementation."""
    return make_config(
        data={
            "true_weights": TRUE_W,
            "true_bias": TRUE_B,
            "noise_std": NOISE,
            "n_samples": N_SAMPLES,
        },
        model={"init": "normal", "init_std": 0.01, "dtype": "float32"},
        train={
            "implementation": implementation,
            "optimizer": "sgd",
            "lr": LR,
            "batch_size": BATCH,
            "epochs": epochs,
            "shuffle": True,
            "loss": "mse",
            # The bare loops run on the CPU; auto would pick a CUDA device where there is one.
            "device": "cpu",
        },
    )


@dataclass(frozen=True)
class Workload:
    """The training rows every contender uses (the Trainer's own dataset, so all see one set)."""

    x: np.ndarray  # float32 (n, d)
    y: np.ndarray  # float32 (n,)

    @classmethod
    def build(cls) -> Workload:
        """Make the dataset the Trainer would make for this workload."""
        ds = make_dataset(workload_config("numpy", 1).data)
        return cls(ds.x_train.astype(np.float32), ds.y_train.astype(np.float32))


# ---- a) the seed's loop, verbatim -------------------------------------------------------------
def seed_dataloader_loop(w: Workload, epochs: int) -> Result:
    """Seed 002's training loop as written: DataLoader batches, no per-step .item()."""
    features = torch.from_numpy(w.x)
    labels = torch.from_numpy(w.y).reshape(-1, 1)
    dataset = data.TensorDataset(features, labels)
    data_iter = data.DataLoader(dataset, batch_size=BATCH, shuffle=True)
    net = nn.Linear(features.shape[1], 1)
    net.weight.data.normal_(0, 0.01)
    net.bias.data.fill_(0)
    loss = nn.MSELoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=LR)

    t0 = time.perf_counter()
    for _epoch in range(epochs):
        for x, y in data_iter:
            # Forward pass (`l` is the seed's name)
            y_hat = net(x)
            l = loss(y_hat, y)  # noqa: E741
            # Backward pass
            optimizer.zero_grad()
            l.backward()
            optimizer.step()
        l.item()  # the seed prints the last batch's loss once per epoch
    seconds = time.perf_counter() - t0
    theta = np.append(net.weight.detach().numpy().ravel(), net.bias.detach().numpy())
    return epochs * len(data_iter), seconds, theta


# ---- b) bare torch loop -----------------------------------------------------------------------
def bare_torch_loop(w: Workload, epochs: int) -> Result:
    """nn.Linear + MSELoss + SGD(foreach=False) over a per-epoch gathered permutation."""
    x = torch.from_numpy(w.x)
    y = torch.from_numpy(w.y).reshape(-1, 1)
    n = x.shape[0]
    gen = torch.Generator().manual_seed(0)
    net = nn.Linear(x.shape[1], 1)
    with torch.no_grad():
        net.weight.normal_(0, 0.01)
        net.bias.zero_()
    loss_fn = nn.MSELoss()
    opt = torch.optim.SGD(net.parameters(), lr=LR, foreach=False)

    t0 = time.perf_counter()
    for _epoch in range(epochs):
        idx = torch.randperm(n, generator=gen)
        xs, ys = x[idx], y[idx]
        for lo in range(0, n, BATCH):
            opt.zero_grad()
            loss = loss_fn(net(xs[lo : lo + BATCH]), ys[lo : lo + BATCH])
            loss.backward()
            opt.step()
            loss.item()
    seconds = time.perf_counter() - t0
    theta = np.append(net.weight.detach().numpy().ravel(), net.bias.detach().numpy())
    return epochs * -(-n // BATCH), seconds, theta


# ---- c) bare numpy loop -----------------------------------------------------------------------
def bare_numpy_loop(w: Workload, epochs: int) -> Result:
    """Hand gradients on [X | 1]: r = Xb theta - yb, loss = r.r/m, g = 2/m Xb^T r."""
    n, d = w.x.shape
    xa = np.ascontiguousarray(np.hstack([w.x, np.ones((n, 1), dtype=np.float32)]))
    y = w.y
    rng = np.random.default_rng(0)
    theta = np.zeros(d + 1, dtype=np.float32)
    theta[:d] = rng.normal(0.0, 0.01, d)

    t0 = time.perf_counter()
    for _epoch in range(epochs):
        order = rng.permutation(n)
        xs, ys = xa[order], y[order]
        for lo in range(0, n, BATCH):
            xb = xs[lo : lo + BATCH]
            r = xb @ theta - ys[lo : lo + BATCH]
            m = xb.shape[0]
            _loss = float(r @ r) / m
            g = xb.T @ r * (2.0 / m)
            theta -= LR * g
    seconds = time.perf_counter() - t0
    return epochs * -(-n // BATCH), seconds, theta.astype(np.float64)


# ---- d) bare scratch loop ---------------------------------------------------------------------
def bare_scratch_loop(w: Workload, epochs: int) -> Result:
    """Tensors with requires_grad, autograd, in-place SGD under no_grad, grads set to None."""
    x = torch.from_numpy(w.x)
    y = torch.from_numpy(w.y).reshape(-1, 1)
    n, d = x.shape
    gen = torch.Generator().manual_seed(0)
    wt = torch.normal(0.0, 0.01, (d, 1), generator=gen).requires_grad_(True)
    b = torch.zeros(1, requires_grad=True)

    t0 = time.perf_counter()
    for _epoch in range(epochs):
        idx = torch.randperm(n, generator=gen)
        xs, ys = x[idx], y[idx]
        for lo in range(0, n, BATCH):
            y_hat = xs[lo : lo + BATCH] @ wt + b
            loss = ((y_hat - ys[lo : lo + BATCH]) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                wt -= LR * wt.grad
                b -= LR * b.grad
                wt.grad = None
                b.grad = None
            loss.item()
    seconds = time.perf_counter() - t0
    theta = np.append(wt.detach().numpy().ravel(), b.detach().numpy())
    return epochs * -(-n // BATCH), seconds, theta


# ---- e) our engines through the Trainer -------------------------------------------------------
def trainer_loop(implementation: str) -> Callable[[Workload, int], Result]:
    """A contender running one engine through Trainer.run_steps (only run_steps is timed)."""

    def run(_w: Workload, epochs: int) -> Result:
        trainer = Trainer(workload_config(implementation, epochs))
        t0 = time.perf_counter()
        trainer.run_steps(trainer.total_steps)
        seconds = time.perf_counter() - t0
        if trainer.stopped_reason != "completed":
            raise RuntimeError(f"{implementation}: run stopped: {trainer.stopped_reason}")
        return trainer.step_count, seconds, trainer.theta_original()

    run.__name__ = f"trainer_{implementation}"
    return run


@dataclass
class Contender:
    """One loop in the race, its epochs per trial and its measured rates."""

    key: str
    label: str
    fn: Callable[[Workload, int], Result]
    epochs: int = 1
    rates: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        """Median steps per second over the trials."""
        return statistics.median(self.rates)


CONTENDERS = [
    ("dataloader", "a) seed loop: DataLoader + nn.Linear + SGD", seed_dataloader_loop),
    ("bare_torch", "b) bare torch loop (no DataLoader)", bare_torch_loop),
    ("bare_numpy", "c) bare numpy loop (hand gradients)", bare_numpy_loop),
    ("bare_scratch", "d) bare scratch loop (autograd + no_grad)", bare_scratch_loop),
    ("numpy", "e) numpy engine via Trainer.run_steps", trainer_loop("numpy")),
    ("scratch", "e) scratch engine via Trainer.run_steps", trainer_loop("scratch")),
    ("module", "e) module engine via Trainer.run_steps", trainer_loop("module")),
]

# (numerator, denominator, goal, description)
GOALS = [
    ("module", "dataloader", 1.6, "module engine / seed DataLoader loop"),
    ("numpy", "dataloader", 15.0, "numpy engine / seed DataLoader loop"),
    ("numpy", "bare_numpy", 0.9, "numpy engine / bare numpy loop"),
    ("scratch", "bare_scratch", 0.9, "scratch engine / bare scratch loop"),
    ("module", "bare_torch", 0.9, "module engine / bare torch loop"),
]


def _timed(c: Contender, w: Workload, epochs: int) -> float:
    """Run a contender once; check it learned; return its steps per second."""
    gc.collect()
    steps, seconds, theta = c.fn(w, epochs)
    err = float(np.max(np.abs(theta - np.append(TRUE_W, TRUE_B))))
    if not err < WEIGHT_TOLERANCE:
        raise RuntimeError(f"{c.label}: parameters off by {err:.3g} after {epochs} epochs")
    return steps / seconds


def race(trials: int, seconds: float, out: Callable[[str], None]) -> list[Contender]:
    """Calibrate epochs per contender, then run interleaved trials; return the contenders."""
    w = Workload.build()
    contenders = [Contender(k, label, fn) for k, label, fn in CONTENDERS]
    # Warm-up (imports, allocator, first-call paths), which also calibrates each contender's
    # epochs so one trial of each takes about `seconds`.
    for c in contenders:
        _timed(c, w, 1)
        rate = _timed(c, w, 2)
        c.epochs = max(2, round(seconds * rate / STEPS_PER_EPOCH))
    out(f"calibrated: {', '.join(f'{c.key} {c.epochs}' for c in contenders)} epochs per trial")
    for t in range(trials):
        # Rotate the order each trial so no contender always runs first or after the same one.
        k = t % len(contenders)
        for c in contenders[k:] + contenders[:k]:
            c.rates.append(_timed(c, w, c.epochs))
        out(f"trial {t + 1}/{trials} done")
    return contenders


def report(contenders: list[Contender], trials: int) -> tuple[str, str, int]:
    """Plain-text and markdown tables of rates and goals; also the number of goals missed."""
    by = {c.key: c for c in contenders}
    lines = [
        f"{'contender':<44} {'epochs':>6} {'median steps/s':>15} {'min':>10} {'max':>10}"
        f" {'vs DataLoader':>14}",
    ]
    base = by["dataloader"].median
    for c in contenders:
        lines.append(
            f"{c.label:<44} {c.epochs:>6} {c.median:>15,.0f} {min(c.rates):>10,.0f}"
            f" {max(c.rates):>10,.0f} {c.median / base:>13.2f}x"
        )
    lines.append("")
    lines.append(f"{'ratio of medians':<44} {'ratio':>8} {'goal':>8}  verdict")
    md = [
        f"Median training steps/s over {trials} interleaved trials; 1000 samples x 3 features,"
        " batch 10, SGD lr 0.03, float32, `torch.set_num_threads(1)`.",
        "",
        "| Loop | Median steps/s | vs seed DataLoader loop |",
        "|---|---:|---:|",
    ]
    for c in contenders:
        md.append(f"| {c.label[3:]} | {c.median:,.0f} | {c.median / base:.2f}x |")
    md += ["", "| Ratio | Measured | Goal | Verdict |", "|---|---:|---:|---|"]
    failed = 0
    for num, den, goal, text in GOALS:
        ratio = by[num].median / by[den].median
        verdict = "PASS" if ratio >= goal else "FAIL"
        failed += verdict == "FAIL"
        lines.append(f"{text:<44} {ratio:>7.2f}x {'>= ' + format(goal, 'g'):>8}  {verdict}")
        md.append(f"| {text} | {ratio:.2f}x | >= {goal:g} | {verdict} |")
    return "\n".join(lines), "\n".join(md), failed


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its tables; with --strict, exit 1 when a goal is missed."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_engines", description=__doc__)
    parser.add_argument("--trials", type=int, default=15, help="timed trials per contender")
    parser.add_argument("--seconds", type=float, default=0.2, help="target seconds per trial run")
    parser.add_argument("--strict", action="store_true", help="exit 1 if any goal is missed")
    args = parser.parse_args([] if argv is None else argv)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:

        def out(text: str) -> None:
            print(text, flush=True)

        out("== bench_engines: engines vs the loops they replace ==")
        out(
            f"workload: {N_SAMPLES} samples x {len(TRUE_W)} features (w {TRUE_W}, b {TRUE_B}, "
            f"noise {NOISE}), batch {BATCH}, SGD lr {LR}, float32, shuffled epochs"
        )
        out(
            f"torch.set_num_threads(1) for every contender (was {threads}); "
            f"torch {torch.__version__}, numpy {np.__version__}, "
            f"Python {platform.python_version()}, {platform.machine()}"
        )
        out(
            f"{args.trials} interleaved trials of ~{args.seconds:g} s per contender; "
            "rate = steps / timed seconds, median reported"
        )
        t0 = time.perf_counter()
        contenders = race(args.trials, args.seconds, out)
        table, md, failed = report(contenders, args.trials)
        print_tables(out, table, md)
        out(f"total {time.perf_counter() - t0:.0f} s; {len(GOALS) - failed}/{len(GOALS)} goals met")
    finally:
        torch.set_num_threads(threads)
    return 1 if args.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
