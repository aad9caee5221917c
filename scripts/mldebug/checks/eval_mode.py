"""eval-mode: two forward passes in model.eval() on the same batch must agree.

The two passes run from different RNG seeds, so any randomness left on in eval (dropout
called with training=True, a noise layer that never reads self.training) shows up as a
difference. On a difference, two more passes with forward hooks on every module find the
first module, in execution order, whose output differs, and whether its inputs already
differed (then the randomness sits in the enclosing forward, between module calls). A
fifth pass repeats the first seed: if it reproduces the first pass, the cause is the RNG;
if not, some state changes from call to call.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from torch.overrides import TorchFunctionMode

from .. import tensors as T
from ..registry import Result, check
from ._inputgrad import fmt, take_eval_copy, user_forward

# Relative difference max|a-b| / max|a| between the two eval passes. The same inputs and
# weights on CPU give bit-identical outputs; GPU kernels with atomics reorder sums at the
# ~1e-7 level. Dropout p=0.1 or noise of std 0.1 moves outputs by 1e-2..1 (torch docs:
# evidence/pytorch-docs.md, eval() switches dropout and BatchNorm to inference behaviour).
FAIL_DIFF = 1e-4
WARN_DIFF = 1e-6
FP_TOL = 1e-5      # module-level fingerprints compare within this relative tolerance


def _max_rel_diff(a: Any, b: Any) -> Tuple[float, Optional[str]]:
    """(largest relative difference over the output leaves, name of the worst leaf)."""
    la, lb = list(T.named_leaves(a, "outputs")), list(T.named_leaves(b, "outputs"))
    if len(la) != len(lb) or any(x.shape != y.shape for (_, x), (_, y) in zip(la, lb)):
        return float("inf"), "the output structure"
    worst, where = 0.0, None
    for (name, x), (_, y) in zip(la, lb):
        if not T.is_float(x):
            d = 0.0 if torch.equal(x, y) else float("inf")
        else:
            x, y = x.detach().double(), y.detach().double()
            if not torch.equal(torch.isnan(x), torch.isnan(y)):
                d = float("inf")
            elif x.numel() == 0:
                d = 0.0
            else:
                x, y = torch.nan_to_num(x, posinf=1e300, neginf=-1e300), torch.nan_to_num(y, posinf=1e300, neginf=-1e300)
                d = float((x - y).abs().max()) / max(float(x.abs().max()), 1e-12)
        if d > worst:
            worst, where = d, name
    return worst, where


def _fingerprint(obj: Any) -> List[Tuple]:
    """Cheap per-tensor summary (shape, sum, sum of squares, position-weighted sum)."""
    out = []
    for t in T.leaves(obj):
        x = t.detach().double().flatten()
        if x.numel() == 0:
            out.append((tuple(t.shape), 0.0, 0.0, 0.0, 0.0))
            continue
        x = torch.nan_to_num(x, nan=0.0, posinf=1e300, neginf=-1e300)
        w = torch.arange(1, x.numel() + 1, device=x.device, dtype=torch.float64) / x.numel()
        a = x.abs()
        out.append((tuple(t.shape), float(x.sum()), float(x.pow(2).sum()), float((x * w).sum()),
                    float(a.sum())))
    return out


def _same(fa: List[Tuple], fb: List[Tuple]) -> bool:
    if len(fa) != len(fb):
        return False
    for a, b in zip(fa, fb):
        if a[0] != b[0]:
            return False
        scale = max(a[4], 1e-12)
        if abs(a[1] - b[1]) > FP_TOL * scale or abs(a[3] - b[3]) > FP_TOL * scale:
            return False
        if abs(a[2] - b[2]) > FP_TOL * max(a[2], 1e-24):
            return False
    return True


class _Recorder:
    """Forward hooks on every module: fingerprints of inputs and outputs per call, in
    completion order (children finish before their parents)."""

    def __init__(self, model: nn.Module):
        self.model = model
        self.calls: List[Tuple[str, str, List, List]] = []
        self._pending: Dict[int, List] = {}
        self._handles = []

    def __enter__(self):
        for name, m in self.model.named_modules():
            label = name or "(the model itself)"
            self._handles.append(m.register_forward_pre_hook(self._pre(label), with_kwargs=True))
            self._handles.append(m.register_forward_hook(self._post(label, type(m).__name__)))
        return self

    def _pre(self, label):
        def hook(module, args, kwargs):
            self._pending.setdefault(id(module), []).append(_fingerprint((args, kwargs)))
        return hook

    def _post(self, label, cls):
        def hook(module, args, output):
            stack = self._pending.get(id(module)) or [[]]
            fin = stack.pop()
            self.calls.append((label, cls, fin, _fingerprint(output)))
        return hook

    def __exit__(self, *exc):
        for h in self._handles:
            h.remove()
        return False


def _recorded(ctx, model, seed) -> List:
    with _Recorder(model) as rec, torch.no_grad():
        user_forward(ctx, model, T.clone(ctx.inputs), seed=seed)
    return rec.calls


def _localise(ctx, model, seed_a: int, seed_b: int) -> Dict[str, Any]:
    a, b = _recorded(ctx, model, seed_a), _recorded(ctx, model, seed_b)
    for k, (ca, cb) in enumerate(zip(a, b)):
        if ca[0] != cb[0]:
            return {"module": ca[0], "class": ca[1], "kind": "order",
                    "call": k, "n_calls": (len(a), len(b))}
        if not _same(ca[3], cb[3]):
            kind = "inputs" if not _same(ca[2], cb[2]) else "own"
            return {"module": ca[0], "class": ca[1], "kind": kind, "call": k}
    if len(a) != len(b):
        return {"module": None, "kind": "order", "n_calls": (len(a), len(b))}
    return {"module": None, "kind": "outside"}


# Random draws a forward can make; the Gaussian ones are a reparameterised sample when scaled by a learned tensor.
GAUSSIAN = {"randn", "randn_like", "normal", "normal_"}
RANDOM = GAUSSIAN | {"rand", "rand_like", "bernoulli", "bernoulli_", "dropout", "dropout1d", "dropout2d",
                     "dropout3d", "alpha_dropout", "feature_alpha_dropout", "multinomial", "randint",
                     "randint_like", "randperm", "poisson", "exponential_", "uniform_", "rrelu"}
MULS = {"mul", "__mul__", "__rmul__", "mul_"}


class _Draws(TorchFunctionMode):
    """Record the random draws of one forward (where in the user's code) and which Gaussian draws get
    multiplied by a tensor that requires grad (a learned scale: `mu + eps * std`, reparameterisation)."""

    def __init__(self):
        super().__init__()
        self.draws: List[Dict[str, Any]] = []
        self._by_id: Dict[int, Dict[str, Any]] = {}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = getattr(func, "__name__", "")
        if name in RANDOM:
            from ..replay import _user_frame
            where = _user_frame()
            d = {"call": name, "where": where, "scaled_by_learned": False, "out": out}
            self.draws.append(d)
            if isinstance(out, torch.Tensor):
                self._by_id[id(out)] = d
        elif name in MULS and len(args) >= 2:
            a, b = args[0], args[1]
            for x, y in ((a, b), (b, a)):
                d = self._by_id.get(id(x)) if isinstance(x, torch.Tensor) else None
                if d is not None and d["out"] is x and isinstance(y, torch.Tensor) and y.requires_grad:
                    d["scaled_by_learned"] = True
        return out


def _sampling(ctx, model, seed: int) -> Optional[str]:
    """When every random draw of an eval forward is Gaussian and scaled by a learned tensor (a VAE's
    reparameterised sample), a description of the draws ("torch.randn_like at vae.py:47 in
    VAE.reparameterize"); else None."""
    mode = _Draws()
    try:
        with torch.enable_grad(), mode:
            user_forward(ctx, model, T.clone(ctx.inputs), seed=seed)
    except Exception:
        return None
    draws = mode.draws
    if not draws or not all(d["call"] in GAUSSIAN and d["scaled_by_learned"] for d in draws):
        return None
    import os
    where = []
    for d in draws:
        w = d["where"]
        text = f"torch.{d['call']}" + (f" at {os.path.basename(w[0])}:{w[1]} in {w[2]}" if w else "")
        if text not in where:
            where.append(text)
    return ", ".join(where[:3])


def _parent(name: str, model: nn.Module) -> str:
    if name == "(the model itself)":
        return "the code that calls the model"
    if "." in name:
        parent = name.rsplit(".", 1)[0]
        return f"the forward() of '{parent}' ({type(model.get_submodule(parent)).__name__})"
    return f"the model's own forward() ({type(model).__name__})"


@check("eval-mode", "two forward passes in eval mode agree", order=60)
def eval_mode(ctx) -> Result:
    model = take_eval_copy(ctx)   # the dependency checks' eval-mode copy (they left it unchanged), or a new one
    seed_a, seed_b = ctx.seed + 1, ctx.seed + 1001
    with torch.no_grad():
        out_a = user_forward(ctx, model, T.clone(ctx.inputs), seed=seed_a)
        out_b = user_forward(ctx, model, T.clone(ctx.inputs), seed=seed_b)
    diff, leaf = _max_rel_diff(out_a, out_b)
    n_mod = sum(1 for _ in model.modules())
    metrics: Dict[str, Any] = {"max_rel_diff": diff, "worst_output": leaf, "modules": n_mod}
    if diff <= WARN_DIFF:
        return Result("pass", f"two eval-mode passes from different RNG seeds agree (max relative difference "
                      f"{fmt(diff)}): no randomness or changing state left on in eval", metrics)
    if diff <= FAIL_DIFF:
        return Result("warn", f"two eval-mode passes differ by {fmt(diff)} (relative), at float-noise level: "
                      "likely non-deterministic kernels (GPU atomics), not dropout; set "
                      "torch.use_deterministic_algorithms(True) to confirm", metrics)
    with torch.no_grad():
        out_a2 = user_forward(ctx, model, T.clone(ctx.inputs), seed=seed_a)
    rng = _max_rel_diff(out_a, out_a2)[0] <= WARN_DIFF
    metrics["cause"] = "rng" if rng else "state"
    loc = _localise(ctx, model, seed_a, seed_b)
    metrics.update({"first_module": loc.get("module"), "module_class": loc.get("class"),
                    "where": loc["kind"]})
    cause = ("the same seed reproduces the first pass, so it is randomness that ignores model.eval() "
             "(dropout called with training=True, a noise or sampling layer with no `if self.training`)"
             if rng else
             "even the same seed does not reproduce the first pass, so some state changes on every call "
             "(a buffer or attribute updated in forward, a cache, a counter)")
    name = loc.get("module")
    if loc["kind"] == "own":
        where = f"the first module whose output differs is '{name}' ({loc['class']}), its inputs agree"
    elif loc["kind"] == "inputs":
        where = (f"the first module whose output differs is '{name}' ({loc['class']}), but its inputs already "
                 f"differ: the randomness comes from code in {_parent(name, model)} before it calls '{name}' "
                 "(e.g. F.dropout(x, p, training=True))")
    elif loc["kind"] == "order" and name:
        where = f"the modules called differ between passes from call {loc.get('call')} ('{name}' in the first)"
    elif loc["kind"] == "order":
        where = f"the passes call a different number of modules ({loc['n_calls'][0]} vs {loc['n_calls'][1]})"
    else:
        where = ("every module's output agrees, so the difference arises outside the model's modules "
                 "(in forward(model, inputs) or the model's top-level code after its last submodule)")
    sampled = _sampling(ctx, model, seed_a) if rng else None
    if sampled is not None:
        metrics["sampling"] = sampled
        return Result("warn", f"outputs differ between two eval-mode passes (max relative difference {fmt(diff)} in "
                      f"{leaf}) because forward samples: {sampled}, scaled by a learned tensor (reparameterisation, "
                      "as a VAE's encoder does). Intended for a VAE's ELBO; if evaluation or inference should be "
                      "deterministic, use the mean when not self.training", metrics)
    summary = (f"outputs differ between two eval-mode passes on the same batch (max relative difference "
               f"{fmt(diff)} in {leaf}): {where}; {cause}. Evaluation and inference are noisy; "
               "gate it on self.training unless the sampling is intended (MC dropout, a VAE's sample)")
    return Result("fail", summary, metrics)
