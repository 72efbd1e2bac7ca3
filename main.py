"""Command line: the window by default; `train`, `predict`, `race`, `sweep`, `script`,
`presets`, `lessons`, `screenshot` run headless."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 3
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader left


class CliError(Exception):
    """Bad command-line input: reported as one line, exit code 2."""


def _write_error(out: Path, exc: OSError | ValueError) -> CliError:
    """The message for an --out the OS refused (ValueError: a path it cannot take at all,
    such as one with an embedded NUL character)."""
    return CliError(f"cannot write to {out}: {getattr(exc, 'strerror', None) or exc}")


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors through CliError (one line, exit 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise CliError(message)


def _add_source(p: argparse.ArgumentParser, *, sub: bool = False) -> None:
    # A subcommand's copies default to SUPPRESS, so `--preset X train` keeps X instead of having
    # the subparser's None overwrite it; its --set items are collected apart and appended.
    default = argparse.SUPPRESS if sub else None
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--preset",
        default=default,
        metavar="NAME",
        help="start from a named preset (see `presets`)",
    )
    g.add_argument(
        "--config", default=default, metavar="FILE", help="start from a JSON configuration file"
    )
    g.add_argument(
        "--lesson",
        default=default,
        metavar="NAME",
        help="start from a lesson's set-up (see `lessons`)",
    )
    p.add_argument(
        "--set",
        dest="sub_sets" if sub else "sets",
        action="append",
        default=argparse.SUPPRESS if sub else [],
        metavar="SECTION.KEY=JSON",
        help="override one field, value in JSON, e.g. --set data.true_weights=[1,2]",
    )
    p.add_argument("--epochs", type=int, default=default, metavar="N", help="train for N epochs")


def _add_sweep(sub: Any) -> None:
    sweep = sub.add_parser(
        "sweep",
        help="train a grid of settings (x N seeds) and write sweep.csv, sweep.json, sweep.png/svg",
        description=(
            "Train every cell of a grid of configuration keys, each over N seeds, and write"
            " sweep.csv (a row per cell and seed), sweep.json (configuration, grid, theoretical"
            " limits) and sweep.png/.svg (the map). Runs that share data and batch order train"
            " as one computation. Seeds vary data.noise_seed when the configuration sets it"
            " (features held), else data.seed."
        ),
    )
    _add_source(sweep, sub=True)
    sweep.add_argument(
        "--grid",
        dest="grid",
        action="append",
        default=[],
        metavar="KEY=VALUES",
        help="an axis: a configuration key and a comma list (1,4,16), log:START:STOP:COUNT or"
        " lin:START:STOP:COUNT; e.g. train.lr=log:1e-3:1:16 (give one or more)",
    )
    sweep.add_argument("--seeds", type=int, default=1, metavar="N", help="seeds per cell")
    sweep.add_argument(
        "--tolerance",
        type=float,
        default=None,
        metavar="F",
        help="relative distance to the least-squares loss that counts as reached (default 0.01)",
    )
    sweep.add_argument(
        "--workers", type=int, default=None, metavar="N", help="spread the groups over N processes"
    )
    sweep.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run the groups on the Dask cluster at this address (tcp://HOST:PORT)",
    )
    sweep.add_argument(
        "--measure",
        choices=("steps", "loss", "diverged"),
        default="steps",
        help="what the map shows (default: steps to tolerance)",
    )
    sweep.add_argument("--out", metavar="DIR", required=True, help="output folder")
    sweep.add_argument("--no-plots", action="store_true", help="skip sweep.png and sweep.svg")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = _Parser(
        prog="linreg-viz",
        description="Watch linear regression learn. With no command, opens the window.",
    )
    _add_source(parser)
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    train = sub.add_parser("train", help="train without a window and write the results")
    _add_source(train, sub=True)
    train.add_argument("--out", metavar="DIR", default="runs/latest", help="output folder")
    train.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument(
        "--predict",
        metavar="FILE.csv",
        help="also write predictions.csv: the trained model applied to this file's rows (a header"
        " row naming the features: x1, x2, ... for generated data)",
    )
    predict = sub.add_parser(
        "predict",
        help="apply a saved run (.lrrun) to a CSV file of new rows",
        description=(
            "Read FILE.csv (a header row naming the run's features; other columns are carried"
            " through) and write it with the columns prediction, ols_prediction, ols_lower,"
            " ols_upper (a 95% least-squares prediction interval) and, for generated data,"
            " true_value. The run's data is rebuilt from its configuration."
        ),
    )
    predict.add_argument("--run", required=True, metavar="RUN.lrrun", help="a saved run")
    predict.add_argument("--input", required=True, metavar="FILE.csv", help="rows to predict")
    predict.add_argument("--out", required=True, metavar="FILE.csv", help="where to write them")
    race = sub.add_parser(
        "race",
        help="race up to four optimizers on the same data and write race.json + race_loss.png",
        description=(
            "Train 1 to 4 runs on identical data from identical initial parameters; each --run"
            " sets its optimizer, lr, batch_size and momentum (others come from the base"
            " configuration). A run reaches tolerance at the first step where its training"
            " loss - the least-squares loss <= T * max(least-squares loss, 1e-9 * initial"
            " loss)."
        ),
    )
    _add_source(race, sub=True)
    race.add_argument(
        "--run",
        dest="runs",
        action="append",
        default=[],
        metavar="KEY=VALUE,...",
        help="one run, e.g. optimizer=adam,lr=0.01,batch_size=32 (keys: optimizer, lr,"
        " batch_size, momentum, label); give 1 to 4",
    )
    race.add_argument(
        "--tolerance",
        type=float,
        default=None,
        metavar="T",
        help="relative distance to the least-squares loss that counts as reached (default 0.01)",
    )
    race.add_argument("--out", metavar="DIR", default="runs/race", help="output folder")
    race.add_argument("--no-plots", action="store_true", help="skip race_loss.png")
    race.add_argument("--quiet", action="store_true", help="no progress bar")
    script = sub.add_parser(
        "script",
        help="write the run as a standalone Python script (numpy and torch only)",
        description=(
            "Write a standalone script that generates the data, builds the model and trains it"
            " as `train` would, step for step; run it and its last line is the final weights"
            " and bias as JSON."
        ),
    )
    _add_source(script, sub=True)
    script.add_argument("--out", metavar="FILE.py", required=True, help="where to write it")
    _add_sweep(sub)
    sub.add_parser("presets", help="list the presets, one line each")
    sub.add_parser("lessons", help="list the lessons (guided experiments), one line each")
    shot = sub.add_parser("screenshot", help="train N epochs in the window offscreen, save a PNG")
    _add_source(shot, sub=True)
    shot.add_argument("--out", metavar="FILE.png", required=True, help="where to save the PNG")
    shot.add_argument("--size", default="1400x900", metavar="WxH", help="window size")
    shot.add_argument("--dark", action="store_true", help="the window in its dark theme")
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line; source options may come before or after the subcommand."""
    args = build_parser().parse_args(argv)
    args.sets = [*args.sets, *getattr(args, "sub_sets", [])]
    sources = [f"--{n}" for n in ("preset", "config", "lesson") if getattr(args, n) is not None]
    if len(sources) > 1:
        raise CliError(f"argument {sources[1]}: not allowed with argument {sources[0]}")
    return args


