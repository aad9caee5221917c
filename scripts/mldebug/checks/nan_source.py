"""nan-source: the first torch op whose forward or backward turns finite values into NaN/Inf.

Cheap pass first (the shared probe: one forward + backward): if the loss, the outputs and
every gradient are finite, pass. Otherwise one instrumented pass: a TorchFunctionMode sees
every torch call of forward and loss_fn, with the module stack from forward hooks, and
tracks which non-finite tensors descend from which *source* (an op whose output is
non-finite while its inputs are finite). Sources that die out on the way (a -inf attention
mask absorbed by softmax) are ignored: we blame the source the bad loss or output descends
from. If the forward stays finite, hooks on every autograd node find the first node whose
incoming gradient is finite but whose outgoing gradient is not, mapped back to the forward
op (and module, and line of user code) that created it.
"""
from __future__ import annotations

import math
import os
import sys
from typing import Any, Dict, List, Optional

import torch
from torch.overrides import TorchFunctionMode

from .. import tensors as T
from ..registry import Result, check
from ._probe import ModuleStack, fmt_list, probe

_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # scripts/mldebug
_TORCH = os.path.dirname(os.path.abspath(torch.__file__))
_SYMBOL = {"__truediv__": "/", "__rtruediv__": "/", "__div__": "/", "__mul__": "*", "__rmul__": "*", "__add__": "+",
           "__radd__": "+", "__sub__": "-", "__rsub__": "-", "__pow__": "**", "__rpow__": "**", "__matmul__": "@"}
MAX_OPS = 200_000  # stop instrumenting after this many torch calls (a runaway loop in forward)


def _op_name(func) -> str:
    n = getattr(func, "__name__", None) or str(func)
    q = getattr(func, "__qualname__", n)
    if n in _SYMBOL:
        return f"'{_SYMBOL[n]}' ({q})"
    mod = getattr(func, "__module__", "") or ""
    if q.startswith("TensorBase.") or q.startswith("Tensor."):
        return "Tensor." + n
    if "functional" in mod:
        return "F." + n
    return "torch." + n


def _user_line() -> Optional[str]:
    """file:line of the innermost frame outside torch and ml-debug (the user's code)."""
    f = sys._getframe(2)
    while f is not None:
        fn = f.f_code.co_filename
        if fn.startswith(_HERE):
            return None   # reached ml-debug itself: no user code between (a module called directly)
        if not fn.startswith(_TORCH) and "<frozen" not in fn:
            return f"{os.path.basename(fn)}:{f.f_lineno}"
        f = f.f_back
    return None


def stats(t: torch.Tensor) -> Dict[str, Any]:
    """Statistics of one tensor: shape, min/max/mean over finite values, zeros, negatives, NaN/Inf counts."""
    with torch.no_grad():
        x = t.detach()
        if x.is_complex():
            x = x.abs()
        x = x.double()
        fin = torch.isfinite(x)
        xf = x[fin]
        d = {"shape": list(x.shape), "numel": x.numel(), "nan": int(torch.isnan(x).sum()),
             "posinf": int((x == math.inf).sum()), "neginf": int((x == -math.inf).sum()),
             "zeros": int((x == 0).sum()), "negatives": int((x < 0).sum())}
        if xf.numel():
            d.update(min=float(xf.min()), max=float(xf.max()), mean=float(xf.mean()))
        return d


def describe_stats(s: Dict[str, Any]) -> str:
    parts = [f"shape {tuple(s['shape'])}"]
    if "min" in s:
        parts.append(f"min {s['min']:.3g} max {s['max']:.3g} mean {s['mean']:.3g}")
    parts.append(f"{s['zeros']} zeros, {s['negatives']} negatives of {s['numel']}")
    bad = [f"{s[k]} {k}" for k in ("nan", "posinf", "neginf") if s[k]]
    if bad:
        parts.append(", ".join(bad))
    return ", ".join(parts)


