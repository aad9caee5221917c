"""The recorder behind `ml-debug trace`: global hooks that watch a user's training script run.

While the script runs in-process we hold, and remove in `close()`:
  - global module forward pre/post hooks: which top-level modules run, with which inputs,
    in which mode (a top-level call is one made while no other module's forward is running);
  - wrappers on `torch.Tensor.backward` / `torch.autograd.backward`: the loss that is
    backpropagated, how many backward passes each step gets, and what they did to the grads;
  - global optimizer step pre/post hooks: step count, the LR each step used, the grads it saw;
  - a wrapper on `nn.Module.train` (so `eval()` too): who switched the model's mode, and when;
  - a TorchFunctionMode, until the first step is captured: the torch loss calls and their inputs;
  - wrappers on `DataLoader.__iter__` and the loader iterators' `__next__`: every DataLoader the
    script iterates (its Dataset, length, epochs, a clone of its first batch) and whether its
    batches reach the model with grad on in train mode (training) or not (evaluation).

At the first step of the first optimizer that steps, capture.py captures the model (a deep
copy taken before its first update), its last forward's inputs, and the loss call behind the
loss, so the doctor's checks can run on copies afterwards (trace_target.py). After `steps` steps we stop the script by
raising `StopTrace` (a BaseException, so a user's `except Exception` does not swallow it).
"""
from __future__ import annotations

import os
import sys
import weakref
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import torch
import torch.nn as nn
import torch.optim.optimizer as optim_mod
from torch.nn.modules import module as module_mod

from torch.utils.data import dataloader as dataloader_mod

from .lossterms import weigh
from .phases import Structure
from .replay import Tape
from .replay import build as build_replay
from .capture import _loss_side_suspects, _reachable, capture_first_step, first_nonfinite_module
from .losscapture import LossCall, LossTrace, _Recorder
from .pipeline import PipelineLog
from .tensors import leaves, named_leaves
from .unwrap import changed_since, local

MAX_WINDOW_CALLS = 32    # top-level module calls remembered between two steps
HAND_PROBES = 8          # parameters watched for updates by hand between backward passes (no optimizer)
HAND_SLICE = 256         # elements of each compared
KEEP_WINDOWS = 4         # backward passes before the first step whose loss, loss calls and outputs are kept (GAN
#                          halves and a few micro-batches fit; older ones are dropped: bounded memory without a step)
MAX_RECORDS = 100_000    # step records kept; past this, every other unflagged record of the older half goes
MAX_MODE_CHANGES = 1024  # mode switches kept (the first ones: they explain the first eval-mode step)
MAX_LOADERS = 32         # DataLoaders recorded (a script that builds one per step keeps the first ones)
MAX_TARGET_CLONE = 2**22      # elements: a loss call's target is copied when made, up to this size (labels, not images)
MAX_BATCH_CLONE = 64 * 2**20  # bytes: a loader's first batch is kept (cloned) only up to this size
_TORCH_DIR = os.path.dirname(torch.__file__)
_PKG_DIR = os.path.dirname(os.path.abspath(__file__))

MODE_SENSITIVE = (nn.modules.dropout._DropoutNd, nn.modules.batchnorm._BatchNorm, nn.MultiheadAttention,
                  nn.modules.instancenorm._InstanceNorm)


_ABSENT = object()


_NONE: list = []   # shared empty list (most steps have no eval-mode submodule)


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
    tape: Any = None                  # replay.Call list since the previous backward (newest backward only)


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
    held_no_grad: bool = False      # none of the optimizer's parameters had a gradient (frozen / not in the loss)
    phase: int = 1                  # the phase (phases.py) this step belongs to


@dataclass
class Epoch:
    start_step: int                 # optimizer steps completed when this pass over the loader began
    batches: int = 0                # batches it yielded


