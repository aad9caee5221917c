"""batch-independence: does example i's output depend on any other example j?

Karpathy's backprop-to-input test: in eval mode, take the sum of output row i, backprop it
to the inputs (for token ids, to the embedding outputs) and require zero gradient on
every other row. A couple of rows i are probed (first, middle, last), so the cost is one
forward and at most three backward passes whatever the batch size, and no Jacobian is
ever held. Eval mode matters: BatchNorm in train mode mixes the batch on purpose.
When no gradient path reaches the inputs, a forward-only probe replaces the other
examples and watches whether row i's output moves.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import torch

from .. import tensors as T
from ..context import prediction_of
from ..registry import Result, Skip, check
from ._inputgrad import (fmt, grads, has_batchnorm, jitter_zero_weights, other_values, release_tapped_forward,
                         shared_tapped_forward, tapped_forward, user_forward)

# Leak size = (gradient mass on all other rows) / (gradient mass on row i); the total, not
# the largest row, so a leak spread thinly over a big batch still adds up.
# With no mixing that gradient is exactly zero (no graph path exists), so any clear
# nonzero value is a real dependency (evidence/karpathy-recipe-2019.md "use backprop to
# chart dependencies": "ensure that you get a non-zero gradient only on the i-th input").
FAIL_LEAK = 1e-3   # measured leaks of real mixing bugs are 0.1-1e4; clean models give exactly 0
WARN_LEAK = 1e-7   # above float rounding of a cancelling path, below any deliberate mixing
FORWARD_TOL = 1e-5  # forward-only probe: relative change of row i's output that counts as dependence
MAX_PROBES = 3     # rows probed (first, middle, last): a fixed number of backward passes
SHOW = 6           # leaking rows listed in the summary


def _probe_rows(n: int) -> List[int]:
    return sorted({0, n // 2, n - 1})[:MAX_PROBES]


def _row_mass(taps, gs, B: int) -> Optional[torch.Tensor]:
    """|gradient| summed per example over every tap, shape (B,)."""
    total = None
    for tap, g in zip(taps, gs):
        if g is None:
            continue
        m = tap.per_index(g, tap.batch_axis)
        if m.shape[0] != B:
            continue
        total = m if total is None else total + m
    return total


def _batch_axes(pred: torch.Tensor, B: int) -> List[int]:
    axes = [0] if pred.shape[0] == B else []
    return axes + [a for a in range(1, pred.dim()) if pred.shape[a] == B]


def _leak_of(mass: torch.Tensor, own_index: Optional[int]) -> Tuple[float, List[int], List[float]]:
    """(relative leak, leaking rows, their relative sizes) for one probe's per-row mass."""
    if own_index is None:  # flattened output row: it may depend on one example, any one
        own_index = int(mass.argmax())
    own = float(mass[own_index])
    others = mass.clone()
    others[own_index] = 0
    ref = own if own > 0 else float(others.max())
    if ref <= 0:
        return 0.0, [], []
    rel = others / ref
    rows = [int(j) for j in torch.nonzero(rel > WARN_LEAK).flatten()]
    size = float(rel.sum()) if own > 0 else float("inf")
    return size, rows, [float(rel[j]) for j in rows]


def _gradient_probe(ctx, B: int, model=None):
    """Backprop probes, on the shared eval-mode copy (or on `model`). Returns a dict of findings
    ("model": the copy used; "no_path" when no gradient path exists)."""
    if model is None:
        model, out, taps, notes = shared_tapped_forward(ctx, B)
    else:
        out, taps, notes = tapped_forward(ctx, model, ctx.inputs, B)
    found = _probe_rows_of(out, taps, notes, B)
    found["model"] = model
    return found


