"""Phases of a traced run: what the script changed about the model and its optimizer, and where.

A run is not one step. Scripts pre-train and then replace the head, freeze a backbone, enlarge
an embedding, add an adapter, build a new optimizer. While tracing, `Structure` (installed by the
Tracer, removed in its close()) records these events with the line of user code that made them:

  - `nn.Module.__setattr__` / `add_module` with a Module value, `register_parameter`: a
    submodule or parameter added or replaced (`model.head = nn.Linear(...)`);
  - `nn.Module.requires_grad_` and `Tensor.requires_grad = ...` on a Parameter: freezing;
  - `Optimizer.__init__`, `Optimizer.add_param_group`: which optimizers exist and what they hold;
  - `LRScheduler.__init__` / `.step` (and the subclasses that override `step`): which schedulers
    exist, how often each is stepped per optimizer step, and from which line.

At every step of the followed optimizer (`at_step`) it compares the model's parameter list and
their `requires_grad` flags with the previous step's (one pass over a cached list; the list is
rebuilt only after a module or parameter assignment), and the set of parameters holding a
gradient. A change of the parameter list, of `requires_grad`, or of the followed optimizer starts
a new `Phase`, whose causes name the code that did it. Parameters that get a gradient while no
optimizer holds them are recorded (`not_held`) with the step, the phase and where they were made.
Memory stays bounded: events in a ring of MAX_EVENTS, at most MAX_PHASES phases.
"""
from __future__ import annotations

import copy
import os
import sys
import weakref
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import torch
import torch.nn as nn
import torch.optim.lr_scheduler as lrs
from torch.optim.optimizer import Optimizer

MAX_EVENTS = 512          # structural events remembered (a model's construction is a burst of them)
MAX_PHASES = 64           # phases recorded; later changes are folded into the last one
MAX_SCHEDULERS = 16       # LR schedulers recorded
MAX_SITES = 8             # distinct lines a scheduler's step() is called from
MAX_NOT_HELD = 256        # parameters-without-optimizer recorded
MAX_PROBES = 16           # as capture.MAX_PROBES: gradient probes spread over the held parameters
_TORCH_DIR = os.path.dirname(torch.__file__)
_PKG_DIR = os.path.dirname(os.path.abspath(__file__))
_RG = torch._C.TensorBase.__dict__["requires_grad"]   # the C descriptor: reads without our wrapper


def user_where(skip_self: Any = None) -> str:
    """'reset_head (train.py:120)': the innermost frame outside torch and ml-debug (and outside a
    method of `skip_self`, e.g. a user-defined optimizer's own __init__)."""
    f = sys._getframe(1)
    while f is not None:
        fn = f.f_code.co_filename
        if not (fn.startswith(_TORCH_DIR) or fn.startswith(_PKG_DIR) or fn.startswith("<")) and \
                (skip_self is None or f.f_locals.get("self") is not skip_self):
            name = getattr(f.f_code, "co_qualname", f.f_code.co_name)
            return f"{name} ({os.path.basename(fn)}:{f.f_lineno})"
        f = f.f_back
    return "?"


def _line(where: str) -> str:
    """'train.py:120' out of 'reset_head (train.py:120)'."""
    return where[where.rfind("(") + 1:-1] if where.endswith(")") and "(" in where else where


@dataclass
class Event:
    seq: int
    step: int                 # optimizer steps completed when it happened
    kind: str                 # "module" | "param" | "requires_grad" | "optimizer"
    where: str
    owner: Any = None         # weakref to the module the assignment / requires_grad_ was on
    name: str = ""            # attribute name
    obj: Any = None           # weakref to the new module / parameter / optimizer
    replaced: bool = False    # the attribute held a module before
    flag: Optional[bool] = None   # requires_grad value set


@dataclass
class Phase:
    index: int                # 1-based
    start_step: int           # its first optimizer step (1-based)
    causes: List[str] = field(default_factory=list)
    wheres: List[str] = field(default_factory=list)   # file:line of each cause, where known

    def why(self) -> str:
        return "; ".join(self.causes[:3]) or "the parameters that get gradients changed"

    def label(self) -> str:
        """'phase 2 from step 191 (after model.head (Linear) was replaced by reset_head (train.py:120))'."""
        if self.index == 1:
            return f"phase 1 from step {self.start_step}"
        return f"phase {self.index} from step {self.start_step} (after {self.why()})"


@dataclass
class OptRecord:
    seq: int
    step: int                 # optimizer steps completed (of the followed optimizer) when built
    where: str
    cls: str


