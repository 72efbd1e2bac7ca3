"""Start-up: launch to the first painted window, against `python -c "import torch"`.

Each trial launches `python main.py` (offscreen, with LINREG_VIZ_FIRST_PAINT set, so the window
prints a line when it first paints) and times launch to that line; next to it, a plain
`python -c "import torch"` from launch to exit. The order alternates per trial and the ratio
reported is the median of the paired ratios (this machine's speed drifts by +-20% within
seconds). The window must not wait for torch: it loads in the training thread after the first
paint. A fresh settings file per run keeps the user's remembered session out of it. The app
starts from bytecode, as `make run` has it even where PYTHONDONTWRITEBYTECODE is set (it
compiles the sources first): without, each launch compiled ~120 modules again (~0.2 s).

Run: python -m bench.bench_start [--trials N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL = 0.6  # window-first-paint time at most this share of torch's import time
TIMEOUT_S = 120


def time_window(settings_home: str) -> float:
    """Seconds from launching the app to its first paint."""
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        LINREG_VIZ_FIRST_PAINT="1",
        XDG_CONFIG_HOME=settings_home,  # QSettings lives here on Linux
    )
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("first-paint"):
                return time.perf_counter() - t0
        raise RuntimeError(f"the window exited ({proc.wait()}) without painting")
    finally:
        proc.kill()
        proc.wait(TIMEOUT_S)


def time_torch() -> float:
    """Seconds to launch Python, import torch and exit."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True, timeout=TIMEOUT_S)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    """Run the trials and print medians, the paired ratio and PASS/FAIL."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=7)
    args = parser.parse_args(argv if argv is not None else [])
    windows, torches, ratios = [], [], []
    # As `make run` does: the window starts from bytecode (see the module docstring).
    subprocess.run(
        ["make", "-s", "bytecode", f"BIN={Path(sys.executable).parent}"],
        check=True,
        cwd=ROOT,
        timeout=TIMEOUT_S,
    )
    with tempfile.TemporaryDirectory() as home:
        time_torch()  # warm the file cache for both
        time_window(home)
        for trial in range(args.trials):
            if trial % 2:
                w, t = time_window(home), time_torch()
            else:
                t, w = time_torch(), time_window(home)
            windows.append(w)
            torches.append(t)
            ratios.append(w / t)
            print(f"trial {trial + 1}: window {w:.2f} s, import torch {t:.2f} s, ratio {w / t:.2f}")
    ratio = statistics.median(ratios)
    verdict = "PASS" if ratio <= GOAL else "FAIL"
    print()
    rows = [
        ("launch -> first painted window", f"{statistics.median(windows):.2f} s"),
        ('python -c "import torch"', f"{statistics.median(torches):.2f} s"),
        ("window / import torch (median of pairs)", f"{ratio:.2f}x  goal <= {GOAL}x  {verdict}"),
    ]
    for name, value in rows:
        print(f"{name:<42} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
