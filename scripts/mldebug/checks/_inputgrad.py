"""Shared machinery for the dependency checks (batch-independence, causality, eval-mode).

Gradients to the input: float input leaves become fresh leaves that require grad, and
integer inputs (token ids) are followed to the output of the nn.Embedding that reads
them, which a forward hook swaps for a leaf. Each such "tap" knows which of its axes is
the batch and how the input's axes map onto its own (a model may transpose ids to
sequence-first before embedding them).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import torch
import torch.nn as nn

from .. import tensors as T
from ..context import default_forward


@dataclass
class Tap:
    name: str                  # "inputs[0]" or "embedding 'tok' (call 1)"
    leaf: torch.Tensor         # requires grad
    batch_axis: int = 0
    axis_map: Dict[int, int] = field(default_factory=dict)  # input axis -> this tensor's axis

    def axis(self, input_axis: int) -> Optional[int]:
        a = self.axis_map.get(input_axis, input_axis)
        return a if 0 <= a < self.leaf.dim() else None

    def per_index(self, grad: torch.Tensor, axis: int) -> torch.Tensor:
        """Sum of |grad| over everything but `axis`: one number per index along it."""
        g = grad.detach().abs().double().movedim(axis, 0)
        return g.reshape(g.shape[0], -1).sum(1)


def user_forward(ctx, model: nn.Module, inputs: Any, seed: Optional[int] = None) -> Any:
    """The target's forward; with `seed`, the RNG is seeded with it right before the call."""
    if seed is None:
        return ctx.forward(model, inputs)
    fwd = ctx.target.forward

    def run():
        T.seed_everything(seed)
        return fwd(model, inputs) if fwd is not None else default_forward(model, inputs)
    return ctx.call("forward(model, inputs)" if fwd is not None else "model forward", run)


def grad_inputs(inputs: Any):
    """(inputs for the model, taps): every float leaf cloned into a leaf that requires grad.

    The model gets a clone of each leaf (so in-place ops in forward stay legal)."""
    taps: List[Tap] = []
    names = iter([n for n, _ in T.named_leaves(inputs)])

    def prep(t):
        name = next(names)
        if not T.is_float(t) or t.dim() == 0:
            return t.detach().clone()
        leaf = t.detach().clone().requires_grad_(True)
        taps.append(Tap(name, leaf))
        return leaf.clone()
    return T.tree_map(prep, inputs), taps


class EmbeddingTaps:
    """Context manager: swap the output of each nn.Embedding call that reads per-example
    ids for a leaf that requires grad, and collect those leaves as taps."""

    def __init__(self, model: nn.Module, inputs: Any, batch: int):
        self.model, self.batch = model, batch
        self.int_inputs = [t for t in T.leaves(inputs) if not T.is_float(t) and t.dim() > 0
                           and t.dtype != torch.bool]
        self.taps: List[Tap] = []
        self.ignored: List[str] = []
        self._handles = []
        self._calls: Dict[str, int] = {}

    def _layout(self, idx: torch.Tensor):
        """(batch axis, axis map) of an embedding index tensor, or None if not per-example."""
        B = self.batch
        for x in self.int_inputs:
            if x.shape == idx.shape and torch.equal(x, idx):
                return 0, {}
            if idx.dim() >= 2 and x.dim() >= 2 and x.transpose(0, 1).shape == idx.shape \
                    and torch.equal(x.transpose(0, 1), idx):
                return 1, {0: 1, 1: 0}
        if idx.dim() >= 2 and idx.shape[0] == B and idx.stride(0) != 0:
            return 0, {}
        if idx.dim() >= 2 and idx.shape[1] == B and idx.stride(1) != 0 and idx.shape[0] != B:
            return 1, {0: 1, 1: 0}
        return None  # e.g. position ids (T,) or (1, T): shared by every example

    def _hook(self, name):
        def hook(module, args, output):
            if not args or not isinstance(args[0], torch.Tensor) or not isinstance(output, torch.Tensor) \
                    or not output.is_floating_point() or not torch.is_grad_enabled():
                return None
            n = self._calls[name] = self._calls.get(name, 0) + 1
            label = f"embedding {name!r}" + (f" (call {n})" if n > 1 else "")
            layout = self._layout(args[0])
            if layout is None:
                self.ignored.append(label)
                return None
            leaf = output.detach().requires_grad_(True)
            self.taps.append(Tap(label, leaf, layout[0], layout[1]))
            return leaf.clone()
        return hook

    def __enter__(self):
        for name, m in self.model.named_modules():
            if isinstance(m, nn.Embedding):
                self._handles.append(m.register_forward_hook(self._hook(name or type(m).__name__)))
        return self

    def __exit__(self, *exc):
        for h in self._handles:
            h.remove()
        return False


