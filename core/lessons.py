"""Lessons: short guided experiments on the material of the five articles (core.presets.ARTICLES).

Each lesson sets a run up (a preset with some changes), says what to watch, asks a question and
checks the answer from the run itself: a number the user enters, compared with a value computed
from the run (the stable bound, a ridge weight, ...), or a state the run must reach (least
squares within so many steps, a loss below the plateau...). The facts a check reads (RunFacts)
are plain values taken from a run: in the window from the run controller, headless from a
trainer. Qt-free; gui.lessons_panel shows them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from core.config import Config
from core.errors import ConfigError
from core.presets import ARTICLES, preset_config
from core.theory import trained_rows

if TYPE_CHECKING:
    from core.history import History
    from core.runinfo import RunInfo
    from core.snapshot import Snapshot
    from core.trainer import Trainer


@dataclass(frozen=True)
class RunFacts:
    """What a lesson's check reads of a run (plain copies)."""

    config: Config
    step: int
    stopped_reason: str | None
    weights: np.ndarray  # original units
    bias: float
    ols_theta: np.ndarray  # least squares [w..., b], original units
    ridge_theta: np.ndarray  # where gradient descent converges (penalty included), original
    ols_loss: float
    max_stable_lr: float
    condition_number: float
    steps: np.ndarray  # the recorded steps
    losses: np.ndarray  # the training loss at each of them, exactly (from the parameters)
    events: tuple[tuple[int, str], ...]  # settings changed along the way (step, what)

    @classmethod
    def of(cls, config: Config, info: RunInfo, snap: Snapshot, history: History) -> RunFacts:
        """The facts of a run from its configuration, static facts, snapshot and history."""
        steps, _, params = history.steps()
        thetas = trained_rows(params, info.shift, info.scale)
        losses = info.stats.losses(thetas, info.loss_kind) if info.stats is not None else None
        star = np.asarray(info.theta_star, dtype=np.float64)
        ridge = _original(star, info) if star.size else np.asarray(info.ols_theta)
        return cls(
            config=config,
            step=int(snap.step),
            stopped_reason=snap.stopped_reason,
            weights=np.array(snap.weights, dtype=np.float64),
            bias=float(snap.bias),
            ols_theta=np.array(info.ols_theta, dtype=np.float64),
            ridge_theta=ridge,
            ols_loss=float(info.ols_loss),
            max_stable_lr=float(info.max_stable_lr),
            condition_number=float(info.condition_number),
            steps=np.array(steps, dtype=np.int64),
            losses=np.full(steps.shape, np.nan) if losses is None else losses,
            events=tuple(history.events()),
        )

    @classmethod
    def of_trainer(cls, trainer: Trainer) -> RunFacts:
        """The facts of a trainer's run (headless)."""
        from core.runinfo import run_info

        return cls.of(trainer.config, run_info(trainer), trainer.snapshot(), trainer.history)


def _original(theta: np.ndarray, info: RunInfo) -> np.ndarray:
    """Trained-unit parameters [w..., b] in the data's original units."""
    scale = np.asarray(info.scale, dtype=np.float64)
    shift = np.asarray(info.shift, dtype=np.float64)
    w = theta[:-1] / scale if scale.size else theta[:-1]
    b = theta[-1] - (w @ shift if shift.size else 0.0)
    return np.concatenate([w, [b]])


@dataclass(frozen=True)
class Verdict:
    """A check's answer: passed or not, and what to say."""

    passed: bool
    text: str


# ---- what checks measure ------------------------------------------------------------------
def steps_to_least_squares(facts: RunFacts, rel: float) -> int | None:
    """The first recorded step whose training loss is within rel of the least-squares loss."""
    tol = facts.ols_loss * (1 + rel) + 1e-12
    hit = np.nonzero(facts.losses <= tol)[0]
    return int(facts.steps[hit[0]]) if hit.size else None