@dataclass
class LoaderRecord:
    """One DataLoader the script iterated (tracer.loaders, in the order first iterated)."""
    index: int
    loader: Any                     # weakref.ref to the DataLoader
    dataset: Any                    # its Dataset (the loader holds it anyway)
    length: Optional[int]           # len(loader): batches per epoch, when the loader knows it
    batch_size: Optional[int]
    sampler: str                    # type name of its sampler ("RandomSampler", "DistributedSampler", ...)
    where: str                      # the code that first iterated it: 'train (train.py:41)'
    epochs: List[Epoch] = field(default_factory=list)
    train_batches: int = 0          # batches followed by a top-level forward with grad on, in train mode
    eval_batches: int = 0           # batches followed by a top-level forward under no_grad or in eval mode
    first_batch: Any = None         # a clone of the first batch it yielded (None if over MAX_BATCH_CLONE)

    @property
    def role(self) -> Optional[str]:
        """'train', 'eval', 'both', or None when none of its batches reached the model."""
        if self.train_batches and self.eval_batches:
            return "both"
        return "train" if self.train_batches else "eval" if self.eval_batches else None


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
        self.tape = None   # replay.Tape: calls outside modules, for a hand-written loss (until step 1)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if not self.on:
            return func(*args, **(kwargs or {}))
        n = len(self.trace.calls)
        out = super().__torch_function__(func, types, args, kwargs)
        if len(self.trace.calls) > n:   # a loss call: keep its target as it is now (a GAN refills one label tensor)
            t = self.trace.calls[-1].args.get("target")
            if isinstance(t, torch.Tensor) and t.numel() <= MAX_TARGET_CLONE:
                self.trace.calls[-1].args["target"] = t.detach().clone()
        if self.tape is not None:
            self.tape.add(func, args, kwargs, out)
        return out