def parse_value(text: str) -> Any:
    """Parse a --set value as JSON, falling back to a bare string."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        # Not JSON (JSONDecodeError is a ValueError; so is an integer past Python's digit
        # limit, and deep nesting overflows the parser): validation names the key instead.
        return text


def load_config(args: argparse.Namespace) -> Any:
    """The configuration the arguments describe (preset/config, then --set, then --epochs)."""
    from core.config import Config
    from core.errors import ConfigError
    from core.presets import DEFAULT_PRESET, preset_config

    if getattr(args, "config", None):
        config = Config.load(args.config)
    elif getattr(args, "lesson", None):
        from core.lessons import get_lesson

        config = get_lesson(args.lesson).config()
    else:
        config = preset_config(getattr(args, "preset", None) or DEFAULT_PRESET)
    for item in getattr(args, "sets", []) or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set {item!r}: expected SECTION.KEY=VALUE")
        config = config.with_value(key.strip(), parse_value(value))
    if getattr(args, "epochs", None) is not None:
        config = config.with_value("train.epochs", args.epochs)
    return config


def cmd_presets() -> int:
    """Print each preset: name, then what it reproduces."""
    from core.presets import PRESETS

    width = max(len(n) for n in PRESETS)
    for preset in PRESETS.values():
        print(f"{preset.name:<{width}}  {preset.summary}")
    return EXIT_OK


def cmd_lessons() -> int:
    """Print each lesson: name, then its title and the article it is on."""
    from core.lessons import listing

    for line in listing():
        print(line)
    return EXIT_OK


def _progress(total: int, quiet: bool) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total, unit="step", file=sys.stderr, disable=quiet, dynamic_ncols=True, leave=False
    )


def cmd_train(args: argparse.Namespace) -> int:
    """Train headless and write summary, history, config and plots."""
    config = load_config(args)
    from core.predict_io import read_predict_input
    from core.report import summary, write_run_files
    from core.trainer import Trainer

    out = Path(args.out)
    trainer = Trainer(config)
    # Read before training, so a bad file costs no training and leaves nothing written.
    rows = read_predict_input(args.predict, trainer.dataset.feature_names) if args.predict else None
    with _progress(trainer.total_steps, args.quiet) as bar:
        while not trainer.done and trainer.stopped_reason != "diverged":
            ran = trainer.run_steps(
                trainer.total_steps - trainer.step_count, deadline=time.perf_counter() + 0.2
            )
            bar.update(ran)
            bar.set_postfix(loss=f"{trainer.last_batch_loss or 0:.4g}", refresh=False)
    try:
        paths = write_run_files(trainer, out, rows)
        if not args.no_plots:
            from gui.render import save_run_plots

            paths += save_run_plots(trainer, out)
    except (OSError, ValueError) as exc:
        raise _write_error(out, exc) from None
    s = summary(trainer)
    print(
        f"{s['stopped_reason']}: {s['epochs_completed']} epochs, {s['steps']} steps, "
        f"train loss {s['train_loss']}, weights {s['final_weights']}, bias {s['final_bias']}"
    )
    print(f"wrote {len(paths)} files to {out}")
    if args.lesson:
        print(_lesson_note(args.lesson, trainer))
    if trainer.stopped_reason == "diverged":
        print(trainer.message, file=sys.stderr)
        return EXIT_DIVERGED
    return EXIT_OK


def _lesson_note(name: str, trainer: Any) -> str:
    """What the lesson asks, and for a state to reach, where the set-up's run stands."""
    from core.lessons import RunFacts, get_lesson

    lesson = get_lesson(name)
    if lesson.asks_number:
        return f"lesson {name}: {lesson.question}"
    verdict = lesson.check(RunFacts.of_trainer(trainer))
    return f"lesson {name}: {lesson.question} The set-up's run: {verdict.text}"


