"""Branches: what keeping exact states costs while training, and what forking at a past step takes.

For each implementation: training with the run's checkpoints (one exact state every 1024 steps
at first, at most 1024 kept) against the same training with them turned off, interleaved trials,
the median of the paired ratios (goal: at most 1.03, i.e. 3% slower at worst); the time of one
state capture; and the time to fork at a step just before the newest checkpoint (the longest
replay for a run of this length). A 10-million-step run keeps a checkpoint every ~16k steps,
so its longest replay is ~16x the one measured here.

Run: python -m bench.bench_branches [--trials N]
"""

from __future__ import annotations

import argparse
import statistics
import time
import timeit

from core.branches import RunTree
from core.config import Config
from core.presets import preset_config
from core.trainer import Trainer

GOAL = 1.03
CASES = (("numpy", "adam", 60_000), ("scratch", "momentum", 12_000), ("module", "adam", 12_000))


def config_for(implementation: str, optimizer: str) -> Config:
    """The playground preset, long enough for any number of steps."""
    changes = {"train.implementation": implementation, "train.optimizer": optimizer}
    return preset_config("playground").with_values({**changes, "train.epochs": 10**6})


def timed_run(implementation: str, optimizer: str, steps: int, checkpoints: bool) -> float:
    """Seconds to train steps of the playground preset, with or without checkpoints."""
    trainer = Trainer(config_for(implementation, optimizer))
    if not checkpoints:
        trainer.checkpoints.interval = 10**15
    t0 = time.perf_counter()
    trainer.run_steps(steps)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    """Print the ratios; return 1 if a ratio misses its goal."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=7)
    args = parser.parse_args(argv)
    failed = False
    for impl, opt, steps in CASES:
        ratios = []
        for k in range(args.trials):
            order = (True, False) if k % 2 == 0 else (False, True)
            times = {flag: timed_run(impl, opt, steps, flag) for flag in order}
            ratios.append(times[True] / times[False])
        ratio = statistics.median(ratios)
        trainer = Trainer(config_for(impl, opt))
        trainer.run_steps(steps)
        capture_us = timeit.timeit(trainer.state, number=200) / 200 * 1e6
        newest = trainer.checkpoints.last_step
        replayed = newest - 1 - trainer.checkpoints.nearest(newest - 1).step
        tree = RunTree(trainer)
        t0 = time.perf_counter()
        tree.fork(newest - 1, {"train.lr": 0.02})
        fork_s = time.perf_counter() - t0
        verdict = "ok" if ratio <= GOAL else "MISSED"
        failed |= ratio > GOAL
        print(
            f"{impl:>7} {opt:<8} with/without checkpoints {ratio:.3f} (goal <= {GOAL}) {verdict};"
            f" state {capture_us:.0f} us; fork {replayed} steps after a checkpoint:"
            f" {fork_s * 1000:.0f} ms"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
