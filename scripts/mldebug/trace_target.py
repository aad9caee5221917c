"""The doctor's checks on what `ml-debug trace` captured at the first optimizer step.

`build_target` turns the capture (capture.py) into a Target: the model snapshot taken before
its first update, the batch of its last forward, a loss_fn rebuilt from the torch loss call
that fed the backpropagated loss, and the optimizer's class and settings. `doctor_entries`
runs the applicable doctor checks on it (on copies, as the doctor does) or says why not.
"""
from __future__ import annotations

import inspect
import math
from typing import Any, Dict, List, Optional

# Doctor checks that make sense on objects captured from a run (the expensive ones that train
# for hundreds of steps, and those that need a scheduler or a rebuild from scratch, are left out).
DOCTOR_IDS = ("batch-sanity", "init-symmetry", "loss-input", "init-loss", "grad-flow", "nan-source",
              "activations", "batch-independence", "causality", "eval-mode", "update-ratio")
LOSS_FREE_IDS = ("activations", "batch-independence", "causality", "eval-mode")
REPLAY_SKIPS = ("init-loss", "loss-input")   # need a known loss kind: skipped on a replayed hand-written loss


def _batched(obj, B) -> bool:
    from .tensors import leaves
    ts = leaves(obj)
    return bool(ts) and all(t.dim() > 0 and t.shape[0] == B for t in ts)


def build_target(tracer, script: str, causal_dim: Optional[int]):
    """A Target from what was captured at step 1. Returns (target, loss_known, notes)."""
    import torch
    from .api import target_from_objects
    from .context import prediction_of
    from .tensors import leaves
    from .capture import TRANSFORMS

    cap = tracer.capture
    notes: List[str] = []
    args, kwargs = cap["args"], cap["kwargs"]
    tensors = leaves((args, kwargs))
    firsts = [t for t in tensors if t.dim() > 0]
    if not firsts:
        raise ValueError("the model's forward got no tensor with a batch dimension")
    B = firsts[0].shape[0]
    bargs = [i for i, a in enumerate(args) if _batched(a, B)]
    bkw = [k for k, v in kwargs.items() if _batched(v, B)]
    forward = None
    if not kwargs and len(bargs) == len(args):
        inputs = args[0] if len(args) == 1 else tuple(args)
    elif not args and len(bkw) == len(kwargs):
        inputs = dict(kwargs)
    else:  # mixed or with constants: batched tensors travel as inputs, the rest stays fixed
        inputs = {f"arg{i}": args[i] for i in bargs}
        inputs.update({k: kwargs[k] for k in bkw})

        def forward(model, inp, _args=args, _kw=kwargs, _bargs=tuple(bargs), _bkw=tuple(bkw)):
            a = [inp[f"arg{i}"] if i in _bargs else x for i, x in enumerate(_args)]
            kw = {k: (inp[k] if k in _bkw else v) for k, v in _kw.items()}
            return model(*a, **kw)
        notes.append("non-batch arguments of the forward kept fixed")

    match = cap.get("loss_match") or {"kind": "unknown", "seen": []}
    loss_known = True
    targets = None
    if match["kind"] == "model-output":
        leaf = match["leaf"]

        def loss_fn(outputs, _t, _leaf=leaf):
            return leaves(outputs)[_leaf]
        loss_from = "the model's own output"
    elif match["kind"] != "unknown":
        call, leaf, tf = match["call"], match["leaf"], TRANSFORMS[match["transform"]]
        largs = {k: v for k, v in match["args"].items() if k not in ("size_average", "reduce")}
        in_shape = match["input_shape"]
        rec_t = largs.get("target")
        t_shape = tuple(rec_t.shape) if isinstance(rec_t, torch.Tensor) else None
        if isinstance(rec_t, torch.Tensor) and rec_t.dim() > 0 and rec_t.shape[0] == B:
            targets = rec_t
        elif isinstance(rec_t, torch.Tensor) and rec_t.dim() > 0 and rec_t.numel() % B == 0:
            targets = rec_t.reshape(B, -1)  # e.g. y.view(-1) of a (B, T) batch: batch-major
        else:
            targets = None
            notes.append("loss target kept fixed (its dim 0 is not the batch)")

        def loss_fn(outputs, tgt, _f=call.func, _a=largs, _leaf=leaf, _tf=tf, _s=in_shape, _ts=t_shape,
                    _fixed=targets is None):
            kw = dict(_a)
            kw["input"] = _tf(leaves(outputs)[_leaf], _s)
            if not _fixed and _ts is not None:
                kw["target"] = tgt if tuple(tgt.shape[1:]) == _ts[1:] else tgt.reshape(-1, *_ts[1:])
            return _f(**kw)
        loss_from = f"F.{match['kind']} on the model's output" + \
            ("" if match["transform"] == "same" else f" ({match['transform']})")
        if match.get("n_calls", 1) > 1 or abs(match["total"] - match["value"]) > 1e-6 * max(1.0, abs(match["value"])):
            notes.append(f"the backpropagated loss ({match['total']:.4g}) also scales or adds to the "
                         f"{match['kind']} term ({match['value']:.4g}); the checks use that term alone")
    else:
        rep = cap.get("replay")   # a hand-written loss: replay.py replays it from the model's output
        ok, why = rep.verify(cap["output"]) if rep is not None else (False, cap.get("replay_why"))
        if ok:
            loss_fn, loss_from = rep.loss_fn, rep.describe()
            cap["loss_mode"] = "replay"
            notes.extend(rep.notes)
        else:
            loss_known = False

            def loss_fn(outputs, _t):  # a stand-in so forward-only checks can run; never judged
                return prediction_of(outputs).float().mean()
            loss_from = None
            if why:
                notes.append(f"the hand-written loss could not be replayed: {why}")

    make_optimizer = None
    if cap.get("opt_groups"):
        otype, defaults, groups = cap["opt_type"], cap["opt_defaults"], cap["opt_groups"]

        def make_optimizer(params, _type=otype, _defaults=defaults, _groups=groups):
            params = list(params)
            gs = [dict(hp, params=[params[i] for i in idx if i < len(params)]) for hp, idx in _groups]
            gs = [g for g in gs if g["params"]]
            try:
                return _type(gs, **_defaults)
            except TypeError:
                return _type(gs)
    snapshot = cap["snapshot"]
    snapshot.train()
    target = target_from_objects(model=snapshot, batch=(inputs, targets), loss_fn=loss_fn,
                                 make_optimizer=make_optimizer, forward=forward, causal_dim=causal_dim,
                                 name=script)
    if loss_known and match["kind"] not in ("model-output", "unknown"):  # must give the run's value
        try:
            v = float(loss_fn(cap["output"], targets).detach())
            same = (math.isnan(v) and math.isnan(match["value"])) or v == match["value"] or \
                math.isclose(v, match["value"], rel_tol=1e-4, abs_tol=1e-6)
            if not same:
                loss_known = False
                notes.append(f"the rebuilt loss ({v:.4g}) does not reproduce the run's ({match['value']:.4g})")
        except Exception as e:
            loss_known = False
            notes.append(f"the rebuilt loss raised {type(e).__name__}")
    if not loss_known and match["kind"] != "unknown":
        loss_from = None
    return target, loss_known, loss_from, notes


