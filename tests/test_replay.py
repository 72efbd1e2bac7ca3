"""The animated GIF replay of a run."""

from __future__ import annotations

import pytest
from PIL import Image

from gui.replay import frame_steps
from tests.conftest import WAIT_MS


def test_frame_steps_cover_the_run_once_each():
    assert frame_steps(100, 5) == [0, 25, 50, 75, 100]
    assert frame_steps(3, 10) == [0, 1, 2, 3]
    assert frame_steps(0, 10) == [0]
    with pytest.raises(ValueError):
        frame_steps(10, 1)


def test_export_gif_replays_the_run_and_restores_the_views(window, qtbot, tmp_path):
    window.step_epoch()
    window.step_epoch()
    qtbot.waitUntil(
        lambda: window.latest_snapshot() is not None and window.latest_snapshot().epoch == 2,
        timeout=WAIT_MS,
    )
    live = window.latest_snapshot()
    path = tmp_path / "run.gif"
    frames = window.export_gif(path, frames=12)
    assert frames == 12
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.n_frames == 12 and gif.is_animated
        assert gif.size[0] == 960
        first = gif.convert("RGB").tobytes()
        gif.seek(gif.n_frames - 1)
        last = gif.convert("RGB").tobytes()
    assert first != last  # the replay moves
    # Back to the live state, with nothing of the replay left on screen.
    assert not window.is_reviewing()
    assert window.param_view.shown_snapshot().step == live.step
    assert window.timeline.is_live()


def test_export_gif_while_rewound_returns_to_the_rewound_step(window, qtbot, tmp_path):
    window.step_epoch()
    qtbot.waitUntil(lambda: window.latest_snapshot() is not None, timeout=WAIT_MS)
    window.rewind_to(7)
    window.export_gif(tmp_path / "r.gif", frames=4)
    assert window.is_reviewing() and window.reviewed_snapshot().step == 7
    assert window.param_view.shown_snapshot().step == 7


def test_export_gif_to_a_missing_folder_leaves_nothing(window, qtbot, tmp_path):
    window.step_batch()
    qtbot.waitUntil(lambda: window.latest_snapshot() is not None, timeout=WAIT_MS)
    with pytest.raises(OSError):
        window.export_gif(tmp_path / "missing" / "r.gif", frames=3)
    assert not any(tmp_path.rglob("*.gif*"))
