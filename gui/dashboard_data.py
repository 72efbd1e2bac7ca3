"""The Training tab's moved data (a mixin of gui.dashboard.Dashboard): when the run's data
moves under it (a drag of a true weight, a sample, a rebuild), the views follow at the next
frame, each with its stage, and views on hidden tabs once they are shown."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QWidget

from core.runinfo import RunInfo
from core.snapshot import Snapshot

if TYPE_CHECKING:
    from core.review import Recording
    from gui.frame_pacer import FramePacer
    from gui.timeline import TimelineBar

# For this long after the data moved under the run (a drag), frames come as fast as when idle,
# so that each change reaches the plots within a frame or two.
MOVING_DATA_S = 0.5


class DashboardData:
    """Moved data for the dashboard (its views, timeline, pacer and rewound state)."""

    pacer: FramePacer
    timeline: TimelineBar
    _review: Recording | None
    _review_snap: Snapshot | None

    def _init_moved(self) -> None:
        self._moved: RunInfo | None = None  # the run's moved data, for the next frame
        self._unseen: RunInfo | None = None  # ... which views not drawn then have yet to take
        self._moved_at = -MOVING_DATA_S

    def _on_data_changed(self, info: RunInfo, snap: Snapshot) -> None:
        """The run's data moved under it: the views follow at the next frame, soon."""
        self._moved, self._moved_at = info, time.perf_counter()
        self.timeline.set_last_step(snap.step)
        if self._review is not None:
            self._follow(self.views(), info)
            self._moved = self._unseen = None
            if self._review_snap is not None:
                self._draw(self.views()[1:], self._review_snap)
            return
        self.pacer.offer(snap)
        self.pacer.hurry()

    def _take_moved(self) -> RunInfo | None:
        """The moved data the next frame's views take (pending for unseen views until shown)."""
        if self._moved is not None:
            self._unseen = self._moved
        return self._moved

    def _follow(self, views: list[QWidget] | tuple[QWidget, ...], info: RunInfo) -> None:
        """Show the run's moved data in views (those that cannot keep their picture start over;
        the next snapshot drawn fills them again)."""
        for view in views:
            follow = getattr(view, "follow_data", None)
            (follow or view.set_run)(info)

    def _data_moving(self) -> bool:
        """Whether the run's data moved within the last MOVING_DATA_S (a drag under way)."""
        return time.perf_counter() - self._moved_at < MOVING_DATA_S

    def _catch_up(self) -> None:
        """Every view takes the run's newest moved data, if some have not yet."""
        info = self._moved or self._unseen
        if info is not None:
            self._follow(self.views(), info)
            self._moved = self._unseen = None
