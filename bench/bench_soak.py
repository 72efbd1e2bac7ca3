"""Soak: ten million training steps headless through the Trainer; memory and throughput.

Workload: the `playground` preset (the default run: one feature, 200 samples, batch 10, SGD)
with the `numpy` implementation, the fastest honest engine (hand-derived gradients, every step
recorded like any other run), and as many epochs as the steps need (20 steps an epoch).
The run is driven the way the command line drives it (run_steps with a 0.2 s deadline, again
and again) and, like the window, takes a snapshot (decimated history, gradients, ...) ten
times a second of training.

Reported: resident memory (VmRSS from /proc/self/status) after set-up and at every tenth of
the run, its growth and the peak (VmHWM); throughput (steps per wall-clock second) of each
tenth, and the last tenth's against the first's (goal >= 0.9x); the history's size.
Goals: throughput steady (last/first >= 0.9) and memory bounded (the step history is a fixed
buffer; only the per-epoch records grow, 40 bytes an epoch, as designed).

Run: python -m bench.bench_soak [--steps N] [--implementation NAME] [--snapshot-hz HZ]
"""

from __future__ import annotations

import argparse
import gc
import platform
import sys
import time

import numpy as np

from core.presets import preset_config
from core.trainer import Trainer

PRESET = "playground"
GOAL = 0.9
SLICE_SECONDS = 0.2  # what main.py's train command asks of run_steps per call
BUDGET_SECONDS = 600.0


def _status_mb(*keys: str) -> dict[str, float]:
    """Fields of /proc/self/status in MB (VmRSS: resident now, VmHWM: resident peak)."""
    found: dict[str, float] = {}
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in keys:
                found[key] = int(value.split()[0]) / 1024
    return found


def make_trainer(steps: int, implementation: str) -> Trainer:
    """The playground run, long enough for the steps."""
    config = preset_config(PRESET).with_value("train.implementation", implementation)
    probe = Trainer(config)
    epochs = -(-steps // probe.n_batches)
    return Trainer(config.with_value("train.epochs", epochs))


def run(steps: int, implementation: str, snapshot_hz: float, out=print) -> tuple[float, float]:
    """Run the soak; return (last/first throughput ratio, RSS growth in MB)."""
    trainer = make_trainer(steps, implementation)
    out(
        f"preset {PRESET}, implementation {implementation}: {trainer.dataset.n_train} rows, "
        f"batch {trainer.batch_size}, {trainer.n_batches} steps an epoch, "
        f"{trainer.config.train.epochs:,} epochs = {trainer.total_steps:,} steps; "
        f"snapshots {snapshot_hz:g} per second"
    )
    gc.collect()
    base = _status_mb("VmRSS")["VmRSS"]
    out(f"RSS after set-up: {base:,.1f} MB")
    tenth = steps // 10
    marks = [tenth * (i + 1) for i in range(10)]
    marks[-1] = steps
    rates: list[float] = []
    rss: list[float] = []
    snapshots = 0
    next_snapshot = 0.0
    start = time.perf_counter()
    for i, mark in enumerate(marks):
        t0 = time.perf_counter()
        first = trainer.step_count
        while trainer.step_count < mark and trainer.stopped_reason is None:
            now = time.perf_counter()
            trainer.run_steps(mark - trainer.step_count, deadline=now + SLICE_SECONDS)
            if snapshot_hz > 0:
                # Snapshots interleave with training as the window's worker does; their
                # cost counts in the throughput.
                while trainer.seconds >= next_snapshot:
                    trainer.snapshot()
                    snapshots += 1
                    next_snapshot += 1.0 / snapshot_hz
        elapsed = time.perf_counter() - t0
        rates.append((trainer.step_count - first) / elapsed)
        rss.append(_status_mb("VmRSS")["VmRSS"])
        h = trainer.history
        out(
            f"tenth {i + 1:>2}: steps {trainer.step_count:>10,}  {rates[-1]:>9,.0f} steps/s  "
            f"RSS {rss[-1]:>7,.1f} MB  history: {h.n_steps_recorded:,} step rows, "
            f"{h.n_epochs_recorded:,} epochs, {h.memory_bytes() / 2**20:.1f} MB"
        )
        if i == 0:
            projected = elapsed * len(marks)
            note = "" if projected <= BUDGET_SECONDS else " (more than the 10-minute budget)"
            out(f"projected total: {projected / 60:.1f} min{note}")
        if trainer.stopped_reason not in (None, "completed"):
            raise RuntimeError(f"run stopped early: {trainer.stopped_reason}: {trainer.message}")
    total = time.perf_counter() - start
    h = trainer.history
    ratio = rates[-1] / rates[0]
    growth = max(rss) - base
    peak = _status_mb("VmHWM")["VmHWM"]
    theta = trainer.theta_original()
    out("")
    done = trainer.step_count
    out(f"{done:,} steps in {total:.1f} s ({done / total:,.0f} steps/s)")
    out(f"snapshots taken: {snapshots:,}")
    out(
        f"throughput last tenth / first tenth: {ratio:.3f}  goal >= {GOAL}  "
        f"{'PASS' if ratio >= GOAL else 'FAIL'}  (min tenth {min(rates):,.0f}, "
        f"max {max(rates):,.0f} steps/s)"
    )
    out(
        f"RSS: {base:,.1f} MB after set-up, {rss[-1]:,.1f} MB at the end; growth "
        f"{growth:,.1f} MB; peak (VmHWM) {peak:,.1f} MB"
    )
    out(
        f"history: {h.n_steps_recorded:,} of {trainer.step_count + 1:,} step rows kept "
        f"(capacity {h.capacity:,}), {h.n_epochs_recorded:,} epoch records, "
        f"{h.memory_bytes() / 2**20:.1f} MB"
    )
    true = trainer.dataset.true_theta()
    out(
        f"final [w, b] {np.round(theta, 4).tolist()} (true {np.round(true, 4).tolist()}), "
        f"stopped: {trainer.stopped_reason}"
    )
    return ratio, growth


def main(argv: list[str] | None = None) -> int:
    """Run the soak; with --strict, exit 1 when throughput falls below the goal."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_soak", description=__doc__)
    parser.add_argument("--steps", type=int, default=10_000_000, help="steps to run")
    parser.add_argument(
        "--implementation",
        default="numpy",
        choices=("numpy", "scratch", "module"),
        help="engine (numpy: the fastest)",
    )
    parser.add_argument(
        "--snapshot-hz", type=float, default=10.0, help="snapshots per second of training"
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 if the goal is missed")
    args = parser.parse_args([] if argv is None else argv)
    if args.steps < 10:
        parser.error("--steps must be at least 10")
    print("== bench_soak: ten million steps headless through the Trainer ==", flush=True)
    print(
        f"numpy {np.__version__}, Python {platform.python_version()}, {platform.machine()}",
        flush=True,
    )
    ratio, _ = run(
        args.steps, args.implementation, args.snapshot_hz, lambda s: print(s, flush=True)
    )
    return 1 if args.strict and ratio < GOAL else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