class Tracer:
    def __init__(self, steps: Optional[int] = 50, script: Optional[str] = None):
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
        self._bw_norms: List[torch.Tensor] = []   # per backward since the last step: norms of the grads it wrote
        self._in_step = False
        self._train_depth = 0
        self._loss_trace = LossTrace()
        self._recorder: Optional[_LossRecorder] = None
        self._cur: Optional[StepRecord] = None
        self._sensitive: List[tuple] = []
        self._pre_buffers = None
        self.thinned = False            # records were thinned (over MAX_RECORDS steps)
        self.loaders: List[LoaderRecord] = []
        self.observers: List[Any] = []  # extra recorders (ranks.py), told of each step and loader pass
        self._last_loader: Optional[LoaderRecord] = None   # yielded a batch no forward has used yet
        self._last_batch: Any = None    # that batch
        self.pipeline = PipelineLog()   # evaluation vs training batches, predictions (pipeline.py)
        self.struct = Structure(self)   # phases: model / optimizer / scheduler changes (phases.py)
        self._tape: Optional[Tape] = None
        self.loss_terms: list = []      # lossterms.Term of the last backward before step 1
        self._window_tops: Dict[int, nn.Module] = {}       # top-level modules run with grad since the last step
        self.hand_opt = None            # a plain SGD standing for a loop that updates parameters by hand
        self.hand_updates = 0           # updates by hand seen (parameters changed between backward passes)
        self.hand_lr: Optional[float] = None   # the LR measured from the first update by hand
        self._hand_ref = None

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
        self._patch(dataloader_mod.DataLoader, "__iter__", self._wrap_loader_iter(dataloader_mod.DataLoader.__iter__))
        base_iter = dataloader_mod._BaseDataLoaderIter
        self._patch(base_iter, "__next__", self._wrap_loader_next(base_iter.__next__))
        self.struct.install(self._patch)
        self._recorder = _LossRecorder(self._loss_trace)
        self._recorder.tape = self._tape = Tape(self)
        self._recorder.__enter__()

    def close(self) -> None:
        self.active = False
        for h in self._handles:
            h.remove()
        self._handles.clear()
        for owner, name, orig in reversed(self._patched):
            if orig is _ABSENT:   # the attribute was inherited: remove ours, the base's shows again
                delattr(owner, name)
            else:
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
        self._patched.append((owner, name, owner.__dict__[name] if name in owner.__dict__ else _ABSENT))
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
        if self.capture is None and self._tape is not None:
            self._tape.add_module(module, args, kwargs, output)
        if not _has_params(module):
            return
        if torch.is_grad_enabled():
            self._window_tops[id(module)] = module
        if self._last_loader is not None:  # the first forward after a batch tells what the batch is for
            training = torch.is_grad_enabled() and module.training
            if training:
                self._last_loader.train_batches += 1
            else:
                self._last_loader.eval_batches += 1
            try:   # inputs, labels and predictions for split-consistency (pipeline.py)
                self.pipeline.on_batch(self._last_loader, self._last_batch, output, training, self.steps)
            except Exception:  # recording must never break the user's loop
                pass
            self._last_loader = self._last_batch = None
        if self.capture is not None and module is not self.capture["model"]:
            return
        self.seq += 1
        self.calls.append(TopCall(self.seq, module, args, dict(kwargs or {}), output,
                                  torch.is_grad_enabled(), module.training,
                                  self._pre_buffers if self.capture is None else None))
        self._pre_buffers = None
        if len(self.calls) > MAX_WINDOW_CALLS:
            del self.calls[0]
        if self.capture is not None:   # bounded memory: after the capture no older output (and its graph) is kept
            for c in self.calls[:-1]:
                c.output = None

    # ------------------------------------------------------------------ data loaders
    def _wrap_loader_iter(self, orig):
        tracer = self

        def __iter__(loader):
            it = orig(loader)
            if tracer.active:
                try:
                    rec = tracer._loader_record(loader)
                    if rec is not None:
                        rec.epochs.append(Epoch(tracer.steps))
                        it._mldebug_loader = rec
                        for o in tracer.observers:
                            o.loader_pass(tracer, rec, loader)
                except Exception:  # recording must never break the user's loop
                    pass
            return it
        __iter__.__wrapped__ = orig
        return __iter__

    def _loader_record(self, loader) -> Optional[LoaderRecord]:
        for rec in self.loaders:
            if rec.loader() is loader:
                return rec
        if len(self.loaders) >= MAX_LOADERS:
            return None
        try:
            length = len(loader)
        except TypeError:  # an IterableDataset without __len__
            length = None
        rec = LoaderRecord(len(self.loaders), weakref.ref(loader), loader.dataset, length,
                           loader.batch_size, type(loader.sampler).__name__, caller_where())
        self.loaders.append(rec)
        return rec

    def _wrap_loader_next(self, orig):
        tracer = self

        def __next__(it):
            batch = orig(it)
            rec = getattr(it, "_mldebug_loader", None)
            if rec is not None and tracer.active:
                if rec.epochs:
                    rec.epochs[-1].batches += 1
                if rec.first_batch is None and sum(e.batches for e in rec.epochs) == 1:
                    ts = leaves(batch)
                    if sum(t.numel() * t.element_size() for t in ts) <= MAX_BATCH_CLONE:
                        from .capture import _clone_tree
                        rec.first_batch = _clone_tree(batch)
                tracer._last_loader = rec
                tracer._last_batch = batch
            return batch
        __next__.__wrapped__ = orig
        return __next__

    # ------------------------------------------------------------------ mode switches
    def _wrap_train(self, orig):
        tracer = self

        def train(module, mode=True):
            if tracer._train_depth == 0 and tracer.active and isinstance(mode, bool) and _has_params(module):
                if module.training != mode or any(m.training != mode for m in module.children()):
                    if len(tracer.mode_changes) < MAX_MODE_CHANGES:
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
        hand = self.primary is None or self.primary is self.hand_opt
        if hand:
            self._hand_update()   # parameters changed by hand since the last backward: a step (may stop the script)
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
                if hand and self.active and (self.primary is None or self.primary is self.hand_opt):
                    self._hand_reference()

    # ------------------------------------------------------------------ parameters updated by hand
    def _hand_reference(self) -> None:
        """After a backward with no optimizer in charge: remember a slice of a few parameters with a gradient
        (and of their gradients), to see at the next backward whether the script changed them by hand; once
        it has, this backward's update is a step (of `hand_opt`, a plain SGD standing for the script's loop)."""
        if self.hand_opt is not None:
            self._before_update(self.hand_opt)
        params = []
        models = [self.capture["model"]] if self.capture and self.capture.get("model") is not None else \
            list(self._window_tops.values())
        for m in models:
            for p in m.parameters():
                if p.grad is not None and p.requires_grad and p.numel() > 0:
                    params.append(p)
        if len(params) > HAND_PROBES:
            params = [params[round(i * (len(params) - 1) / (HAND_PROBES - 1))] for i in range(HAND_PROBES)]
        with torch.no_grad():
            self._hand_ref = [(p, p.detach().reshape(-1)[:HAND_SLICE].clone(),
                               p.grad.detach().reshape(-1)[:HAND_SLICE].clone()) for p in params]

    def _hand_update(self) -> None:
        ref = self._hand_ref
        if not ref:
            return
        self._hand_ref = None
        with torch.no_grad():
            moved = [(p, v, g) for p, v, g in ref if not torch.equal(p.detach().reshape(-1)[:HAND_SLICE], v)]
            if not moved:
                return
            self.hand_updates += 1
            if self.hand_opt is None:
                num = sum(float(((p.detach().reshape(-1)[:HAND_SLICE] - v) * g).sum()) for p, v, g in moved)
                den = sum(float((g * g).sum()) for _, _, g in moved)
                lr = max(-num / den, 0.0) if den > 0 else 0.0
                params = [p for m in self._window_tops.values() for p in m.parameters() if p.requires_grad]
                params = list({id(p): p for p in params}.values())
                # recorded like the script's own optimizer (phases.py), so its parameters count as held
                self.hand_opt = torch.optim.SGD(params, lr=lr or 1e-3)
                self.hand_lr = lr
                return
        if self.primary is self.hand_opt and self._cur is not None:
            self._post_step(self.hand_opt, (), {})

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
        tape = self._tape.take() if self._tape is not None else []
        if loss.requires_grad:
            rec, on = self._recorder, self._recorder.on if self._recorder is not None else False
            if rec is not None:
                rec.on = False
            try:
                self.loss_terms = weigh(loss, feeding, tape)
            finally:
                if rec is not None:
                    rec.on = on
        for b in self.backwards:   # only the newest backward keeps its calls (the one captured)
            b.tape = None
        self.backwards.append(Backward(self.seq, loss, value, feeding, tape))
        if len(self.backwards) > MAX_WINDOW_CALLS:
            del self.backwards[0]
        if len(self.backwards) > KEEP_WINDOWS:
            # bounded memory while no optimizer has stepped (a loop that updates by hand never does): only the
            # newest KEEP_WINDOWS backward passes keep their loss, loss calls and the model outputs before them
            cut = self.backwards[-KEEP_WINDOWS - 1].seq
            for b in self.backwards[:-KEEP_WINDOWS]:
                b.loss, b.loss_calls = None, []
            for c in self.calls:
                if c.seq < cut:
                    c.output = None

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
            nz = torch.stack([local(pr.param.grad).ne(0).any() for pr in reset]).tolist()
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
        written = []
        for pr, (ref, ver) in zip(self.probes, pre):
            g = pr.param.grad
            if g is not None and not _same(pr.param, ref, ver):
                if pr.held_since_step:
                    pr.carry = True
                    pr.held_since_step = False
                pr.contrib = True
                written.append(local(g))  # this rank's shard of an FSDP2 gradient: no collective
            pr.ref, pr.ver = _state(pr.param)
        if written and len(self._bw_norms) < MAX_WINDOW_CALLS:
            with torch.no_grad():   # what this backward wrote; read only if the step later sees zeros (no sync)
                try:
                    self._bw_norms.append(torch.stack([n.float() for n in torch._foreach_norm(written)]))
                except Exception:
                    self._bw_norms.append(torch.stack([g.abs().amax().float() for g in written]))

    def _bw_nonzero(self) -> bool:
        """Did a backward since the last step write a non-zero gradient into a probe?"""
        return not self._bw_norms or any(bool((n > 0).any()) for n in self._bw_norms)

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
        switched = False
        if opt is not self.primary and self.capture is not None and self._rebuilt(opt):
            self.struct.switch(self.primary, opt)  # the script rebuilt its optimizer: follow the new one
            self.primary = self.capture["optimizer"] = opt
            switched = True
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
            self.struct.first_step()
            if self._tape is not None:
                self._tape.on = False
            self._stop_recorder()
            self._build_replay()
            self._loss_trace.calls = []
            self._loss_trace.producers.clear()
            for b in self.backwards:
                b.loss = b.tape = None
            self._tape = None
        rec = self._cur or StepRecord(step, [], True, [], 0, None)
        rec.step = step
        rec.lrs = [float(g["lr"]) for g in opt.param_groups]
        model = self.capture["model"] if self.capture else None
        if model is not None:
            rec.model_training = model.training
            rec.eval_sensitive = [n for n, m in self._sensitive if not m.training] or _NONE
        rec.backwards = len(self.window_losses)
        if self.window_losses:
            rec.loss = float(torch.stack([v.float() for v in self.window_losses]).mean())
        # grads zeroed after this window's backward passes, before the step?
        # (only when something touched them after the backward: zero_grad, clipping, unscaling)
        contrib = [pr for pr in self.probes if pr.contrib]
        if contrib and not all(_same(pr.param, pr.ref, pr.ver) for pr in contrib):
            gs = [pr.param.grad for pr in contrib]
            if all(g is None for g in gs):
                rec.zeroed = True
            elif not any(torch.stack([local(g).ne(0).any() for g in gs if g is not None]).tolist()) \
                    and self._bw_nonzero():
                rec.zeroed = True   # the backward made non-zero gradients; the step saw zeros
        rec.carried = any(pr.carry for pr in self.probes)
        if model is not None:
            self.struct.at_step(opt, rec, switched)   # phases, parameters no optimizer holds
        self._cur = rec
        for o in self.observers:
            o.before_update(self, opt)

    def _build_replay(self) -> None:
        """A replayable hand-written loss (replay.py), when the loss is no torch loss call on the output."""
        cap = self.capture
        if not cap or cap.get("model") is None or cap.get("backward") is None:
            return
        if (cap.get("loss_match") or {}).get("kind") == "model-output":
            return
        try:
            rep, why = build_replay(cap["call"], cap["backward"], cap["backward"].tape or [], cap["model"])
        except Exception as e:  # never break the user's run
            rep, why = None, f"building the replay raised {type(e).__name__}: {e}"
        cap["replay"], cap["replay_why"] = rep, why

    def _thin(self) -> None:
        """Bounded memory over long runs: drop every other record of the older half, keeping those
        that flag something (eval mode, carried/zeroed/discarded gradients, no gradient)."""
        half = len(self.records) // 2
        old = self.records[:half]
        keep = [r for i, r in enumerate(old) if i % 2 == 0 or not r.model_training or r.eval_sensitive or r.carried
                or r.zeroed or r.discarded or r.held_no_grad or r.loss is None or r.loss != r.loss]
        self.records = keep + self.records[half:]
        self.thinned = True

    def _rebuilt(self, opt) -> bool:
        """Is `opt` a rebuild of the followed optimizer: the same parameters, or built after the
        first step over parameters of the followed model (a new phase: a new head, unfrozen layers)?"""
        if id(opt) in self.other_optimizers:
            return False
        ids = {id(p) for g in opt.param_groups for p in g["params"]}
        if ids == self.capture["held"]:
            return True
        r = self.struct.optimizers.get(opt)
        model = self.capture.get("model")
        if r is None or r.step < 1 or model is None:
            return False
        return any(id(p) in ids for p in model.parameters())

    def _post_step(self, opt, args, kwargs):
        if not self.active or opt is not self.primary or self._cur is None:
            return
        self.records.append(self._cur)
        if len(self.records) > MAX_RECORDS:
            self._thin()
        self.steps += 1
        self._cur = StepRecord(self.steps + 1, [], True, [], 0, None)
        self.window_losses = []
        self._bw_norms = []
        self.calls = [c for c in self.calls[-2:]] if self.capture is None else self.calls[-1:]
        for pr in self.probes:
            pr.ref, pr.ver = _state(pr.param)
            pr.held_since_step = pr.param.grad is not None
            pr.carry = pr.contrib = False
        for o in self.observers:
            o.after_step(self)
        if self.max_steps is not None and self.steps >= self.max_steps:
            self.finish()
            if not self.keep_going:
                raise StopTrace()

    # ------------------------------------------------------------------ capture at step 1
    def _capture(self, opt):
        capture_first_step(self, opt)

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
        unchanged, changed = changed_since(cap["model"], cap["snapshot"], cap.get("wrapped", {}).get("local"))
        self.final = {"unchanged": unchanged, "changed": changed}
