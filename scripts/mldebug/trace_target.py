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
              "activations", "batch-independence", "causality", "eval-mode", "update-ratio",
              "target-offset", "augment-alignment", "split-consistency", "silent-broadcast")
# augment-alignment and split-consistency read the recorded DataLoaders and evaluation passes (pipeline.py)
LOSS_FREE_IDS = ("activations", "batch-independence", "causality", "eval-mode", "augment-alignment",
                 "split-consistency")
REPLAY_SKIPS = ("init-loss", "loss-input")   # need a known loss kind: skipped on a replayed hand-written loss


def _batched(obj, B) -> bool:
    from .tensors import leaves
    ts = leaves(obj)
    return bool(ts) and all(t.dim() > 0 and t.shape[0] == B for t in ts)


# modules that take (seq, batch, ...) unless built with batch_first=True
def _seq_first_module(m) -> bool:
    import torch.nn as nn
    kinds = (nn.RNNBase, nn.MultiheadAttention, nn.TransformerEncoderLayer, nn.TransformerDecoderLayer)
    return isinstance(m, kinds) and not getattr(m, "batch_first", False)


class SeqFirst:
    """A sequence-first layout ((T, B, ...): nn.LSTM / nn.GRU / nn.Transformer with their default
    batch_first=False) seen as batch-first by the checks: inputs and outputs are moved to (B, T, ...)
    (a flattened (T*B, ...) output to (B, T, ...)) around the model call, and back for the loss."""

    def __init__(self, T: int, B: int, why: str):
        self.T, self.B = T, B
        self.note = (f"the inputs are sequence-first ((T, B) = ({T}, {B}): {why}): batch axis 1; the checks ran on a "
                     "batch-first view, with the model called in its own layout")

    @classmethod
    def infer(cls, cap, args, kwargs):
        """A SeqFirst when a module that takes (seq, batch, ...) receives the first input's axes in that order
        (probed: one forward of the step-1 model with no grad, RNG and buffers put back), else None."""
        import torch
        from .tensors import leaves, preserved_rng
        model = cap.get("snapshot")
        if not isinstance(model, torch.nn.Module):
            model = (cap.get("wrapped") or {}).get("inner") or cap.get("model")
        seq = [(n, m) for n, m in model.named_modules() if _seq_first_module(m)]
        xs = [t for t in leaves((args, kwargs)) if t.dim() >= 2]
        if not seq or not xs:
            return None
        x = xs[0]
        T, B = int(x.shape[0]), int(x.shape[1])
        if T == B:
            return None   # can't tell the axes apart by size
        seen = []

        def pre(mod, a, kw=None):
            t = a[0] if a and isinstance(a[0], torch.Tensor) else None
            if t is not None and t.dim() >= 2 and not seen:
                seen.append((mod, tuple(t.shape)))
        hs = [m.register_forward_pre_hook(pre) for _, m in seq]
        bufs = [(b, b.detach().clone()) for b in model.buffers()]
        try:
            with preserved_rng(), torch.no_grad():
                model(*args, **kwargs)
        except Exception:
            return None
        finally:
            for h in hs:
                h.remove()
            with torch.no_grad():
                for b, v in bufs:
                    b.copy_(v)
        if not seen:
            return None
        mod, shape = seen[0]
        if shape[0] == T and shape[1] == B:
            name = next(n for n, m in seq if m is mod) or type(mod).__name__
            return cls(T, B, f"{name} ({type(mod).__name__}, batch_first=False) gets them as (seq, batch)")
        return None

    # ---- tensors
    def _in_bf(self, t):
        return t.movedim(1, 0) if t.dim() >= 2 and t.shape[1] == self.B and t.shape[0] != self.B else t

    def to_batch_first(self, obj):
        from .tensors import tree_map
        return tree_map(self._in_bf, obj)

    def flat_or_axis(self, t):
        """How an output/target of the run is laid out: "axis" (T, B, ...), "flat" (T*B, ...), or None."""
        if t.dim() >= 2 and t.shape[0] == self.T and t.shape[1] == self.B:
            return "axis"
        if t.dim() >= 1 and t.shape[0] == self.T * self.B:
            return "flat"
        return None

    def target_batch_first(self, t):
        kind = self.flat_or_axis(t)
        if kind == "flat":
            t = t.reshape(self.T, self.B, *t.shape[1:])
        return t.movedim(1, 0)

    def output_batch_first(self, out):
        return self._out_bf(out, self.T, self.B)

    @staticmethod
    def _out_bf(out, T, b):
        from .tensors import tree_map

        def conv(t):
            if t.dim() >= 2 and t.shape[0] == T and t.shape[1] == b:
                return t.movedim(1, 0)
            if t.dim() >= 1 and t.shape[0] == T * b and T != 1:
                return t.reshape(T, b, *t.shape[1:]).movedim(1, 0)
            if t.dim() >= 2 and t.shape[1] == b and t.shape[0] != b:   # hidden state (layers, B, H)
                return t.movedim(1, 0)
            return t
        return tree_map(conv, out)

    def wrap(self, forward, loss_fn, run_output):
        """(forward, loss_fn) over batch-first tensors, calling the model and the loss in the run's layout."""
        import torch
        from .context import default_forward
        from .tensors import leaves, tree_map
        base = forward or default_forward
        kinds = [self.flat_or_axis(t) if t.dim() >= 1 else None for t in leaves(run_output)]

        class _Call:   # the model, called with its own (seq, batch) layout
            def __init__(self, model):
                self.model = model

            def __call__(self, *a, **kw):
                back = (lambda t: t.movedim(0, 1) if t.dim() >= 2 else t)
                a, kw = tree_map(back, (a, kw))
                return self.model(*a, **kw)

        def fwd(model, inp, _base=base):
            xs = [t for t in leaves(inp) if t.dim() >= 2]
            b, T = (int(xs[0].shape[0]), int(xs[0].shape[1])) if xs else (None, None)
            out = _base(_Call(model), inp)
            return out if b is None else SeqFirst._out_bf(out, T, b)

        def loss(outputs, tgt, _base=loss_fn, _kinds=kinds):
            it = iter(range(len(_kinds)))

            def back(t):
                i = next(it, None)
                kind = _kinds[i] if i is not None and i < len(_kinds) else None
                if kind == "flat":
                    u = t.movedim(0, 1)
                    return u.reshape(u.shape[0] * u.shape[1], *u.shape[2:])
                return t.movedim(0, 1) if t.dim() >= 2 else t   # (T, B, ...) and (layers, B, H) alike
            user_out = tree_map(back, outputs)
            if isinstance(tgt, torch.Tensor) and tgt.dim() >= 2:
                tgt = tgt.movedim(0, 1)
            return _base(user_out, tgt)
        return fwd, loss


