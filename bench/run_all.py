"""Run every benchmark in bench/ (each bench_*.py module's main()) in turn: `make bench`.

Run: python -m bench.run_all [NAME ...]   (names filter, e.g. `engines` runs bench_engines only)
"""

from __future__ import annotations

import importlib
import sys
import time
import traceback
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def discover() -> list[str]:
    """Module names of the benchmarks, bench.bench_*, sorted by file name."""
    return [f"bench.{p.stem}" for p in sorted(BENCH_DIR.glob("bench_*.py"))]


def main(argv: list[str] | None = None) -> int:
    """Run each benchmark's main(); return 1 if any of them failed or raised, else 0."""
    wanted = [] if argv is None else argv
    names = [n for n in discover() if not wanted or any(w in n for w in wanted)]
    if not names:
        print(f"no benchmarks in {BENCH_DIR} match {wanted or 'bench_*.py'}", file=sys.stderr)
        return 1
    results: list[tuple[str, str, float]] = []
    for name in names:
        print(f"\n######## {name} ########", flush=True)
        t0 = time.perf_counter()
        try:
            code = importlib.import_module(name).main()
            status = "ok" if not code else f"exit {code}"
        except SystemExit as exc:  # a benchmark that calls sys.exit() must not end the others
            status = "ok" if not exc.code else f"exit {exc.code}"
        except Exception:
            traceback.print_exc()
            status = "ERROR"
        results.append((name, status, time.perf_counter() - t0))
    print("\n######## summary ########")
    for name, status, seconds in results:
        print(f"{name:<40} {status:<8} {seconds:6.1f} s")
    return 0 if all(status == "ok" for _, status, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
