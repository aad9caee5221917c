"""The recorder behind `ml-debug trace`: global hooks that watch a user's training script run.

While the script runs in-process we hold, and remove in `close()`:
  - global module forward pre/post hooks: which top-level modules run, with which inputs,
    in which mode (a top-level call is one made while no other module's forward is running);
  - wrappers on `torch.Tensor.backward` / `torch.autograd.backward`: the loss that is
    backpropagated, how many backward passes each step gets, and what they did to the grads;
  - global optimizer step pre/post hooks: step count, the LR each step used, the grads it saw;
  - a wrapper on `nn.Module.train` (so `eval()` too): who switched the model's mode, and when;
  - a TorchFunctionMode, until the first step is captured: the torch loss calls and their inputs.

At the first step of the first optimizer that steps we capture the model (a deep copy taken
before its first update), its last forward's inputs, and the loss call behind the loss, so
the doctor's checks can run on copies afterwards. After `steps` steps we stop the script by
raising `StopTrace` (a BaseException, so a user's `except Exception` does not swallow it).
"""
from __future__ import annotations

import copy
import math
import os
import sys
import weakref
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import torch
import torch.nn as nn
import torch.optim.optimizer as optim_mod
from torch.nn.modules import module as module_mod

from .losscapture import LOSS_FUNCTIONS, LossCall, LossTrace, _Recorder
from .tensors import leaves, named_leaves, preserved_rng

MAX_PROBES = 16          # parameters whose grads we follow between steps (spread over the model)
MAX_GRAPH_NODES = 4000   # autograd nodes visited when linking a loss call to the backpropagated loss
MAX_WINDOW_CALLS = 32    # top-level module calls remembered between two steps
_TORCH_DIR = os.path.dirname(torch.__file__)
_PKG_DIR = os.path.dirname(os.path.abspath(__file__))

MODE_SENSITIVE = (nn.modules.dropout._DropoutNd, nn.modules.batchnorm._BatchNorm, nn.MultiheadAttention,
                  nn.modules.instancenorm._InstanceNorm)


class StopTrace(BaseException):
    """Raised from the optimizer step hook once enough steps were watched."""


def mode_sensitive(m: nn.Module) -> bool:
    """Does this module compute differently in train and eval mode?"""
    if isinstance(m, nn.modules.dropout._DropoutNd):
        return m.p > 0
    if isinstance(m, nn.MultiheadAttention):
        return m.dropout > 0
    if isinstance(m, nn.modules.instancenorm._InstanceNorm):
        return m.track_running_stats
    return isinstance(m, nn.modules.batchnorm._BatchNorm)


def _has_params(m: nn.Module) -> bool:
    return next(iter(m.parameters()), None) is not None


def caller_where(skip_files=()) -> str:
    """'Evaluator.run (callbacks.py:23)': the innermost frame outside torch and ml-debug."""
    f = sys._getframe(2)
    while f is not None:
        fn = os.path.abspath(f.f_code.co_filename)
        if not (fn.startswith(_TORCH_DIR) or fn.startswith(_PKG_DIR) or fn in skip_files):
            name = getattr(f.f_code, "co_qualname", f.f_code.co_name)
            return f"{name} ({os.path.basename(fn)}:{f.f_lineno})"
        f = f.f_back
    return "?"


@dataclass
class TopCall:
    seq: int
    module: nn.Module
    args: tuple
    kwargs: dict
    output: Any
    grad_enabled: bool
    training: bool
    buffers: Optional[list] = None   # the module's buffers before this call (until capture)


@dataclass
class Backward:
    seq: int
    loss: Optional[torch.Tensor]      # the tensor backward() was called on (kept only until capture)
    value: Optional[torch.Tensor]     # detached scalar value
    loss_calls: List[LossCall] = field(default_factory=list)  # torch loss calls that feed it


@dataclass
class StepRecord:
    step: int                       # 1-based
    lrs: List[float]
    model_training: bool
    eval_sensitive: List[str]       # mode-sensitive submodules in eval mode at this step
    backwards: int                  # backward passes since the previous step
    loss: Optional[float]           # mean of those passes' losses
    carried: bool = False           # grads at this step still held the previous step's
    zeroed: bool = False            # grads were zeroed after the backward, before the step
    discarded: bool = False         # a backward pass's grads were zeroed before they were used