def recent_excess(facts: RunFacts, window: int) -> float | None:
    """The mean training loss above least squares over the last window steps, if that many
    steps have run since the last change of settings (else None)."""
    last_change = max((step for step, _ in facts.events), default=0)
    if facts.step - last_change < window:
        return None
    keep = facts.steps > facts.step - window
    return float(np.mean(facts.losses[keep]) - facts.ols_loss)


def _reached(facts: RunFacts, rel: float, within: int, what: str) -> Verdict:
    """Whether the run came within rel of least squares in at most within steps from step 0,
    without changing its settings on the way."""
    reached = steps_to_least_squares(facts, rel)
    pct = f"{100 * rel:g}%"
    if reached is None:
        return Verdict(False, f"Not yet within {pct} of the least-squares loss ({what}).")
    changed = [step for step, _ in facts.events if 0 < step < reached]  # before step 1: the start
    if changed:
        return Verdict(
            False,
            f"Within {pct} at step {reached:,}, but the settings changed on the way (step"
            f" {changed[0]:,}): press Reset and run your settings from the start.",
        )
    if reached > within:
        return Verdict(False, f"Within {pct} at step {reached:,}: more than {within:,} ({what}).")
    return Verdict(True, f"Within {pct} of least squares at step {reached:,}. Well done.")


# ---- the lessons ------------------------------------------------------------------------
@dataclass(frozen=True)
class Try:
    """A change a lesson offers as a button (settings the controls do not have)."""

    label: str
    changes: Mapping[str, Any]


@dataclass(frozen=True)
class Lesson:
    """A guided experiment: set-up, what to watch, a question checked from the run, a hint."""

    name: str
    title: str
    article: str  # a key of ARTICLES: whose material this is
    preset: str
    changes: Mapping[str, Any]  # to the preset
    watch: str
    question: str
    hint: str
    # A number the user enters, checked against expected(facts) within tolerance (relative)...
    expected: Callable[[RunFacts], float] | None = None
    tolerance: float = 0.1
    # ... or a state the run must reach.
    state: Callable[[RunFacts], Verdict] | None = None
    tries: tuple[Try, ...] = ()
    free_data: tuple[str, ...] = ()  # data settings the lesson lets the user change
    # A teacher's key (the tests run it): after solution_at steps of the set-up, these
    # changes (at step 0: a new run), then solution_steps more steps, pass the check.
    solution: Mapping[str, Any] = field(default_factory=dict)
    solution_at: int = 0
    solution_steps: int = 0
    unthrottled: bool = False  # the set-up runs many steps: as fast as it goes

    @property
    def asks_number(self) -> bool:
        """Whether the user answers with a number (else the run is checked as it stands)."""
        return self.expected is not None

    @property
    def article_title(self) -> str:
        """The article whose material the lesson is on, by what it is."""
        return ARTICLES[self.article]

    def config(self) -> Config:
        """The lesson's set-up."""
        return preset_config(self.preset).with_values(dict(self.changes))

    def on_its_data(self, config: Config) -> bool:
        """Whether config trains on the lesson's data (the settings it frees aside)."""
        own = self.config().data
        free = {k.removeprefix("data.") for k in self.free_data}
        return replace(config.data, **{k: getattr(own, k) for k in free}) == own

    def check(self, facts: RunFacts, answer: float | None = None) -> Verdict:
        """Check the run (and the answer, for a question asking a number)."""
        if not self.on_its_data(facts.config):
            return Verdict(False, "This run is not on the lesson's data: press Set up first.")
        if self.state is not None:
            return self.state(facts)
        assert self.expected is not None
        if answer is None or not np.isfinite(answer):
            return Verdict(False, "Enter a number.")
        value = self.expected(facts)
        if abs(answer - value) <= self.tolerance * abs(value):
            return Verdict(True, f"Right: {value:.4g} from this run. Well done.")
        side = "high" if answer > value else "low"
        return Verdict(False, f"Not quite: {answer:g} is too {side}. Try again, or take a hint.")