def _nonfinite(t: torch.Tensor) -> bool:
    return (t.is_floating_point() or t.is_complex()) and t.numel() > 0 and not bool(torch.isfinite(t).all())


class NanMode(TorchFunctionMode):
    """Follows non-finite values through every torch call of forward and loss_fn."""

    def __init__(self, stack: ModuleStack, types: Dict[str, str], want_nodes: bool,
                 known: Optional[Dict[int, tuple]] = None):
        super().__init__()
        self.known = known or {}                 # id -> (tensor, name) for the batch, parameters, buffers
        self.stack, self.types, self.want_nodes = stack, types, want_nodes
        self.bad: Dict[int, tuple] = {}          # id -> (tensor, frozenset of source indices)
        self.events: List[Dict[str, Any]] = []   # sources, in order
        self.nodes: Dict[Any, Dict[str, Any]] = {}  # autograd node -> the op that made it
        self.nan_at: Dict[int, Dict[str, Any]] = {}  # id of a bad tensor -> the op where its NaN first appeared
        self.calls = 0

    def where(self) -> str:
        m = self.stack.current()
        return f"{m or '<model>'} ({self.types.get(m, '?')})" if m != "<loss_fn>" else "loss_fn"

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        self.calls += 1
        if self.calls > MAX_OPS:
            return func(*args, **kwargs)
        ins = [t for t in T.leaves((list(args), kwargs)) if isinstance(t, torch.Tensor)]
        in_src, in_bad_untracked = set(), []
        for t in ins:
            if id(t) in self.bad and self.bad[id(t)][0] is t:
                in_src |= self.bad[id(t)][1]
            elif _nonfinite(t):
                in_bad_untracked.append(t)
        # a non-finite tensor no op made here: the batch, a parameter or buffer, or a constant
        for t in in_bad_untracked:
            k = self.known.get(id(t))
            self.events.append({"kind": "input", "name": k[1] if k is not None and k[0] is t else None, "op": _op_name(func), "module": self.where(), "line": _user_line(),
                                "stats": stats(t), "inputs": [], "call": self.calls})
            in_src.add(len(self.events) - 1)
            self.bad[id(t)] = (t, frozenset([len(self.events) - 1]))
        # an in-place op overwrites its input: copy it first so its statistics describe what went in
        fname = getattr(func, "__name__", "")
        inplace = (fname.endswith("_") and not fname.endswith("__")) or fname.startswith("__i") or kwargs.get("inplace")
        keep_inputs = None if in_src else ([t.detach().clone() for t in ins] if inplace else ins)
        out = func(*args, **kwargs)
        outs = [t for t in T.leaves(out) if isinstance(t, torch.Tensor)]
        made_bad = [t for t in outs if _nonfinite(t)]
        if made_bad:
            if in_src:
                src = frozenset(in_src)
            else:
                self.events.append({"kind": "forward", "op": _op_name(func), "module": self.where(),
                                    "line": _user_line(), "stats": stats(made_bad[0]),
                                    "inputs": [stats(t) for t in (keep_inputs or []) if t.is_floating_point()],
                                    "call": self.calls})
                src = frozenset([len(self.events) - 1])
            # where NaN first appears, when the source made only +-inf (softmax over an all -inf row, inf - inf)
            nan_at = next((self.nan_at.get(id(t)) for t in ins if id(t) in self.nan_at), None)
            if nan_at is None and any(bool(torch.isnan(t).any()) for t in made_bad):
                nan_at = {"op": _op_name(func), "module": self.where(), "line": _user_line()}
            for t in made_bad:
                self.bad[id(t)] = (t, src)
                if nan_at is not None:
                    self.nan_at[id(t)] = nan_at
        if self.want_nodes:
            info = None
            for t in outs:
                node = t.grad_fn if t.requires_grad else None
                if node is None or node in self.nodes:
                    continue
                if info is None:
                    info = {"op": _op_name(func), "module": self.where(), "line": _user_line(),
                            "inputs": [t.detach() for t in ins if t.is_floating_point()]}
                todo = [node]
                while todo:   # this op's own nodes: everything new behind its output node
                    n = todo.pop()
                    if n is None or n in self.nodes or type(n).__name__ == "AccumulateGrad":
                        continue
                    self.nodes[n] = info
                    todo += [nx for nx, _ in n.next_functions]
        return out