def cmd_predict(args: argparse.Namespace) -> int:
    """Apply a saved run to a CSV file of new rows and write them with their predictions."""
    from core.predict import run_predictions
    from core.predict_io import read_predict_input, saved_run_for_prediction, write_predictions
    from core.runinfo import run_info

    trainer, theta = saved_run_for_prediction(args.run)
    rows = read_predict_input(args.input, trainer.dataset.feature_names)
    columns = run_predictions(run_info(trainer), theta, rows.x)
    out = Path(args.out)
    try:
        write_predictions(out, rows, columns)
    except (OSError, ValueError) as exc:
        raise _write_error(out, exc) from None
    print(f"wrote {len(rows.rows)} predictions to {out}")
    return EXIT_OK


def cmd_race(args: argparse.Namespace) -> int:
    """Race 1 to 4 optimizer settings headless and write race.json and race_loss.png."""
    from core.errors import UserInputError
    from core.race import DEFAULT_TOLERANCE, MAX_RUNS, Race, parse_run_spec, write_race_json

    if not 1 <= len(args.runs) <= MAX_RUNS:
        raise CliError(
            f"race needs 1 to {MAX_RUNS} --run options, got {len(args.runs)}"
            " (e.g. --run optimizer=sgd,lr=0.03 --run optimizer=adam,lr=0.01)"
        )
    config = load_config(args)
    entries = []
    for spec in args.runs:
        try:
            entries.append(parse_run_spec(spec))
        except UserInputError as exc:
            raise CliError(f"--run {spec!r}: {exc}") from None
    tolerance = DEFAULT_TOLERANCE if args.tolerance is None else args.tolerance
    race = Race(config, entries, tolerance)
    out = Path(args.out)
    with _progress(race.total_steps, args.quiet) as bar:
        while not race.done:
            bar.update(race.advance(time.perf_counter() + 0.2))
            reached = sum(run.steps_to_tolerance is not None for run in race.runs)
            bar.set_postfix(reached=f"{reached}/{len(race.runs)}", refresh=False)
    try:
        out.mkdir(parents=True, exist_ok=True)
        paths = [write_race_json(race, out / "race.json")]
        if not args.no_plots:
            from gui.render import save_race_plot

            paths.append(save_race_plot(race, out))
    except (OSError, ValueError) as exc:
        raise _write_error(out, exc) from None
    for r in race.results():
        if r["steps_to_tolerance"] is None:
            reached_text = "never within tolerance"
        else:
            reached_text = (
                f"within tolerance at step {r['steps_to_tolerance']}"
                f" ({r['seconds_to_tolerance']:.3g} s)"
            )
        print(
            f"run {r['run']} ({r['label']}): {r['stopped_reason']} after {r['steps']} steps,"
            f" final loss {r['final_loss']:.6g}, {reached_text}"
        )
    print(f"least-squares loss {race.ols_loss:.6g}, tolerance {race.tolerance:g}")
    print(f"wrote {len(paths)} files to {out}")
    diverged = [run for run in race.runs if run.trainer.stopped_reason == "diverged"]
    for run in diverged:
        print(f"run {run.index + 1} ({run.label}): {run.trainer.message}", file=sys.stderr)
    # A diverged run is a result of the race, not a failure, unless no run survived.
    return EXIT_DIVERGED if len(diverged) == len(race.runs) else EXIT_OK


