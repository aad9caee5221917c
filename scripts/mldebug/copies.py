"""How a check gets a model it may change: the one place that decides (the copy policy).

Checks train, perturb and re-run the model, so each gets its own. Two ways to give one:

- an independent deep copy (the default): `copy.deepcopy` of the model, used only when it
  really is independent. A deep copy is not independent when the model reaches its own
  submodules through something deepcopy shares instead of copying, e.g. minGPT's
  `self.mlpf = lambda x: m.c_proj(m.act(m.c_fc(x)))`: the copy's lambda still calls the
  original's modules, so the copy's MLP gets no gradient and the original's dropout runs.
  `reached` verifies it: a forward pre-hook on every module of the original must not fire
  while the copy runs.
- the model itself, in place: when the copy is not independent, or the model cannot be
  deep-copied at all (a policy that keeps its per-step log-probabilities, non-leaf tensors,
  as attributes). `State` takes what a check may change (parameter values, their
  requires_grad and gradients, buffers, each module's mode and plain attributes such as a
  dropout's p) and `restore` puts it back, before each check and after the last one.

`choose` is the policy; Context (context.py) and trace (trace_target.py) call it. How MANY
copies the checks make is the checks' business; HOW one is made is decided here only.
"""
from __future__ import annotations

import copy
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
import torch.nn as nn

from .tensors import preserved_rng

_PLAIN = (bool, int, float, str, type(None))


class _Reached(Exception):
    """Raised by the pre-hook on an original's module when a copy's forward reaches it."""


def reached(original: nn.Module, clone: nn.Module, run: Callable[[nn.Module], Any]) -> Optional[str]:
    """Run `run(clone)` (no grad, RNG put back) with a pre-hook on every module of `original` that
    aborts the forward; return the name of the original's module the clone reached, or None.
    The hook raises before the module computes, so the original's state (running stats) is untouched."""
    names = {id(m): (n or type(original).__name__) for n, m in original.named_modules()}
    hit: List[str] = []

    def pre(mod, args):
        hit.append(names.get(id(mod), type(mod).__name__))
        raise _Reached()
    handles = [m.register_forward_pre_hook(pre) for m in original.modules()]
    with torch.no_grad():
        kept = [(b, b.detach().clone()) for b in clone.buffers()]   # the clone's running stats stay as they were
    try:
        with preserved_rng(), torch.no_grad():
            run(clone)
    except _Reached:
        pass
    except Exception:  # the clone's forward failed for its own reasons: the checks will say so
        pass
    finally:
        for h in handles:
            h.remove()
        with torch.no_grad():
            for b, v in kept:
                if b.shape == v.shape:
                    b.copy_(v)
    return hit[0] if hit else None


class State:
    """What a check may change on a live model, taken now (or `buffers`: the buffers to put back
    instead of the current ones, e.g. the running stats before the captured forward)."""

    def __init__(self, model: nn.Module, buffers: Optional[List[torch.Tensor]] = None, grads: bool = True):
        self.model = model
        with torch.no_grad():
            self.params = [(p, p.detach().clone(), p.requires_grad,
                            p.grad.detach().clone() if grads and p.grad is not None else None)
                           for p in model.parameters()]
            bufs = list(model.buffers())
            self.buffers = []
            for i, b in enumerate(bufs):
                old = buffers[i] if buffers is not None and i < len(buffers) and buffers[i].shape == b.shape else b
                self.buffers.append((b, old.detach().clone()))
        self.attrs = [(m, {k: v for k, v in vars(m).items() if isinstance(v, _PLAIN)}) for m in model.modules()]
        self.names = {id(p): n for n, p in model.named_parameters()}

    @classmethod
    def with_values_of(cls, model: nn.Module, source: nn.Module) -> "State":
        """`model`'s state, with the parameter and buffer values of `source` (a snapshot of it)."""
        st = cls(model, grads=False)
        vals = dict(source.named_parameters())
        with torch.no_grad():
            st.params = [(p, vals[st.names[id(p)]].detach().clone() if st.names.get(id(p)) in vals else v, rg, g)
                         for p, v, rg, g in st.params]
            src = list(source.buffers())
            if len(src) == len(st.buffers):
                st.buffers = [(b, s.detach().clone() if s.shape == b.shape else v)
                              for (b, v), s in zip(st.buffers, src)]
        return st

    def restore(self, grads: bool = True) -> nn.Module:
        """Put the state back; `grads` False: leave every gradient None (a fresh model's)."""
        with torch.no_grad():
            for p, v, rg, g in self.params:
                if p.shape == v.shape and p.dtype == v.dtype and p.device == v.device:
                    p.copy_(v)
                else:  # a check moved or cast it
                    p.data = v.clone()
                p.requires_grad_(rg)
                p.grad = g.clone() if grads and g is not None else None
            for b, v in self.buffers:
                if b.shape == v.shape and b.dtype == v.dtype and b.device == v.device:
                    b.copy_(v)
                else:
                    b.data = v.clone()
        for m, attrs in self.attrs:
            d = vars(m)
            for k, v in attrs.items():
                if d.get(k, _Missing) is not v and d.get(k, _Missing) != v:
                    d[k] = v
        return self.model

    def named_parameters(self):
        """(name, value at the snapshot) per parameter: quacks like a snapshot module for changed_since."""
        return [(self.names[id(p)], v) for p, v, _, _ in self.params if id(p) in self.names]


class _Missing:
    pass


def deep_copy_error(model: nn.Module) -> Optional[str]:
    """None if `model` deep-copies, else the reason in one line."""
    try:
        copy.deepcopy(model)
    except Exception as e:
        return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:200]
    return None


def shares_callables(model: nn.Module) -> bool:
    """Does any module keep a function, lambda, partial or bound method among its attributes (directly
    or in a list/tuple/dict)? deepcopy shares those with the original instead of copying them, so
    only then can a deep copy reach the original's modules; `choose` verifies it by a forward."""
    def callable_leaf(v) -> bool:
        return callable(v) and not isinstance(v, (nn.Module, torch.Tensor, type))
    for m in model.modules():
        for k, v in vars(m).items():
            if k.startswith("_") and "hook" in k:   # nn.Module's own hook tables
                continue
            vals = list(v.values()) if isinstance(v, dict) else list(v) if isinstance(v, (list, tuple)) else [v]
            if any(callable_leaf(x) for x in vals[:64]):
                return True
    return False


def choose(model: nn.Module, run: Optional[Callable[[nn.Module], Any]] = None,
           others: Tuple[nn.Module, ...] = ()) -> Tuple[str, Optional[str]]:
    """THE copy policy for `model`: ("copy", None) when a deep copy is independent, else
    ("in-place", why). `run(m)` runs one forward of m to verify independence, when the model
    keeps callables deepcopy would share (`shares_callables`); `others`: more modules a copy must
    not reach (the live model a snapshot was taken from)."""
    try:
        clone = copy.deepcopy(model)
    except Exception as e:
        first = str(e).splitlines()[0] if str(e) else ""
        return "in-place", f"it cannot be deep-copied ({type(e).__name__}: {first[:120]})"
    if run is not None and shares_callables(model):
        for orig in (model, *others):
            hit = reached(orig, clone, run)
            if hit is not None:
                return "in-place", (f"a deep copy still runs the original's {hit} (reached through an attribute "
                                    "deepcopy shares, e.g. a lambda or bound method)")
    return "copy", None