def _skip(check_id: str, why: str, spec_ref: Optional[str] = None) -> Dict[str, Any]:
    return {"id": check_id, "status": "skip", "summary": why, "metrics": {},
            "ref": spec_ref or f"refs/diagnostics.md#{check_id}", "seconds": 0.0, "_details": [], "_plots": []}


def doctor_entries(tracer, script: str, causal_dim: Optional[int], seed: int, why_not: Optional[str]):
    """The doctor's checks on the captured objects (or skips saying why they can't run)."""
    from . import registry
    from .context import DEFAULT_BUDGET, Context
    from .runner import run_checks
    from .target import TargetError

    ids = [i for i in DOCTOR_IDS if i != "causality" or causal_dim is not None]
    specs = [s for s in registry.ordered() if s.id in ids]
    info: Dict[str, Any] = {}
    if why_not is None:
        cap = tracer.capture
        if cap is None or cap.get("model") is None:
            why_not = "no nn.Module holding the optimizer's parameters ran a forward before the first step"
    if why_not is None:
        try:
            target, loss_known, loss_from, notes = build_target(tracer, script, causal_dim)
            ctx = Context(target, device=str(tracer.capture["device"]), seed=seed, budget=DEFAULT_BUDGET)
            ctx.preflight()
        except (TargetError, ValueError, RuntimeError, TypeError, KeyError, IndexError) as e:
            why_not = f"could not rebuild the captured model, batch and loss: {e}"
    if why_not is not None:
        return [_skip(s.id, why_not, s.ref) for s in specs], info
    m = tracer.capture["model"]
    info["model"] = f"{type(m).__name__} ({sum(p.numel() for p in m.parameters()):,} parameters)"
    chain = (tracer.capture.get("wrapped") or {}).get("chain")
    if chain:  # the checks ran on the plain model inside (unwrap.py)
        from .unwrap import describe
        inner = tracer.capture["snapshot"]
        info["model"] = f"{describe(chain, inner)} ({sum(p.numel() for p in inner.parameters()):,} parameters)"
    info["loss_from"] = loss_from or "unknown"
    if tracer.other_optimizers:
        notes.append(f"the script steps {1 + len(tracer.other_optimizers)} optimizers; the checks follow the "
                     f"first to step, which trains {type(m).__name__}")
    if notes:
        info["capture_notes"] = notes
    seen = tracer.capture["loss_match"] or {}
    lost = "loss not computed by a torch loss function on the model's output" + \
        (f" (saw {', '.join(seen['seen'])})" if seen.get("seen") else "") + ": {id} can't model it"
    run = [s for s in specs if loss_known or s.id in LOSS_FREE_IDS]
    skips = {}
    if tracer.capture.get("loss_mode") == "replay":   # backward-only checks run; these need the loss kind
        for cid in REPLAY_SKIPS:
            skips[cid] = (f"the loss is hand-written, not a torch loss function, so {cid} has no expected value "
                          "or input kind to compare with; the checks that need only a backward ran on its replay")
        run = [s for s in run if s.id not in skips]
    step_params = inspect.signature(tracer.capture["opt_type"].step).parameters
    if "closure" in step_params and step_params["closure"].default is inspect.Parameter.empty:
        skips["update-ratio"] = (f"{tracer.capture['opt_type'].__name__} steps only with a closure that re-evaluates "
                                 "the loss; update-ratio takes plain steps")
        run = [s for s in run if s.id not in skips]
    entries = run_checks(ctx, run)["checks"]
    by_id = {e["id"]: e for e in entries}
    out = [by_id.get(s.id) or _skip(s.id, skips.get(s.id) or lost.format(id=s.id), s.ref) for s in specs]
    return out, info
