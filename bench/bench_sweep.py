"""Sweeps: runs trained together against runs one after another, and local worker processes.

Side by side in one run, on the playground data (200 samples, 1 feature, noise 0.5):

1. A 64 (learning rate, log 1e-3..1) x 4 (batch size 10, 20, 50, 200) sweep of 30 epochs on the
   preset's own implementation (module: nn.Linear + torch.optim), through core.sweep_exec
   (in-process, 4 stacks of 64 runs), against the same 256 runs one after another through
   core.trainer.Trainer (the dataset built once and shared, as the sweep shares it). Goal >= 20x.
   The same on the numpy implementation is printed for information.
2. That sweep of 256 cells against a sweep of 8 (2 learning rates x the same 4 batch sizes):
   the stacks cost little more for more runs. Goal: 256 cells <= 3x the 8 cells.
3. A sweep whose groups cannot be trained together (12 batch sizes 5..16 x 8 learning rates,
   numpy, 1500 epochs) over `--workers 2` against `--workers 1` (spawned processes both,
   start-up included), interleaved; median of the paired ratios. Goal >= 1.7x on 2 cores.

4. The window while a sweep runs: the Sweep panel (1400x900, offscreen) sweeping 24 learning
   rates x 8 batch sizes of 100,000 epochs (so it never ends) on each engine, a 5 ms probe timer
   on the GUI event loop for STALL_S seconds: the longest gap and the 99th percentile, against
   the window's goals (<= 50 ms, <= 20 ms), and the frames the map drew.

Run: python -m bench.bench_sweep [--trials N] [--strict]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np

LRS = "log:1e-3:1:64"
BATCHES = "10,20,50,200"
WORKER_GRID = ["train.lr=log:1e-3:0.3:8", "train.batch_size=" + ",".join(map(str, range(5, 17)))]
WORKER_EPOCHS = 1500
GOALS = {"stack": 20.0, "scale": 3.0, "workers": 1.7}
STALL_S, PROBE_MS, WARMUP_S = 4.0, 5, 1.0
STALL_GOALS = (50.0, 20.0)  # ms: longest event-loop stall, 99th percentile


def _plan(implementation: str, lrs: str = LRS, epochs: int | None = None):
    from core.presets import preset_config
    from core.sweep import SweepPlan, parse_grid

    config = preset_config("playground").with_value("train.implementation", implementation)
    if epochs is not None:
        config = config.with_value("train.epochs", epochs)
    return SweepPlan(config, parse_grid([f"train.lr={lrs}", f"train.batch_size={BATCHES}"]))


def time_sweep(plan, workers: int | None = None) -> float:
    """Seconds for the whole sweep (groups built, trained, results collected)."""
    from core.sweep_exec import run_sweep

    t0 = time.perf_counter()
    run_sweep(plan, workers=workers)
    return time.perf_counter() - t0


def time_one_by_one(plan) -> float:
    """Seconds for the same runs through Trainer, one after another (data built once)."""
    from core.data import make_dataset
    from core.trainer import Trainer

    base = plan.base
    t0 = time.perf_counter()
    dataset = make_dataset(base.data, dtype=base.model.dtype)
    for cell in plan.cells:
        trainer = Trainer(cell.config, dataset=dataset)
        while not trainer.done and trainer.stopped_reason != "diverged":
            trainer.run_steps(trainer.total_steps)
    return time.perf_counter() - t0


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main(argv: list[str] | None = None) -> int:
    """Run the three comparisons and print their tables; --strict: exit 1 on a missed goal."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_sweep", description=__doc__)
    parser.add_argument("--trials", type=int, default=3, help="interleaved trials per figure")
    parser.add_argument("--strict", action="store_true", help="exit 1 if any goal is missed")
    args = parser.parse_args([] if argv is None else argv)
    import torch

    torch.set_num_threads(1)  # as the app's training threads and the sweep's groups
    out = print
    out("== bench_sweep: runs trained together, sweep size, local workers ==")
    out(
        f"torch {torch.__version__} (1 thread), numpy {np.__version__}, Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs; {args.trials} trials"
    )
    big, small = _plan("module"), _plan("module", lrs="log:1e-3:1:2")
    big_np = _plan("numpy")
    time_sweep(_plan("module", lrs="0.01"))  # first-call costs (torch's kernels) off the clock
    sweep_t, alone_t, small_t, np_sweep_t, np_alone_t = [], [], [], [], []
    for trial in range(args.trials):
        sweep_t.append(time_sweep(big))
        small_t.append(time_sweep(small))
        alone_t.append(time_one_by_one(big))
        np_sweep_t.append(time_sweep(big_np))
        np_alone_t.append(time_one_by_one(big_np))
        out(
            f"trial {trial + 1}: sweep {sweep_t[-1]:.3f} s, 8 cells {small_t[-1]:.3f} s, one by one"
            f" {alone_t[-1]:.2f} s; numpy sweep {np_sweep_t[-1]:.3f} s, one by one"
            f" {np_alone_t[-1]:.2f} s"
        )
    med = statistics.median
    stack = med(a / s for a, s in zip(alone_t, sweep_t, strict=True))
    np_stack = med(a / s for a, s in zip(np_alone_t, np_sweep_t, strict=True))
    scale = med(s / m for s, m in zip(sweep_t, small_t, strict=True))
    out("")
    out("| Sweep (playground, 30 epochs) | module | numpy |")
    out("|---|---:|---:|")
    out(f"| 64 x 4 sweep, runs trained together | {med(sweep_t):.3f} s | {med(np_sweep_t):.3f} s |")
    out(
        f"| the same 256 runs one by one (Trainer) | {med(alone_t):.2f} s |"
        f" {med(np_alone_t):.2f} s |"
    )
    out(f"| ratio (median of trials) | **{stack:.1f}x** | {np_stack:.1f}x |")
    out(f"| 2 x 4 sweep (8 cells) | {med(small_t):.3f} s | |")

    worker_plan = _worker_plan()
    one, two = [], []
    for _ in range(args.trials):
        one.append(time_sweep(worker_plan, workers=1))
        two.append(time_sweep(worker_plan, workers=2))
        out(f"workers: 1 -> {one[-1]:.2f} s, 2 -> {two[-1]:.2f} s")
    workers = med(o / t for o, t in zip(one, two, strict=True))
    stall_rows = []
    for engine in ("module", "numpy"):
        worst, p99, frames = stalls(engine)
        out(f"window during a {engine} sweep: stall max {worst:.1f} ms, p99 {p99:.1f} ms,"
            f" {frames:.1f} map frames/s")  # fmt: skip
        stall_rows.append((engine, worst, p99))
    out("")
    out("| Goal | Measured | Target | Verdict |")
    out("|---|---:|---:|---|")
    rows = [
        ("64 x 4 sweep vs 256 Trainer runs one by one (module)", stack, ">= 20x",
         stack >= GOALS["stack"]),
        ("sweep of 256 cells / sweep of 8", scale, "<= 3x", scale <= GOALS["scale"]),
        (f"2 workers vs 1 ({len(worker_plan.groups)} groups of different batch sizes)",
         workers, ">= 1.7x", workers >= GOALS["workers"]),
    ]  # fmt: skip
    for name, value, target, ok in rows:
        out(f"| {name} | {value:.2f}x | {target} | {verdict(ok)} |")
    for engine, worst, p99 in stall_rows:
        ok = worst <= STALL_GOALS[0] and p99 <= STALL_GOALS[1]
        rows.append(("stalls", 0.0, "", ok))
        out(f"| event-loop stall during a {engine} sweep, max / p99 | {worst:.1f} / {p99:.1f} ms"
            f" | <= 50 / 20 ms | {verdict(ok)} |")  # fmt: skip
    return 1 if args.strict and not all(ok for *_, ok in rows) else 0