def cmd_script(args: argparse.Namespace) -> int:
    """Write the run as a standalone Python script."""
    config = load_config(args)
    from core.files import atomic_write_text
    from core.presets import DEFAULT_PRESET
    from core.script import make_script

    source = args.preset or (Path(args.config).stem if args.config else DEFAULT_PRESET)
    script = make_script(config, title=f"The {source} run")
    out = Path(args.out)
    try:
        atomic_write_text(out, script.text)
    except (OSError, ValueError) as exc:
        raise _write_error(out, exc) from None
    print(f"wrote {out} ({script.n_lines} lines); run it with: python {out}")
    return EXIT_OK


def cmd_sweep(args: argparse.Namespace) -> int:
    """Train a grid of settings over seeds and write sweep.csv, sweep.json and the map."""
    import numpy as np

    from core.race import DEFAULT_TOLERANCE
    from core.sweep import SweepPlan, parse_grid
    from core.sweep_exec import run_sweep
    from core.sweep_io import write_sweep_files
    from core.sweep_run import cell_table, plan_limits

    axes = parse_grid(args.grid)
    config = load_config(args)
    tolerance = DEFAULT_TOLERANCE if args.tolerance is None else args.tolerance
    plan = SweepPlan(config, axes, args.seeds, tolerance)
    out = Path(args.out)
    from tqdm import tqdm

    with tqdm(
        total=len(plan.cells), unit="run", file=sys.stderr, disable=args.quiet, leave=False
    ) as bar:
        outcome = run_sweep(
            plan, args.workers, args.scheduler, progress=lambda done, _: bar.update(done - bar.n)
        )
    records, lines = plan_limits(plan)
    try:
        paths = write_sweep_files(out, plan, outcome.results, records, outcome.execution())
        if not args.no_plots:
            from gui.render import save_sweep_plot

            paths += save_sweep_plot(plan, outcome.results, lines, out, args.measure)
    except (OSError, ValueError) as exc:
        raise _write_error(out, exc) from None
    results = outcome.results
    reached = sum(r.steps_to_tolerance is not None for r in results)
    diverged = sum(r.diverged for r in results)
    cells = len(results) // plan.seeds
    print(
        f"{len(results)} runs ({cells} cell{'s' * (cells != 1)} x {plan.seeds} seeds) in"
        f" {len(plan.groups)} groups,"
        f" {outcome.mode}: {reached} within tolerance, {diverged} diverged,"
        f" {outcome.seconds:.3g} s"
    )
    table = cell_table(plan.axes, [c.grid_index for c in plan.cells], results, "steps")
    finite = table.median[np.isfinite(table.median)]
    if finite.size:
        i, j = (int(k) for k in np.argwhere(table.median == finite.min())[0])
        where = ", ".join(
            f"{a.key}={a.label(a.values[k])}" for a, k in zip(plan.axes, (i, j), strict=False)
        )
        print(f"fewest steps to tolerance: {where} ({finite.min():,.0f}, median over seeds)")
    for record in records:
        print(f"{record['name']}: lr < {record['formula']} = {record['lr']:.4g}")
    if cells == 1 and plan.seeds > 1:
        _print_seed_spread(plan, results)
    print(f"wrote {len(paths)} files to {out}")
    return EXIT_OK


