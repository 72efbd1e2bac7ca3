"""The main window's files and configurations (a mixin of gui.main_window.MainWindow):
presets, configuration files, CSV data, run files, and the export of the run, its plots and
its data; each failure gets a message in the window and keeps the current run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from core.config import Config
from core.errors import UserInputError
from core.predict import write_model_json
from core.presets import PRESETS, preset_config
from core.run_length import LONG_RUN_SECONDS
from core.runfile import load_run, save_run
from gui import export, replay
from gui.csv_dialog import csv_config, fresh_settings
from gui.widgets import short_list

if TYPE_CHECKING:
    from gui.run_controller import RunController


class WindowFiles:
    """Loading and saving for the main window (its controller, dashboard and tabs)."""

    controller: RunController

    # ---- configurations -------------------------------------------------------------
    def load_preset(self, name: str) -> None:
        """Load a preset into the controls and reset the run."""
        self.show_message(
            "info", f"Preset {name}: {PRESETS[name].summary}{self._load(preset_config(name))}"
        )

    def _load(self, config: Config) -> str:
        """Start a run from a whole configuration; a run that would take minutes at the
        chosen speed is unthrottled. Returns what was changed, in words (or '')."""
        seconds = self.controller.run_seconds(config)
        self.apply_config(config)
        if seconds <= LONG_RUN_SECONDS:
            return ""
        speed = self.controller.speed()
        self.controller.set_speed(None)
        return (
            f" At {speed:,.0f} steps/s it would take {seconds / 60:,.0f} minutes: the speed is"
            " now unthrottled (the Speed slider sets it back)."
        )

    def apply_config(self, config: Config) -> None:
        """Show config in the controls and start a run from it."""
        self.controller.apply_config(config)

    def open_config(self, path: str | Path) -> bool:
        """Load a configuration file; a bad file gets a message and keeps the current run."""
        try:
            config = Config.load(path)
        except UserInputError as exc:
            self.show_message("error", f"{exc}. The current run is kept.")
            return False
        self.show_message("info", f"Loaded {path}.{self._load(config)}")
        return True

    def save_config(self, path: str | Path) -> bool:
        """Write the configuration as JSON; a failure gets a message."""
        try:
            export.export_config(self.config(), Path(path))
        except (OSError, UserInputError) as exc:
            self.show_message("error", f"Could not save {path}: {exc}")
            return False
        self.show_message("info", f"Saved configuration to {path}")
        return True

    def open_csv(self, path: str, target: str, features: list[str], standardize: bool) -> bool:
        """Train on CSV columns, loaded in the training thread (a big file never freezes the
        window); a malformed file gets a message and the current run is kept. False if the
        choice itself is invalid."""
        fresh, said = fresh_settings(self.config(), self.controller.touched())
        try:
            config = csv_config(self.config(), path, target, features, standardize, fresh)
        except UserInputError as exc:
            self.show_message("error", f"{exc}. The current run is kept.")
            return False
        note = (
            f"Training on {Path(path).name}: {target} from {short_list(features, 6)}. "
            "With real data there is no true line: least squares is the reference."
        )
        if said:
            note += f" Set for this data: {', '.join(said)}."
        self.controller.apply_config(config, fit_to_data=True, note=note)
        return True

    # ---- files ----------------------------------------------------------------------
    def export_run(self, folder: str | Path) -> list[Path]:
        """Write every plot (PNG, SVG), the window (PNG), history (CSV), config (JSON)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.refresh()
        d = self.dashboard
        views = {
            "loss": d.loss_view,
            "fit": d.fit_view,
            "params": d.param_view,
            "landscape": d.landscape_view,
            "residuals": d.residual_view,
            "weights": d.weight_bars,
            "lr": d.lr_view,
            "eigen": d.eigen_view,
        }
        paths = export.export_views(views, folder)
        paths.append(folder / "window.png")
        export.export_window_png(self, paths[-1])
        history = self.history()
        if history is not None:
            paths += export.export_history(history, folder)
        paths.append(folder / "config.json")
        export.export_config(self.config(), paths[-1])
        info, snap = self.run_info(), self.controller.current_snapshot()
        if info is not None and snap is not None:
            paths.append(write_model_json(folder / "model.json", info, snap.weights, snap.bias))
            paths += self.dashboard.predict_panel.export(folder)
        paths += self.race_panel.export(folder)
        paths += self.sweep_panel.export(folder)
        paths += self.controller.export_branches(folder)  # run.lrrun (every branch), branches.csv
        return paths

    def export_gif(self, path: str | Path, frames: int = replay.FRAMES) -> int:
        """Write the dashboard replayed from the run's history as a looping GIF."""
        # The dashboard is what is replayed: on its tab, it lays out at its shown size.
        self.main_tabs.setCurrentWidget(self.dashboard)
        return self.dashboard.export_gif(path, frames)

    def save_run(self, path: str | Path) -> Path:
        """Write the whole run (configuration, history, where it stands) to a run file."""
        run = self.controller.saved_run()
        if run is None:
            raise OSError("there is no run to save yet")
        return save_run(run, path)

    def open_run(self, path: str | Path) -> bool:
        """Reopen a saved run, paused where it stood; a bad file keeps the current run."""
        try:
            run = load_run(path)
        except UserInputError as exc:
            self.show_message("error", f"{exc}. The current run is kept.")
            return False
        self.go_live()
        self.controller.open_saved(run)
        note = ""
        if len(run.branches) > 1:
            note = f" It keeps {len(run.branches)} branches (View > Branches lists them)."
        self.show_message(
            "info",
            f"Reopened {Path(path).name} at step {run.step:,} (epoch {run.epoch}). "
            f"Scrub back with the timeline or press Run to continue.{note}",
        )
        return True
