"""Benchmarks printing side-by-side ratios (python -m bench.run_all)."""

from __future__ import annotations

from collections.abc import Callable


def print_tables(out: Callable[[str], None], table: str, markdown: str) -> None:
    """Print a benchmark's plain table, then the same as Markdown for the README."""
    for line in ("", table, "", "Markdown (for the README):", "", markdown, ""):
        out(line)
