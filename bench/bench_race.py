"""GUI responsiveness during an optimizer race of four runs in the race panel (offscreen).

Workload: preset d2l-concise-3 (1000 samples, 3 features) with 100000 epochs, so no run
finishes; four runs: SGD lr 0.03, momentum lr 0.01, Adam lr 0.01 and RMSprop lr 0.01, batch 10.
Each trial opens a fresh 1400x900 RacePanel, presses raceButton and, after a warm-up, measures
for ~S seconds with a 5 ms QTimer probe on the GUI event loop: the gaps between its timeouts
are the event-loop stalls. Paints of the loss plot count the frames actually drawn; the race's
own step counter gives the training rate (all runs together). Two engines: `module` (torch,
releases the interpreter lock inside every op) and `numpy` (never releases it by itself).

After each trial the same four runs train headless (Race.advance in the main thread, no window)
for the same time: the in-panel / headless ratio is what the plots cost the race (informational).

Goals (those of the window benchmark): longest stall <= 50 ms, p99 <= 20 ms.

Run: python -m bench.bench_race [--trials N] [--seconds S] [--engines module,numpy] [--strict]
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.bench_window import median, percentile

PRESET = "d2l-concise-3"
EPOCHS = 100_000
SIZE = (1400, 900)
PROBE_MS = 5
WARMUP_S = 0.7
RUNS = [
    ("sgd", 0.03),
    ("momentum", 0.01),
    ("adam", 0.01),
    ("rmsprop", 0.01),
]
GOALS: list[tuple[str, str, str, Callable[[float], bool]]] = [
    ("stall_max", "event-loop stall, max (ms)", "<= 50", lambda v: v <= 50.0),
    ("stall_p99", "event-loop stall, p99 (ms)", "<= 20", lambda v: v <= 20.0),
]


@dataclass
class Results:
    """What one engine's trials measured."""

    gaps: list[float] = field(default_factory=list)  # probe gaps (ms), all trials
    trial_max: list[float] = field(default_factory=list)
    fps: list[float] = field(default_factory=list)
    snaps_per_s: list[float] = field(default_factory=list)
    steps_per_s: list[float] = field(default_factory=list)
    headless: list[float] = field(default_factory=list)  # same race in this thread, no window


class Bench:
    """Owns the QApplication; Qt is imported late so that offscreen is set first."""

    def __init__(self, seconds: float) -> None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from PySide6.QtCore import QEvent, Qt, QTimer
        from PySide6.QtWidgets import QApplication

        from gui.gui_gc import collect_on_gui_thread

        self.QEvent, self.QTimer, self.Qt = QEvent, QTimer, Qt
        self.app = QApplication.instance() or QApplication(sys.argv[:1])
        collect_on_gui_thread()  # as the app does (gui/app.py run_app)
        self.seconds = seconds

        from bench.qt_loop import PaintCounter, spin

        self.PaintCounter = PaintCounter
        self.spin = spin  # run the event loop for up to seconds, or until a condition holds

    def headless(self, engine: str, res: Results) -> None:
        """Steps/s of the same four runs advanced by Race.advance in this thread, no window."""
        from core.race import Race

        race = Race(self.config(engine), self.entries(engine))
        race.advance(time.perf_counter() + WARMUP_S)
        gc.collect()
        s0, t0 = race.step_count, time.perf_counter()
        while time.perf_counter() - t0 < self.seconds:
            race.advance(time.perf_counter() + 0.05)
        res.headless.append((race.step_count - s0) / (time.perf_counter() - t0))

    @staticmethod
    def config(engine: str) -> Any:
        """The workload's configuration on an engine."""
        from core.presets import preset_config

        return (
            preset_config(PRESET)
            .with_value("train.implementation", engine)
            .with_value("train.epochs", EPOCHS)
        )

    @staticmethod
    def entries(engine: str) -> list[Any]:
        """The four runs (NumPy has no RMSprop: Nesterov takes its place)."""
        from core.race import RaceEntry

        return [
            RaceEntry(
                optimizer="nesterov" if name == "rmsprop" and engine != "module" else name,
                lr=lr,
                batch_size=10,
                momentum=0.9,
            )
            for name, lr in RUNS
        ]

    def trial(self, engine: str, res: Results) -> None:
        """One fresh panel, one race, one measured phase."""
        from PySide6.QtWidgets import QPushButton

        from gui.race_panel import RacePanel
        from gui.run_controller import ConfigModel

        config = self.config(engine)
        panel = RacePanel(ConfigModel(config))
        panel.resize(*SIZE)
        panel.show()
        try:
            while panel.run_count() > 1:
                panel.remove_run()
            for entry in self.entries(engine):
                panel.add_run(entry)
            panel.remove_run(0)
            self.spin(0.2)  # first layout and paints
            panel.findChild(QPushButton, "raceButton").click()
            if not self.spin(120.0, lambda: panel.state() == "running"):
                raise RuntimeError(f"the race did not start ({panel.state()})")
            self.spin(WARMUP_S)
            counter = self.PaintCounter()
            panel.loss_view.viewport().installEventFilter(counter)
            ticks: list[float] = []
            seen: list[tuple[float, int]] = []
            last: list[object] = [panel.latest_snapshot()]

            def probe() -> None:
                now = time.perf_counter()
                ticks.append(now)
                snap = panel.latest_snapshot()
                if snap is not None and snap is not last[0]:
                    last[0] = snap
                    seen.append((now, sum(run.step for run in snap.runs)))

            timer = self.QTimer()
            timer.setTimerType(self.Qt.TimerType.PreciseTimer)
            timer.timeout.connect(probe)
            gc.collect()
            timer.start(PROBE_MS)
            t0 = time.perf_counter()
            self.spin(self.seconds)
            t1 = time.perf_counter()
            timer.stop()
            panel.loss_view.viewport().removeEventFilter(counter)
            if len(seen) < 2 or panel.state() != "running":
                raise RuntimeError(f"the race did not train (state {panel.state()})")
            (ta, sa), (tb, sb) = seen[0], seen[-1]
            gaps = list(np.diff(ticks) * 1000)
            res.gaps += gaps
            res.trial_max.append(max(gaps))
            res.fps.append(counter.count / (t1 - t0))
            res.snaps_per_s.append((len(seen) - 1) / (tb - ta))
            res.steps_per_s.append((sb - sa) / (tb - ta))
        finally:
            if not panel.stop_and_wait():
                raise RuntimeError("the race thread did not stop")
            panel.close()
            panel.deleteLater()
            self.app.processEvents()
            self.app.sendPostedEvents(None, self.QEvent.Type.DeferredDelete)
            gc.collect()


