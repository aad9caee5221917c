"""One instrumented forward + backward on a fresh model, shared by grad-flow, nan-source,
activations, init-symmetry and update-ratio through `ctx.cached("probe", ...)`.

The model runs in train mode, as training runs it (dropout on). Forward pre/post hooks on
every module keep a module stack and the order modules first ran in; a TorchFunctionMode
sees every torch call made inside forward and, for activation functions only (tanh,
sigmoid, relu, gelu, ...; module or functional form), records statistics of the input and
output attributed to the innermost module. After the loss, one backward; the probe keeps
what the checks need (per-parameter gradient facts, activation records), not the graph.

The copy it ran on, with its gradients, stays in the context (`grad_model(ctx)`) for checks
that only read those gradients (init-symmetry); the first check that trains from init
(update-ratio) takes it with `take_grad_model(ctx)` and starts from step 0's gradients
instead of repeating that forward and backward. Nothing else may change it.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from .. import tensors as T
from ..context import prediction_of

# torch callables -> activation kind (module forms call these too: nn.ReLU -> F.relu, nn.Tanh -> torch.tanh)
_ACT = {}
for _kind, _fns in {
    "tanh": ("torch.tanh", "torch.tanh_", "F.tanh", "torch.Tensor.tanh", "torch.Tensor.tanh_"),
    "sigmoid": ("torch.sigmoid", "torch.sigmoid_", "F.sigmoid", "torch.Tensor.sigmoid", "torch.Tensor.sigmoid_",
                "torch.special.expit"),
    "relu": ("torch.relu", "torch.relu_", "F.relu", "F.relu_", "torch.Tensor.relu", "torch.Tensor.relu_"),
    "relu6": ("F.relu6",),
    "gelu": ("F.gelu",), "silu": ("F.silu",), "mish": ("F.mish",), "elu": ("F.elu", "F.elu_"),
    "leaky_relu": ("F.leaky_relu", "F.leaky_relu_"), "selu": ("F.selu", "torch.selu"), "celu": ("F.celu",),
    "softplus": ("F.softplus",),
}.items():
    for _f in _fns:
        try:
            _ACT[eval(_f, {"torch": torch, "F": F})] = _kind
        except AttributeError:
            pass

_CONV = {F.conv1d, F.conv2d, F.conv3d, F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d}
# Layers whose gates run inside one fused kernel: their sigmoid/tanh are invisible and not judged.
FUSED = (nn.RNNBase, nn.MultiheadAttention)
# autograd nodes that only reshape: walking back through them from the model's output finds
# an activation whose output *is* the prediction (a final sigmoid), which is not a hidden layer
_VIEW_NODES = ("ViewBackward", "UnsafeViewBackward", "ReshapeAliasBackward", "SqueezeBackward",
               "UnsqueezeBackward", "PermuteBackward", "TransposeBackward", "TBackward", "CloneBackward",
               "SelectBackward", "SliceBackward", "AliasBackward", "ExpandBackward", "SplitBackward")
HIST_SAMPLES = 4000  # values kept per activation layer for --out histograms
TANH_SAT = 0.97      # |tanh| > 0.97 counts as saturated (evidence/karpathy-makemore-part3.md)
# sigmoid(z) = (1 + tanh(z/2)) / 2, so |tanh(z/2)| > 0.97 <=> sigmoid(z) outside [0.015, 0.985]:
# |z| > 2 atanh(0.97) = 4.19, where sigmoid' = 0.0148 is 5.9% of its peak 0.25, as tanh' = 0.059 is of 1
SIG_SAT = (1 - TANH_SAT) / 2
# A ReLU unit that is never positive but whose largest input is within one std (of the layer's
# inputs) of zero is dormant: the variation the layer already shows, or a small bias step once
# upstream layers move, revives it (a narrow autoencoder bottleneck leaves ~30% such units at
# init, tests/zoo/autoencoder.py). One whose largest input sits many stds below zero (a -10 bias)
# gets no gradient to climb back with: that one is dead.
DEAD_MARGIN = 1.0


@dataclass
class ActRecord:
    name: str                 # "features.2" for an activation module, "fc:relu#1" for F.relu inside module fc
    kind: str                 # relu, tanh, sigmoid, gelu, ...
    module: str               # enclosing module path ("" = the model itself)
    shape: tuple
    unit_axis: int
    units: int
    obs_per_unit: int
    in_mean: float
    in_std: float
    out_mean: float
    out_std: float
    saturated: Optional[float] = None      # tanh/sigmoid: fraction of values saturated
    always_saturated: Optional[int] = None  # tanh/sigmoid: units saturated on every observation
    dead: Optional[int] = None             # relu: units never positive over the batch
    deep_dead: Optional[int] = None        # relu: ... and whose largest input is < -DEAD_MARGIN x the layer's input std
    fused: bool = False                    # inside an LSTM/GRU/attention module
    is_output: bool = False                # this activation's output is the model's prediction
    samples: Optional[List[float]] = None
    grad_fn: Any = None

    @property
    def dead_frac(self) -> Optional[float]:
        return None if self.dead is None else self.dead / max(1, self.units)

    @property
    def deep_dead_frac(self) -> Optional[float]:
        return None if self.deep_dead is None else self.deep_dead / max(1, self.units)


@dataclass
class ParamInfo:
    name: str
    owner: str                # module path that owns it
    owner_type: str
    shape: tuple
    numel: int
    requires_grad: bool
    embedding: bool
    ran: bool                 # the owning module was called in forward
    has_grad: bool = False
    grad_zero: bool = False
    grad_finite: bool = True
    grad_norm: float = 0.0
    param_norm: float = 0.0
    param_zero: bool = False


@dataclass
class Probe:
    loss: float
    loss_requires_grad: bool
    outputs_finite: bool
    nonfinite_outputs: List[str]
    params: List[ParamInfo]
    acts: List[ActRecord]
    module_order: List[str]           # module paths in the order they first ran
    module_types: Dict[str, str]
    forward_s: float
    backward_s: float
    backward_error: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict)

    @property
    def grads_finite(self) -> bool:
        return all(p.grad_finite for p in self.params)


class ModuleStack:
    """Pre/post forward hooks on every module: the stack of modules now running and the
    order in which each first ran."""

    def __init__(self, model: nn.Module):
        self.names = {m: n for n, m in model.named_modules()}
        self.stack: List[str] = []
        self.order: List[str] = []
        self.seen = set()
        self.handles = []
        for m in self.names:
            self.handles.append(m.register_forward_pre_hook(self._pre))
            self.handles.append(m.register_forward_hook(self._post))

    def _pre(self, m, args):
        n = self.names.get(m, "?")
        self.stack.append(n)
        if n not in self.seen:
            self.seen.add(n)
            self.order.append(n)

    def _post(self, m, args, out):
        n = self.names.get(m, "?")
        # pop back to this module (a submodule that raised leaves its entry behind)
        while self.stack:
            if self.stack.pop() == n:
                break

    def current(self) -> str:
        return self.stack[-1] if self.stack else ""

    def remove(self):
        for h in self.handles:
            h.remove()
        self.handles = []


def _unit_view(t: torch.Tensor, axis: int) -> torch.Tensor:
    """(observations, units): the unit axis last, everything else flattened."""
    if t.dim() == 0:
        return t.reshape(1, 1)
    if t.dim() == 1:
        return t.reshape(-1, 1)
    return t.movedim(axis, -1).reshape(-1, t.shape[axis])


class ActivationMode(TorchFunctionMode):
    """Records statistics of every activation-function call inside forward."""

    def __init__(self, stack: ModuleStack, modules: Dict[str, nn.Module], keep_samples: bool):
        super().__init__()
        self.stack, self.modules, self.keep_samples = stack, modules, keep_samples
        self.records: List[ActRecord] = []
        self.counts: Dict[tuple, int] = {}
        self.channel_first: Dict[int, torch.Tensor] = {}  # id -> tensor: conv outputs (N, C, ...)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        kind = _ACT.get(func)
        if kind is None:
            out = func(*args, **kwargs)
            if func in _CONV and isinstance(out, torch.Tensor):
                self.channel_first[id(out)] = out
            elif self.channel_first and isinstance(out, torch.Tensor) and out.dim() >= 3 and args \
                    and isinstance(args[0], torch.Tensor) and id(args[0]) in self.channel_first \
                    and out.shape[:2] == args[0].shape[:2]:
                self.channel_first[id(out)] = out   # BatchNorm, pooling, add: still (N, C, ...)
            return out
        x = args[0] if args else kwargs.get("input")
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            return func(*args, **kwargs)
        cf = id(x) in self.channel_first
        with torch.no_grad():
            xd = x.detach().float()
            in_mean, in_std = float(xd.mean()), float(xd.std(unbiased=False)) if xd.numel() > 1 else 0.0
            xmax = None
            if kind in ("relu", "relu6") and xd.numel():   # before the call: relu_ overwrites its input
                xmax = _unit_view(xd, self._axis(xd, cf)).max(0).values
        out = func(*args, **kwargs)
        if cf and isinstance(out, torch.Tensor):
            self.channel_first[id(out)] = out
        try:
            self._record(kind, out, in_mean, in_std, cf, xmax)
        except Exception:  # statistics must never break the user's forward
            pass
        return out

    @staticmethod
    def _axis(t: torch.Tensor, cf: bool) -> int:
        """The unit axis: channels (1) for conv-shaped tensors, else the last (features)."""
        return 1 if (t.dim() >= 4 or (t.dim() == 3 and cf)) else max(t.dim() - 1, 0)

    def _record(self, kind, out, in_mean, in_std, cf, xmax=None):
        if not isinstance(out, torch.Tensor):
            return
        mod = self.stack.current()
        m = self.modules.get(mod)
        key = (mod, kind)
        self.counts[key] = self.counts.get(key, 0) + 1
        is_act_module = m is not None and not list(m.children()) and type(m).__module__.startswith("torch.nn") \
            and not isinstance(m, (nn.Linear, nn.modules.conv._ConvNd))
        name = (mod if is_act_module else f"{mod or '<model>'}:{kind}") + \
            (f"#{self.counts[key]}" if self.counts[key] > 1 or not is_act_module else "")
        fused = any(isinstance(self.modules.get(s), FUSED) for s in self.stack.stack)
        axis = self._axis(out, cf)
        with torch.no_grad():
            o = out.detach().float()
            u = _unit_view(o, axis)
            rec = ActRecord(name=name, kind=kind, module=mod, shape=tuple(out.shape), unit_axis=axis,
                            units=u.shape[1], obs_per_unit=u.shape[0], in_mean=in_mean, in_std=in_std,
                            out_mean=float(o.mean()), out_std=float(o.std(unbiased=False)) if o.numel() > 1 else 0.0,
                            fused=fused, grad_fn=out.grad_fn)
            if kind in ("relu", "relu6"):
                never = ~(u > 0).any(0)
                rec.dead = int(never.sum())
                if xmax is not None and xmax.shape[0] == u.shape[1]:
                    rec.deep_dead = int((never & (xmax < -DEAD_MARGIN * in_std)).sum())
                else:
                    rec.deep_dead = rec.dead
            elif kind == "tanh":
                sat = u.abs() > TANH_SAT
                rec.saturated = float(sat.float().mean())
                rec.always_saturated = int(sat.all(0).sum())
            elif kind == "sigmoid":
                sat = (u < SIG_SAT) | (u > 1 - SIG_SAT)
                rec.saturated = float(sat.float().mean())
                rec.always_saturated = int(sat.all(0).sum())
            if self.keep_samples:
                flat = o.reshape(-1)
                idx = torch.linspace(0, flat.numel() - 1, min(HIST_SAMPLES, flat.numel())).long()
                rec.samples = flat[idx].tolist()
        self.records.append(rec)


def _mark_outputs(acts: List[ActRecord], outputs: Any) -> None:
    """Flag activations whose output is (a reshaped view of) a model output."""
    by_node = {}
    for a in acts:
        if a.grad_fn is not None:
            by_node.setdefault(a.grad_fn, []).append(a)
    if not by_node:
        return
    for t in T.leaves(outputs):
        node = t.grad_fn
        for _ in range(8):
            if node is None:
                break
            if node in by_node:
                for a in by_node[node]:
                    a.is_output = True
                break
            if not type(node).__name__.startswith(_VIEW_NODES) or not node.next_functions:
                break
            node = node.next_functions[0][0]


def _norm(t: torch.Tensor) -> float:
    return float(t.detach().float().norm()) if t.numel() else 0.0


def param_infos(model: nn.Module, ran: set) -> List[ParamInfo]:
    owners = {}
    for mname, m in model.named_modules():
        for pname, p in m.named_parameters(recurse=False):
            owners.setdefault(id(p), (mname, m))
    out = []
    for n, p in model.named_parameters():
        mname, m = owners.get(id(p), ("", model))
        info = ParamInfo(name=n, owner=mname, owner_type=type(m).__name__, shape=tuple(p.shape), numel=p.numel(),
                         requires_grad=p.requires_grad, embedding=isinstance(m, (nn.Embedding, nn.EmbeddingBag)),
                         ran=mname in ran)
        with torch.no_grad():
            info.param_norm = _norm(p) if p.is_floating_point() else 0.0
            info.param_zero = p.numel() > 0 and p.is_floating_point() and not bool(p.detach().any())
            g = p.grad
            if g is not None:
                info.has_grad = True
                gd = g.detach()
                if gd.is_sparse:
                    gd = gd.coalesce().values()
                info.grad_finite = bool(torch.isfinite(gd).all())
                info.grad_zero = not bool(gd.any())
                info.grad_norm = _norm(gd) if info.grad_finite else float("nan")
        out.append(info)
    return out


def run_probe(ctx, keep_samples: bool = False) -> Probe:
    model = ctx.fresh_model()
    model.train()
    modules = dict(model.named_modules())
    stack = ModuleStack(model)
    mode = ActivationMode(stack, modules, keep_samples)
    t0 = time.perf_counter()
    try:
        with mode:
            outputs = ctx.forward(model, ctx.inputs)
    finally:
        stack.remove()
    mode.channel_first.clear()
    _mark_outputs(mode.records, outputs)
    for a in mode.records:
        a.grad_fn = None
    loss = ctx.loss(outputs, ctx.targets)
    t1 = time.perf_counter()
    bad_out = [n for n, t in T.named_leaves(outputs, "outputs")
               if t.is_floating_point() and not bool(torch.isfinite(t.detach()).all())]
    backward_error = None
    if loss.requires_grad:
        try:
            ctx.call("loss.backward()", loss.backward)
        except Exception as e:  # a user autograd Function that raises: report, keep the forward facts
            backward_error = str(e).splitlines()[0][:300]
    t2 = time.perf_counter()
    params = param_infos(model, set(stack.order))
    pr = Probe(loss=float(loss.detach().float()), loss_requires_grad=loss.requires_grad,
               outputs_finite=not bad_out, nonfinite_outputs=bad_out, params=params, acts=mode.records,
               module_order=stack.order, module_types={n: type(m).__name__ for n, m in modules.items()},
               forward_s=t1 - t0, backward_s=t2 - t1, backward_error=backward_error)
    if loss.requires_grad and backward_error is None and getattr(ctx, "share_models", False):
        ctx._cache[GRAD_MODEL] = model   # step 0 of training, for grad_model() / take_grad_model()
        ctx._cache[GRAD_LOSS] = loss     # its graph's structure (saved tensors freed by backward)
    return pr


GRAD_MODEL = "probe_model"
GRAD_LOSS = "probe_loss"


def probe(ctx) -> Probe:
    """The shared probe (histogram samples kept only when plots will be written)."""
    return ctx.cached("probe", lambda: run_probe(ctx, keep_samples=bool(getattr(ctx, "out_dir", None))))


def grad_model(ctx) -> Optional[nn.Module]:
    """The probe's copy after its one forward + backward (train mode, dropout as built, the
    user's loss), with `.grad` set on every parameter the loss reaches; None when the probe
    kept none (backward failed or raised, sharing off, or update-ratio already trained it).
    Read only: never step, zero or perturb it."""
    try:
        probe(ctx)
    except Exception:   # the instrumented forward failed: the caller runs its own plain one
        return None
    return ctx._cache.get(GRAD_MODEL)


def take_grad_model(ctx) -> tuple:
    """(probe, model): like grad_model(), but the caller owns the copy from now on (to train
    it) and no later check can read it; model is None when there is none to take."""
    try:
        pr = probe(ctx)
    except Exception:   # the instrumented forward failed: the caller runs its own plain one
        return None, None
    ctx._cache.pop(GRAD_LOSS, None)
    return pr, ctx._cache.pop(GRAD_MODEL, None)


def grad_model_loss(ctx) -> Optional[torch.Tensor]:
    """The loss grad_model()'s gradients came from (after its backward: the graph's nodes, which
    say how each parameter was read, without their saved tensors); None with no grad_model()."""
    return ctx._cache.get(GRAD_LOSS) if ctx._cache.get(GRAD_MODEL) is not None else None


def fmt_list(names: List[str], k: int = 4) -> str:
    return ", ".join(names[:k]) + (f" (+{len(names) - k} more)" if len(names) > k else "")


def finite(x: float) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)
