"""A hand-written loss, replayed: the computation from the model's output to the loss at step 1.

When the backpropagated loss is not a recognised torch loss call on the model's output (a weighted
MSE written by hand, a contrastive loss, `-(y * torch.log(p)).mean()`), the doctor's checks that
only need a backward (batch-sanity, init-symmetry, grad-flow, nan-source, update-ratio) can still
run if we can map a new model output to a loss the way the script did. Until the first step the
recorder keeps a `Tape` of what runs outside any module's forward with gradients on: every torch
call (seen by its TorchFunctionMode) and every top-level module call (a loss module such as a
hand-written `nn.Module` criterion, re-run as the user's own code), each with the line of user
code that made it. At the first step `build` keeps, of the captured backward's tape, the calls
that lead from the model's output to the loss (a backward slice); every other tensor they read
(targets, masks, the other view's embeddings) becomes a constant. `Replay.loss_fn(outputs, _)`
runs that slice on a new output; each call runs from a one-line function compiled with the user's
file name and line number, so checks that report "where" (nan-source) name the user's line.

`verify` must reproduce the run's loss value on the captured output, or the replay is not used.
"""
from __future__ import annotations

import copy
import os
import sys
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
import torch.nn as nn

from .tensors import leaves

MAX_TAPE = 2048                   # calls remembered between two backward passes (oldest dropped)
MAX_CONST_BYTES = 256 * 2**20     # constants a replay may keep (targets, masks, other embeddings)
MAX_MODULE_COPY = 64 * 2**20      # a parameterised module in the loss path is copied up to this size
_SKIP = {"backward", "__repr__", "__format__", "__str__", "register_hook", "retain_grad"}
_TORCH_DIR = os.path.dirname(torch.__file__)
_PKG_DIR = os.path.dirname(os.path.abspath(__file__))


def _user_frame() -> Optional[Tuple[str, int, str]]:
    f = sys._getframe(2)
    while f is not None:
        fn = f.f_code.co_filename
        if not (fn.startswith(_TORCH_DIR) or fn.startswith(_PKG_DIR) or fn.startswith("<")):
            return fn, f.f_lineno, getattr(f.f_code, "co_qualname", f.f_code.co_name)
        f = f.f_back
    return None


@dataclass
class Call:
    func: Any                     # a torch function / Tensor method, or an nn.Module
    args: tuple
    kwargs: dict
    out: Any
    where: Optional[Tuple[str, int, str]]
    module: bool = False


class Tape:
    """Calls made outside any module's forward, with gradients on, since the last backward."""

    def __init__(self, tracer):
        self.tracer = tracer
        self.calls: deque = deque(maxlen=MAX_TAPE)
        self.on = True

    def add(self, func, args, kwargs, out) -> None:
        if not self.on or self.tracer.depth != 0 or not torch.is_grad_enabled():
            return
        if getattr(func, "__name__", "") in _SKIP or not _has_tensor(out):
            return
        self.calls.append(Call(func, args, dict(kwargs or {}), out, _user_frame()))

    def add_module(self, module, args, kwargs, out) -> None:
        if not self.on or not torch.is_grad_enabled() or not _has_tensor(out):
            return
        self.calls.append(Call(module, args, dict(kwargs or {}), out, _user_frame(), module=True))

    def take(self) -> List[Call]:
        calls = list(self.calls)
        self.calls.clear()
        return calls


def _has_tensor(obj) -> bool:
    if isinstance(obj, torch.Tensor):
        return True
    if isinstance(obj, (tuple, list)):
        return any(isinstance(o, torch.Tensor) for o in obj)
    return False


# ---------------------------------------------------------------------------- building
@dataclass
class _Slot:
    i: int


@dataclass
class _Step:
    run: Callable                 # trampoline(func, args, kwargs) at the user's line
    func: Any
    args: Any                     # templates: _Slot for a replayed tensor, else the constant
    kwargs: Any
    outs: List[Optional[int]]     # slot of each tensor leaf of the result
    name: str
    where: Optional[str]


