"""Large data: the module engine through Trainer.run_epoch vs a bare torch loop, epoch times.

Workload: 1,000,000 samples x 100 features (synthetic N(0, 1) features, seeded, generated
straight into float32 as the float32 configuration asks), batch 1024, SGD lr 0.01, MSE loss,
shuffled every epoch, both starting from the same parameters.

Contenders, each timed one whole epoch at a time:
  a) ours: core.trainer.Trainer with the `module` engine, trainer.run_epoch(): the epoch's
     seeded order, per-step loss and parameter recording, history, divergence checks
  b) bare: a pre-shuffled index tensor (torch.randperm per epoch), each batch's rows gathered
     with torch.index_select(x, 0, idx[lo:hi]), nn.Linear, nn.MSELoss, torch.optim.SGD(
     foreach=False), zero_grad/forward/loss/backward/step and loss.item() per step; nothing else.
     (index_select, not x[idx[lo:hi]]: advanced indexing costs ~3.5x as much per batch here,
     which would flatter us; both loops gather the same way.)
Repeats are paired and interleaved (the pair's order alternates), so load from other processes
hits both alike; medians, the ratio of medians and the median of paired ratios are printed.
Goal: ours within 10% of bare, i.e. speed ratio (bare epoch time / our epoch time) >= 0.9.

The configuration caps synthetic true weights at MAX_FEATURES (64), so the 100-feature data is
built with core.data.make_dataset from a DataConfig and handed to the Trainer.

Run: python -m bench.bench_large [--samples N] [--features D] [--batch B] [--repeats R]
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from core.config import DataConfig, make_config
from core.data import Dataset, make_dataset
from core.trainer import Trainer

LR = 0.01
GOAL = 0.9


def _rss_mb() -> tuple[float, float]:
    """Current and peak resident set size of this process, MB (from /proc/self/status)."""
    fields = {}
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024
    return fields.get("VmRSS", float("nan")), fields.get("VmHWM", float("nan"))


def build_data(n: int, d: int) -> tuple[Dataset, float]:
    """The synthetic dataset (float32 features) and the seconds it took."""
    rng = np.random.default_rng(7)
    weights = np.round(rng.normal(0.0, 1.0, d), 3).tolist()
    cfg = DataConfig(true_weights=weights, true_bias=0.5, noise_std=0.1, n_samples=n, seed=3)
    t0 = time.perf_counter()
    ds = make_dataset(cfg, dtype="float32")
    return ds, time.perf_counter() - t0


def make_trainer(ds: Dataset, batch: int) -> Trainer:
    """A module-engine trainer on the given data (run for as many epochs as asked)."""
    config = make_config(
        data={"true_weights": [1.0], "seed": 3},
        model={"init": "normal", "init_std": 0.01, "dtype": "float32"},
        train={
            "implementation": "module",
            "optimizer": "sgd",
            "lr": LR,
            "batch_size": batch,
            "epochs": 100_000,
            "shuffle": True,
            "loss": "mse",
            "device": "cpu",
        },
    )
    return Trainer(config, dataset=ds)


@dataclass
class BareLoop:
    """The loop a PyTorch user writes by hand for the same arithmetic."""

    x: torch.Tensor
    y: torch.Tensor
    net: nn.Linear
    opt: torch.optim.SGD
    batch: int
    gen: torch.Generator

    @classmethod
    def build(cls, ds: Dataset, theta0: np.ndarray, batch: int) -> BareLoop:
        """Same data (shared memory), same initial parameters as ours."""
        x = torch.from_numpy(ds.x_train)
        y = torch.from_numpy(ds.y_train.astype(np.float32)).reshape(-1, 1)
        net = nn.Linear(x.shape[1], 1)
        with torch.no_grad():
            net.weight.copy_(torch.from_numpy(theta0[:-1]).reshape(1, -1))
            net.bias.fill_(float(theta0[-1]))
        opt = torch.optim.SGD(net.parameters(), lr=LR, foreach=False)
        return cls(x, y, net, opt, batch, torch.Generator().manual_seed(0))

    def epoch(self) -> float:
        """One shuffled epoch; return the last batch's loss."""
        x, y, net, opt, batch = self.x, self.y, self.net, self.opt, self.batch
        loss_fn = nn.MSELoss()
        n = x.shape[0]
        idx = torch.randperm(n, generator=self.gen)
        last = 0.0
        for lo in range(0, n, batch):
            rows = idx[lo : lo + batch]
            opt.zero_grad()
            loss = loss_fn(net(torch.index_select(x, 0, rows)), torch.index_select(y, 0, rows))
            loss.backward()
            opt.step()
            last = loss.item()
        return last

    def theta(self) -> np.ndarray:
        """Current [w..., b]."""
        w = self.net.weight.detach().numpy().ravel()
        return np.append(w, self.net.bias.detach().numpy()).astype(np.float64)