# Data whose one feature sits at 20 to 40, far from zero: the loss valley over (w, b) is long
# and narrow (condition number ~24,000) until the feature is standardised.
OFFSET_X = tuple((round(20 + 20 * k / 24, 4),) for k in range(25))
OFFSET_DATA = {
    "data.inline_features": [list(r) for r in OFFSET_X],
    "data.true_weights": [0.5],
    "data.true_bias": 3.0,
    "data.noise_std": 1.0,
    "data.seed": 1,
    "train.optimizer": "sgd",
    "train.batch_size": 25,
    "train.shuffle": False,
}
# Two features whose correlation 0.99 makes gradient descent zig-zag (condition number ~240).
VALLEY_DATA = {
    "data.true_weights": [1.0, -2.0],
    "data.true_bias": 0.5,
    "data.noise_std": 0.5,
    "data.n_samples": 200,
    "data.feature_correlation": 0.99,
    "train.optimizer": "sgd",
    "train.batch_size": 200,
}


def _plateau_state(window: int, limit: float, batch: int | None, want: str) -> Callable:
    def state(facts: RunFacts) -> Verdict:
        t = facts.config.train
        if t.lr < 0.1:
            return Verdict(False, "Keep the learning rate at 0.1: the point is another way down.")
        if batch is not None and t.batch_size != batch:
            return Verdict(False, f"Keep the batch size at {batch}: {want}.")
        excess = recent_excess(facts, window)
        if excess is None:
            return Verdict(False, f"Run at least {window:,} steps after your last change.")
        if excess >= limit:
            return Verdict(
                False, f"The loss sits {excess:.3g} above least squares: not below {limit:g} yet."
            )
        return Verdict(True, f"{excess:.2g} above least squares over {window:,} steps. Well done.")

    return state


def _momentum_state(facts: RunFacts) -> Verdict:
    if facts.config.train.optimizer not in ("momentum", "nesterov"):
        return Verdict(False, "Choose the momentum (or Nesterov) optimizer.")
    return _reached(facts, 1e-3, 150, "the target is 150 steps")


def _adam_state(facts: RunFacts) -> Verdict:
    if facts.config.train.optimizer not in ("adam", "adamw"):
        return Verdict(False, "Keep the Adam optimizer: the lesson is about its learning rate.")
    return _reached(facts, 0.01, 150, "the target is 150 steps")


def _precision_state(facts: RunFacts) -> Verdict:
    if facts.config.train.lr > 1e-4:
        return Verdict(False, "Keep the article's learning rate, 1e-4: the lesson is precision.")
    error = float(np.max(np.abs(facts.weights - np.array([10.0, 20.0]))))
    if error <= 1e-3:
        return Verdict(True, f"The weights are within {error:.1g} of [10, 20]. Well done.")
    dtype = facts.config.model.dtype
    return Verdict(False, f"The weights are {error:.3g} from [10, 20] in {dtype}: not within 1e-3.")


