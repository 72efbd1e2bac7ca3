"""The progress callback the data builders call (synthetic generation and CSV loading)."""

from __future__ import annotations

from collections.abc import Callable

# Told the share of the data built so far (0 to 1), from the thread building it.
Progress = Callable[[float], None]