def _print_seed_spread(plan: Any, results: Any) -> None:
    """One cell over seeds: the share of the seeds inside least squares' sampling ellipse."""
    import numpy as np

    from core.errors import UserInputError
    from core.seeds import seed_spread

    if plan.seed_key != "data.noise_seed":
        print("(set data.noise_seed for a fixed design to compare the seeds with the ellipse)")
        return
    try:
        spread = seed_spread(
            plan.base,
            np.array([r.theta for r in results]),
            np.array([r.diverged for r in results]),
        )
    except UserInputError as exc:
        print(f"(no sampling ellipse: {exc})")
        return
    print(spread.text())


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise CliError(f"--size {text!r}: expected WIDTHxHEIGHT, e.g. 1400x900") from None
    if not (1000 <= w <= 8000 and 600 <= h <= 8000):
        raise CliError(f"--size {text!r}: at least 1000x600, at most 8000x8000")
    return w, h


def cmd_screenshot(args: argparse.Namespace) -> int:
    """Train N epochs in an offscreen window and save it as a PNG."""
    config = load_config(args)
    size = _size(args.size)
    from gui.app import screenshot

    try:
        screenshot(config, Path(args.out), size, dark=args.dark)
    except OSError as exc:
        raise CliError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    print(f"wrote {args.out}")
    return EXIT_OK


def cmd_gui(args: argparse.Namespace) -> int:
    """Open the window."""
    given = args.preset or args.config or args.lesson or args.sets or args.epochs
    config = load_config(args) if given else None
    from gui.app import run_app

    return run_app(config)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    from core.errors import UserInputError

    try:
        args = parse_args(argv)
        if args.command == "presets":
            return cmd_presets()
        if args.command == "lessons":
            return cmd_lessons()
        if args.command == "train":
            return cmd_train(args)
        if args.command == "predict":
            return cmd_predict(args)
        if args.command == "race":
            return cmd_race(args)
        if args.command == "script":
            return cmd_script(args)
        if args.command == "sweep":
            return cmd_sweep(args)
        if args.command == "screenshot":
            return cmd_screenshot(args)
        return cmd_gui(args)
    except (CliError, UserInputError) as exc:
        print(f"linreg-viz: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("linreg-viz: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # stdout went to a pipe that closed early (`linreg-viz presets | head -1`): stop quietly
        # as Unix tools do; point stdout at devnull so the flush at exit cannot fail again.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
