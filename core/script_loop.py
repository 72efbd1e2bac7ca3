"""The model, loss and update of a generated script (core.script), per implementation.

Each update is written with the same operations, in the same order, as the engine's (core.engines
and the hand-written optimizers of core.optim), so the script's numbers are the app's, bit for
bit, in float32 as in float64.
"""

from __future__ import annotations

import json
from typing import Any

from core.config import Config
from core.schedules import Rates, Schedule

TORCH_OPTIMIZERS = {
    "sgd": "SGD",
    "momentum": "SGD",
    "nesterov": "SGD",
    "adam": "Adam",
    "adamw": "AdamW",
    "rmsprop": "RMSprop",
    "adagrad": "Adagrad",
}


WIDTH = 100  # the project's line length: scripts pass its ruff settings


class Lines:
    """Script lines, and the line number (1-based) of each tagged value."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.tags: dict[str, int] = {}

    def add(self, text: str = "", *tags: str) -> None:
        """Append a line (a trailing comment that makes it too long goes above it); its tags
        name the values it computes."""
        cut = text.rfind("  # ")
        if len(text) > WIDTH and cut > 0:
            indent = text[: len(text) - len(text.lstrip())]
            self.lines.append(indent + text[cut + 2 :])
            text = text[:cut]
        self.lines.append(text)
        for tag in tags:
            self.tags[tag] = len(self.lines)

    def call(self, head: str, args: list[Any], tail: str = "") -> None:
        """head(args)tail, wrapped as ruff wraps a call too long for one line (args: code, or
        lists of numbers written as literals)."""
        texts = [a if isinstance(a, str) else literal(a) for a in args]
        one = f"{head}({', '.join(texts)}){tail}"
        if len(one) <= WIDTH:
            self.add(one)
            return
        indent = len(head) - len(head.lstrip())
        pad = " " * (indent + 4)
        joined = pad + ", ".join(texts)
        self.lines.append(head + "(")
        if len(joined) <= WIDTH:
            self.lines.append(joined)
        else:
            several = len(args) > 1  # then each argument gets a trailing comma
            for arg, text in zip(args, texts, strict=True):
                if isinstance(arg, list) and len(pad + text) + several > WIDTH:
                    self.lines += _expanded(arg, indent + 4, several)
                else:
                    self.lines.append(pad + text + ("," if several else ""))
        self.lines.append(" " * indent + ")" + tail)


def _expanded(items: list[Any], indent: int, comma: bool) -> list[str]:
    """A list literal one item per line, as ruff writes one too long for a line."""
    pad = " " * indent
    out = [pad + "["]
    for item in items:
        text = literal(item)
        if isinstance(item, list) and indent + 4 + len(text) + 1 > WIDTH:
            out += _expanded(item, indent + 4, True)
        else:
            out.append(pad + "    " + text + ",")
    out.append(pad + "]" + ("," if comma else ""))
    return out


def literal(value: Any) -> str:
    """A Python literal that reads back as exactly value (floats by repr; strings in double
    quotes, as ruff formats them; lists of these)."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def training_loop(out: Lines, config: Config, n: int, per_batch: bool) -> None:
    """Lines for the model, the loss, the optimizer and the epochs of training."""
    t = config.train
    batch = min(t.batch_size, n)
    drawn = t.sampling == "replacement"
    # One batch of every row, in their own order (the app's full batch); rows drawn with
    # replacement are drawn even when one batch takes as many as there are.
    full = batch >= n and not drawn
    out.add(f"lr, batch_size, epochs = {literal(t.lr)}, {batch}, {t.epochs}")
    horizon = t.epochs * -(-n // batch)  # the run's steps, over which schedules run
    if t.implementation != "module":
        schedule_setup(out, t.schedule, horizon, t.implementation)
    {"numpy": _numpy_model, "scratch": _scratch_model, "module": _module_model}[t.implementation](
        out, config
    )
    if t.implementation == "module":
        schedule_setup(out, t.schedule, horizon, t.implementation)
    out.add("for epoch in range(epochs):")
    data = {"numpy": ("X1", "y"), "scratch": ("X", "y"), "module": ("X", "y")}[t.implementation]
    torch_rows = t.implementation != "numpy"
    if full:
        out.add(f"    xb, yb = {data[0]}, {data[1]}  # one batch: every row, in order")
        body = "    "
    else:
        if drawn:
            out.add(
                "    # Each epoch draws n rows with replacement (stream [seed, 4, epoch]): every"
            )
            out.add("    # batch is an independent draw.")
            order = "np.random.default_rng([seed, 4, epoch]).integers(0, n, size=n)"
            out.add(f"    order = {'torch.from_numpy(' + order + ')' if torch_rows else order}")
            if not per_batch:
                out.add(f"    X_epoch, y_epoch = {data[0]}[order], {data[1]}[order]")
        elif t.shuffle:
            out.add(
                "    # Each epoch visits the rows in a new seeded order (stream [seed, 3, epoch])."
            )
            order = "np.random.default_rng([seed, 3, epoch]).permutation(n)"
            out.add(f"    order = {'torch.from_numpy(' + order + ')' if torch_rows else order}")
            if not per_batch:
                out.add(f"    X_epoch, y_epoch = {data[0]}[order], {data[1]}[order]")
        else:
            out.add(f"    X_epoch, y_epoch = {data[0]}, {data[1]}  # in the rows' own order")
            per_batch = False
        out.add("    for lo in range(0, n, batch_size):")
        if per_batch:
            out.add("        rows = order[lo : lo + batch_size]  # large data: gathered per batch")
            out.add(f"        xb, yb = {data[0]}[rows], {data[1]}[rows]")
        else:
            out.add("        xb, yb = X_epoch[lo : lo + batch_size], y_epoch[lo : lo + batch_size]")
        body = "        "
    {"numpy": _numpy_step, "scratch": _scratch_step, "module": _module_step}[t.implementation](
        out, config, body
    )
    schedule_advance(out, t.schedule, body, t.implementation)
    every = max(1, t.epochs // 10)
    cond = "" if every == 1 else f"if (epoch + 1) % {every} == 0:"
    pad = "    " if not cond else "        "
    if cond:
        out.add(f"    {cond}")
    loss = {
        "numpy": "np.mean((X1 @ theta - y) ** 2)",
        "scratch": "((X @ w + b - y) ** 2).mean().item()"
        if config.model.fit_bias
        else "((X @ w - y) ** 2).mean().item()",
        "module": "loss_fn(model(X), y).item()",
    }[t.implementation]
    if t.implementation == "module" or t.implementation == "scratch":
        out.add(f"{pad}with torch.no_grad():")
        out.add(f'{pad}    print(f"epoch {{epoch + 1}}: training MSE {{{loss}:.6g}}")')
    else:
        out.add(f'{pad}print(f"epoch {{epoch + 1}}: training MSE {{{loss}:.6g}}")')


def _count_step(out: Lines, pad: str, name: str) -> None:
    """One more step taken: name += 1, or in a loop over epochs alone (a full batch: one step
    per epoch) name = epoch + 1, the same number (a counter there reads as enumerate's)."""
    out.add(f"{pad}{name} = epoch + 1" if len(pad) == 4 else f"{pad}{name} += 1")


# ---- numpy ---------------------------------------------------------------------------------
def _numpy_model(out: Lines, config: Config) -> None:
    m, t = config.model, config.train
    if m.fit_bias:
        out.add("# Model: y_hat = X1 @ theta, with theta = [w..., b]: the bias is the weight of a")
        out.add("# column of ones, so one product gives the prediction and one the gradient.")
        out.add("X1 = np.hstack([X, np.ones((n, 1), dtype=X.dtype)])")
        out.add(f"theta = theta0{'.astype(np.float32)' if m.dtype == 'float32' else '.copy()'}")
    else:
        out.add("# Model: y_hat = X1 @ theta, the weights alone (no bias).")
        out.add("X1 = X")
        out.add(f"theta = theta0[:d]{'.astype(np.float32)' if m.dtype == 'float32' else '.copy()'}")
    if m.dtype == "float32":
        out.add("y = y.astype(np.float32)  # the targets in the model's precision too")
    if t.optimizer in ("momentum", "nesterov"):
        out.add("velocity = None  # set by the first gradient, as torch.optim.SGD does")
    elif t.optimizer == "adam":
        out.add("m, v, t = np.zeros_like(theta), np.zeros_like(theta), 0  # Adam's moments")
    out.add("")


def _numpy_step(out: Lines, config: Config, pad: str) -> None:
    t = config.train
    c2 = "2" if t.loss == "mse" else "1"  # 2/m for the MSE, 1/m for half of it
    what = "mean squared error" if t.loss == "mse" else "half mean squared error"
    l2 = t.l2_penalty
    out.add(f"{pad}r = xb @ theta - yb  # residuals")
    if t.optimizer == "sgd" and not t.weight_decay:
        # The engine folds lr into the gradient's factor: one array operation fewer per step.
        penalty = f" + 2 * {literal(l2)} * lr * theta" if l2 else ""
        out.add(f"{pad}# Gradient of the {what}, {c2}/m X^T r{' + 2 l2 theta' if l2 else ''},")
        out.add(f"{pad}# times the learning rate (folded into the gradient's factor).")
        out.add(f"{pad}theta -= r @ xb * ({c2} / len(yb) * lr){penalty}", "grad", "lr")
        return
    penalty = f" + 2 * {literal(l2)} * theta" if l2 else ""
    out.add(f"{pad}grad = r @ xb * ({c2} / len(yb)){penalty}  # gradient: {c2}/m X^T r", "grad")
    wd = t.weight_decay
    if wd and t.optimizer != "sgd":
        out.add(f"{pad}grad = grad + {literal(wd)} * theta  # weight decay", "grad")
    _hand_update(out, config, pad, "theta", "grad")


def _hand_update(out: Lines, config: Config, pad: str, p: str, g: str, i: str = "") -> None:
    """The hand-written optimizers' update of parameter p from gradient g (core.optim)."""
    t = config.train
    lr_step = "lr"
    vel = f"velocity{i}"
    if t.optimizer == "sgd":
        out.add(f"{pad}{p} -= {lr_step} * ({g} + {literal(t.weight_decay)} * {p})", "lr")
    elif t.optimizer in ("momentum", "nesterov"):
        mu = literal(t.momentum)
        out.add(f"{pad}{vel} = {g} if {vel} is None else {mu} * {vel} + {g}", "velocity")
        if t.optimizer == "momentum":
            out.add(f"{pad}{p} -= lr * {vel}", "lr")
        else:
            out.add(f"{pad}{p} -= lr * ({g} + {mu} * {vel})  # Nesterov: look ahead", "lr")
    else:  # adam
        b1, b2 = (literal(b) for b in t.betas)
        m, v = f"m{i}", f"v{i}"
        if not i:
            _count_step(out, pad, "t")
        out.add(f"{pad}{m} = {b1} * {m} + (1 - {b1}) * {g}  # first moment", "m")
        out.add(f"{pad}{v} = {b2} * {v} + (1 - {b2}) * ({g} * {g})  # second moment", "v")
        if not i:
            out.add(f"{pad}c1, c2 = 1 - {b1}**t, 1 - {b2}**t  # bias corrections", "c1", "c2")
        out.add(f"{pad}{p} -= lr / c1 * ({m} / ({v}**0.5 / c2**0.5 + 1e-08))", "lr")


# ---- scratch ------------------------------------------------------------------------------
def _scratch_model(out: Lines, config: Config) -> None:
    m, t = config.model, config.train
    dt = "torch.float32" if m.dtype == "float32" else "torch.float64"
    out.add("# Model: y_hat = X @ w + b with tensors that record how they were computed, so")
    out.add("# autograd gives the gradient of the loss.")
    out.add(f"X, y = torch.from_numpy(X), torch.from_numpy(y).to({dt}).reshape(-1, 1)")
    out.add(f"w = torch.tensor(theta0[:d], dtype={dt}).reshape(-1, 1).requires_grad_()")
    if m.fit_bias:
        out.add(f"b = torch.tensor(theta0[d:], dtype={dt}).requires_grad_()")
        out.add("params = [w, b]")
    else:
        out.add("params = [w]  # no bias")
    if t.optimizer in ("momentum", "nesterov"):
        out.add("velocity = [None] * len(params)  # set by the first gradient")
    elif t.optimizer == "adam":
        out.add("t = 0")
        out.add("m = [torch.zeros_like(p) for p in params]  # Adam's moments, per parameter")
        out.add("v = [torch.zeros_like(p) for p in params]")
    out.add("")


def _scratch_step(out: Lines, config: Config, pad: str) -> None:
    t, fit_bias = config.train, config.model.fit_bias
    y_hat = "xb @ w + b" if fit_bias else "xb @ w"
    half = " / 2" if t.loss == "half_mse" else ""
    what = "mean squared error" if t.loss == "mse" else "half the mean squared error"
    out.add(f"{pad}loss = (({y_hat} - yb) ** 2).mean(){half}  # {what}")
    if t.l2_penalty:
        out.add(f"{pad}loss = loss + {literal(t.l2_penalty)} * sum((p**2).sum() for p in params)")
    out.add(f"{pad}loss.backward()  # autograd: p.grad for every parameter", "grad")
    if t.optimizer == "adam":
        _count_step(out, pad, "t")
    out.add(f"{pad}with torch.no_grad():  # the update is not part of the model")
    inner = pad + "    "
    if t.optimizer == "sgd" and not t.weight_decay:
        out.add(f"{inner}for p in params:")
        out.add(f"{inner}    p -= lr * p.grad  # gradient step", "lr")
        out.add(f"{inner}    p.grad = None  # forget it: the next backward() starts afresh")
        return
    indexed = t.optimizer != "sgd"  # the running state is kept per parameter
    out.add(f"{inner}{'for k, p in enumerate(params):' if indexed else 'for p in params:'}")
    body = inner + "    "
    g = "p.grad"
    if t.weight_decay and t.optimizer != "sgd":
        out.add(f"{body}g = p.grad + {literal(t.weight_decay)} * p  # weight decay", "grad")
        g = "g"
    if t.optimizer in ("momentum", "nesterov"):
        mu = literal(t.momentum)
        out.add(
            f"{body}velocity[k] = {g} * 1 if velocity[k] is None else {mu} * velocity[k] + {g}",
            "velocity",
        )
        if t.optimizer == "momentum":
            out.add(f"{body}p -= lr * velocity[k]", "lr")
        else:
            out.add(f"{body}p -= lr * ({g} + {mu} * velocity[k])  # Nesterov: look ahead", "lr")
    elif t.optimizer == "adam":
        b1, b2 = (literal(b) for b in t.betas)
        out.add(f"{body}m[k] = {b1} * m[k] + (1 - {b1}) * {g}  # first moment", "m")
        out.add(f"{body}v[k] = {b2} * v[k] + (1 - {b2}) * ({g} * {g})  # second moment", "v")
        out.add(f"{body}c1, c2 = 1 - {b1}**t, 1 - {b2}**t  # bias corrections", "c1", "c2")
        out.add(f"{body}p -= lr / c1 * (m[k] / (v[k] ** 0.5 / c2**0.5 + 1e-08))", "lr")
    else:  # sgd with weight decay
        out.add(f"{body}p -= lr * ({g} + {literal(t.weight_decay)} * p)", "lr")
    out.add(f"{body}p.grad = None")


# ---- module -------------------------------------------------------------------------------
def _module_model(out: Lines, config: Config) -> None:
    m, t = config.model, config.train
    dt = "torch.float32" if m.dtype == "float32" else "torch.float64"
    out.add("# Model: nn.Linear holds w and b; it starts from theta0.")
    out.add(f"X, y = torch.from_numpy(X), torch.from_numpy(y).to({dt}).reshape(-1, 1)")
    bias = "" if m.fit_bias else ", bias=False"
    out.add(f"model = nn.Linear(d, 1{bias}, dtype={dt})")
    out.add("with torch.no_grad():")
    out.add("    model.weight.copy_(torch.from_numpy(theta0[:d]).reshape(1, -1))")
    if m.fit_bias:
        out.add("    model.bias.copy_(torch.from_numpy(theta0[d:]))")
    out.add("loss_fn = nn.MSELoss()")
    args = ["lr=lr"]
    if t.optimizer in ("momentum", "nesterov"):
        args.append(f"momentum={literal(t.momentum)}")
    if t.optimizer == "nesterov":
        args.append("nesterov=True")
    if t.optimizer in ("adam", "adamw"):
        args.append(f"betas=({literal(t.betas[0])}, {literal(t.betas[1])})")
    if t.weight_decay or t.optimizer == "adamw":  # AdamW's default decay is 0.01, not 0
        args.append(f"weight_decay={literal(t.weight_decay)}")
    out.call(
        f"optimizer = torch.optim.{TORCH_OPTIMIZERS[t.optimizer]}", ["model.parameters()", *args]
    )
    out.add("")


def _module_step(out: Lines, config: Config, pad: str) -> None:
    t = config.train
    half = " / 2" if t.loss == "half_mse" else ""
    out.add(f"{pad}optimizer.zero_grad()")
    out.add(f"{pad}loss = loss_fn(model(xb), yb){half}")
    if t.l2_penalty:
        out.add(
            f"{pad}loss = loss + {literal(t.l2_penalty)}"
            " * sum((p**2).sum() for p in model.parameters())"
        )
    out.add(f"{pad}loss.backward()  # autograd: p.grad for every parameter", "grad")
    state = {
        "sgd": (),
        "momentum": ("velocity",),
        "nesterov": ("velocity",),
        "adam": ("m", "v", "c1", "c2"),
        "adamw": ("m", "v", "c1", "c2"),
        "rmsprop": ("square_avg",),
        "adagrad": ("sum",),
    }[t.optimizer]
    out.add(f"{pad}optimizer.step()  # torch.optim's {t.optimizer} update", "lr", *state)


# ---- the learning-rate schedule -------------------------------------------------------------
# Schedules whose hand-written rates call math.cos.
NEEDS_MATH = ("cosine", "warmup_cosine", "one_cycle")
_TORCH = "torch.optim.lr_scheduler."


def schedule_setup(out: Lines, schedule: Schedule, horizon: int, implementation: str) -> None:
    """Lines after the optimizer (module) or after the lr line (numpy, scratch) that set the
    schedule up over horizon steps (the run's total)."""
    if schedule.constant:
        return
    if implementation == "module":
        _torch_setup(out, schedule, horizon)
    else:
        _hand_setup(out, schedule, horizon)
        out.add("")


def schedule_advance(out: Lines, schedule: Schedule, pad: str, implementation: str) -> None:
    """Lines after a step's update that move the schedule past it (lr becomes the next step's
    rate)."""
    if schedule.constant:
        return
    holds = schedule.holds
    if implementation == "module":
        if holds:
            _count_step(out, pad, "step")
            out.add(f"{pad}if step < total_steps:  # after the run's steps the rate holds")
            out.add(f"{pad}    scheduler.step()")
        else:
            out.add(f"{pad}scheduler.step()  # after the optimizer's step, as torch asks")
        return
    name = schedule.name
    if name == "exponential":
        out.add(f"{pad}lr = lr * gamma")
        return
    _count_step(out, pad, "step")
    if name == "step":
        out.add(f"{pad}if step % step_size == 0:")
        out.add(f"{pad}    lr = lr * gamma")
    elif name == "inverse_time":
        out.add(f"{pad}lr = base * (1.0 / (1.0 + decay * step))")
    elif name == "cosine":
        out.add(f"{pad}if step < total_steps:  # after the run's steps the rate holds")
        _cosine_ratio(out, pad + "    ", "step")
    elif name == "warmup_cosine":
        out.add(f"{pad}if step < total_steps:  # after the run's steps the rate holds")
        inner = pad + "    "
        out.add(f"{inner}if step < warmup:  # LinearLR's recursive factor")
        factor = "(1.0 + (1.0 - start) / (warmup * start + (step - 1) * (1.0 - start)))"
        out.add(f"{inner}    lr = lr * {factor}")
        out.add(f"{inner}elif step == warmup:  # the cosine part starts at the base rate")
        out.add(
            f"{inner}    lr = lr_min + (base - lr_min) * (1 + math.cos(math.pi * 0 / t_max)) / 2"
        )
        out.add(f"{inner}else:")
        out.add(f"{inner}    e = step - warmup  # the cosine part's own position")
        _cosine_ratio(out, inner + "    ", "e")
    elif name == "one_cycle":
        out.add(f"{pad}if step < total_steps:  # after the run's steps the rate holds")
        _one_cycle_rate(out, pad + "    ")


def _one_cycle_rate(out: Lines, pad: str) -> None:
    """OneCycleLR's rate at position step (its _annealing_cos, operation for operation)."""
    out.add(f"{pad}if step <= warm_end:  # up from initial to max_lr")
    out.add(f"{pad}    start, end, pct = initial, max_lr, (step - 0.0) / (warm_end - 0.0)")
    out.add(f"{pad}else:  # down from max_lr to min_lr")
    out.add(f"{pad}    start, end, pct = max_lr, min_lr, (step - warm_end) / (last - warm_end)")
    out.add(f"{pad}lr = end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)")


def _cosine_ratio(out: Lines, pad: str, e: str) -> None:
    """CosineAnnealingLR's recursive step at position e (a name; torch's get_lr)."""
    out.add(f"{pad}now = 1 + math.cos(math.pi * {e} / t_max)")
    out.add(f"{pad}before = 1 + math.cos(math.pi * ({e} - 1) / t_max)")
    out.add(f"{pad}lr = now / before * (lr - lr_min) + lr_min")


def _schedule_comment(out: Lines, name: str, torch_name: str) -> None:
    out.add(f"# Learning-rate schedule: {name} (torch's {torch_name}),")
    out.add("# each step's rate computed in plain Python as torch computes it.")


def _hand_setup(out: Lines, schedule: Schedule, horizon: int) -> None:
    name, g = schedule.name, schedule.get
    rates = Rates(schedule, 1.0, horizon)  # t_max and the warm-up as the app derives them
    if name == "step":
        _schedule_comment(out, "step", "StepLR")
        out.add(f"step_size, gamma = {literal(g('step_size'))}, {literal(g('gamma'))}")
    elif name == "exponential":
        _schedule_comment(out, "exponential", "ExponentialLR")
        out.add(f"gamma = {literal(g('gamma'))}")
        return  # no step count
    elif name == "inverse_time":
        out.add("# Learning-rate schedule: inverse_time, lr / (1 + decay * steps taken).")
        out.add(f"base, decay = lr, {literal(g('decay'))}")
    elif name == "cosine":
        _schedule_comment(out, "cosine", "CosineAnnealingLR")
        out.add(f"total_steps = {horizon}  # T_max: the run's steps")
        out.add(f"lr_min, t_max = {literal(rates.eta)}, {rates.t_max}")
    elif name == "warmup_cosine":
        _schedule_comment(out, "warmup_cosine", "LinearLR, then CosineAnnealingLR")
        out.add(f"total_steps = {horizon}  # the run's steps")
        out.add(f"warmup, start = {rates.warm}, {literal(g('start_factor'))}")
        out.add(f"base, lr_min, t_max = lr, {literal(rates.eta)}, {rates.t_max}")
        if rates.warm:
            out.add("lr = base * start")
    elif name == "one_cycle":
        _schedule_comment(out, "one_cycle", "OneCycleLR")
        out.add(f"total_steps = {horizon}  # the run's steps")
        out.add("max_lr = lr")
        out.add(f"initial = max_lr / {literal(g('div_factor'))}")
        out.add(f"min_lr = initial / {literal(g('final_div_factor'))}")
        out.add(
            f"warm_end, last = float({literal(g('pct_start'))} * total_steps) - 1, total_steps - 1"
        )
        out.add("step = 0  # steps taken")
        _one_cycle_rate(out, "")  # the first step's rate
        return
    out.add("step = 0  # steps taken")


def _torch_setup(out: Lines, schedule: Schedule, horizon: int) -> None:
    name, g = schedule.name, schedule.get
    out.add(f"# Learning-rate schedule: {name}, torch's own scheduler, stepped after each update.")
    if schedule.holds:
        out.add(f"total_steps = {horizon}  # the run's steps")
    if name == "step":
        args = [f"step_size={literal(g('step_size'))}", f"gamma={literal(g('gamma'))}"]
        out.call(f"scheduler = {_TORCH}StepLR", ["optimizer", *args])
    elif name == "exponential":
        out.call(
            f"scheduler = {_TORCH}ExponentialLR", ["optimizer", f"gamma={literal(g('gamma'))}"]
        )
    elif name == "cosine":
        args = ["T_max=total_steps", f"eta_min={literal(g('lr_min'))}"]
        out.call(f"scheduler = {_TORCH}CosineAnnealingLR", ["optimizer", *args])
    elif name == "warmup_cosine":
        warm = g("warmup_steps")
        args = [f"start_factor={literal(g('start_factor'))}", "end_factor=1.0"]
        out.call(f"warmup = {_TORCH}LinearLR", ["optimizer", *args, f"total_iters={literal(warm)}"])
        span = f"max(total_steps - {literal(warm)}, 1)"
        args = [f"T_max={span}", f"eta_min={literal(g('lr_min'))}"]
        out.call(f"cosine = {_TORCH}CosineAnnealingLR", ["optimizer", *args])
        args = ["[warmup, cosine]", f"milestones=[{literal(warm)}]"]
        out.call(f"scheduler = {_TORCH}SequentialLR", ["optimizer", *args])
    elif name == "one_cycle":
        args = [
            "max_lr=lr",
            "total_steps=total_steps",
            f"pct_start={literal(float(g('pct_start')))}",
            'anneal_strategy="cos"',
            "cycle_momentum=False",
            f"div_factor={literal(g('div_factor'))}",
            f"final_div_factor={literal(g('final_div_factor'))}",
        ]
        out.call(f"scheduler = {_TORCH}OneCycleLR", ["optimizer", *args])
    elif name == "inverse_time":
        decay = f"lambda t: 1.0 / (1.0 + {literal(g('decay'))} * t)"
        out.call(f"scheduler = {_TORCH}LambdaLR", ["optimizer", decay])
    if schedule.holds:
        out.add("step = 0  # steps taken")
    out.add("")
