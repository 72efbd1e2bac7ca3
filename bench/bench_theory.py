"""The theory's costs: a learning-rate schedule per step, the gradient cloud, the plateau.

Contenders:
  a) steps/s of each implementation with a constant rate vs a cosine schedule (playground-like
     data, batch 10, float32; the module implementation steps torch's CosineAnnealingLR, numpy
     and scratch core.schedules.Rates); the ratio scheduled / constant
  b) the gradient cloud the landscape re-samples as a run steps: 200 minibatch gradients
     (batch 10 and batch 1000) on 100,000 rows of 3 features, with their covariance
  c) the exact noise covariance of a minibatch gradient on the same rows
  d) predicted_excess_loss: 1,000 x 3 (a preset), 100,000 x 64 (noise moments from a subset)
  e) the Hessian's eigen-directions at 257 parameters (the widest CSV)
Medians of interleaved repeats are printed.
Goals: a schedule keeps >= 0.8 of the constant rate's steps/s in every implementation (torch's
scheduler.step() costs ~10 us, a tenth of a batch-of-ten module step here; Rates.advance ~0.5 us);
the cloud (b) under 10 ms at batch 10 (a third of a frame at 30 Hz); (d) under 0.5 s each.

Run: python -m bench.bench_theory [--repeats R]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

from core.analysis import SufficientStats
from core.config import IMPLEMENTATIONS, make_config
from core.sgd_noise import predicted_excess_loss
from core.theory import eigen_directions, gradient_cloud, gradient_noise_covariance

STEPS = 4000
SCHEDULE_GOAL = 0.8
CLOUD_GOAL_MS = 10.0
PLATEAU_GOAL_S = 0.5


def steps_per_second(impl: str, schedule: str) -> float:
    """Steps/s of a playground-like run with this implementation and schedule (engine time)."""
    import torch

    from core.trainer import Trainer

    torch.set_num_threads(1)
    config = make_config(
        data={"true_weights": [2.0], "true_bias": 1.0, "noise_std": 0.5, "n_samples": 1000},
        train={
            "implementation": impl,
            "lr": 0.01,
            "batch_size": 10,
            "epochs": STEPS // 100,
            "schedule": schedule,
        },
    )
    trainer = Trainer(config)
    trainer.run_steps(trainer.total_steps)
    return trainer.steps_per_second()


def timed(fn, repeats: int) -> float:
    """Median seconds of fn() over repeats."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    """Print the costs and whether each goal holds; exit 1 if one does not."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    ok = True

    print(f"a) steps/s, {STEPS} steps of batch 10 (median of {args.repeats}, interleaved)")
    for impl in IMPLEMENTATIONS:
        rates: dict[str, list[float]] = {"constant": [], "cosine": []}
        for _ in range(args.repeats):
            for schedule in rates:
                rates[schedule].append(steps_per_second(impl, schedule))
        plain = statistics.median(rates["constant"])
        cosine = statistics.median(rates["cosine"])
        ratio = cosine / plain
        ok &= ratio >= SCHEDULE_GOAL
        print(f"   {impl:<8} constant {plain:9.0f}  cosine {cosine:9.0f}  ratio {ratio:.2f}")

    rng = np.random.default_rng(0)
    x = rng.standard_normal((100_000, 3)).astype(np.float32)
    y = x.astype(np.float64) @ [1.0, -2.0, 0.5] + 0.3 + rng.standard_normal(100_000)
    theta = np.array([0.5, -1.0, 0.0, 0.1])
    print("b) gradient cloud of 200 minibatches, 100,000 x 3")
    for batch in (10, 1000):
        seconds = timed(lambda b=batch: gradient_cloud(x, y, theta, b, 200, rng), args.repeats)
        if batch == 10:
            ok &= seconds * 1e3 < CLOUD_GOAL_MS
        print(f"   batch {batch:<5} {seconds * 1e3:8.2f} ms")
    seconds = timed(lambda: gradient_noise_covariance(x, y, theta, 10), args.repeats)
    print(f"c) exact minibatch-gradient covariance, 100,000 x 3: {seconds * 1e3:.2f} ms")

    print("d) predicted_excess_loss")
    small_x = x[:1000]
    small_y = y[:1000]
    wide_x = rng.standard_normal((100_000, 64))
    wide_y = wide_x @ rng.standard_normal(64) + rng.standard_normal(100_000)
    for label, xs, ys, lr in (
        ("1,000 x 3", small_x, small_y, 0.05),
        ("100,000 x 64", wide_x, wide_y, 0.002),
    ):
        seconds = timed(lambda a=xs, b=ys, r=lr: predicted_excess_loss(a, b, r, 1), args.repeats)
        ok &= seconds < PLATEAU_GOAL_S
        print(f"   {label:<14} {seconds * 1e3:8.1f} ms")

    wide = rng.standard_normal((5000, 256))
    stats = SufficientStats.from_data(wide, wide @ rng.standard_normal(256))
    seconds = timed(lambda: eigen_directions(stats), args.repeats)
    print(f"e) eigen-directions at 257 parameters: {seconds * 1e3:.1f} ms")
    print("goals met" if ok else "a goal was missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
