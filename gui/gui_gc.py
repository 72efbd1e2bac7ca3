"""Garbage collection on the GUI thread only.

Python's collector runs in whichever thread happens to allocate past its threshold. When that
is a worker thread and the garbage holds a Qt object, the object's destructor disconnects its
signals there: Qt takes its connection lock, then PySide asks for the interpreter lock, which
the GUI thread holds while it waits for that same Qt lock to connect a new widget. Seen as a
deadlock (a race table re-seeded during a run, a numpy call in the theory thread collecting).
So the app (gui/app.py) turns automatic collection off before its worker threads start, and
pyqtgraph's GarbageCollector collects from a timer on the GUI thread instead."""

from __future__ import annotations

import gc

from pyqtgraph.util.garbage_collector import GarbageCollector

INTERVAL_S = 0.5  # how often the GUI thread looks at the collector's counts

_collector: GarbageCollector | None = None
_was_enabled = True  # automatic collection before the timer took over


def collect_on_gui_thread() -> None:
    """Turn automatic collection off and collect from a GUI-thread timer (idempotent; call it
    from the GUI thread, before a worker thread starts)."""
    global _collector, _was_enabled
    if _collector is None:
        _was_enabled = gc.isenabled()
        _collector = GarbageCollector(interval=INTERVAL_S)


def is_collecting_on_gui_thread() -> bool:
    """Whether collection has moved to the GUI thread's timer."""
    return _collector is not None


def stop_collecting_on_gui_thread() -> None:
    """Back to collection as it was before (tests that turned the timer on put things back)."""
    global _collector
    if _collector is not None:
        _collector.timer.stop()
        _collector = None
        if _was_enabled:
            gc.enable()