@dataclass
class SchedRecord:
    index: int
    ref: Any                  # weakref to the scheduler
    cls: str
    where: str                # where it was built
    created_step: int
    optimizer: Any            # weakref to its optimizer
    params: Dict[str, Any] = field(default_factory=dict)   # step_size, gamma, milestones, T_max, ...
    calls: int = 0            # step() calls by the script (not the ones inside __init__)
    first_call_step: Optional[int] = None   # optimizer steps done at its first / last step() call
    last_call_step: Optional[int] = None
    sites: Dict[str, int] = field(default_factory=dict)    # 'where' of the step() calls -> count
    cls_obj: Any = None       # its class (to replay a copy)
    state: Optional[Dict[str, Any]] = None  # its __dict__ (minus the optimizer) before the first step()
    groups: Optional[List[Dict[str, Any]]] = None          # its optimizer's param-group settings then


@dataclass
class NotHeld:
    name: str
    shape: tuple
    numel: int
    step: int                 # first optimizer step at which it had a gradient and no optimizer held it
    phase: int
    created: Optional[str] = None   # where the parameter (or the module holding it) was made / assigned
    after_optimizer: Optional[str] = None   # where the followed optimizer was built, when that was earlier


_SCHED_PARAMS = ("step_size", "gamma", "milestones", "T_max", "eta_min", "total_steps", "max_lr", "total_iters",
                 "T_0", "T_mult", "start_factor", "end_factor", "power", "factor", "pct_start")


