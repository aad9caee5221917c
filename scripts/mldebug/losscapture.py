"""See which torch loss functions a user's `loss_fn` calls, and with what.

A user's loss is opaque: `loss_fn(outputs, targets)` may wrap `nn.CrossEntropyLoss`, call
`F.cross_entropy` after a reshape, or add several terms. Rather than guess from names, we
run it once under a `TorchFunctionMode` that records every call to a known loss function
(`nn.CrossEntropyLoss.forward` itself calls `F.cross_entropy`, so modules are seen too),
together with the normalised arguments. We also remember which tensors came out of
softmax / log_softmax / sigmoid calls, so a check can tell where a loss input came from.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

# Loss functions whose expected value at chance we can model, by name.
LOSS_FUNCTIONS: Dict[Callable, str] = {
    F.cross_entropy: "cross_entropy",
    F.nll_loss: "nll_loss",
    F.binary_cross_entropy: "binary_cross_entropy",
    F.binary_cross_entropy_with_logits: "binary_cross_entropy_with_logits",
    F.mse_loss: "mse_loss",
    F.l1_loss: "l1_loss",
    F.smooth_l1_loss: "smooth_l1_loss",
    F.huber_loss: "huber_loss",
    F.kl_div: "kl_div",
    F.poisson_nll_loss: "poisson_nll_loss",
    F.gaussian_nll_loss: "gaussian_nll_loss",
    F.multilabel_soft_margin_loss: "multilabel_soft_margin_loss",
    F.soft_margin_loss: "soft_margin_loss",
    F.multi_margin_loss: "multi_margin_loss",
    F.ctc_loss: "ctc_loss",
    F.margin_ranking_loss: "margin_ranking_loss",
    F.hinge_embedding_loss: "hinge_embedding_loss",
    F.cosine_embedding_loss: "cosine_embedding_loss",
    F.triplet_margin_loss: "triplet_margin_loss",
}

# Calls whose output we tag, so a loss input can be traced back to them.
_PRODUCER_NAMES = {"softmax", "log_softmax", "sigmoid", "log_sigmoid", "logsigmoid", "exp", "log", "tanh"}


@dataclass
class LossCall:
    kind: str                      # e.g. "cross_entropy"
    func: Callable                 # the torch.nn.functional function
    args: Dict[str, Any]           # bound arguments, defaults applied
    output: Optional[torch.Tensor] = None
    input_producer: Optional[str] = None  # "softmax", "sigmoid", ... if made inside loss_fn

    @property
    def input(self) -> torch.Tensor:
        return self.args.get("input")

    @property
    def target(self) -> Any:
        return self.args.get("target")

    def recompute(self, **overrides) -> torch.Tensor:
        """Call the same loss again, outside the recorder, with some arguments replaced."""
        kw = dict(self.args)
        kw.update(overrides)
        for legacy in ("size_average", "reduce"):
            kw.pop(legacy, None)
        return self.func(**kw)


@dataclass
class LossTrace:
    calls: List[LossCall] = field(default_factory=list)
    producers: Dict[int, tuple] = field(default_factory=dict)  # id(tensor) -> (name, tensor)

    def producer_of(self, t: Any) -> Optional[str]:
        if isinstance(t, torch.Tensor):
            hit = self.producers.get(id(t))
            if hit is not None and hit[1] is t:
                return hit[0]
        return None


class _Recorder(TorchFunctionMode):
    def __init__(self, trace: LossTrace):
        super().__init__()
        self.trace = trace

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        kind = LOSS_FUNCTIONS.get(func)
        if kind is not None:
            try:
                bound = inspect.signature(func).bind(*args, **kwargs)
                bound.apply_defaults()
                call = LossCall(kind, func, dict(bound.arguments),
                                out if isinstance(out, torch.Tensor) else None)
                call.input_producer = self.trace.producer_of(call.input)
                self.trace.calls.append(call)
            except TypeError:
                pass
        else:
            name = getattr(func, "__name__", "")
            if name in _PRODUCER_NAMES and isinstance(out, torch.Tensor):
                self.trace.producers[id(out)] = (name, out)
        return out


def trace_calls(fn: Callable, *args, **kwargs):
    """Run `fn(*args, **kwargs)`; return (its result, LossTrace of the loss calls it made)."""
    trace = LossTrace()
    with _Recorder(trace):
        result = fn(*args, **kwargs)
    return result, trace