def _cat_trees(trees):
    """The parts' (args, kwargs) joined along dim 0 (tensors of the same trailing shape; anything else: the first's)."""
    import torch
    first = trees[0]
    if isinstance(first, torch.Tensor):
        if first.dim() > 0 and all(isinstance(t, torch.Tensor) and t.shape[1:] == first.shape[1:] for t in trees):
            return torch.cat(list(trees))
        return first
    if isinstance(first, (tuple, list)) and all(isinstance(t, type(first)) and len(t) == len(first) for t in trees):
        return type(first)(_cat_trees([t[i] for t in trees]) for i in range(len(first)))
    if isinstance(first, dict) and all(isinstance(t, dict) and t.keys() == first.keys() for t in trees):
        return {k: _cat_trees([t[k] for t in trees]) for k in first}
    return first


def _describe_target(t) -> str:
    flat = t.reshape(-1)
    if bool((flat == flat[0]).all()):
        v = flat[0].item()
        return f"all {v:g}" if isinstance(v, float) else f"all {v}"
    return "mixed"


def _per_part(forward, sizes):
    """A forward that runs the model once per part (as the step did: BatchNorm sees each part alone) when
    given all the parts' rows, and joins the outputs; any other batch goes through in one call."""
    import torch
    from .context import default_forward
    from .tensors import leaves, tree_map
    base = forward or default_forward
    total = sum(sizes)

    def fwd(model, inp):
        xs = [t for t in leaves(inp) if t.dim() > 0]
        if not xs or xs[0].shape[0] != total:
            return base(model, inp)
        outs, start = [], 0
        for n in sizes:
            outs.append(base(model, tree_map(lambda t, s=start, n=n: t[s:s + n] if t.dim() > 0 and t.shape[0] == total
                                              else t, inp)))
            start += n
        return _cat_trees(outs) if all(isinstance(o, torch.Tensor) or isinstance(o, (tuple, list, dict))
                                       for o in outs) else outs[-1]
    return fwd