@dataclass
class Replay:
    steps: List[_Step]
    out_slots: List[Optional[int]]      # slot of each tensor leaf of the model's output
    loss_slot: int
    value: float                        # the run's loss at step 1
    notes: List[str] = field(default_factory=list)

    def loss_fn(self, outputs, _targets=None):
        vals: Dict[int, Any] = {}
        for slot, t in zip(self.out_slots, leaves(outputs)):
            if slot is not None:
                vals[slot] = t
        for st in self.steps:
            res = st.run(st.func, _fill(st.args, vals), _fill(st.kwargs, vals))
            for slot, t in zip(st.outs, leaves(res) if not isinstance(res, torch.Tensor) else [res]):
                if slot is not None:
                    vals[slot] = t
        return vals[self.loss_slot]

    def ops(self) -> List[str]:
        return [s.name for s in self.steps]

    def lines(self) -> List[str]:
        seen: List[str] = []
        for s in self.steps:
            if s.where and s.where not in seen:
                seen.append(s.where)
        return seen

    def describe(self) -> str:
        names = []
        for n in self.ops():
            if n not in names:
                names.append(n)
        lines = self.lines()
        where = f" at {', '.join(lines[:3])}" if lines else ""
        return (f"a hand-written loss on the model's output ({len(self.steps)} call(s): {', '.join(names[:6])}"
                f"{', ...' if len(names) > 6 else ''}{where}), replayed for the checks")

    def verify(self, outputs) -> Tuple[bool, str]:
        """Does the replay give the run's loss on the captured output?"""
        import math
        try:
            with torch.no_grad():
                outs = _clone_outputs(outputs)
                v = float(self.loss_fn(outs).detach().float())
        except Exception as e:
            return False, f"replaying the hand-written loss raised {type(e).__name__}: {str(e)[:120]}"
        same = (math.isnan(v) and math.isnan(self.value)) or v == self.value or \
            math.isclose(v, self.value, rel_tol=1e-4, abs_tol=1e-6)
        if not same:
            return False, f"the replayed hand-written loss ({v:.4g}) does not reproduce the run's ({self.value:.4g})"
        return True, ""


def _clone_outputs(outputs):
    from .tensors import tree_map
    return tree_map(lambda t: t.detach().clone(), outputs)


def _fill(tpl, vals):
    if isinstance(tpl, _Slot):
        return vals[tpl.i]
    if isinstance(tpl, tuple) and hasattr(tpl, "_fields"):
        return type(tpl)(*(_fill(o, vals) for o in tpl))
    if isinstance(tpl, tuple):
        return tuple(_fill(o, vals) for o in tpl)
    if isinstance(tpl, list):
        return [_fill(o, vals) for o in tpl]
    if isinstance(tpl, dict):
        return {k: _fill(v, vals) for k, v in tpl.items()}
    return tpl


_TRAMPOLINES: Dict[Tuple[str, int], Callable] = {}


def _plain_call(f, a, k):
    return f(*a, **k)


def trampoline(where: Optional[Tuple[str, int, str]]) -> Callable:
    """`f(*a, **k)` from a frame whose file and line are the user's (for errors and nan-source)."""
    if where is None:
        return _plain_call
    fn, line = where[0], where[1]
    key = (fn, line)
    if key not in _TRAMPOLINES:
        try:
            src = "\n" * max(0, line - 2) + "def _replayed(f, a, k):\n    return f(*a, **k)\n"
            ns: Dict[str, Any] = {}
            exec(compile(src, fn, "exec"), ns)   # only our two-line function; the user's file is not read
            _TRAMPOLINES[key] = ns["_replayed"] if line >= 2 else _plain_call
        except Exception:
            _TRAMPOLINES[key] = _plain_call
    return _TRAMPOLINES[key]


def _name(c: Call) -> str:
    if c.module:
        return type(c.func).__name__
    n = getattr(c.func, "__name__", None) or type(c.func).__name__
    if n == "__get__":   # a property such as Tensor.T
        n = "attribute"
    return n.strip("_") or n


