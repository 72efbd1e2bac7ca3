"""CSV loading: our loader through core.data against pandas' read_csv, on one numeric file.

Workload: 1,000,000 rows x 5 numeric columns (seeded normal values written with 10 significant
digits, about 66 MB), written once to a temporary folder and read from the page cache.
Contenders, each timed from the path to float64 arrays, in the same process:
  a) pandas: pandas.read_csv(path).to_numpy(), its C reader as a user calls it (for a big
     local file it parses in parallel threads)
  b) ours: core.data.make_dataset(DataConfig(csv_path=path), "float64") with the window's
     progress callback: core.csvdata.load_csv (encodings, header and delimiter sniffing, every
     check behind the file, line and column messages), no split, no standardising
Trials are interleaved (the order alternates per pair), so load from other processes hits both
alike; medians, the ratio of medians and the median of paired ratios are printed. Next to each
time: the longest a probe thread (sleeping 1 ms at a time) waited, as the window's event loop
would while its training thread loads the file. Goal: ours / pandas <= 1.5 (ratio of medians).

Run: python -m bench.bench_csv [--rows N] [--trials T] [--strict]
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas

from core.config import DataConfig
from core.data import make_dataset

GOAL = 1.5  # our median time at most this multiple of pandas'
COLUMNS = ["x1", "x2", "x3", "x4", "y"]


def write_file(path: Path, rows: int) -> None:
    """The benchmark's CSV file: a header and rows of seeded normal values."""
    values = np.random.default_rng(7).normal(size=(rows, len(COLUMNS)))
    with open(path, "w", encoding="ascii") as f:
        f.write(",".join(COLUMNS) + "\n")
        np.savetxt(f, values, fmt="%.10g", delimiter=",")


class LockProbe:
    """A thread that sleeps 1 ms at a time and keeps the longest wait beyond that."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        last = time.perf_counter()
        while not self._stop.is_set():
            time.sleep(0.001)
            now = time.perf_counter()
            self.longest = max(self.longest, now - last - 0.001)
            last = now

    def __enter__(self) -> LockProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def read_pandas(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """pandas' read_csv, as a user calls it."""
    values = pandas.read_csv(path).to_numpy()
    return values[:, :-1], values[:, -1]


def read_ours(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """core.data's CSV path, with a progress callback as the window passes."""
    shares: list[float] = []
    ds = make_dataset(DataConfig(csv_path=str(path)), "float64", progress=shares.append)
    if not shares or shares[-1] != 1.0:
        raise RuntimeError(f"progress did not reach 1: {shares[-3:]}")
    return ds.x_train, ds.y_train


def timed(read: Callable[[Path], tuple[np.ndarray, np.ndarray]], path: Path) -> tuple[float, float]:
    """Seconds one read takes and the probe's longest wait during it."""
    gc.collect()
    with LockProbe() as probe:
        t0 = time.perf_counter()
        read(path)
        seconds = time.perf_counter() - t0
    return seconds, probe.longest


def run(rows: int, trials: int, out: Callable[[str], None] = print) -> float:
    """Write the file, time both readers; return the ratio of medians (ours / pandas)."""
    with tempfile.TemporaryDirectory(prefix="bench_csv_") as folder:
        path = Path(folder) / "numbers.csv"
        t0 = time.perf_counter()
        write_file(path, rows)
        size = path.stat().st_size
        out(
            f"file: {rows:,} rows x {len(COLUMNS)} columns, {size / 1e6:.1f} MB, written in "
            f"{time.perf_counter() - t0:.1f} s"
        )
        # Warm-up (page cache, first calls), and the two must agree to the bit.
        x_theirs, y_theirs = read_pandas(path)
        x_ours, y_ours = read_ours(path)
        if x_ours.tobytes() != np.ascontiguousarray(x_theirs).tobytes() or (
            y_ours.tobytes() != np.ascontiguousarray(y_theirs).tobytes()
        ):
            raise RuntimeError("ours and pandas read different values")
        del x_theirs, y_theirs, x_ours, y_ours
        times: dict[str, list[float]] = {"pandas": [], "ours": []}
        waits: dict[str, list[float]] = {"pandas": [], "ours": []}
        readers = {"pandas": read_pandas, "ours": read_ours}
        for trial in range(trials):
            order = ("ours", "pandas") if trial % 2 == 0 else ("pandas", "ours")
            for who in order:
                seconds, wait = timed(readers[who], path)
                times[who].append(seconds)
                waits[who].append(wait)
            out(
                f"trial {trial + 1}/{trials}: ours {times['ours'][-1]:.3f} s, "
                f"pandas {times['pandas'][-1]:.3f} s"
            )
    med = {who: statistics.median(t) for who, t in times.items()}
    ratio = med["ours"] / med["pandas"]
    paired = statistics.median(o / p for o, p in zip(times["ours"], times["pandas"], strict=True))
    out("")
    out(f"{'contender':<48} {'median s':>9} {'min s':>7} {'MB/s':>6} {'longest wait':>13}")
    labels = {
        "pandas": "a) pandas.read_csv(path).to_numpy()",
        "ours": "b) ours: core.data.make_dataset (load_csv)",
    }
    for who, label in labels.items():
        wait = statistics.median(waits[who]) * 1e3
        out(
            f"{label:<48} {med[who]:>9.3f} {min(times[who]):>7.3f} "
            f"{size / 1e6 / med[who]:>6.0f} {wait:>10.1f} ms"
        )
    out("")
    verdict = "PASS" if ratio <= GOAL else "FAIL"
    out(f"ours / pandas (ratio of medians): {ratio:.2f}x  goal <= {GOAL}x  {verdict}")
    out(f"median of paired ratios: {paired:.2f}x (robust to load drifting during the run)")
    out("longest wait: median over trials of the longest a sleeping thread waited to run")
    return ratio


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; with --strict, exit 1 when the goal is missed."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_csv", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="data rows in the file")
    parser.add_argument("--trials", type=int, default=11, help="interleaved pairs of reads")
    parser.add_argument("--strict", action="store_true", help="exit 1 if the goal is missed")
    args = parser.parse_args([] if argv is None else argv)
    print("== bench_csv: core.data's CSV loading vs pandas.read_csv ==", flush=True)
    print(
        f"pandas {pandas.__version__}, numpy {np.__version__}, Python "
        f"{platform.python_version()}, {platform.machine()}",
        flush=True,
    )
    ratio = run(args.rows, args.trials, lambda s: print(s, flush=True))
    return 1 if args.strict and ratio > GOAL else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