def tapped_forward(ctx, model: nn.Module, inputs: Any, batch: int):
    """Forward with every float input and per-example embedding output as a grad leaf.

    Returns (outputs, taps, notes)."""
    model_inputs, taps = grad_inputs(inputs)
    with torch.enable_grad(), EmbeddingTaps(model, inputs, batch) as emb:
        out = user_forward(ctx, model, model_inputs)
    notes = [f"{n} ignored (shared by every example)" for n in emb.ignored]
    return out, taps + emb.taps, notes


SHARED_EVAL = "tapped_eval"
EVAL_COPY = "eval_copy"


def _eval_copy(ctx):
    model = ctx.fresh_model()
    model.eval()
    return model


def shared_eval_copy(ctx):
    """One fresh copy in eval mode, shared by batch-independence, causality and eval-mode in
    turn (read only; the first two take gradients to the inputs only, never to the weights).
    A check that must change it (jitter_zero_weights) makes its own; eval-mode, the last
    reader, takes it with take_eval_copy()."""
    if not getattr(ctx, "share_models", False):
        return _eval_copy(ctx)
    return ctx.cached(EVAL_COPY, lambda: _eval_copy(ctx))


def take_eval_copy(ctx):
    """The shared eval-mode copy, now the caller's (no later check reads it), or a new one."""
    model = ctx._cache.pop(EVAL_COPY, None)
    return model.eval() if model is not None else _eval_copy(ctx)


def shared_tapped_forward(ctx, batch: int):
    """(model, outputs, taps, notes): the shared eval-mode copy's tapped_forward on the batch,
    made once for the dependency checks (batch-independence, then causality), which only take
    gradients from it (torch.autograd.grad, graph retained). release_tapped_forward() frees the
    outputs and graph when the last reader is done."""
    def run():
        model = shared_eval_copy(ctx)
        out, taps, notes = tapped_forward(ctx, model, ctx.inputs, batch)
        return model, out, taps, notes
    if not getattr(ctx, "share_models", False):
        return run()
    return ctx.cached(SHARED_EVAL, run)


def release_tapped_forward(ctx) -> None:
    ctx._cache.pop(SHARED_EVAL, None)


def grads(loss: torch.Tensor, taps: List[Tap]) -> List[Optional[torch.Tensor]]:
    return list(torch.autograd.grad(loss, [t.leaf for t in taps], retain_graph=True, allow_unused=True))


def jitter_zero_weights(model: nn.Module, std: float = 0.02) -> List[str]:
    """Give all-zero weight matrices small random values (on our copy): a zero-initialised
    layer passes no gradient, which would hide every dependency behind it."""
    names = []
    g = torch.Generator(device="cpu").manual_seed(0)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if p.dim() >= 2 and p.is_floating_point() and not bool(p.any()):
                p.copy_(std * torch.randn(p.shape, generator=g).to(p))
                names.append(n)
    return names


def other_values(t: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Same shape, different values: floats get noise of the tensor's own spread, integers
    move to another value inside the range the batch uses (so ids stay valid), bools stay."""
    if t.dtype == torch.bool:
        return t.clone()
    if T.is_float(t):
        scale = float(t.float().std()) if t.numel() > 1 else 1.0
        noise = torch.randn(t.shape, generator=g).to(t.device, t.dtype)
        return t + (scale or 1.0) * noise
    if t.numel() == 0:
        return t.clone()
    lo, hi = int(t.min()), int(t.max())
    if hi <= lo:
        return t.clone()
    return lo + (t - lo + 1) % (hi - lo + 1)


def has_batchnorm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def fmt(x: float) -> str:
    return f"{x:.2g}"