def build(call, bw, calls: List[Call], model) -> Tuple[Optional[Replay], str]:
    """The slice of `calls` from the captured call's output to `bw.loss` (see the module doc).
    Returns (Replay, "") or (None, why not)."""
    loss = getattr(bw, "loss", None)
    if loss is None or not calls:
        return None, "no torch call between the model's output and the loss was recorded"
    slots: Dict[int, Tuple[torch.Tensor, int]] = {}
    nslot = 0
    out_slots: List[Optional[int]] = []
    for t in leaves(call.output):
        if id(t) in slots:
            out_slots.append(None)
            continue
        slots[id(t)] = (t, nslot)
        out_slots.append(nslot)
        nslot += 1

    def slot_of(t):
        hit = slots.get(id(t))
        return hit[1] if hit is not None and hit[0] is t else None

    dep: List[Tuple[Call, List[Optional[int]], set]] = []
    for c in calls:
        if c.module and c.func is call.module and c.out is call.output:
            continue
        ins = {slot_of(t) for t in leaves((c.args, c.kwargs))} - {None}
        if not ins:
            continue
        outs = []
        for t in (leaves(c.out) if not isinstance(c.out, torch.Tensor) else [c.out]):
            slots[id(t)] = (t, nslot)
            outs.append(nslot)
            nslot += 1
        dep.append((c, outs, ins))
    loss_slot = slot_of(loss)
    if loss_slot is None:
        return None, ("the loss is not computed from the model's output by torch calls outside the model (the loss "
                      "may be made inside another module's forward, or from tensors the recorder did not see)")
    needed, keep = {loss_slot}, []
    for c, outs, ins in reversed(dep):
        if needed & set(outs):
            keep.append((c, outs))
            needed |= ins
    keep.reverse()
    const_bytes, outside, notes = 0, 0, []
    steps: List[_Step] = []

    def template(obj):
        nonlocal const_bytes, outside
        if isinstance(obj, torch.Tensor):
            s = slot_of(obj)
            if s is not None and s in needed_or_out:
                return _Slot(s)
            const_bytes += obj.numel() * obj.element_size()
            if obj.requires_grad and not obj.is_leaf:
                outside += 1
            return obj.detach().clone()
        if isinstance(obj, tuple) and hasattr(obj, "_fields"):
            return type(obj)(*(template(o) for o in obj))
        if isinstance(obj, (tuple, list)):
            return type(obj)(template(o) for o in obj)
        if isinstance(obj, dict):
            return {k: template(v) for k, v in obj.items()}
        return obj
    needed_or_out = set(needed) | {s for s in out_slots if s is not None}
    for c, outs in keep:
        func = c.func
        if c.module and any(True for _ in func.parameters()):
            if func is model:
                return None, "the model itself runs again inside the loss computation"
            size = sum(p.numel() * p.element_size() for p in func.parameters())
            if size > MAX_MODULE_COPY:
                return None, f"a {type(func).__name__} with parameters runs in the loss path and is too large to copy"
            func = copy.deepcopy(func)
            func.requires_grad_(False)
            notes.append(f"the loss path also runs {type(c.func).__name__} (a module with parameters outside the "
                         "model); the checks use a frozen copy of it")
        where = f"{os.path.basename(c.where[0])}:{c.where[1]}" if c.where else None
        steps.append(_Step(trampoline(c.where), func, template(c.args), template(c.kwargs), outs, _name(c), where))
        if const_bytes > MAX_CONST_BYTES:
            return None, "the loss computation reads more than 256 MB of other tensors"
    if outside:
        notes.append(f"the loss also reads {outside} tensor(s) computed with gradients outside the model's last "
                     "output (another forward of the model, or a second model); the checks keep them fixed")
    value = float(bw.value) if bw.value is not None else float("nan")
    return Replay(steps, out_slots, loss_slot, value, notes), ""