@dataclass
class _Probe:
    param: torch.Tensor
    ref: Any = None                 # weakref to the grad tensor last seen
    ver: int = -1
    held_since_step: bool = False   # the grad now held is the one the last step used
    carry: bool = False             # a backward added to that grad since
    contrib: bool = False           # a backward in this window contributed to the grad


def _state(p):
    g = p.grad
    return (None, -1) if g is None else (weakref.ref(g), g._version)


def _same(p, ref, ver) -> bool:
    g = p.grad
    return g is not None and ref is not None and ref() is g and g._version == ver


class _LossRecorder(_Recorder):
    """losscapture's recorder with an off switch (the mode stays on the stack until close)."""

    def __init__(self, trace: LossTrace):
        super().__init__(trace)
        self.on = True

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if not self.on:
            return func(*args, **(kwargs or {}))
        return super().__torch_function__(func, types, args, kwargs)


class Tracer:
    def __init__(self, steps: int = 50, script: Optional[str] = None):
        self.max_steps = steps
        self.script = os.path.abspath(script) if script else None
        self.keep_going = False
        self.active = False         # recording (False after `steps` steps)
        self.seq = 0
        self.depth = 0
        self.calls: List[TopCall] = []
        self.backwards: List[Backward] = []
        self.window_losses: List[torch.Tensor] = []
        self.primary = None         # the first optimizer that steps
        self.steps = 0              # completed steps of the primary optimizer
        self.records: List[StepRecord] = []
        self.mode_changes: List[tuple] = []   # (steps done, module ref, mode, where)
        self.other_opt_params: set = set()
        self.other_optimizers: set = set()
        self.capture: Optional[Dict[str, Any]] = None
        self.capture_error: Optional[str] = None
        self.nonfinite: Optional[Dict[str, Any]] = None
        self.probes: List[_Probe] = []
        self.ever_grad: set = set()
        self.final: Optional[Dict[str, Any]] = None
        self._handles = []
        self._patched = []
        self._in_backward = False
        self._in_step = False
        self._train_depth = 0
        self._loss_trace = LossTrace()
        self._recorder: Optional[_LossRecorder] = None
        self._cur: Optional[StepRecord] = None
        self._sensitive: List[tuple] = []
        self._pre_buffers = None

    # ------------------------------------------------------------------ install / remove
    def open(self) -> None:
        self.active = True
        self._handles.append(module_mod.register_module_forward_pre_hook(self._pre_forward))
        self._handles.append(module_mod.register_module_forward_hook(self._post_forward, with_kwargs=True,
                                                                     always_call=True))
        self._handles.append(optim_mod.register_optimizer_step_pre_hook(self._pre_step))
        self._handles.append(optim_mod.register_optimizer_step_post_hook(self._post_step))
        self._patch(torch.Tensor, "backward", self._wrap_tensor_backward(torch.Tensor.backward))
        self._patch(torch.autograd, "backward", self._wrap_autograd_backward(torch.autograd.backward))
        self._patch(nn.Module, "train", self._wrap_train(nn.Module.train))
        self._recorder = _LossRecorder(self._loss_trace)
        self._recorder.__enter__()

    def close(self) -> None:
        self.active = False
        for h in self._handles:
            h.remove()
        self._handles.clear()
        for owner, name, orig in reversed(self._patched):
            setattr(owner, name, orig)
        self._patched.clear()
        if self._recorder is not None:
            self._recorder.on = False
            try:
                self._recorder.__exit__(None, None, None)
            except Exception:  # the script left the mode stack in another state: it stays off
                pass
            self._recorder = None

    def _stop_recorder(self):
        """Switch the loss recorder off, and take it off the mode stack if it is on top, so the
        rest of the run pays no per-op Python dispatch."""
        rec = self._recorder
        if rec is None:
            return
        rec.on = False
        try:
            from torch.overrides import _get_current_function_mode_stack
            stack = _get_current_function_mode_stack()
            if stack and stack[-1] is rec:
                rec.__exit__(None, None, None)
                self._recorder = None
        except Exception:  # an unusual mode stack: leave it on, switched off
            pass

    def _patch(self, owner, name, new):
        self._patched.append((owner, name, getattr(owner, name)))
        setattr(owner, name, new)

    # ------------------------------------------------------------------ forward
    def _pre_forward(self, module, args):
        if self.depth == 0 and self.capture is None and self.active:
            # buffers (BatchNorm running stats) as they were before this forward, for the snapshot
            self._pre_buffers = [b.detach().clone() for b in module.buffers()]
        self.depth += 1

    def _post_forward(self, module, args, kwargs, output):
        self.depth = max(0, self.depth - 1)
        if self.depth or not self.active:
            return
        if self.capture is not None and module is not self.capture["model"]:
            return
        if not _has_params(module):
            return
        self.seq += 1
        self.calls.append(TopCall(self.seq, module, args, dict(kwargs or {}), output,
                                  torch.is_grad_enabled(), module.training,
                                  self._pre_buffers if self.capture is None else None))
        self._pre_buffers = None
        if len(self.calls) > MAX_WINDOW_CALLS:
            del self.calls[0]

    # ------------------------------------------------------------------ mode switches
    def _wrap_train(self, orig):
        tracer = self

        def train(module, mode=True):
            if tracer._train_depth == 0 and tracer.active and isinstance(mode, bool) and _has_params(module):
                if module.training != mode or any(m.training != mode for m in module.children()):
                    tracer.mode_changes.append((tracer.steps, weakref.ref(module), mode, caller_where()))
            tracer._train_depth += 1
            try:
                return orig(module, mode)
            finally:
                tracer._train_depth -= 1
        train.__wrapped__ = orig
        return train

    # ------------------------------------------------------------------ backward
    def _wrap_tensor_backward(self, orig):
        tracer = self

        def backward(self_t, *args, **kwargs):
            return tracer._backward(self_t, orig, (self_t,) + args, kwargs)
        backward.__wrapped__ = orig
        return backward

    def _wrap_autograd_backward(self, orig):
        tracer = self

        def backward(tensors, *args, **kwargs):
            t = tensors if isinstance(tensors, torch.Tensor) else \
                (tensors[0] if isinstance(tensors, (list, tuple)) and len(tensors) == 1 else None)
            return tracer._backward(t, orig, (tensors,) + args, kwargs)
        backward.__wrapped__ = orig
        return backward

    def _backward(self, loss, orig, args, kwargs):
        if self._in_backward or not self.active or self._in_step:
            return orig(*args, **kwargs)
        self._in_backward = True
        try:
            scalar = isinstance(loss, torch.Tensor) and loss.numel() == 1
            if scalar:
                value = loss.detach().reshape(())
                self.window_losses.append(value)
                if self.nonfinite is None and not bool(torch.isfinite(value)):
                    self._diagnose_nonfinite(loss, value)
                if self.capture is None:
                    self._record_backward(loss, value)
            pre = self._probes_before_backward()
            return orig(*args, **kwargs)
        finally:
            try:
                if self.active:
                    self._probes_after_backward(pre if "pre" in locals() else None)
            finally:
                self._in_backward = False

    def _record_backward(self, loss, value):
        calls = self._loss_trace.calls
        self._loss_trace.calls = []
        self._loss_trace.producers.clear()
        feeding = [c for c in calls if c.output is not None and c.output.numel() == 1]
        if feeding:
            targets = {c.output.grad_fn: c for c in feeding if c.output.grad_fn is not None}
            found = [c for c in feeding if c.output is loss]
            found += _reachable(loss.grad_fn, targets, exclude=found)
            feeding = found
        self.seq += 1
        self.backwards.append(Backward(self.seq, loss, value, feeding))
        if len(self.backwards) > MAX_WINDOW_CALLS:
            del self.backwards[0]

    # ------------------------------------------------------------------ grad probes
    def _probes_before_backward(self):
        pre = []
        if not self.probes:
            return pre
        reset = []
        for pr in self.probes:
            if not _same(pr.param, pr.ref, pr.ver) and pr.param.grad is not None:
                reset.append(pr)
            elif pr.param.grad is None and pr.ref is not None:
                self._zeroed(pr)
        if reset:
            nz = torch.stack([pr.param.grad.ne(0).any() for pr in reset]).tolist()
            for pr, nonzero in zip(reset, nz):
                if not nonzero:
                    self._zeroed(pr)
        for pr in self.probes:
            pr.ref, pr.ver = _state(pr.param)
            pre.append((pr.ref, pr.ver))
        return pre

    def _zeroed(self, pr):
        if pr.contrib and self._cur is not None:
            self._cur.discarded = True  # noted on the record being built for the next step
        pr.held_since_step = pr.carry = pr.contrib = False
        pr.ref, pr.ver = _state(pr.param)

    def _probes_after_backward(self, pre):
        if not pre:
            return
        for pr, (ref, ver) in zip(self.probes, pre):
            g = pr.param.grad
            if g is not None and not _same(pr.param, ref, ver):
                if pr.held_since_step:
                    pr.carry = True
                    pr.held_since_step = False
                pr.contrib = True
            pr.ref, pr.ver = _state(pr.param)

    # ------------------------------------------------------------------ optimizer steps
    def _pre_step(self, opt, args, kwargs):
        if not self.active:
            return None
        kwargs = kwargs or {}
        closure, positional = kwargs.get("closure"), False
        if closure is None and len(args) > 1 and callable(args[1]):  # args[0] is the optimizer itself
            closure, positional = args[1], True
        if closure is None:
            self._before_update(opt)
            return None
        # opt.step(closure): the forward and backward run inside the step; look after the first call
        tracer, seen = self, []

        def traced_closure(*a, **kw):
            if seen:  # later calls (LBFGS re-evaluates) belong to the optimizer's own step
                tracer._in_step = True
                try:
                    return closure(*a, **kw)
                finally:
                    tracer._in_step = False
            out = closure(*a, **kw)
            seen.append(True)
            tracer._before_update(opt)
            return out
        if positional:
            return (args[0], traced_closure) + tuple(args[2:]), kwargs
        return tuple(args), dict(kwargs, closure=traced_closure)

    def _before_update(self, opt):
        if not self.active:
            return
        if self.primary is None:
            self.primary = opt
        if opt is not self.primary and self.capture is not None and \
                {id(p) for g in opt.param_groups for p in g["params"]} == self.capture["held"]:
            self.primary = self.capture["optimizer"] = opt  # the script rebuilt its optimizer: follow the new one
        if opt is not self.primary:
            self.other_optimizers.add(id(opt))
            self.other_opt_params.update(id(p) for g in opt.param_groups for p in g["params"])
            for pr in self.probes:  # what was backpropagated so far fed that optimizer's step
                pr.contrib = False
            return
        self.depth = 0
        step = self.steps + 1
        if step == 1:
            try:
                self._capture(opt)
            except Exception as e:  # never break the user's run: report it instead
                self.capture_error = f"{type(e).__name__}: {e}"
            self._stop_recorder()
            self._loss_trace.calls = []
            self._loss_trace.producers.clear()
            for b in self.backwards:
                b.loss = None
        rec = self._cur or StepRecord(step, [], True, [], 0, None)
        rec.step = step
        rec.lrs = [float(g["lr"]) for g in opt.param_groups]
        model = self.capture["model"] if self.capture else None
        if model is not None:
            rec.model_training = model.training
            rec.eval_sensitive = [n for n, m in self._sensitive if not m.training]
            for p in model.parameters():
                if p.grad is not None:
                    self.ever_grad.add(id(p))
        rec.backwards = len(self.window_losses)
        if self.window_losses:
            rec.loss = float(torch.stack([v.float() for v in self.window_losses]).mean())
        # grads zeroed after this window's backward passes, before the step?
        contrib = [pr for pr in self.probes if pr.contrib]
        if contrib:
            gs = [pr.param.grad for pr in contrib]
            if all(g is None for g in gs) or not any(
                    torch.stack([g.ne(0).any() for g in gs if g is not None]).tolist()):
                rec.zeroed = True
        elif self.probes and rec.backwards:
            if all(pr.param.grad is None for pr in self.probes):
                rec.zeroed = True
        rec.carried = any(pr.carry for pr in self.probes)
        self._cur = rec

    def _post_step(self, opt, args, kwargs):
        if not self.active or opt is not self.primary or self._cur is None:
            return
        self.records.append(self._cur)
        self.steps += 1
        self._cur = StepRecord(self.steps + 1, [], True, [], 0, None)
        self.window_losses = []
        self.calls = [c for c in self.calls[-2:]] if self.capture is None else self.calls[-1:]
        for pr in self.probes:
            pr.ref, pr.ver = _state(pr.param)
            pr.held_since_step = pr.param.grad is not None
            pr.carry = pr.contrib = False
        if self.steps >= self.max_steps:
            self.finish()
            if not self.keep_going:
                raise StopTrace()

    # ------------------------------------------------------------------ capture at step 1
    def _capture(self, opt):
        held = {id(p) for g in opt.param_groups for p in g["params"]}
        cands = [c for c in self.calls if any(id(p) in held for p in c.module.parameters())]
        grad_cands = [c for c in cands if c.grad_enabled] or cands
        cap: Dict[str, Any] = {"optimizer": opt, "held": held}
        # every top-level module with parameters called since the last step
        cap["modules"] = list({id(c.module): c.module for c in self.calls}.values())
        # probes: optimizer-held parameters with a gradient, spread across the model
        withgrad = [p for g in opt.param_groups for p in g["params"] if p.grad is not None]
        if not withgrad and self.window_losses:  # backward ran, yet no grad at the step: follow them all
            withgrad = [p for g in opt.param_groups for p in g["params"] if p.requires_grad]
        if len(withgrad) > MAX_PROBES:
            idx = [round(i * (len(withgrad) - 1) / (MAX_PROBES - 1)) for i in range(MAX_PROBES)]
            withgrad = [withgrad[i] for i in sorted(set(idx))]
        self.probes = [_Probe(p) for p in withgrad]
        for pr in self.probes:
            pr.ref, pr.ver = _state(pr.param)
            pr.contrib = True
        if not grad_cands:
            cap["model"] = None
            self.capture = cap
            return
        # the module with the most optimizer-held parameters; its latest call with grad on
        def overlap(c):
            return sum(p.numel() for p in c.module.parameters() if id(p) in held)
        best = max(grad_cands, key=overlap).module
        call = [c for c in grad_cands if c.module is best][-1]
        cap["model"] = best
        cap["call"] = call
        cap["training_at_step1"] = best.training
        snap = copy.deepcopy(best)
        for p in snap.parameters():
            p.grad = None
        if call.buffers is not None:  # undo what this forward did to running stats
            with torch.no_grad():
                for b, old in zip(snap.buffers(), call.buffers):
                    if b.shape == old.shape:
                        b.copy_(old)
        cap["snapshot"] = snap
        cap["args"] = _clone_tree(call.args)
        cap["kwargs"] = _clone_tree(call.kwargs)
        cap["output"] = call.output
        bw = [b for b in self.backwards if b.seq > call.seq]
        cap["backward"] = bw[-1] if bw else (self.backwards[-1] if self.backwards else None)
        cap["loss_match"] = _match_loss(call, cap["backward"])
        cap["lrs"] = [float(g.get("initial_lr", g["lr"])) or float(g["lr"]) for g in opt.param_groups]
        cap["device"] = next(best.parameters()).device
        index = {id(p): i for i, p in enumerate(best.parameters())}
        cap["opt_type"], cap["opt_defaults"] = type(opt), dict(opt.defaults)
        cap["opt_groups"] = [({k: v for k, v in g.items() if k not in ("params", "initial_lr")}
                              | {"lr": float(g.get("initial_lr") or g["lr"])},
                              [index[id(p)] for p in g["params"] if id(p) in index]) for g in opt.param_groups]
        self._sensitive = [(n or type(best).__name__, m) for n, m in best.named_modules() if mode_sensitive(m)]
        cap["names"] = {id(p): n for n, p in best.named_parameters()}
        # parameters of any top-level module with a gradient at the first step
        cap["graded"] = []
        for m in cap["modules"]:
            prefix = "" if m is best else type(m).__name__ + "."
            names = cap["names"] if m is best else {id(p): prefix + n for n, p in m.named_parameters()}
            for p in m.parameters():
                if p.grad is not None and p.requires_grad:
                    cap["graded"].append((names.get(id(p), "?"), p))
        self.capture = cap
    # ------------------------------------------------------------------ non-finite loss
    def _diagnose_nonfinite(self, loss, value):
        info: Dict[str, Any] = {"step": self.steps + 1, "value": float(value)}
        self.nonfinite = info
        try:
            cands = [c for c in self.calls if c.grad_enabled]
            model = self.capture["model"] if self.capture and self.capture.get("model") is not None else None
            call = None
            for c in reversed(cands):
                if model is None or c.module is model:
                    call = c
                    break
            if call is None:
                return
            info["model"] = type(call.module).__name__
            bad_in = [n for n, t in [*named_leaves(call.args, "args"), *named_leaves(call.kwargs, "kwargs")]
                      if t.is_floating_point() and not bool(torch.isfinite(t).all())]
            if bad_in:
                info["bad_inputs"] = bad_in
            first, out_ok = first_nonfinite_module(call.module, call.args, call.kwargs)
            info["first_module"] = first
            info["outputs_finite"] = out_ok
            if out_ok:
                stop = {t.grad_fn for t in leaves(call.output) if t.grad_fn is not None}
                info["loss_ops"] = _loss_side_suspects(loss.grad_fn, stop)
        except Exception as e:  # diagnosis is best effort
            info["diagnosis_error"] = f"{type(e).__name__}: {e}"

    # ------------------------------------------------------------------ end
    def finish(self) -> None:
        """Stop recording; compare the parameters now with the snapshot taken before step 1."""
        if not self.active:
            return
        self.active = False
        if self._recorder is not None:
            self._recorder.on = False
        cap = self.capture
        if not cap or cap.get("model") is None:
            return
        model, snap = cap["model"], cap["snapshot"]
        snap_params = dict(snap.named_parameters())
        unchanged, changed = [], []
        with torch.no_grad():
            for n, p in model.named_parameters():
                s = snap_params.get(n)
                if s is None or s.shape != p.shape:
                    continue
                (changed if not torch.equal(s.to(p.device), p) else unchanged).append((n, p))
        self.final = {"unchanged": unchanged, "changed": changed}