def stalls(engine: str) -> tuple[float, float, float]:
    """Longest and 99th-percentile event-loop gap (ms) and map frames/s while a sweep runs."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from core.presets import preset_config
    from gui.gui_gc import collect_on_gui_thread
    from gui.run_controller import ConfigModel
    from gui.sweep_panel import SweepPanel

    app = QApplication.instance() or QApplication([])
    collect_on_gui_thread()  # as the app does (gui/app.py run_app)
    config = preset_config("playground").with_values(
        {"train.implementation": engine, "train.epochs": 100_000}
    )
    model = ConfigModel(config)
    panel = SweepPanel(model)
    panel.resize(1400, 900)
    panel.show()
    panel.x_axis.set_values("log", 1e-3, 0.5, 24)
    gaps: list[float] = []
    last = [0.0]

    def spin(seconds: float, probe: bool) -> None:
        loop, timer, done = QEventLoop(), QTimer(), QTimer()
        last[0] = time.perf_counter()

        def tick() -> None:
            now = time.perf_counter()
            if probe:
                gaps.append(1000 * (now - last[0]))
            last[0] = now

        timer.timeout.connect(tick)
        timer.start(PROBE_MS)
        done.setSingleShot(True)
        done.timeout.connect(loop.quit)
        done.start(int(seconds * 1000))
        loop.exec()
        timer.stop()

    try:
        panel.start()
        spin(WARMUP_S, probe=False)
        frames0 = panel.pacer.frames
        spin(STALL_S, probe=True)
        frames = (panel.pacer.frames - frames0) / STALL_S
    finally:
        panel.stop_and_wait()
        panel.close()
        panel.deleteLater()
        app.processEvents()
    return max(gaps), float(np.percentile(gaps, 99)), frames


def _worker_plan():
    from core.presets import preset_config
    from core.sweep import SweepPlan, parse_grid

    config = preset_config("playground").with_values(
        {"train.implementation": "numpy", "train.epochs": WORKER_EPOCHS}
    )
    return SweepPlan(config, parse_grid(WORKER_GRID))


if __name__ == "__main__":
    raise SystemExit(main())
