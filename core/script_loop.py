"""The model, loss and update of a generated script (core.script), per implementation.

Each update is written with the same operations, in the same order, as the engine's (core.engines
and the hand-written optimizers of core.optim), so the script's numbers are the app's, bit for
bit, in float32 as in float64.
"""

from __future__ import annotations

import json
from typing import Any

from core.config import Config

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
    full = batch >= n  # one batch of every row, in their own order (the app's full batch)
    out.add(f"lr, batch_size, epochs = {literal(t.lr)}, {batch}, {t.epochs}")
    {"numpy": _numpy_model, "scratch": _scratch_model, "module": _module_model}[t.implementation](
        out, config
    )
    out.add("for epoch in range(epochs):")
    data = {"numpy": ("X1", "y"), "scratch": ("X", "y"), "module": ("X", "y")}[t.implementation]
    torch_rows = t.implementation != "numpy"
    if full:
        out.add(f"    xb, yb = {data[0]}, {data[1]}  # one batch: every row, in order")
        body = "    "
    else:
        if t.shuffle:
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
            out.add(f"{pad}t += 1")
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
        out.add(f"{pad}t += 1")
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