def _target_argument(args, kwargs, match):
    """The position (or keyword) of a model input that is the loss target (`logits, loss = model(x, y)`):
    equal, element for element, to the target of the torch loss call the loss came from. Never the
    first input (the data; an autoencoder's target is its input). None when there is none."""
    import torch
    rec_t = (match.get("args") or {}).get("target") if match.get("call") is not None else None
    if not isinstance(rec_t, torch.Tensor) or rec_t.dim() == 0:
        return None
    flat = rec_t.reshape(-1)
    cands = [(i, a) for i, a in enumerate(args) if i > 0] + [(k, v) for k, v in kwargs.items()]
    if not args and cands:
        cands = cands[1:]
    for key, a in cands:
        if isinstance(a, torch.Tensor) and a.numel() == flat.numel() and a.dim() > 0 and \
                a.dtype == rec_t.dtype and torch.equal(a.reshape(-1), flat):
            return key
    return None


def _fit(t, b):
    """The model's own target argument cut (or cycled) to the batch size `b` a check runs with."""
    if b is None or not hasattr(t, "shape") or t.dim() == 0 or t.shape[0] == b:
        return t
    import torch
    return t[torch.arange(b, device=t.device) % t.shape[0]]


def build_target(tracer, script: str, causal_dim: Optional[int]):
    """A Target from what was captured at step 1. Returns (target, loss_known, notes)."""
    import torch
    from .api import target_from_objects
    from .context import prediction_of
    from .tensors import leaves
    from .capture import PRODUCERS, TRANSFORMS

    cap = tracer.capture
    notes: List[str] = []
    args, kwargs = cap["args"], cap["kwargs"]
    layout = SeqFirst.infer(cap, args, kwargs)
    if layout is not None:   # the checks see batch-first tensors; the model gets its own layout back
        args, kwargs = layout.to_batch_first((args, kwargs))
        notes.append(layout.note)
        if causal_dim == 0:
            causal_dim = 1
    parts = cap.get("parts") if layout is None else None
    if parts:   # several losses in the step (a GAN's real and fake halves): judged together, each its own forward
        trees = [(p["args"], p["kwargs"]) if p["args"] is not None else (args, kwargs) for p in parts]
        sizes = [p["n"] for p in parts]
        if all(leaves(t)[0].shape[0] == n for t, n in zip(trees, sizes) if leaves(t)):
            args, kwargs = _cat_trees(trees)
            desc = ", ".join(f"{n} examples with targets {_describe_target(p['target'])}" for n, p in zip(sizes, parts))
            notes.append(f"the first step backpropagates {len(parts)} losses through the model ({desc}): the checks "
                         f"judge them together, each part through its own forward, rows 0-{sizes[0] - 1} the first")
        else:
            parts = None
    tensors = leaves((args, kwargs))
    firsts = [t for t in tensors if t.dim() > 0]
    if not firsts:
        raise ValueError("the model's forward got no tensor with a batch dimension")
    B = firsts[0].shape[0]
    match = cap.get("loss_match") or {"kind": "unknown", "seen": []}
    own_target = _target_argument(args, kwargs, match)
    bargs = [i for i, a in enumerate(args) if _batched(a, B) and i != own_target]
    bkw = [k for k, v in kwargs.items() if _batched(v, B) and k != own_target]
    forward = None
    if own_target is None and not kwargs and len(bargs) == len(args):
        inputs = args[0] if len(args) == 1 else tuple(args)
    elif own_target is None and not args and len(bkw) == len(kwargs):
        inputs = dict(kwargs)
    else:  # mixed, with constants, or with the loss target: batched tensors travel as inputs, the rest stays fixed
        single = len(bargs) + len(bkw) == 1
        if single:
            inputs = args[bargs[0]] if bargs else kwargs[bkw[0]]
        else:
            inputs = {f"arg{i}": args[i] for i in bargs}
            inputs.update({k: kwargs[k] for k in bkw})

        def forward(model, inp, _args=args, _kw=kwargs, _bargs=tuple(bargs), _bkw=tuple(bkw), _single=single,
                    _own=own_target):
            get = (lambda key: inp) if _single else (lambda key: inp[key])
            b = next((t.shape[0] for t in leaves(inp) if t.dim() > 0), None)
            a = [get(f"arg{i}") if i in _bargs else _fit(x, b) if i == _own else x for i, x in enumerate(_args)]
            kw = {k: (get(k) if k in _bkw else _fit(v, b) if k == _own else v) for k, v in _kw.items()}
            return model(*a, **kw)
        if own_target is not None:
            where = f"inputs[{own_target}]" if isinstance(own_target, int) else f"the argument {own_target!r}"
            notes.append(f"the model computes its own loss from its {where}, the loss target: the checks treat "
                         "it as the target, not as data")
        if len(bargs) + len(bkw) + (own_target is not None) < len(args) + len(kwargs):
            notes.append("non-batch arguments of the forward kept fixed")

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
        if parts:
            rec_t = torch.cat([p["target"] for p in parts])
            t_shape = tuple(parts[-1]["target"].shape)
        if layout is not None and isinstance(rec_t, torch.Tensor) and layout.flat_or_axis(rec_t) is not None:
            targets = layout.target_batch_first(rec_t)
        elif isinstance(rec_t, torch.Tensor) and rec_t.dim() > 0 and rec_t.shape[0] == B:
            targets = rec_t
        elif isinstance(rec_t, torch.Tensor) and rec_t.dim() > 0 and rec_t.numel() % B == 0:
            targets = rec_t.reshape(B, -1)  # e.g. y.view(-1) of a (B, T) batch: batch-major
        else:
            targets = None
            notes.append("loss target kept fixed (its dim 0 is not the batch)")

        prod = PRODUCERS.get(match.get("producer"))

        def loss_fn(outputs, tgt, _f=call.func, _a=largs, _leaf=leaf, _tf=tf, _s=in_shape, _ts=t_shape,
                    _fixed=targets is None, _prod=prod):
            kw = dict(_a)
            out = leaves(outputs)[_leaf]
            kw["input"] = _tf(_prod(out) if _prod is not None else out, _s)
            if not _fixed and _ts is not None:
                kw["target"] = tgt if tuple(tgt.shape[1:]) == _ts[1:] else tgt.reshape(-1, *_ts[1:])
            return _f(**kw)
        loss_from = f"F.{match['kind']} on the model's output" + \
            ("" if match["transform"] == "same" else f" ({match['transform']})") + \
            (f" after {match['producer']}" if match.get("producer") else "") + \
            (", inside the model's forward" if match.get("inside_forward") else "")
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
    if layout is not None:
        forward, loss_fn = layout.wrap(forward, loss_fn, cap["output"])
    if parts:
        forward = _per_part(forward, [p["n"] for p in parts])
    build = _in_place_model(cap, cap["args"], cap["kwargs"], notes)
    if build is None:
        snapshot = cap["snapshot"]
        snapshot.train()
        target = target_from_objects(model=snapshot, batch=(inputs, targets), loss_fn=loss_fn,
                                     make_optimizer=make_optimizer, forward=forward, causal_dim=causal_dim,
                                     name=script)
    else:
        target = target_from_objects(build_model=build, batch=(inputs, targets), loss_fn=loss_fn,
                                     make_optimizer=make_optimizer, forward=forward, causal_dim=causal_dim,
                                     name=script)
    from .pipeline import TracePipeline
    target.extras["pipeline"] = TracePipeline(tracer)   # the data-pipeline checks read the run, not get_*()
    if loss_known and match["kind"] not in ("model-output", "unknown"):  # must give the run's value
        try:
            out = cap["output"] if layout is None else layout.output_batch_first(cap["output"])
            v = float(loss_fn(out, targets if not parts else parts[-1]["target"]).detach())
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