def _event_text(e: Dict[str, Any]) -> str:
    s = e["stats"]
    made = ", ".join(f"{s[k]} {k}" for k in ("nan", "posinf", "neginf") if s[k]) + f" of {s['numel']}"
    where = f"{e['op']} in {e['module']}" + (f" at {e['line']}" if e.get("line") else "")
    if e["kind"] == "input":
        what = e.get("name") or "a tensor no op here made (the batch, a parameter, a buffer or a constant)"
        return f"{what} is already non-finite ({made}) when {where} reads it"
    ins = e.get("inputs") or []
    inp = f"; its input: {describe_stats(ins[0])}" if len(ins) == 1 else \
        "; its inputs: " + " | ".join(describe_stats(x) for x in ins[:3]) if ins else ""
    return f"{where} produced non-finite values ({made}) from finite inputs{inp}"


def instrumented(ctx) -> Dict[str, Any]:
    """Forward (and loss) under NanMode; backward under node hooks if the forward stays finite."""
    model = ctx.fresh_model()
    model.train()
    stack = ModuleStack(model)
    types = {n: type(m).__name__ for n, m in model.named_modules()}
    known = {id(t): (t, f"the batch's {n}") for n, t in T.named_leaves(ctx.inputs, "inputs")}
    known.update({id(p): (p, f"parameter {n}") for n, p in model.named_parameters()})
    known.update({id(b): (b, f"buffer {n}") for n, b in model.named_buffers()})
    mode = NanMode(stack, types, want_nodes=True, known=known)
    try:
        with mode:
            out = ctx.forward(model, ctx.inputs)
            stack.stack.append("<loss_fn>")
            loss = ctx.loss(out, ctx.targets)
            stack.stack.pop()
    finally:
        stack.remove()
    res: Dict[str, Any] = {"ops": mode.calls, "loss": float(loss.detach().float())}
    finals = [("loss", loss)] + [(n, t) for n, t in T.named_leaves(out, "outputs") if isinstance(t, torch.Tensor)]
    blamed = set()
    bad_finals = []
    nan_at = None
    for n, t in finals:
        if _nonfinite(t):
            bad_finals.append(n)
            if id(t) in mode.bad and mode.bad[id(t)][0] is t:
                blamed |= mode.bad[id(t)][1]
                nan_at = nan_at or mode.nan_at.get(id(t))
    if bad_finals:
        idx = min(blamed) if blamed else (0 if mode.events else None)
        res.update(phase="forward", bad=bad_finals, event=mode.events[idx] if idx is not None else None,
                   sources=len(mode.events), nan_at=nan_at)
        return res
    if not loss.requires_grad:
        res.update(phase=None)
        return res
    first: List[Dict[str, Any]] = []

    def hook_for(node, info):
        def hook(grad_inputs, grad_outputs):
            if first:
                return
            gi = [g for g in grad_inputs if isinstance(g, torch.Tensor)]
            go = [g for g in grad_outputs if isinstance(g, torch.Tensor)]
            if any(_nonfinite(g) for g in gi) and not any(_nonfinite(g) for g in go):
                first.append({"node": type(node).__name__, "info": info,
                              "grad_out": stats(go[0]) if go else None,
                              "grad_in": stats(next(g for g in gi if _nonfinite(g)))})
        return hook
    handles = [n.register_hook(hook_for(n, info)) for n, info in mode.nodes.items()]
    try:
        ctx.call("loss.backward()", loss.backward)
    finally:
        for h in handles:
            h.remove()
    bad_grads = [n for n, p in model.named_parameters() if p.grad is not None and _nonfinite(p.grad)]
    res.update(phase="backward" if bad_grads or first else None, bad=bad_grads)
    if first:
        f = first[0]
        info = f["info"]
        res["event"] = {"kind": "backward", "node": f["node"], "op": info["op"], "module": info["module"],
                        "line": info["line"], "inputs": [stats(t) for t in info["inputs"][:3]],
                        "grad_out": f["grad_out"], "grad_in": f["grad_in"]}
    return res


