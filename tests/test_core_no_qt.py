"""The training core imports no Qt: it must run headless and in worker processes."""

from __future__ import annotations

import pkgutil

from tests.conftest import ROOT, run_python

# Every module of core, found rather than listed (a hand-kept list missed six new modules).
CORE_MODULES = tuple(f"core.{info.name}" for info in pkgutil.iter_modules([str(ROOT / "core")]))
QT_PREFIXES = ("PySide6", "shiboken6", "pyqtgraph", "PyQt")

SCRIPT = f"""
import importlib, sys
for name in {CORE_MODULES!r}:
    importlib.import_module(name)
qt = sorted(m for m in sys.modules if m.startswith({QT_PREFIXES!r}))
print("QT:" + ",".join(qt))
"""


def test_every_core_module_is_checked():
    assert len(CORE_MODULES) >= 20 and "core.trainer" in CORE_MODULES


def test_core_imports_no_qt():
    result = run_python(["-c", SCRIPT])
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("QT:")]
    assert lines == ["QT:"], f"core pulled in Qt modules: {lines}"