def _in_place_model(cap, args, kwargs, notes: List[str]):
    """None when the step-1 snapshot is an independent copy of the live model; else a build_model
    that puts the live model back to its step-1 state and returns it (the checks then run on it in
    place, copies.py), and `cap["after_checks"]`, which puts back its end-of-run state."""
    from .copies import State, reached
    snapshot = cap["snapshot"]
    live = (cap.get("wrapped") or {}).get("inner") or cap["model"]
    if isinstance(snapshot, State):
        step1, why = snapshot, cap.get("copy_note") or "it cannot be deep-copied"
    else:
        hit = reached(live, snapshot, lambda m: m(*args, **kwargs))
        if hit is None:
            return None
        step1 = State.with_values_of(live, snapshot)
        why = f"a deep copy still runs the live model's {hit} (reached through a lambda or bound method)"
    final = State(live)   # the state the run left it in, put back after the checks
    cap["after_checks"] = final.restore
    notes.append(f"the checks ran on the live model in place, its state saved and put back around each: {why}")

    def build_model(_s=step1, _live=live):
        _s.restore(grads=False)
        _live.train()
        return _live
    return build_model


def _skip(check_id: str, why: str, spec_ref: Optional[str] = None) -> Dict[str, Any]:
    return {"id": check_id, "status": "skip", "summary": why, "metrics": {},
            "ref": spec_ref or f"refs/diagnostics.md#{check_id}", "seconds": 0.0, "_details": [], "_plots": []}