def _probe_rows_of(out, taps, notes, B: int):
    pred = prediction_of(out)
    if pred is None or not isinstance(pred, torch.Tensor) or pred.dim() == 0:
        raise Skip("the model output holds no tensor with a batch dimension to test")
    if not pred.is_floating_point():
        raise Skip(f"the prediction is {pred.dtype}, not float: no gradient to chart dependencies with")
    if not taps:
        return {"pred": pred, "no_path": "no float input and no nn.Embedding reads the ids"}
    if not pred.requires_grad:
        return {"pred": pred, "no_path": "the prediction does not require grad (no_grad or detach in forward?)"}
    axes = _batch_axes(pred, B)
    layout = "batch"
    if not axes:
        if pred.shape[0] % B == 0:
            axes, layout = [0], "flat"
        else:
            raise Skip(f"the prediction has shape {tuple(pred.shape)}: no axis of the batch size {B}, "
                       "so its rows cannot be matched to examples; check by hand (see the manual snippet)")
    results = []
    for axis in axes:
        n = pred.shape[axis]
        probes, reached = [], False
        for i in _probe_rows(n):
            gs = grads(pred.select(axis, i).float().sum(), taps)
            mass = _row_mass(taps, gs, B)
            if mass is None or float(mass.sum()) == 0:
                probes.append({"row": i, "leak": 0.0, "rows": [], "sizes": [], "reached": False})
                continue
            reached = True
            size, rows, sizes = _leak_of(mass, i if layout == "batch" else None)
            probes.append({"row": i, "leak": size, "rows": rows, "sizes": sizes, "reached": True})
        results.append({"pred": pred, "axis": axis, "layout": layout, "probes": probes, "reached": reached,
                        "taps": [t.name for t in taps], "notes": notes})
        if max(p["leak"] for p in probes) <= WARN_LEAK:
            # a clean batch axis: done. Another axis of size B is only tried when axis 0 leaks
            # (a sequence-first output whose length happens to equal the batch size)
            if axis != axes[0]:
                results[-1]["notes"] = notes + [f"prediction axis 0 also has size {B} but is not the batch; "
                                                f"axis {axis} is, and it is clean"]
            return results[-1]
    return results[0]


def _forward_probe(ctx, model, pred: torch.Tensor, B: int) -> Dict[str, Any]:
    """No gradient path: give the other examples new values and watch row i's output."""
    axes = _batch_axes(pred, B)
    if not axes:
        raise Skip(f"no gradient path to the inputs and the prediction {tuple(pred.shape)} has no batch axis")
    axis = axes[0]
    probes = []
    g = torch.Generator(device="cpu").manual_seed(1)
    for i in _probe_rows(B):
        def change(t):
            t = t.detach().clone()
            if t.dim() == 0 or t.shape[0] != B:
                return t
            new = other_values(t, g)
            new[i] = t[i]
            return new
        with torch.no_grad():
            p2 = prediction_of(user_forward(ctx, model, T.tree_map(change, ctx.inputs)))
        a_, b_ = pred.select(axis, i).detach().float(), p2.select(axis, i).float()
        change_ = float((a_ - b_).abs().max()) / max(float(a_.abs().max()), 1e-12)
        probes.append({"row": i, "leak": change_ if change_ > FORWARD_TOL else 0.0, "rows": [], "sizes": [],
                       "reached": True})
    return {"axis": axis, "layout": "forward", "probes": probes, "reached": True}


