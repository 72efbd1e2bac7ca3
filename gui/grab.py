"""Grab the plots: drag a sample in the fit plot (one feature), click or drag on the loss
landscape to put the parameters there. Each drag is one gesture (one event in the history);
the run goes on from what it changed (gui/live_edits.py, core/live_data.py).

Each grabber is an invisible item over its plot. A drag that starts near a sample (the fit) or
anywhere on the map (the landscape) is the grabber's; any other drag reaches the plot, which
pans as before.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

if TYPE_CHECKING:
    from gui.dashboard import Dashboard
    from gui.run_controller import RunController

GRAB_PX = 8.0  # a press this close to a sample (in pixels) picks it up
FIT_TIP = "Drag a sample to move it: the least-squares line, the landscape and the run follow"
MAP_TIP = "Click or drag to put the parameters there: training goes on from that point"


class _Grabber(pg.GraphicsObject):
    """An invisible item over a plot's data area that takes the drags it wants."""

    def __init__(self, dashboard: Dashboard, controller: RunController) -> None:
        super().__init__()
        self._dashboard = dashboard
        self._controller = controller
        self._rect = QtCore.QRectF()
        self._held = False  # a drag of this grabber is under way
        self.setZValue(50)

    def boundingRect(self) -> QtCore.QRectF:  # noqa: N802 (Qt's name)
        """The area it takes presses in (data coordinates)."""
        return self._rect

    def paint(self, *args: object) -> None:
        """Nothing to draw: it only listens."""

    def set_area(self, x0: float, x1: float, y0: float, y1: float) -> None:
        """Take presses inside this area (data coordinates)."""
        rect = QtCore.QRectF(x0, y0, x1 - x0, y1 - y0)
        if rect != self._rect and all(map(math.isfinite, (x0, x1, y0, y1))):
            self.prepareGeometryChange()
            self._rect = rect

    def _can_grab(self) -> bool:
        c = self._controller
        return c.run_info() is not None and not self._dashboard.is_reviewing()

    def mouseDragEvent(self, ev: object) -> None:  # noqa: N802 (pyqtgraph's name)
        """Start, follow and end a drag: one gesture for the run's history."""
        if ev.button() != QtCore.Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        if ev.isStart():
            if not self._can_grab() or not self._start(ev.buttonDownPos()):
                ev.ignore()
                return
            self._held = True
            self._controller.begin_gesture()
        elif not self._held:
            ev.ignore()
            return
        ev.accept()
        self._moved_to(ev.pos())
        if ev.isFinish():
            self._held = False
            self._controller.end_gesture()

    def _start(self, pos: QtCore.QPointF) -> bool:
        """Whether a drag pressed at pos is this grabber's."""
        raise NotImplementedError

    def _moved_to(self, pos: QtCore.QPointF) -> None:
        """The drag is at pos: change the run."""
        raise NotImplementedError


class SampleGrabber(_Grabber):
    """Drag a sample of the fit plot (one feature) to move that training row."""

    def __init__(self, dashboard: Dashboard, controller: RunController) -> None:
        super().__init__(dashboard, controller)
        self._view = dashboard.fit_view
        self._row = -1  # the training row held
        self.setToolTip(FIT_TIP)
        self._view.plotItem.addItem(self, ignoreBounds=True)
        controller.runReset.connect(lambda info, _: self._follow(info))
        controller.dataChanged.connect(lambda info, _: self._follow(info))

    def _follow(self, info: object) -> None:
        x = np.asarray(info.x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != 1 or not x.size:
            self.set_area(0.0, 0.0, 0.0, 0.0)
            return
        y = np.asarray(info.y, dtype=np.float64)
        pad_x = 0.05 * (x.max() - x.min()) or 1.0
        pad_y = 0.05 * (y.max() - y.min()) or 1.0
        self.set_area(x.min() - pad_x, x.max() + pad_x, y.min() - pad_y, y.max() + pad_y)

    def nearest(self, pos: QtCore.QPointF) -> int | None:
        """The displayed sample within GRAB_PX pixels of pos (its index in the run info)."""
        info = self._controller.run_info()
        if info is None or info.x.shape[1] != 1 or info.y.size == 0:
            return None
        sx, sy = self._view.plotItem.getViewBox().viewPixelSize()
        if not (sx > 0 and sy > 0):
            return None
        d2 = ((info.x[:, 0] - pos.x()) / sx) ** 2 + ((info.y - pos.y()) / sy) ** 2
        k = int(np.argmin(d2))
        return k if d2[k] <= GRAB_PX**2 else None

    def _start(self, pos: QtCore.QPointF) -> bool:
        k = self.nearest(pos)
        if k is None:
            return False
        self._row = int(self._controller.run_info().sample_rows[k])
        return True

    def _moved_to(self, pos: QtCore.QPointF) -> None:
        self._controller.live.move_sample([self._row], [[pos.x()]], [pos.y()])


class ParamGrabber(_Grabber):
    """Click or drag on the loss landscape to put the shown parameters there."""

    def __init__(self, dashboard: Dashboard, controller: RunController) -> None:
        super().__init__(dashboard, controller)
        self._map = dashboard.landscape_view.map
        self.setToolTip(MAP_TIP)
        self._map.plotItem.addItem(self, ignoreBounds=True)
        self._map.pair_changed.connect(self._follow)

    def _follow(self) -> None:
        (x0, x1), (y0, y1) = self._map.view_ranges()
        self.set_area(x0, x1, y0, y1)

    def theta_at(self, pos: QtCore.QPointF) -> np.ndarray | None:
        """The parameters (trained units) a press at pos puts: the shown pair there, the
        others as they are now."""
        snap, info = self._controller.current_snapshot(), self._controller.run_info()
        if snap is None or info is None or snap.theta_trained.size != len(info.param_names):
            return None
        theta = np.array(snap.theta_trained, dtype=np.float64)
        i, j = self._map.grid_params()
        theta[i] = pos.x()
        if i != j:
            theta[j] = pos.y()
        return theta

    def mouseClickEvent(self, ev: object) -> None:  # noqa: N802 (pyqtgraph's name)
        """A left click puts the parameters there (one event)."""
        if ev.button() != QtCore.Qt.MouseButton.LeftButton or not self._can_grab():
            ev.ignore()
            return
        theta = self.theta_at(ev.pos())
        if theta is None:
            ev.ignore()
            return
        ev.accept()
        self._place(theta)

    def _start(self, pos: QtCore.QPointF) -> bool:
        return self.theta_at(pos) is not None

    def _moved_to(self, pos: QtCore.QPointF) -> None:
        theta = self.theta_at(pos)
        if theta is not None:
            self._place(theta)

    def _place(self, theta: np.ndarray) -> None:
        info = self._controller.run_info()
        if info is not None:
            self._controller.live.place(theta, info)

    def hoverEvent(self, ev: object) -> None:  # noqa: N802 (pyqtgraph's name)
        """A cross over the map says a click puts the parameters there."""
        cursor = QtCore.Qt.CursorShape.CrossCursor
        if ev.isExit():
            self.unsetCursor()
        elif self._can_grab():
            self.setCursor(QtGui.QCursor(cursor))


def attach_grabbing(dashboard: Dashboard, controller: RunController) -> tuple[_Grabber, ...]:
    """Make the dashboard's fit samples and landscape grabbable."""
    return SampleGrabber(dashboard, controller), ParamGrabber(dashboard, controller)