def _clone_tree(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().clone()
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_clone_tree(o) for o in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_clone_tree(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _clone_tree(v) for k, v in obj.items()}
    if hasattr(obj, "items") and hasattr(obj, "keys"):
        try:
            return type(obj)({k: _clone_tree(v) for k, v in obj.items()})
        except Exception:
            return {k: _clone_tree(v) for k, v in obj.items()}
    return obj


def _reachable(root, targets: Dict[Any, LossCall], exclude=()) -> List[LossCall]:
    """The loss calls whose output node is reachable from `root` in the autograd graph."""
    found: List[LossCall] = []
    if root is None or not targets:
        return found
    seen, stack, n = set(), [root], 0
    left = dict(targets)
    while stack and left and n < MAX_GRAPH_NODES:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        n += 1
        if node in left:
            c = left.pop(node)
            if c not in exclude:
                found.append(c)
            continue
        stack.extend(f for f, _ in node.next_functions)
    return found


# Where the prediction goes into a loss call: tried in order, each must reproduce the input exactly.
def _t_same(o, shape):
    return o


def _t_flatten(o, shape):
    return o.reshape(-1, *shape[1:]) if len(shape) else o.reshape(())


def _t_classdim(o, shape):
    return o.movedim(-1, 1) if o.dim() >= 3 else None


def _t_shift_flatten(o, shape):
    return o[:, :-1].reshape(-1, *shape[1:]) if o.dim() >= 2 and len(shape) else None


TRANSFORMS = {"same": _t_same, "flatten": _t_flatten, "classdim": _t_classdim, "shift-flatten": _t_shift_flatten}


def _match_loss(call: TopCall, bw: Optional[Backward]) -> Optional[Dict[str, Any]]:
    """Link the backpropagated loss to the model's output: which loss call, which output leaf,
    which reshape. None when the loss is not a torch loss call on the model's output."""
    if bw is None:
        return None
    outs = leaves(call.output)
    # the model computed its own loss: the backpropagated loss is one of its outputs
    for i, o in enumerate(outs):
        if o is bw.loss and o.numel() == 1:
            return {"kind": "model-output", "leaf": i, "value": float(bw.value)}
    for lc in bw.loss_calls:
        inp = lc.input
        if not isinstance(inp, torch.Tensor):
            continue
        for i, o in enumerate(outs):
            if o.device != inp.device:
                continue
            for name, fn in TRANSFORMS.items():
                try:
                    y = fn(o, tuple(inp.shape))
                except Exception:
                    continue
                if y is None or tuple(y.shape) != tuple(inp.shape):
                    continue
                if y is inp or torch.equal(y.to(inp.dtype), inp):
                    return {"kind": lc.kind, "call": lc, "leaf": i, "transform": name,
                            "input_shape": tuple(inp.shape), "args": _clone_tree(lc.args),
                            "value": float(lc.output.detach()), "total": float(bw.value),
                            "n_calls": len(bw.loss_calls)}
    return {"kind": "unknown", "seen": sorted({c.kind for c in bw.loss_calls})}


def first_nonfinite_module(model: nn.Module, args, kwargs):
    """Re-run one forward on a copy; return (name of the first module whose output is non-finite,
    whether the final output is finite). RNG state is put back so the user's run is unchanged."""
    m = copy.deepcopy(model)
    names = {mod: (n or type(m).__name__) for n, mod in m.named_modules()}
    hit: List[str] = []

    def hook(mod, inp, out):
        if hit:
            return
        for t in leaves(out):
            if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                hit.append(f"{names.get(mod, '?')} ({type(mod).__name__})")
                return
    hs = [mod.register_forward_hook(hook) for mod in m.modules()]
    try:
        with preserved_rng(), torch.no_grad():
            out = m(*args, **kwargs)
    finally:
        for h in hs:
            h.remove()
    ok = all(bool(torch.isfinite(t).all()) for t in leaves(out) if t.is_floating_point())
    return (hit[0] if hit else None), ok


# Ops between the model's output and the loss that make inf/nan from finite values.
_SUSPECTS = {"LogBackward0": ("_saved_self", "log of {what}"),
             "Log2Backward0": ("_saved_self", "log2 of {what}"),
             "Log10Backward0": ("_saved_self", "log10 of {what}"),
             "DivBackward0": ("_saved_other", "division by {what}"),
             "SqrtBackward0": ("_saved_result", "sqrt of {what}"),
             "PowBackward0": ("_saved_self", "pow of {what}")}


def _loss_side_suspects(root, stop) -> List[str]:
    """Walk the loss's autograd graph back to the model's output; name ops fed zeros/negatives."""
    out, seen, stack, n = [], set(), [root], 0
    while stack and n < MAX_GRAPH_NODES:
        node = stack.pop()
        if node is None or node in seen or node in stop:
            continue
        seen.add(node)
        n += 1
        name = type(node).__name__
        if name in _SUSPECTS:
            attr, text = _SUSPECTS[name]
            try:
                t = getattr(node, attr)
            except Exception:
                t = None
            if isinstance(t, torch.Tensor) and t.is_floating_point():
                if name.startswith("Log") and bool((t <= 0).any()):
                    out.append(text.format(what=f"{int((t == 0).sum())} zeros / {int((t < 0).sum())} negatives"))
                elif name == "DivBackward0" and bool((t == 0).any()):
                    out.append(text.format(what=f"zero ({int((t == 0).sum())} elements)"))
                elif not bool(torch.isfinite(t).all()):
                    out.append(text.format(what="non-finite values"))
            else:
                out.append(name.replace("Backward0", "").lower())
        stack.extend(f for f, _ in node.next_functions)
    return out