def report(results: dict[str, Results], args: argparse.Namespace) -> tuple[str, int]:
    """The per-engine table and the goal table; also the number of goals missed."""
    lines = [
        f"{'per trial (median, min, max)':<40} {'engine':>8} {'median':>10} {'min':>10} {'max':>10}"
    ]
    rows = [
        ("steps/s, four runs together", "steps_per_s", ",.0f"),
        ("frames painted/s (loss plot)", "fps", ".1f"),
        ("snapshots received/s", "snaps_per_s", ".1f"),
        ("worst stall per trial (ms)", "trial_max", ".1f"),
        ("headless steps/s (same race, no window)", "headless", ",.0f"),
    ]
    for engine, res in results.items():
        for text, attr, fmt in rows:
            xs = getattr(res, attr)
            lines.append(
                f"{text:<40} {engine:>8} {format(median(xs), fmt):>10}"
                f" {format(min(xs), fmt):>10} {format(max(xs), fmt):>10}"
            )
        ratio = median(res.steps_per_s) / median(res.headless) if res.headless else math.nan
        lines.append(f"{'in-panel / headless steps/s':<40} {engine:>8} {ratio:>10.2f}")
        g = res.gaps
        lines.append(
            f"{'probe gaps (' + str(len(g)) + ' ticks)':<40} {engine:>8}"
            f"   p50 {percentile(g, 50):.1f}  p99 {percentile(g, 99):.1f}  max {max(g):.1f} ms"
        )
    lines += ["", f"{'goal':<40} {'engine':>8} {'measured':>10} {'target':>10}  verdict"]
    failed = 0
    for engine, res in results.items():
        values = {"stall_max": max(res.gaps), "stall_p99": percentile(res.gaps, 99)}
        for key, text, target, ok in GOALS:
            verdict = "PASS" if ok(values[key]) else "FAIL"
            failed += verdict == "FAIL"
            lines.append(f"{text:<40} {engine:>8} {values[key]:>10.1f} {target:>10}  {verdict}")
    return "\n".join(lines), failed


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its tables; with --strict, exit 1 when a goal is missed."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_race", description=__doc__)
    parser.add_argument("--trials", type=int, default=3, help="panels opened per engine")
    parser.add_argument("--seconds", type=float, default=4.0, help="measured seconds per trial")
    parser.add_argument("--engines", default="module,numpy", help="comma-separated engines")
    parser.add_argument("--strict", action="store_true", help="exit 1 if any goal is missed")
    args = parser.parse_args([] if argv is None else argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]

    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    t_start = time.perf_counter()

    def out(text: str) -> None:
        print(text, flush=True)

    try:
        bench = Bench(args.seconds)
        out("== bench_race: four-run optimizer race in the race panel, GUI stalls ==")
        out(
            f"workload: preset {PRESET} x {EPOCHS} epochs, runs "
            + ", ".join(f"{n} lr {lr:g}" for n, lr in RUNS)
            + f" (batch 10); panel {SIZE[0]}x{SIZE[1]}, QT_QPA_PLATFORM="
            f"{os.environ.get('QT_QPA_PLATFORM')}; torch {torch.__version__} (1 thread), "
            f"Python {platform.python_version()}, {os.cpu_count()} CPUs; "
            f"{args.trials} trials x {args.seconds:g} s per engine"
        )
        results: dict[str, Results] = {}
        for engine in engines:
            res = results[engine] = Results()
            for t in range(args.trials):
                bench.trial(engine, res)
                bench.headless(engine, res)
                out(
                    f"{engine} trial {t + 1}/{args.trials}: {res.steps_per_s[-1]:,.0f} steps/s"
                    f" (headless {res.headless[-1]:,.0f}),"
                    f" {res.fps[-1]:.1f} frames/s, worst stall {res.trial_max[-1]:.1f} ms"
                )
        table, failed = report(results, args)
        out("")
        out(table)
        out("")
        total = len(GOALS) * len(results)
        out(f"total {time.perf_counter() - t_start:.0f} s; {total - failed}/{total} goals met")
    finally:
        torch.set_num_threads(threads)
    return 1 if args.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
