"""Garbage is collected on the GUI thread only, once worker threads exist (gui/gui_gc.py)."""

from __future__ import annotations

import gc
import threading
import weakref
from typing import ClassVar

from gui.gui_gc import (
    collect_on_gui_thread,
    is_collecting_on_gui_thread,
    stop_collecting_on_gui_thread,
)
from tests.conftest import WAIT_MS


class _Node:
    """A cycle only the collector frees; it notes the thread that freed it."""

    freed_in: ClassVar[list[str]] = []

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        _Node.freed_in.append(threading.current_thread().name)


def test_a_window_moves_collection_to_the_gui_thread(window, qtbot):
    # As run_app does: the collector no longer runs by itself, in whatever thread allocates.
    qtbot.waitUntil(lambda: window.run_info() is not None, timeout=WAIT_MS)
    was_enabled = gc.isenabled()
    collect_on_gui_thread()
    try:
        assert is_collecting_on_gui_thread()
        assert not gc.isenabled()
        window.toggle_run()  # the worker allocates; nothing it makes may trigger a collection
        _Node.freed_in.clear()
        node = _Node()
        ref = weakref.ref(node)
        del node
        for _ in range(3 * gc.get_threshold()[0]):  # past the threshold that would collect
            _Node.__new__(_Node)
        qtbot.waitUntil(lambda: ref() is None, timeout=WAIT_MS)  # the GUI thread's timer did
        assert _Node.freed_in and set(_Node.freed_in) == {threading.main_thread().name}
    finally:
        stop_collecting_on_gui_thread()  # the suite's other tests collect between tests
    assert gc.isenabled() == was_enabled