def run(n: int, d: int, batch: int, repeats: int, out=print) -> tuple[float, list[float]]:
    """Run the paired repeats; return the ratio of medians and the paired ratios."""
    rss0, _ = _rss_mb()
    ds, gen_seconds = build_data(n, d)
    rss1, peak1 = _rss_mb()
    out(
        f"data: {n:,} x {d} float32 features generated in {gen_seconds:.1f} s; "
        f"RSS +{rss1 - rss0:,.0f} MB (features alone {ds.x_train.nbytes / 2**20:,.0f} MB), "
        f"peak {peak1:,.0f} MB"
    )
    t0 = time.perf_counter()
    trainer = make_trainer(ds, batch)
    out(
        f"Trainer(module) built in {time.perf_counter() - t0:.1f} s (statistics, engine); "
        f"{trainer.n_batches} steps per epoch; RSS {_rss_mb()[0]:,.0f} MB"
    )
    bare = BareLoop.build(ds, trainer.theta0, batch)
    first_loss = trainer.train_loss()

    # Warm-up: one epoch each (allocator, first-call paths), not timed.
    trainer.run_epoch()
    bare.epoch()
    ours: list[float] = []
    theirs: list[float] = []
    for r in range(repeats):
        order = ("ours", "bare") if r % 2 == 0 else ("bare", "ours")
        for who in order:
            gc.collect()
            t = time.perf_counter()
            if who == "ours":
                trainer.run_epoch()
                ours.append(time.perf_counter() - t)
            else:
                bare.epoch()
                theirs.append(time.perf_counter() - t)
        out(f"repeat {r + 1}/{repeats}: ours {ours[-1]:.3f} s, bare {theirs[-1]:.3f} s")
    if trainer.stopped_reason == "diverged":
        raise RuntimeError(f"ours diverged: {trainer.message}")
    # Both must have learned: the whole-set loss falls to near the noise floor (0.01).
    ours_loss = trainer.train_loss()
    bare_loss = trainer.train_loss(bare.theta())
    for who, loss in (("ours", ours_loss), ("bare", bare_loss)):
        if not loss < 0.05 * first_loss:
            raise RuntimeError(f"{who} did not learn: loss {loss:.3g} from {first_loss:.3g}")
    paired = [b / o for o, b in zip(ours, theirs, strict=True)]
    med_ours, med_bare = statistics.median(ours), statistics.median(theirs)
    ratio = med_bare / med_ours
    steps = trainer.n_batches
    out("")
    out(f"{'contender':<40} {'median epoch s':>15} {'min':>8} {'max':>8} {'steps/s':>10}")
    rows = (("a) ours: Trainer.run_epoch (module)", ours), ("b) bare torch loop", theirs))
    for label, times in rows:
        med = statistics.median(times)
        out(f"{label:<40} {med:>15.3f} {min(times):>8.3f} {max(times):>8.3f} {steps / med:>10,.0f}")
    paired_median = statistics.median(paired)
    out("")
    out(
        f"speed ratio ours/bare (bare median / ours median): {ratio:.3f}  goal >= {GOAL}  "
        f"{'PASS' if ratio >= GOAL else 'FAIL'}"
    )
    out(
        f"median of paired ratios (bare / ours, same pair): {paired_median:.3f}  goal >= {GOAL}  "
        f"{'PASS' if paired_median >= GOAL else 'FAIL'}  (min {min(paired):.3f}, "
        f"max {max(paired):.3f}; robust to load from other processes drifting during the run)"
    )
    out(f"final whole-set loss: ours {ours_loss:.4g}, bare {bare_loss:.4g} (from {first_loss:.3g})")
    out(f"peak RSS {_rss_mb()[1]:,.0f} MB")
    return ratio, paired


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; with --strict, exit 1 when the goal is missed."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_large", description=__doc__)
    parser.add_argument("--samples", type=int, default=1_000_000, help="rows")
    parser.add_argument("--features", type=int, default=100, help="feature columns")
    parser.add_argument("--batch", type=int, default=1024, help="minibatch size")
    parser.add_argument("--repeats", type=int, default=11, help="paired timed epochs")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1, as the window's worker; 0: torch's default)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 if the goal is missed")
    args = parser.parse_args([] if argv is None else argv)

    threads = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        print("== bench_large: module engine vs a bare torch loop on large data ==", flush=True)
        print(
            f"{args.samples:,} samples x {args.features} features, batch {args.batch}, SGD lr {LR},"
            f" float32, CPU, torch threads {torch.get_num_threads()}; torch {torch.__version__},"
            f" numpy {np.__version__}, Python {platform.python_version()}, {platform.machine()}",
            flush=True,
        )
        ratio, _ = run(
            args.samples, args.features, args.batch, args.repeats, lambda s: print(s, flush=True)
        )
    finally:
        torch.set_num_threads(threads)
    return 1 if args.strict and ratio < GOAL else 0  # --strict judges the ratio of medians


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
