"""causality: in an autoregressive model, output position t must not depend on inputs after t.

Runs only when the target sets CAUSAL_DIM (the sequence axis, the same index in the inputs
and in the prediction). In eval mode we backprop the sum of the outputs at positions < s
to the inputs (for token ids, to the embedding outputs) and require zero gradient at
positions >= s, for a few boundaries s. One prefix sum covers every t < s at once, so the
cost is one forward and a handful of backward passes whatever the sequence length. When a
boundary leaks, one more backward from position s-1 alone gives the offset ("position t
sees t+1"). Without a gradient path (ids not read by nn.Embedding) a forward-only probe
changes the inputs at positions >= s and watches the outputs before s.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

import torch

from .. import tensors as T
from ..context import prediction_of
from ..registry import Result, Skip, check
from ._inputgrad import (fmt, grads, jitter_zero_weights, other_values, release_tapped_forward, shared_tapped_forward,
                         tapped_forward, user_forward)

# Leak = gradient mass at positions >= s / gradient mass at position s-1. A correct mask
# (masked_fill -inf, left padding, unidirectional RNN) gives exactly 0; any open path to the
# future gives O(0.01-1) (ours: an estimate). evidence/karpathy-recipe-2019.md: "ensure that
# your autoregressive model at time t only depends on 1..t-1".
FAIL_LEAK = 1e-3   # an additive mask of -10 instead of -inf leaks ~e^-10 = 5e-5: warn, not fail
WARN_LEAK = 1e-7   # below this: float rounding of a path that cancels, or exp(-1e4)-style masks
FORWARD_TOL = 1e-5  # forward probe: relative change of earlier outputs that counts as a leak
N_BOUNDARIES = 4   # boundaries s probed: first position, thirds, last


def _boundaries(T_: int) -> List[int]:
    cand = [1, T_ // 3, (2 * T_) // 3, T_ - 1]
    return sorted({s for s in cand if 1 <= s <= T_ - 1})[:N_BOUNDARIES]


def _seq_length(inputs: Any, d: int, B: int) -> Optional[int]:
    lengths = [t.shape[d] for t in T.leaves(inputs) if t.dim() > d and t.shape[0] == B]
    return max(set(lengths), key=lengths.count) if lengths else None


def _pred_seq(pred: torch.Tensor, d: int, B: int, L: int):
    """(prediction with the sequence on axis d, note) or (None, why)."""
    if pred.dim() > d and pred.shape[d] == L:
        return pred, ""
    if d == 1 and pred.dim() >= 1 and pred.shape[0] == B * L:
        return pred.reshape(B, L, *pred.shape[1:]), f" (prediction {tuple(pred.shape)} read as (B={B}, T={L}, ...))"
    return None, (f"the prediction has shape {tuple(pred.shape)}: no axis {d} of the input sequence length {L}, "
                  "so output positions cannot be matched to input positions")


def _position_mass(taps, gs, d: int, L: int) -> Optional[torch.Tensor]:
    total = None
    for tap, g in zip(taps, gs):
        ax = tap.axis(d)
        if g is None or ax is None or tap.leaf.shape[ax] != L:
            continue
        m = tap.per_index(g, ax)
        total = m if total is None else total + m
    return total


def _gradient_probe(ctx, d: int, B: int, L: int, model=None):
    """Backprop probes on the shared eval-mode copy (the one batch-independence used), or on `model`."""
    if model is None:
        model, out, taps, notes = shared_tapped_forward(ctx, B)
    else:
        out, taps, notes = tapped_forward(ctx, model, ctx.inputs, B)
    found = _probe_bounds_of(out, taps, list(notes), d, B, L)
    found["model"] = model
    return found


def _probe_bounds_of(out, taps, notes, d: int, B: int, L: int):
    pred = prediction_of(out)
    if not isinstance(pred, torch.Tensor) or pred.dim() == 0:
        raise Skip("the model output holds no tensor with a sequence axis to test")
    seq_pred, note = _pred_seq(pred, d, B, L)
    if seq_pred is None:
        raise Skip(note + "; check by hand (see the manual snippet)")
    seq_taps = [t for t in taps if t.axis(d) is not None and t.leaf.shape[t.axis(d)] == L]
    if not seq_taps or not pred.requires_grad or not pred.is_floating_point():
        why = ("no float input and no nn.Embedding output carries the sequence axis" if not seq_taps
               else "the prediction carries no gradient")
        return {"pred": seq_pred.detach(), "no_path": why, "note": note}
    bounds, reached = [], False
    for s in _boundaries(L):
        mass = _position_mass(seq_taps, grads(seq_pred.narrow(d, 0, s).float().sum(), seq_taps), d, L)
        if mass is None or float(mass.sum()) == 0:
            bounds.append({"s": s, "leak": 0.0, "first": None})
            continue
        reached = True
        # compare with input s-1, the one input output s-1 may use that no earlier output
        # also uses, so the ratio does not shrink as the prefix grows
        past, future = float(mass[s - 1]) or float(mass[:s].max()), mass[s:]
        fut = float(future.sum())
        leak = fut / past if past > 0 else (float("inf") if fut > 0 else 0.0)
        first = None
        if leak > WARN_LEAK:
            ref = past if past > 0 else fut
            first = s + int(torch.nonzero(future > WARN_LEAK * ref).flatten()[0])
        bounds.append({"s": s, "leak": leak, "first": first})
    found = {"pred": seq_pred, "bounds": bounds, "reached": reached, "method": "gradient", "note": note,
             "taps": [t.name for t in seq_taps], "notes": notes}
    leaky = [b for b in bounds if b["leak"] > WARN_LEAK]
    if leaky:
        t = leaky[0]["s"] - 1  # the last position before the first leaking boundary: its look-ahead
        mass = _position_mass(seq_taps, grads(seq_pred.select(d, t).float().sum(), seq_taps), d, L)
        ahead = []
        if mass is not None and float(mass.sum()) > 0:
            ref = float(mass[:t + 1].sum()) or float(mass.sum())
            ahead = [int(p) for p in torch.nonzero(mass[t + 1:] > WARN_LEAK * ref).flatten() + t + 1]
        found["offset"] = {"t": t, "sees": ahead}
    return found


def _changed(pred, sub: torch.Tensor, d: int, upto: int) -> torch.Tensor:
    """Per position < upto: did the output change (relative to the output's scale)?"""
    a, b = pred.narrow(d, 0, upto).float(), sub.narrow(d, 0, upto).float()
    diff = (a - b).abs().movedim(d, 0).reshape(upto, -1).amax(1)
    return diff > FORWARD_TOL * max(float(pred.float().abs().max()), 1e-12)


def _perturbed(inputs: Any, d: int, L: int, B: int, start: int, stop: int) -> Any:
    """A copy of the inputs with positions [start, stop) along d changed to other valid values."""
    g = torch.Generator(device="cpu").manual_seed(1)

    def change(t):
        t = t.detach().clone()
        if t.dim() <= d or t.shape[0] != B or t.shape[d] != L:
            return t
        idx = [slice(None)] * t.dim()
        idx[d] = slice(start, stop)
        new = other_values(t, g)
        t[tuple(idx)] = new[tuple(idx)]
        return t
    return T.tree_map(change, inputs)


def _forward_probe(ctx, model, pred: torch.Tensor, d: int, B: int, L: int) -> Dict[str, Any]:
    bounds = []
    offset = None
    for s in _boundaries(L):
        with torch.no_grad():
            p2 = prediction_of(user_forward(ctx, model, _perturbed(ctx.inputs, d, L, B, s, L)))
        p2, _ = _pred_seq(p2, d, B, L)
        ch = _changed(pred, p2, d, s)
        bounds.append({"s": s, "leak": 1.0 if bool(ch.any()) else 0.0,
                       "first": None})
        if ch.any() and offset is None:
            # change only position s: the latest earlier output that moves gives the offset
            with torch.no_grad():
                p3 = prediction_of(user_forward(ctx, model, _perturbed(ctx.inputs, d, L, B, s, s + 1)))
            p3, _ = _pred_seq(p3, d, B, L)
            moved = torch.nonzero(_changed(pred, p3, d, s)).flatten()
            if len(moved):
                t = int(moved[-1])
                offset = {"t": t, "sees": [s]}
    found = {"pred": pred, "bounds": bounds, "reached": True, "method": "forward", "notes": []}
    if offset:
        found["offset"] = offset
    return found


@check("causality", "output at position t ignores inputs after t (CAUSAL_DIM, eval mode)", order=55)
def causality(ctx) -> Result:
    d = ctx.target.causal_dim
    if d is None:
        raise Skip("the target sets no CAUSAL_DIM, so nothing says it must be autoregressive "
                   "(set CAUSAL_DIM = the sequence axis for a next-token model)")
    B = ctx.batch_size
    if d == 0:
        raise Skip("CAUSAL_DIM is 0, the batch axis; it must name the sequence axis (usually 1)")
    if d < 0:
        raise Skip(f"CAUSAL_DIM {d} is negative; give the sequence axis as a positive index (usually 1)")
    L = _seq_length(ctx.inputs, d, B)
    if L is None:
        raise Skip(f"no input tensor has an axis {d} (CAUSAL_DIM) to test")
    if L < 2:
        raise Skip(f"the sequences are {L} long along axis {d}: nothing after position 0 to leak")
    try:
        found = _gradient_probe(ctx, d, B, L)
    finally:
        release_tapped_forward(ctx)   # the last reader of the shared forward
    model = found["model"]
    jittered: List[str] = []
    if "no_path" not in found and not found["reached"]:
        own = ctx.fresh_model()   # the shared copy is read only
        own.eval()
        jittered = jitter_zero_weights(own)
        if jittered:
            model = own
            found = _gradient_probe(ctx, d, B, L, model)
    if "no_path" in found:
        why, note = found["no_path"], found["note"]
        found = _forward_probe(ctx, model, found["pred"], d, B, L)
        found["note"] = note
        found["notes"] = [f"gradient probe impossible ({why}); changed the inputs after each boundary instead"]
    if not found["reached"]:
        raise Skip("no gradient from the outputs reaches the inputs along the sequence (the output ignores "
                   "the inputs at init?); nothing to chart")
    bounds = found["bounds"]
    worst = max(bounds, key=lambda b: b["leak"])
    off = found.get("offset")
    metrics: Dict[str, Any] = {
        "causal_dim": d, "seq_len": L, "method": found["method"], "boundaries": [b["s"] for b in bounds],
        "leak_per_boundary": [b["leak"] for b in bounds], "max_leak": worst["leak"],
    }
    if found.get("taps"):
        metrics["taps"] = found["taps"]
    details = list(found.get("notes", []))
    if jittered:
        details.append(f"all-zero weights given small random values on the copy so gradients flow: {', '.join(jittered)}")
    for b in bounds:
        details.append(f"outputs before {b['s']}: gradient on inputs >= {b['s']} / on input {b['s'] - 1}: {fmt(b['leak'])}"
                       + (f", first future input reached {b['first']}" if b["first"] is not None else ""))
    where = f"along axis {d}{found.get('note', '')}"
    if off and off["sees"]:
        t, sees = off["t"], off["sees"]
        metrics.update({"position": t, "first_offset": sees[0] - t, "max_offset": sees[-1] - t,
                        "n_future_seen": len(sees)})
        k = sees[0] - t
        span = f"t+{k}" if k > 1 else "t+1"
        ahead = (f"position {t} sees {t}+{k} = {sees[0]}" if found["method"] == "forward"
                 else f"position {t} sees {len(sees)} later positions, first {sees[0]}, last {sees[-1]}")
        head = f"position t sees {span} ({ahead})"
    elif worst["first"] is not None:
        head = f"outputs before position {worst['s']} depend on input position {worst['first']}"
        metrics["first_offset"] = None
    else:
        head = f"outputs before position {worst['s']} change when later inputs change"
    size = (f"gradient on later inputs {fmt(worst['leak'])}x that on input {worst['s'] - 1}"
            if found["method"] == "gradient"
            else "found by changing later inputs")
    if worst["leak"] > FAIL_LEAK:
        return Result("fail", f"{head} {where} ({size}): the model reads the future it must predict "
                      "(mask off by one or missing, bidirectional layer, symmetric conv padding).", metrics, details)
    if worst["leak"] > WARN_LEAK:
        return Result("warn", f"a tiny dependence on the future {where}: {head} ({size}); likely a soft mask "
                      "(a finite negative number instead of -inf).", metrics, details)
    return Result("pass", f"no output depends on later inputs {where}: "
                  + (f"gradients from the outputs before positions {', '.join(str(b['s']) for b in bounds)} "
                   f"(of {L}) are exactly zero on every later input." if found["method"] == "gradient" else
                   f"changing the inputs from positions {', '.join(str(b['s']) for b in bounds)} (of {L}) on "
                   "left every earlier output unchanged."),
                  metrics, details)
