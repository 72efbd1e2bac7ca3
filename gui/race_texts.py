"""Words of the optimizer race tab: the table's columns and every tooltip."""

from __future__ import annotations

from core.race import MAX_RUNS

# Two-line headers: on one line they were cut in a narrow window.
COLUMNS = [
    "Run",
    "Optimizer",
    "Learning\nrate",
    "Batch\nsize",
    "Momentum",
    "Steps to\ntolerance",
    "Seconds to\ntolerance",
    "Final\nloss",
    "Status",
]
COL_RUN, COL_OPT, COL_LR, COL_BATCH, COL_MOM, COL_STEPS, COL_SECONDS, COL_LOSS, COL_STATUS = range(
    len(COLUMNS)
)
HEADER_TIPS = [
    "Run number and its colour in the plots",
    "Optimizer of this run",
    "Learning rate of this run",
    "Minibatch size of this run (capped at the number of training samples)",
    "Momentum coefficient (momentum and Nesterov only)",
    "First step at which the run's training loss came within the tolerance of the least-squares"
    " loss (blank: not yet, or never)",
    "The run's own training seconds to that step (time inside its optimizer loop)",
    "Loss of the run on the whole training set: live during the race, final after it",
    "running, completed, diverged (the run stopped; the others continue) or stopped",
]
TOOLTIPS = {
    "raceTable": (
        "One row per run: all runs train on the same data from the same initial parameters.\n"
        "Edit a run's optimizer, learning rate, batch size and momentum here; the result\n"
        "columns fill in as the race goes."
    ),
    "raceButton": "Start a race of the runs in the table; press again to stop it",
    "addRunButton": f"Add a run (up to {MAX_RUNS})",
    "removeRunButton": "Remove the selected run, or the last one (at least one stays)",
    "toleranceSpin": (
        "A run has reached the least-squares loss once its training loss is at most this\n"
        "much above it: train_loss − ols_loss ≤ tolerance × ols_loss (for noiseless data,\n"
        "whose least-squares loss is ~0, a billionth of the initial loss is used instead)"
    ),
    "raceEpochsSpin": "Epochs each run trains (every run makes the same passes over the data)",
    "raceSeedsSpin": (
        "Seeds per run: above 1, each curve is the median over its seeds with the 10–90% band\n"
        "shaded (the seeds redraw data.noise_seed in a fixed design, else data.seed); the\n"
        "table and the landscape show the first seed"
    ),
    "raceXAxisCombo": (
        "Horizontal axis of the loss plot: steps (minibatch updates), epochs (passes over the\n"
        "data, fair between batch sizes) or each run's own training seconds"
    ),
    "raceStatusLabel": "What the race is doing",
    "raceLossPlot": (
        "Loss on the whole training set of each run (log scale). Dashed: the least-squares\n"
        "loss; dotted: the tolerance; stars: where each run first came within it"
    ),
    "raceLandscapePlot": (
        "The training loss over two parameters with every run's path from the shared start\n"
        "(white dot) towards the least-squares minimum (star)"
    ),
}
