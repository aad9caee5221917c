"""Training loops shared by the checks that train a copy (overfit-batch, update-ratio, ...)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional

import torch
import torch.nn as nn


class GraphCut(Exception):
    """The loss does not require grad: no parameter can learn from it."""


@dataclass
class Run:
    losses: List[float] = field(default_factory=list)
    stopped: str = "cap"          # "success", "stuck", "diverged", "nonfinite", "cap", "budget"
    steps: int = 0

    @property
    def start(self) -> float:
        return self.losses[0] if self.losses else float("nan")

    @property
    def end(self) -> float:
        return self.losses[-1] if self.losses else float("nan")

    @property
    def best(self) -> float:
        finite = [x for x in self.losses if math.isfinite(x)]
        return min(finite) if finite else float("nan")


def loss_backward(ctx, model: nn.Module, inputs: Any, targets: Any, trace: bool = False):
    """Forward, user loss, backward. Returns (loss tensor, LossTrace or None)."""
    out = ctx.forward(model, inputs)
    if trace:
        loss, tr = ctx.traced_loss(out, targets)
    else:
        loss, tr = ctx.loss(out, targets), None
    if not loss.requires_grad:
        raise GraphCut("the loss does not require grad: the graph from the parameters to the loss is cut "
                       "(detach(), .data, .item(), torch.no_grad or requires_grad=False)")
    ctx.call("loss.backward()", loss.backward)   # seeded, as the shared probe's backward (checks/_probe.py)
    return loss, tr


# The first optimizer steps from init, as update-ratio takes them, recorded so reproducibility
# can compare its own run with this one instead of training twice (ctx._cache[RUN_RECORD]).
RUN_RECORD = "train_run"
RECORD_STEPS = 2   # reproducibility's TRAIN_STEPS


def record_run(ctx, model: nn.Module, losses: List[float]) -> None:
    """Record a run at the forward after its RECORD_STEPS-th update: the losses so far (that
    forward's included) and the full state (weights after the updates, buffers after the forwards)."""
    ctx._cache[RUN_RECORD] = {"steps": RECORD_STEPS, "losses": list(losses[:RECORD_STEPS + 1]),
                              "state": [(k, v.detach().clone()) for k, v in model.state_dict().items()]}


def train(ctx, model: nn.Module, optimizer, inputs: Any, targets: Any, max_steps: int,
          scheduler=None, done: Optional[Callable[[int, float, Any], bool]] = None,
          trace: bool = False, patience: int = 50, min_progress: float = 1e-3,
          diverge_factor: float = 10.0) -> Run:
    """Train `model` in place for at most `max_steps`; stop early when the answer is known.

    `done(step, loss, trace)` returning True stops with "success". The loop also stops when
    the loss is non-finite, exceeds `diverge_factor` x its start ("diverged"), or has not
    improved by `min_progress` (relative) over `patience` steps ("stuck"), and when the
    check's time budget runs out ("budget", after at least one step).
    """
    run = Run()
    best_at = 0
    over_budget = getattr(ctx, "over_budget", lambda: False)
    report = getattr(ctx, "progress", lambda msg: None)
    for step in range(max_steps):
        if step > 0 and over_budget():
            run.stopped = "budget"
            return run
        optimizer.zero_grad(set_to_none=True)
        loss, tr = loss_backward(ctx, model, inputs, targets, trace=trace)
        value = float(loss.detach().float())
        run.losses.append(value)
        run.steps = step + 1
        if not math.isfinite(value):
            run.stopped = "nonfinite"
            return run
        if done is not None and done(step, value, tr):
            run.stopped = "success"
            return run
        start = run.losses[0]
        if step > 0 and abs(value) > diverge_factor * max(abs(start), 1e-8):
            run.stopped = "diverged"
            return run
        ref = run.losses[best_at]  # the last loss that counted as progress
        if value <= ref - min_progress * abs(ref) and step > 0:
            best_at = step
        elif step - best_at >= patience:
            run.stopped = "stuck"
            return run
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        report(f"step {step + 1}/{max_steps} loss {value:.4g}")
    return run


def zero_weight_decay(optimizer) -> bool:
    """Turn weight decay off in every param group; True if any group had it on."""
    had = False
    for g in optimizer.param_groups:
        if g.get("weight_decay", 0):
            had = True
            g["weight_decay"] = 0.0
    return had


def describe_optimizer(optimizer) -> str:
    g = optimizer.param_groups[0]
    parts = [type(optimizer).__name__, f"lr={g.get('lr', float('nan')):.3g}"]
    if g.get("weight_decay"):
        parts.append(f"wd={g['weight_decay']:.3g}")
    if g.get("momentum"):
        parts.append(f"momentum={g['momentum']:.3g}")
    return " ".join(parts)