@check("batch-independence", "output of example i depends only on input i (eval mode)", order=50)
def batch_independence(ctx) -> Result:
    B = ctx.batch_size
    if B < 2:
        raise Skip("the batch holds one example: nothing to mix; return a batch of 2 or more")
    try:
        found = _gradient_probe(ctx, B)
    finally:
        if ctx.target.causal_dim is None:   # causality won't run: nobody else reads the shared forward
            release_tapped_forward(ctx)
    model = found["model"]
    bn = has_batchnorm(model)
    jittered: List[str] = []
    if "no_path" not in found and not found["reached"]:
        own = ctx.fresh_model()   # the shared copy is read only
        own.eval()
        jittered = jitter_zero_weights(own)  # zero-initialised layers block every gradient
        if jittered:
            model = own
            found = _gradient_probe(ctx, B, model)
    if "no_path" in found:
        why = found["no_path"]
        found = _forward_probe(ctx, model, found["pred"].detach(), B)
        found["notes"] = [f"gradient probe impossible ({why}); used a forward probe that changes the other examples"]
    if not found["reached"]:
        raise Skip("no gradient from the probed output rows reaches any input (the output ignores the inputs "
                   "at init?); nothing to chart")
    probes = found["probes"]
    worst = max(probes, key=lambda p: p["leak"])
    leak_rows = sorted({j for p in probes for j in p["rows"]})
    metrics: Dict[str, Any] = {
        "batch_size": B, "probed_rows": [p["row"] for p in probes], "max_leak": worst["leak"],
        "leaking_rows": leak_rows[:50], "n_leaking_rows": len(leak_rows),
        "batch_axis": found["axis"], "method": "forward" if found["layout"] == "forward" else "gradient",
        "per_probe": [{"row": p["row"], "leak": p["leak"], "n_rows": len(p["rows"])} for p in probes],
        "has_batchnorm": bn,
    }
    if found.get("taps"):
        metrics["taps"] = found["taps"]
    details = list(found.get("notes", []))
    if jittered:
        details.append(f"all-zero weights given small random values on the copy so gradients flow: {', '.join(jittered)}")
    for p in probes:
        if p["rows"]:
            pairs = ", ".join(f"{j} ({fmt(s)})" for j, s in list(zip(p["rows"], p["sizes"]))[:SHOW])
            details.append(f"output row {p['row']} has gradient on input rows {pairs}"
                           f"{' ...' if len(p['rows']) > SHOW else ''} (relative to its own row)")
    bn_note = (" BatchNorm mixes the batch only in train mode, which is intended; tested in eval mode, "
               "as at inference." if bn else "")
    if worst["leak"] > FAIL_LEAK:
        if found["layout"] == "forward":
            head = (f"output row {worst['row']} changed by {fmt(worst['leak'])} (relative) when only the other "
                    "examples in the batch were swapped")
        else:
            shown = ", ".join(str(j) for j in worst["rows"][:SHOW]) + (" ..." if len(worst["rows"]) > SHOW else "")
            if found["layout"] == "flat":
                head = (f"row {worst['row']} of the flattened prediction {tuple(found['pred'].shape)} depends on "
                        f"{len(worst['rows']) + 1} examples (besides its main one: {shown}; "
                        f"gradient mass on them {fmt(worst['leak'])}x the main one's)")
            else:
                head = (f"output row {worst['row']} depends on {len(worst['rows'])} other examples (rows {shown}; "
                        f"gradient mass on them {fmt(worst['leak'])}x its own)")
        return Result("fail", head + " in eval mode: the model mixes information across the batch "
                      "(view/reshape instead of permute/transpose, softmax/mean/norm over dim 0, batch statistics "
                      "at eval)." + bn_note, metrics, details)
    if worst["leak"] > WARN_LEAK:
        return Result("warn", f"a tiny dependence across the batch in eval mode: output row {worst['row']} has "
                      f"{fmt(worst['leak'])} of its own gradient on other rows ({len(worst['rows'])} rows); "
                      "likely a cancelling path, but check for ops over dim 0." + bn_note, metrics, details)
    how = ("forward probe: new values in the other examples left each probed output unchanged"
           if found["layout"] == "forward" else
           f"gradient from output rows {', '.join(str(p['row']) for p in probes)} reaches only their own "
           f"{'example' if found['layout'] == 'batch' else 'example each'}")
    axis_note = f" (batch on prediction axis {found['axis']})" if found["axis"] != 0 else ""
    return Result("pass", f"examples are independent in eval mode: {how}{axis_note}." + bn_note, metrics, details)
