"""silent-broadcast: an operation between the prediction and the loss that crosses batch axes.

One forward of a fresh model, then the user's loss under a TorchFunctionMode that follows every
tensor derived from the model's outputs. Each call with such a tensor among its operands is
judged: an elementwise result (its shape is the broadcast of its operands' shapes; the elementwise
torch losses count, by their input and target) fails when a prediction-derived operand and an
operand that is not derived from the prediction (a target) both lead with the same batch-sized
axis, broadcasting puts those two leading axes at different output positions, and the result has
more axes of that size than either operand: (N,1) against (N,) gives (N,N), every prediction
compared with every target. Legitimate broadcasts keep the batch axes aligned ((N,C) * (C,)
class weights, an (N,1) mask times (N,C), scalars) or pair two predictions on purpose
(pairwise differences of one model's scores), and pass. The user's line comes from the Python
stack (the first frame outside torch and ml-debug).

When the batch size equals another axis of the prediction or the targets, a broadcast could hide
behind the coincidence ((N,N) - (N,)), so the loss is watched again on the first N-1 examples.
"""
from __future__ import annotations

import os
import sys
from typing import Any, Dict, List, Optional

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from .. import tensors as T
from ..context import disable_dropout
from ..registry import Result, Skip, check
from ..target import UserCodeError

# Elementwise torch losses: (input, target) broadcast against each other before the reduction.
ELEMENTWISE_LOSSES = {F.mse_loss, F.l1_loss, F.smooth_l1_loss, F.huber_loss, F.binary_cross_entropy,
                      F.binary_cross_entropy_with_logits, F.soft_margin_loss, F.poisson_nll_loss, F.kl_div,
                      F.hinge_embedding_loss}
MAX_FINDINGS = 5          # findings kept (the first ones are what the user has to fix)
MAX_OPS = 20000           # calls judged in one loss computation (a loop over examples stops here)
_TORCH_DIR = os.path.dirname(torch.__file__)
_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # scripts/mldebug
_SCRIPTS_DIR = os.path.dirname(_PKG_DIR)                                  # our command scripts
_STDLIB = os.path.dirname(os.__file__)


def _where() -> Optional[str]:
    f = sys._getframe(2)
    while f is not None:
        fn = f.f_code.co_filename
        if not (fn.startswith(_TORCH_DIR) or fn.startswith(_PKG_DIR) or fn.startswith("<") or fn.startswith(_STDLIB)
                or os.path.dirname(fn) == _SCRIPTS_DIR or "site-packages" in fn):
            return f"{os.path.basename(fn)}:{f.f_lineno}"
        f = f.f_back
    return None


def broadcast_shape(*shapes) -> Optional[tuple]:
    """The broadcast of some shapes, or None if they do not broadcast (torch.broadcast_shapes
    imports the symbolic-shape machinery on first use: ~1 s)."""
    R = max(len(s) for s in shapes)
    out = []
    for i in range(R):
        sizes = {s[len(s) - R + i] for s in shapes if len(s) - R + i >= 0} - {1}
        if len(sizes) > 1:
            return None
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def _tensors(obj, out: List[torch.Tensor]) -> List[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        out.append(obj)
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            _tensors(o, out)
    elif isinstance(obj, dict):
        for o in obj.values():
            _tensors(o, out)
    return out


def crossed(shapes_derived, shapes_other, out_shape, suspect: bool = False) -> Optional[tuple]:
    """(derived shape, other shape) of a pair whose leading (batch) axes broadcast against each other.
    suspect=True: leading axes of equal size at different output positions, whatever the count (an
    (N,N) prediction against (N,) targets, or (N,C) against (C,) class weights with C == N)."""
    R = len(out_shape)
    for a in shapes_derived:
        for b in shapes_other:
            if len(a) == 0 or len(b) == 0 or a[0] != b[0] or a[0] <= 1:
                continue
            n = a[0]
            if R - len(a) == R - len(b):
                continue            # leading axes aligned: the batch meets itself
            if suspect:
                return tuple(a), tuple(b)
            count = sum(1 for s in out_shape if s == n)
            if count > max(sum(1 for s in a if s == n), sum(1 for s in b if s == n)):
                return tuple(a), tuple(b)
    return None


class _Watch(TorchFunctionMode):
    def __init__(self, seeds: List[torch.Tensor]):
        super().__init__()
        self.derived: Dict[int, torch.Tensor] = {id(t): t for t in seeds}
        self.findings: List[Dict[str, Any]] = []
        self.suspects: List[Dict[str, Any]] = []
        self.ops = 0

    def _is_derived(self, t: torch.Tensor) -> bool:
        return self.derived.get(id(t)) is t

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if self.ops >= MAX_OPS:
            return out
        ins = _tensors((args, kwargs), [])
        if not any(self._is_derived(t) for t in ins):
            return out
        self.ops += 1
        for o in _tensors(out, []):
            self.derived[id(o)] = o
        try:
            self._judge(func, args, kwargs, ins, out)
        except Exception:   # judging must never change what the user's loss computes
            pass
        return out

    def _judge(self, func, args, kwargs, ins, out) -> None:
        if len(self.findings) >= MAX_FINDINGS:
            return
        if func in ELEMENTWISE_LOSSES:
            x = kwargs.get("input", args[0] if args else None)
            y = kwargs.get("target", args[1] if len(args) > 1 else None)
            if not (isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)):
                return
            pair = [x, y]
            shape = broadcast_shape(tuple(x.shape), tuple(y.shape))
            if shape is None:
                return
            name = getattr(func, "__name__", str(func))
        else:
            pair = [t for t in ins if t.dim() > 0]
            if len(pair) < 2 or not isinstance(out, torch.Tensor):
                return
            shape = broadcast_shape(*[tuple(t.shape) for t in pair])
            if shape is None or tuple(out.shape) != shape:
                return   # not elementwise (matmul, cat, indexing, ...)
            name = getattr(func, "__name__", str(func))
        derived = [tuple(t.shape) for t in pair if self._is_derived(t)]
        other = [tuple(t.shape) for t in pair if not self._is_derived(t)]
        for suspect, into in ((False, self.findings), (True, self.suspects)):
            hit = crossed(derived, other, shape, suspect)
            if hit:
                into.append({"op": name, "prediction_side": list(hit[0]), "other_side": list(hit[1]),
                             "result": list(shape), "where": _where()})
                break