def doctor_entries(tracer, script: str, causal_dim: Optional[int], seed: int, why_not: Optional[str]):
    """The doctor's checks on the captured objects (or skips saying why they can't run)."""
    import torch
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
        restore = (tracer.capture or {}).get("after_checks")
        if restore is not None:
            restore()
        return [_skip(s.id, why_not, s.ref) for s in specs], info
    m = tracer.capture["model"]
    info["model"] = f"{type(m).__name__} ({sum(p.numel() for p in m.parameters()):,} parameters)"
    chain = (tracer.capture.get("wrapped") or {}).get("chain")
    if chain:  # the checks ran on the plain model inside (unwrap.py)
        from .unwrap import describe
        inner = tracer.capture["snapshot"]
        if not isinstance(inner, torch.nn.Module):   # checked in place: the live plain model
            inner = tracer.capture["wrapped"]["inner"]
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
    if tracer.hand_opt is not None and tracer.primary is tracer.hand_opt:
        notes.append(f"the script updates its parameters by hand (no optimizer.step(); {tracer.hand_updates} updates "
                     f"seen): each backward followed by a change of the parameters counts as a step, and the checks "
                     f"use plain SGD at the LR measured from the first update ({tracer.hand_lr:.3g})")
        info["capture_notes"] = notes
        skips["update-ratio"] = ("the script updates its parameters by hand, not with an optimizer: update-ratio has "
                                 "no optimizer to replay (its LR, clipping and rule live in the script's loop)")
        run = [s for s in run if s.id not in skips]
    step_params = inspect.signature(tracer.capture["opt_type"].step).parameters
    if "closure" in step_params and step_params["closure"].default is inspect.Parameter.empty:
        skips["update-ratio"] = (f"{tracer.capture['opt_type'].__name__} steps only with a closure that re-evaluates "
                                 "the loss; update-ratio takes plain steps")
        run = [s for s in run if s.id not in skips]
    try:
        entries = run_checks(ctx, run)["checks"]
    finally:
        restore = tracer.capture.get("after_checks")
        if restore is not None:
            restore()
    by_id = {e["id"]: e for e in entries}
    out = [by_id.get(s.id) or _skip(s.id, skips.get(s.id) or lost.format(id=s.id), s.ref) for s in specs]
    return out, info
