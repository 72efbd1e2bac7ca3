"""Render docs/theory.png: why a run converges (offscreen).

Three correlated features trained by SGD with a cosine schedule, batches drawn with replacement,
paused at step 800 of 2000: the Eigen-directions tab, the rate under the loss plot with the plan
ahead, the SGD plateau on the loss plot and the landscape's gradient cloud.
"""

from __future__ import annotations

import sys
from pathlib import Path

from gui.app import ensure_app

STEPS = 800


def main(out: str = "docs/theory.png") -> None:
    """Train the run to STEPS in an offscreen window, show the theory views, save the window."""
    ensure_app(offscreen=True)
    from PySide6.QtCore import QEventLoop, QTimer

    from core.presets import preset_config
    from gui import export
    from gui.main_window import MainWindow

    config = preset_config("d2l-concise-3").with_values(
        {
            "data.feature_correlation": 0.8,
            "data.noise_std": 0.5,
            "train.lr": 0.05,
            "train.epochs": 20,
            "train.sampling": "replacement",
            "train.schedule": {"name": "cosine", "lr_min": 0.002},
        }
    )
    window = MainWindow(config)
    window.resize(1400, 900)
    window.show()

    def wait(condition, seconds: float = 120.0) -> None:
        loop = QEventLoop()
        poll = QTimer()
        poll.timeout.connect(lambda: condition() and loop.quit())
        poll.start(10)
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        if not condition():
            loop.exec()
        poll.stop()

    try:
        wait(lambda: window.is_ready())
        window.controller.set_speed(400.0)  # a steady rate, so the pause lands near STEPS
        window.controller.run()
        wait(
            lambda: (window.latest_snapshot() or window.controller.initial_snapshot()).step >= STEPS
        )
        window.controller.pause()
        wait(lambda: window.run_state() == "paused" and window.is_idle())
        window.dashboard.param_tabs.setCurrentIndex(1)
        window.landscape_view.theory.set_cloud_shown(True)
        plateau = window.dashboard.plateau_line
        wait(lambda: plateau.value == plateau.value, 30.0)  # computed in its own thread
        window.refresh()
        export.export_window_png(window, Path(out))
    finally:
        window.shutdown()
        window.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
