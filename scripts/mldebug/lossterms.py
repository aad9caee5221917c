"""The terms of the loss at step 1, their weights in the total, and the floor they put under it.

Cross-entropy, BCE, MSE, L1/Huber and KL-divergence terms are >= 0, and so is NLL on log-softmax
output; a total made of such terms with positive weights can't fall below 0. When a total keeps
falling below 0, some term enters with a flipped sign (a VAE whose KL is subtracted). At each
backward before the first step (the only time the recorder sees torch calls), `weigh` takes the
torch loss calls that feed the loss and the scalars computed on the way (the recorder's tape) and
measures d(total)/d(term) with one `torch.autograd.grad` over the loss's own small graph (from
the loss to those scalars, not into the model). loss-trace reads the result
(`tracer.loss_terms`) when the loss later falls through the floor.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import List, Optional

import torch

# Loss kinds that are >= 0 for any input; nll_loss only on log-probabilities (log_softmax output).
FLOOR_ZERO = {"cross_entropy", "binary_cross_entropy", "binary_cross_entropy_with_logits", "mse_loss", "l1_loss",
              "smooth_l1_loss", "huber_loss", "kl_div", "soft_margin_loss", "multilabel_soft_margin_loss"}
MAX_SCALARS = 32         # hand-written scalars on the way to the loss whose weight we measure


@dataclass
class Term:
    name: str                     # "F.binary_cross_entropy" or "the scalar made by mul at train.py:25"
    kind: str                     # a loss kind, or "scalar"
    value: float                  # at step 1
    weight: float                 # d total / d term at step 1
    floor: Optional[float]        # 0.0 for the kinds above, None when unknown
    where: Optional[str] = None


def weigh(loss: torch.Tensor, calls, tape_calls=()) -> List[Term]:
    """Terms of `loss` (see the module doc): recognised loss calls, then hand-written scalars."""
    cands, info = [], []
    for c in calls:
        out = c.output
        if isinstance(out, torch.Tensor) and out.numel() == 1 and out.grad_fn is not None:
            floor = 0.0 if c.kind in FLOOR_ZERO or (c.kind == "nll_loss" and c.input_producer == "log_softmax") \
                else None
            cands.append(out)
            info.append((f"F.{c.kind}", c.kind, floor, None))
    seen = {id(t) for t in cands} | {id(loss)}
    scalars = []
    for tc in reversed(list(tape_calls)):
        out = tc.out
        if isinstance(out, torch.Tensor) and out.numel() == 1 and out.grad_fn is not None and id(out) not in seen \
                and out.is_floating_point():
            seen.add(id(out))
            where = f"{os.path.basename(tc.where[0])}:{tc.where[1]}" if tc.where else None
            name = getattr(tc.func, "__name__", type(tc.func).__name__).strip("_")
            scalars.append((out, (f"the scalar made by {name}" + (f" at {where}" if where else ""), "scalar",
                                  None, where)))
            if len(scalars) >= MAX_SCALARS:
                break
    for out, inf in scalars:
        cands.append(out)
        info.append(inf)
    if not cands:
        return []
    try:
        grads = torch.autograd.grad(loss, cands, retain_graph=True, allow_unused=True)
    except Exception:  # an unusual graph: no terms rather than a broken run
        return []
    terms = []
    for t, g, (name, kind, floor, where) in zip(cands, grads, info):
        if g is None:
            continue
        terms.append(Term(name, kind, float(t.detach().float()), float(g.float()), floor, where))
    return terms