def _watch(ctx, inputs, targets) -> _Watch:
    model = ctx.fresh_model()
    model.train()
    disable_dropout(model)
    with torch.no_grad():
        out = ctx.forward(model, inputs)
    seeds = [t for t in T.leaves(out) if t.is_floating_point()]
    w = _Watch(seeds)
    w.shapes = {s for t in seeds for s in tuple(t.shape)[1:]}
    with torch.no_grad(), w:
        loss = ctx.call("loss_fn(outputs, targets)", ctx.target.loss_fn, out, targets)
    w.own_loss = any(loss is t for t in seeds)   # the model computed its loss: outputs.loss handed back
    return w


@check("silent-broadcast", "no operation from prediction to loss broadcasts the batch against itself", order=96)
def silent_broadcast(ctx) -> Result:
    B = ctx.batch_size
    w = _watch(ctx, ctx.inputs, ctx.targets)
    metrics: Dict[str, Any] = {"ops_watched": w.ops, "batch_size": B}
    if w.ops == 0 or w.own_loss:
        raise Skip("the loss reads none of the model's outputs outside the model (the model computes its own loss): "
                   "no operation between prediction and loss to watch")
    findings = list(w.findings)
    # the batch size equal to another axis can hide a broadcast ((N,N) - (N,) looks like (N,C) * (C,)
    # class weights with C == N): watch such an operation again on the first N-1 examples
    if not findings and w.suspects and B > 2:
        sub = slice(0, B - 1)
        metrics["second_batch_size"] = B - 1
        s0 = w.suspects[0]
        try:
            findings = list(_watch(ctx, T.take(ctx.inputs, sub), T.take(ctx.targets, sub)).findings)
        except UserCodeError as e:
            metrics["second_batch_error"] = str(e)
            at = f" at {s0['where']}" if s0["where"] else ""
            return Result("fail", f"{s0['op']}{at}: prediction {tuple(s0['prediction_side'])} against "
                                  f"{tuple(s0['other_side'])} runs only because the batch size {B} equals another "
                                  f"axis: on {B - 1} examples the loss raises ({e}). With {B} the prediction is "
                                  "broadcast against the targets silently", metrics)
    metrics["findings"] = findings
    if findings:
        f = findings[0]
        at = f" at {f['where']}" if f["where"] else ""
        more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
        return Result("fail", f"{f['op']}{at}: prediction {tuple(f['prediction_side'])} against "
                              f"{tuple(f['other_side'])} broadcasts to {tuple(f['result'])}: every prediction is "
                              f"paired with every target{more}. Make the shapes equal (squeeze(-1) the "
                              "prediction or view the target as (N, 1))", metrics,
                      [f"{x['op']} at {x['where']}: {tuple(x['prediction_side'])} vs {tuple(x['other_side'])} -> "
                       f"{tuple(x['result'])}" for x in findings])
    return Result("pass", f"{w.ops} operations from the prediction to the loss; none broadcasts the batch axis of "
                          "the prediction against the targets'", metrics)