LESSONS: dict[str, Lesson] = {
    lesson.name: lesson
    for lesson in [
        Lesson(
            name="largest-rate",
            title="A learning rate too large",
            article="003",
            preset="sgd-1d",
            changes={"train.epochs": 300},
            watch=(
                "Full-batch gradient descent on one feature. Raise the learning rate and press"
                " Reset and Run each time: the loss falls faster, then oscillates, then explodes"
                " and the run stops with 'diverged'."
            ),
            question=(
                "What is the largest learning rate at which the loss still falls? Find it by"
                " trying rates, then enter it (within 10%)."
            ),
            hint=(
                "Halve the interval: a rate that diverges is too large, one that converges is"
                " not. The line under the learning-rate slider marks the stable bound, 2 divided"
                " by the largest curvature of the loss."
            ),
            expected=lambda f: f.max_stable_lr,
            tolerance=0.1,
        ),
        Lesson(
            name="noise-floor",
            title="Batch size and the noise floor",
            article="000",
            preset="sgd-noise-b1",
            changes={"train.epochs": 10},
            watch=(
                "Minibatch SGD with one sample per step, as the from-scratch article steps:"
                " the loss falls, then jitters on a plateau well above the least-squares loss"
                " (near the dashed noise floor). The noise of one sample keeps kicking the line."
            ),
            question=(
                "Without lowering the learning rate (0.1), bring the run to within 0.1 of the"
                " least-squares loss, on average over 500 steps."
            ),
            hint=(
                "Each step's gradient is an average over the batch: ten samples cut its noise"
                " about tenfold. Change the batch size mid-run and watch the plateau drop."
            ),
            state=_plateau_state(500, 0.1, None, ""),
            solution={"train.batch_size": 10},
            solution_at=1500,
            solution_steps=800,
        ),
        Lesson(
            name="standardise",
            title="Standardisation and the condition number",
            article="003",
            preset="playground",
            changes={**OFFSET_DATA, "train.lr": 0.001, "train.epochs": 2000},
            watch=(
                "The feature runs from 20 to 40, far from zero: the status bar's condition"
                " number is about 24,000, and at the largest stable rate the loss still creeps."
                " On the landscape, the valley is a long thin trough."
            ),
            question=(
                "Reach the least-squares loss (within 1%) in at most 100 steps from the start."
            ),
            hint=(
                "Tick Standardize: the feature becomes mean 0, spread 1, the condition number"
                " drops to 1 and the stable bound rises to 1. Then raise the learning rate"
                " towards it (0.5 is one step for this loss), and press Reset (Ctrl+R) to run"
                " from the start: the data moves under the run, the steps already taken stay."
            ),
            state=lambda f: _reached(f, 0.01, 100, "the target is 100 steps"),
            free_data=("data.standardize",),
            solution={"data.standardize": True, "train.lr": 0.3},
            solution_steps=100,
        ),
        Lesson(
            name="momentum",
            title="Momentum on an ill-conditioned problem",
            article="003",
            preset="playground",
            changes={**VALLEY_DATA, "train.lr": 0.35, "train.epochs": 3000},
            watch=(
                "Two features correlated at 0.99: the landscape over the two weights is a narrow"
                " diagonal valley (condition number ~240). Plain gradient descent at a rate near"
                " the stable bound needs about 320 steps to settle within 0.1%."
            ),
            question=(
                "Reach the least-squares loss (within 0.1%) in at most 150 steps from the start."
            ),
            hint=(
                "Choose the momentum optimizer (0.8 to 0.9), press Reset and Run: the velocity"
                " builds up along the valley floor, where the gradient is small but steady."
            ),
            state=_momentum_state,
            solution={"train.optimizer": "momentum", "train.momentum": 0.8},
            solution_steps=150,
        ),
        Lesson(
            name="precision",
            title="float32 against float64",
            article="004",
            preset="tiny-numpy-f64",
            changes={"model.dtype": "float32"},
            watch=(
                "The NumPy article's three-sample problem in float32, a million full-batch steps"
                " at lr 1e-4: the weights stop at about [10.0429, 19.9661], as in the article,"
                " while the true ones are [10, 20]."
            ),
            question="Get both weights within 0.001 of [10, 20] (keep the learning rate).",
            hint=(
                "The updates lr * gradient near the end are smaller than float32 can add to 20:"
                " they round away. Switch the precision to float64 mid-run and press Run."
            ),
            state=_precision_state,
            solution={"model.dtype": "float64"},
            solution_at=1_000_000,
            solution_steps=300_000,
            unthrottled=True,
        ),
        Lesson(
            name="adam-rate",
            title="Adam against SGD",
            article="003",
            preset="sgd-1d",
            changes={"train.optimizer": "adam", "train.lr": 0.001},
            watch=(
                "The article's Adam rate, 0.001, on the one-feature line: Adam moves each"
                " parameter about lr per step whatever the gradient's size, so it crawls"
                " towards w = 2 where SGD's steps shrink as the loss does."
            ),
            question=(
                "With Adam, reach the least-squares loss (within 1%) in at most 150 steps from"
                " the start."
            ),
            hint=(
                "Adam's learning rate is a step length, not a multiplier of the gradient: the"
                " parameters must travel about 2, so try 0.05 to 0.1, then Reset and Run."
            ),
            state=_adam_state,
            solution={"train.lr": 0.1},
            solution_steps=150,
        ),
        Lesson(
            name="l2-penalty",
            title="The L2 penalty",
            article="003",
            preset="l2-1d",
            changes={},
            watch=(
                "The article's third example: the loss plus 0.01 times the sum of the squared"
                " parameters. The weight settles short of least squares (the Weights tab shows"
                " both)."
            ),
            question=(
                "Run to the end: by how many percent does the penalty shrink the weight? Enter"
                " 100 × (1 − final weight / least-squares weight), within a tenth of it."
            ),
            hint=(
                "Read both weights on the Weights tab (the status bar shows the final one) and"
                " compare. The button below removes the penalty mid-run: the weight then walks"
                " on to least squares."
            ),
            expected=lambda f: float(100 * (1 - f.ridge_theta[0] / f.ols_theta[0])),
            tolerance=0.1,
            tries=(Try("Remove the penalty", {"train.l2_penalty": 0.0}),),
        ),
        Lesson(
            name="landscape",
            title="Reading the landscape",
            article="000",
            preset="playground",
            changes={**OFFSET_DATA, "train.lr": 0.001, "train.epochs": 2000},
            watch=(
                "The loss over the weight (x) and the bias (y), darker where it is lower; the"
                " star is the least-squares minimum. The path drops onto the valley floor in a"
                " few steps, then crawls along it: across, the walls are steep; along, flat."
            ),
            question="Where is the minimum? Enter the bias at the star (read it off the axis).",
            hint=(
                "Follow the star across to the bias axis (the vertical one). The fit plot's"
                " least-squares line crosses x = 0 at the same value."
            ),
            expected=lambda f: float(f.ols_theta[-1]),
            tolerance=0.1,
        ),
        Lesson(
            name="schedule",
            title="A schedule below the SGD plateau",
            article="001",
            preset="sgd-noise-b1",
            changes={"train.epochs": 10},
            watch=(
                "Minibatch SGD at batch 1 and lr 0.1 settles on a plateau about 0.3 above least"
                " squares: the noise of each step is as large as the rate lets it be."
            ),
            question=(
                "Keeping batch 1 and the rate 0.1 you started with, bring the loss within 0.05"
                " of least squares, on average over 500 steps."
            ),
            hint=(
                "A decaying rate shrinks the steps, and the noise with them, while the early"
                " steps still moved fast. Press 'Decay the rate' (lr / (1 + 0.01 t)) mid-run."
            ),
            state=_plateau_state(500, 0.05, 1, "the noise must fade by the schedule alone"),
            tries=(
                Try(
                    "Decay the rate: lr / (1 + 0.01 t)",
                    {"train.schedule": {"name": "inverse_time", "decay": 0.01}},
                ),
            ),
            solution={"train.schedule": {"name": "inverse_time", "decay": 0.01}},
            solution_at=1500,
            solution_steps=800,
        ),
    ]
}


def get_lesson(name: str) -> Lesson:
    """The lesson called name, or a ConfigError listing the known names."""
    try:
        return LESSONS[name]
    except KeyError:
        raise ConfigError(f"unknown lesson {name!r}; known lessons: {', '.join(LESSONS)}") from None


def listing() -> list[str]:
    """One line per lesson, its name first."""
    width = max(len(name) for name in LESSONS)
    return [
        f"{lesson.name:<{width}}  {lesson.title} (from {lesson.article_title!r})"
        for lesson in LESSONS.values()
    ]