@check("nan-source", "the first op whose forward or backward produces NaN/Inf", order=35)
def nan_source(ctx) -> Result:
    pr = probe(ctx)
    bad_grads = [p.name for p in pr.params if p.has_grad and not p.grad_finite]
    metrics: Dict[str, Any] = {"loss": pr.loss, "nonfinite_outputs": pr.nonfinite_outputs,
                               "nonfinite_grads": bad_grads}
    if math.isfinite(pr.loss) and pr.outputs_finite and not bad_grads:
        if pr.backward_error:
            raise RuntimeError(f"backward raised: {pr.backward_error}")
        grads = sum(1 for p in pr.params if p.has_grad)
        return Result("pass", f"loss {pr.loss:.4g}, every output and all {grads} gradients are finite after one "
                              "forward + backward", metrics)
    res = instrumented(ctx)
    metrics["instrumented_ops"] = res.get("ops")
    e = res.get("event")
    phase = res.get("phase")
    metrics["phase"] = phase
    details = []
    if e is not None:
        metrics["op"] = e["op"]
        metrics["module"] = e["module"]
        metrics["line"] = e.get("line")
        metrics["kind"] = e["kind"]
        if e.get("inputs"):
            metrics["input_stats"] = e["inputs"]
        details += [f"input {i}: {describe_stats(s)}" for i, s in enumerate(e.get("inputs") or [])]
    what = " and ".join(res.get("bad") or []) + (" are" if len(res.get("bad") or []) > 1 else " is") \
        if phase == "forward" else \
        f"{len(res.get('bad') or bad_grads)} gradients ({fmt_list(res.get('bad') or bad_grads)})"
    if phase == "forward" and e is not None:
        summary = f"{what} non-finite; first source: {_event_text(e)}"
        metrics["source"] = e.get("name")
        na = res.get("nan_at")
        if na and e["stats"]["nan"] == 0 and (na["op"], na["module"]) != (e["op"], e["module"]):
            summary += (f"; those infinities become NaN at {na['op']} in {na['module']}"
                        + (f" at {na['line']}" if na.get("line") else ""))
            metrics["nan_op"] = na["op"]
        if res.get("sources", 1) > 1:
            details.append(f"{res['sources']} ops made non-finite values; the others did not reach the loss "
                           "(e.g. a -inf attention mask absorbed by softmax)")
    elif phase == "backward" and e is not None:
        go = e.get("grad_out")
        inp = e["inputs"][0] if e.get("inputs") else None
        summary = (f"forward and loss are finite but {what} are NaN/Inf; the backward of {e['op']} ({e['node']}) in "
                   f"{e['module']}" + (f" at {e['line']}" if e.get("line") else "")
                   + " turned a finite incoming gradient into non-finite values"
                   + (f"; its forward input: {describe_stats(inp)}" if inp else "")
                   + " (e.g. sqrt/norm/pow(0.5) of exact zeros: add an eps inside)")
        if go:
            details.append(f"incoming gradient: {describe_stats(go)}")
        details.append(f"outgoing gradient: {describe_stats(e['grad_in'])}")
    else:
        summary = (f"non-finite values (loss {pr.loss}, outputs {pr.nonfinite_outputs or 'finite'}, "
                   f"{len(bad_grads)} gradients) but no torch op could be blamed: they arise outside the ops "
                   "ml-debug sees (a C++ extension?); try torch.autograd.detect_anomaly()")
    return Result("fail", summary, metrics, details)
