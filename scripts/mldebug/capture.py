"""What trace captures at the first optimizer step, and how it links the loss to the model.

At the first step of the first optimizer that steps, `capture_first_step` takes the model
(a deep copy from before its first update, running stats put back), its last forward's
inputs, the loss call behind the backpropagated loss, and the optimizer's settings, so the
doctor's checks can run on copies afterwards (trace_target.py builds a Target from it).
Also here: linking a torch loss call to the model's output (`_match_loss`), and the
helpers that say where a non-finite loss comes from.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

import torch
import torch.nn as nn

from .losscapture import LossCall
from .tensors import leaves, preserved_rng
from .unwrap import plain_copy, snapshot, unwrap

MAX_PROBES = 16          # parameters whose grads we follow between steps (spread over the model)
MAX_GRAPH_NODES = 4000   # autograd nodes visited when linking a loss call to the backpropagated loss


def capture_first_step(tracer, opt) -> None:
    """Fill `tracer.capture` (and the grad probes) at the first step of the primary optimizer."""
    from .recorder import _Probe, _state, mode_sensitive
    held = {id(p) for g in opt.param_groups for p in g["params"]}
    cands = [c for c in tracer.calls if any(id(p) in held for p in c.module.parameters())]
    grad_cands = [c for c in cands if c.grad_enabled] or cands
    cap: Dict[str, Any] = {"optimizer": opt, "held": held}
    # every top-level module with parameters called since the last step
    cap["modules"] = list({id(c.module): c.module for c in tracer.calls}.values())
    # probes: optimizer-held parameters with a gradient, spread across the model
    withgrad = [p for g in opt.param_groups for p in g["params"] if p.grad is not None]
    if not withgrad and tracer.window_losses:  # backward ran, yet no grad at the step: follow them all
        withgrad = [p for g in opt.param_groups for p in g["params"] if p.requires_grad]
    if len(withgrad) > MAX_PROBES:
        idx = [round(i * (len(withgrad) - 1) / (MAX_PROBES - 1)) for i in range(MAX_PROBES)]
        withgrad = [withgrad[i] for i in sorted(set(idx))]
    tracer.probes = [_Probe(p) for p in withgrad]
    for pr in tracer.probes:
        pr.ref, pr.ver = _state(pr.param)
        pr.contrib = True
    if not grad_cands:
        cap["model"] = None
        tracer.capture = cap
        return
    # the module with the most optimizer-held parameters; its latest call with grad on
    def overlap(c):
        return sum(p.numel() for p in c.module.parameters() if id(p) in held)
    best = max(grad_cands, key=overlap).module
    call = [c for c in grad_cands if c.module is best][-1]
    cap["model"] = best
    cap["call"] = call
    cap["training_at_step1"] = best.training
    try:
        snap, wrapped = snapshot(best)  # the plain model inside DDP / compile / FSDP2 (full parameters gathered)
    except Exception as e:  # no deep copy (non-leaf tensors kept as attributes): keep its state instead
        from .copies import State
        inner = unwrap(best)[0]
        snap = State(inner, buffers=call.buffers, grads=False)
        wrapped = {"chain": unwrap(best)[1], "inner": inner}
        first = str(e).splitlines()[0] if str(e) else ""
        cap["copy_note"] = f"it cannot be deep-copied ({type(e).__name__}: {first[:120]})"
    cap["wrapped"] = wrapped
    if isinstance(snap, nn.Module):
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
    bw = [b for b in tracer.backwards if b.seq > call.seq]
    cap["backward"] = bw[-1] if bw else (tracer.backwards[-1] if tracer.backwards else None)
    cap["loss_match"] = _match_loss(call, cap["backward"])
    cap["parts"] = _step_parts(tracer, best, call, cap["loss_match"])
    cap["lrs"] = [float(g.get("initial_lr", g["lr"])) or float(g["lr"]) for g in opt.param_groups]
    cap["device"] = next(best.parameters()).device
    index = {id(p): i for i, p in enumerate(best.parameters())}
    cap["opt_type"], cap["opt_defaults"] = type(opt), dict(opt.defaults)
    cap["opt_groups"] = [({k: v for k, v in g.items() if k not in ("params", "initial_lr")}
                          | {"lr": float(g.get("initial_lr") or g["lr"])},
                          [index[id(p)] for p in g["params"] if id(p) in index]) for g in opt.param_groups]
    tracer._sensitive = [(n or type(best).__name__, m) for n, m in best.named_modules() if mode_sensitive(m)]
    cap["names"] = {id(p): n for n, p in wrapped["inner"].named_parameters()}
    # parameters of any top-level module with a gradient at the first step
    cap["graded"] = []
    for m in cap["modules"]:
        prefix = "" if m is best else type(m).__name__ + "."
        names = cap["names"] if m is best else {id(p): prefix + n for n, p in m.named_parameters()}
        for p in m.parameters():
            if p.grad is not None and p.requires_grad:
                cap["graded"].append((names.get(id(p), "?"), p))
    tracer.capture = cap


def _step_parts(tracer, model, call, match) -> Optional[List[Dict[str, Any]]]:
    """The several losses of one step, when judging the last alone would mislead: the model ran several
    times before the step, each call with its own backward through the same kind of torch loss call,
    and the parts' targets differ with one of them constant (a GAN's discriminator: a real batch with
    labels 1, then a fake batch with labels 0). Returns [{"args", "kwargs", "target", "n", "value"}] in
    call order, or None (one loss, or parts that are ordinary micro-batches)."""
    if not match or match.get("call") is None:
        return None
    calls = [c for c in tracer.calls if c.module is model and c.grad_enabled and c.seq <= call.seq]
    parts: List[Dict[str, Any]] = []
    for k in range(len(calls) - 1, -1, -1):   # walk back from the captured call while each has its own backward
        c = calls[k]
        nxt_seq = calls[k + 1].seq if k + 1 < len(calls) else None
        bws = [b for b in tracer.backwards if b.seq > c.seq and (nxt_seq is None or b.seq < nxt_seq)]
        if not bws:
            break
        m = match if c is call else _match_loss(c, bws[0])
        if not m or m.get("call") is None or (m["kind"], m["leaf"], m["transform"]) != \
                (match["kind"], match["leaf"], match["transform"]):
            break
        tgt = m["args"].get("target")
        if not isinstance(tgt, torch.Tensor) or tgt.dim() == 0:
            break
        a, kw = (call.args, call.kwargs) if c is call else (c.args, c.kwargs)
        parts.append({"args": _clone_tree(a) if c is not call else None, "kwargs": _clone_tree(kw) if c is not call
                      else None, "target": tgt, "n": int(tgt.shape[0]), "value": m["value"]})
    parts.reverse()
    if len(parts) < 2:
        return None
    constant = [bool((p["target"] == p["target"].reshape(-1)[0]).all()) for p in parts]
    same = all(p["target"].shape == parts[0]["target"].shape and torch.equal(p["target"], parts[0]["target"])
               for p in parts)
    if not any(constant) or same:
        return None
    return parts


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


# What a loss call inside forward may apply to an output first (recorded by losscapture's producer tags).
PRODUCERS = {"softmax": lambda o: torch.softmax(o, dim=-1), "log_softmax": lambda o: torch.log_softmax(o, dim=-1),
             "sigmoid": torch.sigmoid}

TRANSFORMS = {"same": _t_same, "flatten": _t_flatten, "classdim": _t_classdim, "shift-flatten": _t_shift_flatten}


def _match_loss(call: TopCall, bw: Optional[Backward]) -> Optional[Dict[str, Any]]:
    """Link the backpropagated loss to the model's output: which loss call, which output leaf,
    which reshape. None when the loss is not a torch loss call on the model's output."""
    if bw is None:
        return None
    outs = leaves(call.output)
    # the model computed its own loss: the backpropagated loss is one of its outputs. When a torch loss
    # call inside forward made it from another output (`logits, loss = model(x, y)`), that call is the
    # loss below; else the output itself is.
    own = None
    for i, o in enumerate(outs):
        if o is bw.loss and o.numel() == 1:
            own = {"kind": "model-output", "leaf": i, "value": float(bw.value)}
            break
    for lc in bw.loss_calls:
        inp = lc.input
        if not isinstance(inp, torch.Tensor):
            continue
        for i, o in enumerate(outs):
            if o.device != inp.device:
                continue
            # the loss may get softmax(logits) (a real bug, e.g. inside forward): then the producer comes first
            for prod, (name, fn) in [(p, t) for p in (None, *PRODUCERS) for t in TRANSFORMS.items()]:
                try:
                    y = fn(PRODUCERS[prod](o) if prod else o, tuple(inp.shape))
                except Exception:
                    continue
                if y is None or tuple(y.shape) != tuple(inp.shape):
                    continue
                if y is inp or torch.equal(y.to(inp.dtype), inp):
                    return {"kind": lc.kind, "call": lc, "leaf": i, "transform": name, "producer": prod,
                            "input_shape": tuple(inp.shape), "args": _clone_tree(lc.args),
                            "value": float(lc.output.detach()), "total": float(bw.value),
                            "n_calls": len(bw.loss_calls), "inside_forward": own is not None}
    if own is not None:
        return own
    return {"kind": "unknown", "seen": sorted({c.kind for c in bw.loss_calls})}


def first_nonfinite_module(model: nn.Module, args, kwargs):
    """Re-run one forward on a copy; return (name of the first module whose output is non-finite,
    whether the final output is finite). RNG state is put back so the user's run is unchanged."""
    m = plain_copy(model)[0]  # DDP's forward on a copy would start a collective on this rank alone
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