class Structure:
    """The structural events of a traced run, and the phases they make (see the module's doc)."""

    def __init__(self, tracer):
        self.tracer = tracer
        self.seq = 0
        self.version = 0                  # bumped by every module/parameter assignment
        self.events: deque = deque(maxlen=MAX_EVENTS)
        self.optimizers: "weakref.WeakKeyDictionary[Any, OptRecord]" = weakref.WeakKeyDictionary()
        self.held_version = 0             # bumped by optimizer creation and add_param_group
        self.schedulers: List[SchedRecord] = []
        self._sched_of: "weakref.WeakKeyDictionary[Any, SchedRecord]" = weakref.WeakKeyDictionary()
        self.phases: List[Phase] = []
        self.not_held: Dict[int, NotHeld] = {}
        self.opt_switches = 0
        self._in_init = 0                 # inside an optimizer / scheduler constructor
        self._in_sched_step = 0
        self._in_rg = 0
        self._tracked: Dict[int, nn.Module] = {}
        self._key = None                  # (version, tracked ids) the param cache was built for
        self._params: List[torch.Tensor] = []
        self._ids: tuple = ()
        self._names: Dict[int, str] = {}
        self._rg_state: Optional[tuple] = None
        self._grad_state: Optional[tuple] = None
        self._held_key = None
        self._held: set = set()
        self._held_graded = True
        self._last_seq = 0                # events up to here were explained by an earlier phase
        self._pending: List[str] = []     # causes noticed between steps (optimizer switch)
        self._pending_where: List[str] = []

    # ------------------------------------------------------------------ hooks
    def install(self, patch) -> None:
        """Install the wrappers with the Tracer's `patch(owner, name, new)` (it restores them)."""
        patch(nn.Module, "__setattr__", self._wrap_setattr(nn.Module.__setattr__))
        patch(nn.Module, "add_module", self._wrap_add_module(nn.Module.add_module))
        patch(nn.Module, "register_parameter", self._wrap_register_parameter(nn.Module.register_parameter))
        patch(nn.Module, "requires_grad_", self._wrap_module_rg(nn.Module.requires_grad_))
        patch(torch.Tensor, "requires_grad", self._rg_property())
        patch(Optimizer, "__init__", self._wrap_opt_init(Optimizer.__init__))
        patch(Optimizer, "add_param_group", self._wrap_add_group(Optimizer.add_param_group))
        patch(lrs.LRScheduler, "__init__", self._wrap_sched_init(lrs.LRScheduler.__init__))
        for cls in [lrs.LRScheduler, *_subclasses(lrs.LRScheduler)]:
            if "step" in cls.__dict__:
                patch(cls, "step", self._wrap_sched_step(cls.__dict__["step"]))

    def _event(self, kind, where, **kw) -> None:
        self.seq += 1
        self.events.append(Event(self.seq, self.tracer.steps, kind, where, **kw))

    def _wrap_setattr(self, orig):
        st = self

        def __setattr__(module, name, value):
            if isinstance(value, nn.Module) and st.tracer.active:
                st._module_set(module, name, value)
            return orig(module, name, value)
        __setattr__.__wrapped__ = orig
        return __setattr__

    def _wrap_add_module(self, orig):
        st = self

        def add_module(module, name, value):
            if isinstance(value, nn.Module) and st.tracer.active:
                st._module_set(module, name, value)
            return orig(module, name, value)
        add_module.__wrapped__ = orig
        return add_module

    def _module_set(self, owner, name, value) -> None:
        try:
            old = owner.__dict__.get("_modules", {}).get(name)
            if old is value:
                return
            self.version += 1
            self._event("module", user_where(), owner=weakref.ref(owner), name=str(name), obj=weakref.ref(value),
                        replaced=old is not None)
        except Exception:  # recording must never break the user's code
            pass

    def _wrap_register_parameter(self, orig):
        st = self

        def register_parameter(module, name, param):
            if st.tracer.active and param is not None:
                try:
                    st.version += 1
                    st._event("param", user_where(), owner=weakref.ref(module), name=str(name),
                              obj=weakref.ref(param), replaced=module.__dict__.get("_parameters", {}).get(name)
                              is not None)
                except Exception:
                    pass
            return orig(module, name, param)
        register_parameter.__wrapped__ = orig
        return register_parameter

    def _wrap_module_rg(self, orig):
        st = self

        def requires_grad_(module, requires_grad=True):
            if st.tracer.active and st._in_rg == 0:
                try:
                    st._event("requires_grad", user_where(), owner=weakref.ref(module), flag=bool(requires_grad))
                except Exception:
                    pass
            st._in_rg += 1
            try:
                return orig(module, requires_grad)
            finally:
                st._in_rg -= 1
        requires_grad_.__wrapped__ = orig
        return requires_grad_

    def _rg_property(self):
        """`Tensor.requires_grad` as a property whose setter notes flips of a Parameter's flag."""
        st = self
        get, set_ = _RG.__get__, _RG.__set__

        def setter(t, value):
            if st._in_rg == 0 and st.tracer.active and isinstance(t, nn.Parameter):
                try:
                    if bool(get(t)) != bool(value):
                        st._event("requires_grad", user_where(), obj=weakref.ref(t), flag=bool(value))
                except Exception:
                    pass
            set_(t, value)
        return property(lambda t: get(t), setter, doc=_RG.__doc__)

    def _wrap_opt_init(self, orig):
        st = self

        def __init__(opt, *args, **kwargs):
            st._in_init += 1
            try:
                orig(opt, *args, **kwargs)
            finally:
                st._in_init -= 1
            if st.tracer.active:
                try:
                    st.seq += 1
                    st.held_version += 1
                    st.optimizers[opt] = OptRecord(st.seq, st.tracer.steps, user_where(skip_self=opt),
                                                   type(opt).__name__)
                except Exception:
                    pass
        __init__.__wrapped__ = orig
        return __init__

    def _wrap_add_group(self, orig):
        st = self

        def add_param_group(opt, param_group):
            st.held_version += 1
            return orig(opt, param_group)
        add_param_group.__wrapped__ = orig
        return add_param_group

    def _wrap_sched_init(self, orig):
        st = self

        def __init__(sched, *args, **kwargs):
            st._in_init += 1
            try:
                orig(sched, *args, **kwargs)
            finally:
                st._in_init -= 1
            if st.tracer.active and len(st.schedulers) < MAX_SCHEDULERS and sched not in st._sched_of:
                try:
                    params = {k: _plain(getattr(sched, k)) for k in _SCHED_PARAMS if hasattr(sched, k)}
                    params.update(_lambda_params(sched))
                    rec = SchedRecord(len(st.schedulers), weakref.ref(sched), type(sched).__name__,
                                      user_where(skip_self=sched), st.tracer.steps,
                                      weakref.ref(sched.optimizer), params, cls_obj=type(sched))
                    st.schedulers.append(rec)
                    st._sched_of[sched] = rec
                except Exception:
                    pass
        __init__.__wrapped__ = orig
        return __init__

    def _wrap_sched_step(self, orig):
        st = self

        def step(sched, *args, **kwargs):
            if st._in_sched_step or st._in_init or not st.tracer.active:
                return orig(sched, *args, **kwargs)
            rec = st._sched_of.get(sched)
            if rec is not None:
                try:
                    st._note_sched_step(rec, sched)
                except Exception:
                    pass
            st._in_sched_step += 1
            try:
                return orig(sched, *args, **kwargs)
            finally:
                st._in_sched_step -= 1
        step.__wrapped__ = orig
        return step

    def _note_sched_step(self, rec: SchedRecord, sched) -> None:
        if rec.calls == 0:
            rec.first_call_step = self.tracer.steps
            rec.state, rec.groups = _sched_state(sched)
        rec.calls += 1
        rec.last_call_step = self.tracer.steps
        if rec.calls <= 64 or len(rec.sites) < 1:  # the sites are known after the first calls
            w = user_where()
            if w in rec.sites or len(rec.sites) < MAX_SITES:
                rec.sites[w] = rec.sites.get(w, 0) + 1

    # ------------------------------------------------------------------ per step
    def track(self, module: nn.Module) -> None:
        """Follow this top-level module's parameters from now on."""
        if id(module) not in self._tracked:
            self._tracked[id(module)] = module

    def held_ids(self) -> set:
        """ids of every parameter some live optimizer holds (cached until an optimizer changes)."""
        key = (self.held_version, len(self.optimizers))
        if key != self._held_key:
            held = set()
            for opt in list(self.optimizers.keys()):
                for g in opt.param_groups:
                    held.update(id(p) for p in g["params"])
            self._held, self._held_key = held, key
        return self._held | self.tracer.other_opt_params

    def _refresh(self) -> bool:
        """Rebuild the parameter list after an assignment or a newly followed module; True if it changed."""
        key = (self.version, tuple(self._tracked))
        if key == self._key:
            return False
        self._key = key
        params, names, seen = [], {}, set()
        model = self.tracer.capture.get("model") if self.tracer.capture else None
        for m in self._tracked.values():
            prefix = "" if m is model else type(m).__name__ + "."
            for n, p in m.named_parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    params.append(p)
                    names[id(p)] = prefix + n
        self._params, self._names = params, names
        ids = tuple(id(p) for p in params)
        changed = ids != self._ids
        self._ids = ids
        return changed

    def at_step(self, opt, rec, switched: bool = False) -> None:
        """At the pre-step of the followed optimizer (after capture): phases, not-held parameters,
        ever-graded parameters, and whether the optimizer's parameters hold any gradient."""
        tr = self.tracer
        step = rec.step
        joined = [m for i, m in tr._window_tops.items() if i not in self._tracked]
        for m in joined:
            self.track(m)
        tr._window_tops.clear()
        structural = self._refresh()
        params = self._params
        rg = tuple(_RG.__get__(p) for p in params)
        graded = tuple(r and p.grad is not None for p, r in zip(params, rg))
        causes, wheres = [], []
        if not self.phases:
            self.phases.append(Phase(1, step))
            self._last_seq = self.seq
        else:
            if switched:
                causes += self._pending
                wheres += self._pending_where
            if structural:
                c, w = self._module_causes()
                if joined and not c:
                    c = [f"{type(m).__name__} (a module not run with gradients before) joined the training "
                         "forward" for m in joined[:2]]
                causes += c or ["the model's parameters changed"]
                wheres += w
            if rg != self._rg_state and self._rg_state is not None and not structural:
                c, w = self._rg_causes(params, rg)
                causes += c
                wheres += w
            elif structural:
                c, w = self._rg_causes(None, None)
                causes += c
                wheres += w
            if causes or switched:
                self._new_phase(step, causes or ["the followed optimizer changed"], wheres)
                self._pick_probes(opt)
        self._pending, self._pending_where = [], []
        self._last_seq = self.seq
        self._rg_state = rg
        rec.phase = len(self.phases)
        if graded != self._grad_state or causes or switched or self._held_key != (self.held_version,
                                                                                   len(self.optimizers)):
            self._grad_state = graded
            held = self.held_ids()
            tr.ever_grad.update(id(p) for p, g in zip(params, graded) if g)
            self._held_graded = any(p.grad is not None and _RG.__get__(p) for g in opt.param_groups
                                    for p in g["params"])
            for p, g in zip(params, graded):
                if g and id(p) not in held and id(p) not in self.not_held and len(self.not_held) < MAX_NOT_HELD:
                    self.not_held[id(p)] = self._not_held(p, step)
        if not self._held_graded and rec.backwards and not rec.zeroed:
            rec.held_no_grad = True

    def switch(self, old, new) -> None:
        """The script built a new optimizer over the model's parameters and steps it: follow it."""
        self.opt_switches += 1
        r = self.optimizers.get(new)
        what = f"a new {type(new).__name__}" + (f" was built by {r.where}" if r else " started stepping")
        self._pending.append(what)
        self._pending_where.append(_line(r.where) if r else "")

    def _new_phase(self, step, causes, wheres) -> None:
        if len(self.phases) >= MAX_PHASES:
            self.phases[-1].causes.append(f"(and more changes up to step {step})")
            return
        self.phases.append(Phase(len(self.phases) + 1, step, causes, wheres))

    def _pick_probes(self, opt) -> None:
        """Follow gradients of the parameters this phase trains (held, with a gradient now)."""
        from .recorder import _Probe, _state
        withgrad = [p for g in opt.param_groups for p in g["params"] if p.grad is not None and _RG.__get__(p)]
        if len(withgrad) > MAX_PROBES:
            idx = [round(i * (len(withgrad) - 1) / (MAX_PROBES - 1)) for i in range(MAX_PROBES)]
            withgrad = [withgrad[i] for i in sorted(set(idx))]
        probes = [_Probe(p) for p in withgrad]
        for pr in probes:
            pr.ref, pr.ver = _state(pr.param)
            pr.held_since_step = False
        self.tracer.probes = probes

    def first_step(self) -> None:
        """At step 1 the backward ran before the probes existed: a probe counts as fed by it only if
        the captured loss's graph reaches it (a parameter out of the graph is not 'zeroed')."""
        cap = self.tracer.capture or {}
        bw = cap.get("backward")
        loss = getattr(bw, "loss", None)
        probes = self.tracer.probes
        if loss is None or not probes or all(pr.param.grad is not None for pr in probes):
            return
        reached = reached_params(loss)
        if reached is None:
            return
        for pr in probes:
            if id(pr.param) not in reached:
                pr.contrib = False

    # ------------------------------------------------------------------ describing causes
    def _path(self, module) -> Optional[str]:
        """'model.head' style name of a module inside a followed module, or None."""
        if module is None:
            return None
        model = self.tracer.capture.get("model") if self.tracer.capture else None
        for m in self._tracked.values():
            for n, sub in m.named_modules():
                if sub is module:
                    root = "model" if m is model else type(m).__name__
                    return f"{root}.{n}" if n else root
        return None

    def _recent(self, kinds) -> List[Event]:
        return [e for e in self.events if e.seq > self._last_seq and e.kind in kinds]

    def _module_causes(self):
        causes, wheres, seen = [], [], set()
        recent = self._recent(("module", "param"))
        new_mods = set()   # modules assigned now, and theirs: their own parameters are no separate cause
        for e in recent:
            obj = e.obj() if e.kind == "module" and e.obj else None
            if obj is not None:
                new_mods.update(id(m) for m in obj.modules())
        for e in recent:
            owner = e.owner() if e.owner else None
            if e.kind == "param" and owner is not None and id(owner) in new_mods:
                continue
            path = self._path(owner)
            if path is None:
                continue
            key = (path, e.name)
            if key in seen:
                continue
            seen.add(key)
            obj = e.obj() if e.obj else None
            what = type(obj).__name__ if obj is not None else ("a parameter" if e.kind == "param" else "a module")
            verb = "replaced by" if e.replaced else "added by"
            causes.append(f"{path}.{e.name} ({what}) was {verb} {e.where}")
            wheres.append(_line(e.where))
        return causes[:4], wheres[:4]

    def _rg_causes(self, params, rg):
        causes, wheres = [], []
        evs = self._recent(("requires_grad",))
        by_where: Dict[tuple, List[Event]] = {}
        for e in evs:
            by_where.setdefault((e.where, e.flag), []).append(e)
        for (where, flag), es in list(by_where.items())[:3]:
            owner = es[0].owner() if es[0].owner else None
            if owner is not None:
                target = self._path(owner) or type(owner).__name__
                causes.append(f"{target}.requires_grad_({flag}) by {where}")
            else:
                names = [self._names.get(id(e.obj()), "?") for e in es if e.obj and e.obj() is not None]
                what = _group_names(names)
                causes.append(f"requires_grad={flag} on {len(es)} tensor(s) ({what}) by {where}")
            wheres.append(_line(where))
        if not causes and params is not None and self._rg_state is not None and len(self._rg_state) == len(rg):
            off = [self._names.get(id(p), "?") for p, a, b in zip(params, self._rg_state, rg) if a and not b]
            on = [self._names.get(id(p), "?") for p, a, b in zip(params, self._rg_state, rg) if b and not a]
            if off:
                causes.append(f"requires_grad switched off for {len(off)} tensor(s) ({_group_names(off)})")
            if on:
                causes.append(f"requires_grad switched on for {len(on)} tensor(s) ({_group_names(on)})")
        return causes, wheres

    def _not_held(self, p, step) -> NotHeld:
        name = self._names.get(id(p), "?")
        created, seq = self.created(p)
        primary = self.tracer.primary
        r = self.optimizers.get(primary) if primary is not None else None
        after = r.where if r is not None and seq is not None and seq > r.seq else None
        return NotHeld(name, tuple(p.shape), p.numel(), step, len(self.phases), created, after)

    def created(self, p):
        """(where the parameter, or the module holding it, was made or assigned; event seq)."""
        best = None
        for e in reversed(self.events):
            obj = e.obj() if e.obj else None
            if obj is None:
                continue
            if e.kind == "param" and obj is p:
                best = best or e
            elif e.kind == "module" and any(q is p for q in obj.parameters()):
                return e.where, e.seq   # the assignment into the model says more than nn.Linear's line
        return (best.where, best.seq) if best else (None, None)

    # ------------------------------------------------------------------ reading
    def phase_of(self, step: int) -> Optional[Phase]:
        hit = None
        for ph in self.phases:
            if ph.start_step <= step:
                hit = ph
        return hit

    def where_phase(self, step: int) -> str:
        """What to write after 'at step N': '' for a one-phase run, else ', in phase 2 (after model.head
        (Linear) was replaced by reset_head (train.py:120))', with 'from step S, ' when the phase began
        before N."""
        if len(self.phases) < 2:
            return ""
        ph = self.phase_of(step)
        if ph is None:
            return ""
        if ph.index == 1:
            return f", in phase 1 (before step {self.phases[1].start_step})"
        since = "" if ph.start_step == step else f"from step {ph.start_step}, "
        return f", in phase {ph.index} ({since}after {ph.why()})"


