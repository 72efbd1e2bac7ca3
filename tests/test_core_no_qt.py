"""The training core imports no Qt: it must run headless and in worker processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CORE_MODULES = (
    "core.config",
    "core.presets",
    "core.data",
    "core.engines",
    "core.optim",
    "core.trainer",
    "core.history",
    "core.analysis",
    "core.report",
    "core.csvdata",
    "core.files",
    "core.limits",
    "core.landscape",
    "core.state",
    "core.branches",
    "core.runfile",
    "core.script",
    "core.script_loop",
)
QT_PREFIXES = ("PySide6", "shiboken6", "pyqtgraph", "PyQt")

SCRIPT = f"""
import importlib, sys
for name in {CORE_MODULES!r}:
    importlib.import_module(name)
qt = sorted(m for m in sys.modules if m.startswith({QT_PREFIXES!r}))
print("QT:" + ",".join(qt))
"""


def test_core_imports_no_qt():
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("QT:")]
    assert lines == ["QT:"], f"core pulled in Qt modules: {lines}"
