"""Plain copies of a run's branches for the window: a row per branch for its list, and the
ghosts (the other branches' curves from where they leave the active one) for its plots.

Built in the thread that owns the RunTree, handed to the window as frozen values."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from core.branches import RunTree
    from core.runinfo import RunInfo
    from core.trainer import Trainer

# Ghosts drawn at most (the branches nearest the active one in the list's order): each costs
# a curve per parameter, and more than a handful only clutter the plots.
MAX_GHOSTS = 6
GHOST_POINTS = 1000  # points per ghost series: they are drawn dimmed, under the live curves


@dataclass(frozen=True)
class BranchRow:
    """One branch as the branch list shows it."""

    id: int
    name: str
    parent: int | None
    fork_step: int
    last_step: int
    note: str  # what the fork changed, e.g. "lr 0.01 -> 0.1"
    active: bool
    depth: int  # forks between the first branch and this one


@dataclass(frozen=True)
class Ghost:
    """Another branch's curves from the step where it leaves the active branch's line."""

    id: int
    name: str
    start_step: int  # where it departs from the active line (its first point)
    steps: np.ndarray
    losses: np.ndarray  # minibatch losses, as the loss plot draws them
    params: np.ndarray  # (n, n_params) [w..., b] in original units, as the views draw them


@dataclass(frozen=True)
class BranchList:
    """Every branch of a run, the active one, and the ghosts to draw."""

    rows: tuple[BranchRow, ...] = ()
    ghosts: tuple[Ghost, ...] = field(default_factory=tuple)

    @property
    def active(self) -> BranchRow | None:
        """The branch being trained."""
        return next((r for r in self.rows if r.active), None)

    def row(self, branch_id: int) -> BranchRow | None:
        """The row of a branch, or None."""
        return next((r for r in self.rows if r.id == branch_id), None)

    def descendants(self, branch_id: int) -> list[BranchRow]:
        """Branches forked from this one, from those, and so on."""
        out, todo = [], [branch_id]
        while todo:
            parent = todo.pop()
            kids = [r for r in self.rows if r.parent == parent]
            out += kids
            todo += [k.id for k in kids]
        return out


def _line(tree: RunTree, branch_id: int) -> list[tuple[int, int]]:
    """(branch, the step its records take over from) from the first branch down to this one."""
    out = []
    branch = tree.get(branch_id)
    start = branch.fork_step
    out.append((branch.id, start))
    while branch.parent is not None:
        branch = tree.get(branch.parent)
        out.append((branch.id, branch.fork_step))
    return out[::-1]


def departure_step(tree: RunTree, branch_id: int, from_id: int) -> int:
    """The last step branch_id shares with from_id's line (where its own course begins)."""
    mine, theirs = _line(tree, branch_id), _line(tree, from_id)
    # Walk down both lines while they pass through the same branches.
    k = 0
    while k < min(len(mine), len(theirs)) and mine[k][0] == theirs[k][0]:
        k += 1
    ends = [line[k][1] for line in (mine, theirs) if k < len(line)]
    # Each line leaves the common branch at its next branch's fork step (or goes on with it).
    return min(ends) if ends else tree.last_step(branch_id)


def branch_list(
    tree: RunTree, max_ghosts: int = MAX_GHOSTS, points: int = GHOST_POINTS
) -> BranchList:
    """The tree's branches as rows (parents before children) and the ghosts of the others."""
    branches = tree.branches()
    active = tree.active.id
    depth: dict[int, int] = {}
    rows = []
    for b in branches:  # oldest first: a parent always precedes its children
        depth[b.id] = 0 if b.parent is None else depth[b.parent] + 1
        rows.append(
            BranchRow(
                id=b.id,
                name=b.name,
                parent=b.parent,
                fork_step=b.fork_step,
                last_step=tree.last_step(b.id),
                note=b.note,
                active=b.id == active,
                depth=depth[b.id],
            )
        )
    others = [b for b in branches if b.id != active]
    # The newest branches first: the ones the user made last are the ones compared.
    ghosts = []
    for b in sorted(others, key=lambda b: -b.id)[:max_ghosts]:
        start = departure_step(tree, b.id, active)
        steps, losses, params = tree.series(b.id, points)
        first = max(int(np.searchsorted(steps, start, side="right")) - 1, 0)
        if steps.size - first < 2:
            continue  # nothing of its own beyond the shared line
        ghosts.append(
            Ghost(
                id=b.id,
                name=b.name,
                start_step=start,
                steps=steps[first:].astype(np.float64),
                losses=np.array(losses[first:], dtype=np.float64),
                params=np.array(params[first:], dtype=np.float64),
            )
        )
    return BranchList(tuple(_ordered(rows)), tuple(ghosts))


def _ordered(rows: list[BranchRow]) -> list[BranchRow]:
    """Rows in tree order: each branch followed by its children (oldest first)."""
    out: list[BranchRow] = []

    def visit(parent: int | None) -> None:
        for row in rows:
            if row.parent == parent:
                out.append(row)
                visit(row.id)

    visit(None)
    return out


def branch_info(tree: RunTree) -> RunInfo:
    """The active branch's RunInfo, with the run's own starting point (a branch's trainer was
    built at its fork, so its own theta0 is the fork's parameters)."""
    from core.runinfo import run_info

    trainer: Trainer = tree.trainer
    info = run_info(trainer)
    first = next(iter(tree.get(_root(tree)).checkpoints))
    if first.step != 0:
        return info  # a run reopened from a file that kept no state at step 0
    theta0 = np.array(first.theta, dtype=np.float64)
    return replace(info, initial_trained=theta0, initial_loss=float(trainer.train_loss(theta0)))


def _root(tree: RunTree) -> int:
    return next(b.id for b in tree.branches() if b.parent is None)