MAX_GRAPH_WALK = 200_000  # autograd nodes walked to find the parameters a loss reaches (once, at step 1)


def reached_params(loss) -> Optional[set]:
    """ids of the leaf tensors whose gradients the backward of `loss` accumulates (None: too big)."""
    root = getattr(loss, "grad_fn", None)
    found, seen, stack = set(), set(), [root]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        if len(seen) > MAX_GRAPH_WALK:
            return None
        var = getattr(node, "variable", None)
        if var is not None:
            found.add(id(var))
        stack.extend(f for f, _ in node.next_functions)
    return found


def _group_names(names: List[str]) -> str:
    """'backbone.*' when the names share a first component, else the first few names."""
    names = [n for n in names if n]
    if not names:
        return "?"
    heads = {n.split(".")[0] for n in names}
    if len(heads) == 1 and len(names) > 1:
        return f"{heads.pop()}.*"
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _subclasses(cls):
    for s in cls.__subclasses__():
        yield s
        yield from _subclasses(s)


def _plain(v):
    if isinstance(v, torch.Tensor):
        return float(v) if v.numel() == 1 else None
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v][:16]
    if isinstance(v, dict) or hasattr(v, "items"):
        try:
            return sorted(int(k) for k in v.keys())[:16]   # MultiStepLR.milestones is a Counter
        except Exception:
            return None
    return v if isinstance(v, (int, float, str, bool, type(None))) else None


def _lambda_params(sched) -> Dict[str, Any]:
    """The keyword arguments of functools.partial lr lambdas (transformers' schedules are built
    that way: num_warmup_steps, num_training_steps)."""
    out: Dict[str, Any] = {}
    for f in getattr(sched, "lr_lambdas", None) or []:
        kw = getattr(f, "keywords", None)
        if isinstance(kw, dict):
            out.update({k: v for k, v in kw.items() if isinstance(v, (int, float))})
            name = getattr(getattr(f, "func", None), "__name__", "")
            if name:
                out["lambda"] = name
        break
    return out


def _sched_state(sched):
    """A copy of the scheduler's state (not its optimizer), and its optimizer's group settings,
    so lr-trace can replay the schedule on a stand-in optimizer. None for composite schedulers."""
    if hasattr(sched, "_schedulers") or isinstance(sched, lrs.ReduceLROnPlateau):
        return None, None
    d = {k: v for k, v in sched.__dict__.items() if k != "optimizer"}
    try:
        state = copy.deepcopy(d)
    except Exception:
        return None, None
    groups = [{k: _plain(v) if isinstance(v, torch.Tensor) else v for k, v in g.items() if k != "params"}
              for g in sched.optimizer.param_groups]
    return state, groups
