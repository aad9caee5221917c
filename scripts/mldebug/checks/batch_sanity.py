"""batch-sanity: look at the batch itself before blaming the model.

Per input and target tensor: shape, dtype, range, mean/std (metrics). Then, on the real
batch:
- NaN/Inf in inputs or targets (fail; a warning when the loss stays finite, i.e. masked);
- float inputs far from normalised (|mean| or std > SCALE_WARN), unless a forward shows
  that no weight layer receives values that large (the model rescales internally);
  integer ids and 0/1 masks are never judged for scale;
- constant float features across the batch (other than 0/1 padding, bias or mask columns);
- targets outside what the loss and the output accept: class ids outside [0, C) with C
  read from the loss call's input, or from the prediction's class axis and NUM_CLASSES
  when the loss itself can't run; every target equal to ignore_index; BCE targets or soft
  labels outside [0, 1];
- heavy label imbalance or a single class in the batch (per-example labels, few classes);
- integer targets identical to an integer input (next-token targets not shifted).
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.nn as nn

from .. import tensors as T
from ..context import disable_dropout, prediction_of
from ..registry import Result, check
from ..target import UserCodeError

# Thresholds (refs/diagnostics.md#batch-sanity). Inputs: ../evidence/cs231n-setup.md and
# ../evidence/fsdl-troubleshooting.md (zero-centre, unit scale, or [0,1] for images);
# labels: ../evidence/slavv-37-reasons.md (class balance, batches with a single label).
SCALE_WARN = 10.0            # |mean| or std above 10: raw pixels (mean ~100, std ~70) or raw units, not a
                             # normalised feature (std ~1) nor [0,1] images; 10 leaves room for mild scales
MIN_CONST_ROWS = 16          # judge a feature constant only over >= 16 examples (a small batch can repeat values)
IMBALANCE_WARN = 0.95        # most common class >= 95% of labels (19:1): heavier than the 90:10 a log-prior
                             # bias handles routinely (../evidence/karpathy-recipe-2019.md "init well")
MAX_BALANCE_CLASSES = 100    # balance is judged for few classes only (never for vocabulary-sized outputs)
MIN_PER_CLASS = 5            # and only with >= 5 labelled examples per class in the batch
SINGLE_CLASS_MIN = 16        # a batch of >= 16 examples holding a single class: unshuffled data?
LEAK_MIN = 16                # targets == inputs judged on >= 16 elements
WEIGHT_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
                 nn.ConvTranspose3d, nn.RNNBase, nn.Bilinear)
CLASS_LOSSES = ("cross_entropy", "nll_loss")
BINARY_LOSSES = ("binary_cross_entropy", "binary_cross_entropy_with_logits")


def _stats(t: torch.Tensor) -> Dict[str, Any]:
    s: Dict[str, Any] = {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", "")}
    if t.numel() == 0 or t.is_complex():
        return s
    x = t.detach()
    if x.dtype == torch.bool:
        s["true_fraction"] = float(x.float().mean())
        return s
    finite = x[torch.isfinite(x)] if x.is_floating_point() else x
    if finite.numel():
        f = finite.double()
        s.update(min=float(f.min()), max=float(f.max()), mean=float(f.mean()),
                 std=float(f.std(unbiased=False)))
    if not x.is_floating_point():
        s["distinct"] = int(torch.unique(x).numel())
    else:
        bad = int((~torch.isfinite(x)).sum())
        if bad:
            s["nonfinite"] = bad
    return s


def _is_mask_like(x: torch.Tensor) -> bool:
    return bool(((x == 0) | (x == 1)).all())


def _init_eval(ctx) -> Tuple[Optional[torch.Tensor], list, Optional[float], Optional[str]]:
    """(prediction, loss calls, loss value, why the loss failed): the loss is optional here."""
    try:
        ie = ctx.init_eval()
        return ie["prediction"], ie["trace"].calls, float(ie["loss"]), None
    except UserCodeError as e:
        why = str(e)
    model = ctx.fresh_model()
    model.train()
    disable_dropout(model)
    with torch.no_grad():
        out = ctx.forward(model, ctx.inputs)
    return prediction_of(out), [], None, why


def _padding_ids(ctx) -> Dict[int, str]:
    """padding_idx -> name of the nn.Embedding that declares it, read off the pristine model."""
    model = getattr(ctx, "_pristine", None)
    out: Dict[int, str] = {}
    if isinstance(model, nn.Module):
        for name, m in model.named_modules():
            if isinstance(m, nn.Embedding) and m.padding_idx is not None:
                out.setdefault(int(m.padding_idx) % m.num_embeddings, name or "the embedding")
    return out


def _padding_only(ctx, valid: torch.Tensor, y: torch.Tensor, where: str, fails: List[str]) -> None:
    """Every kept (not ignored) target is the id the model's embedding reserves for padding: the
    loss trains the model to predict padding, typically an inverted mask (labels[mask == 1] = -100)."""
    if valid.numel() < LEAK_MIN or int(valid.min()) != int(valid.max()):
        return
    v = int(valid[0])
    pads = _padding_ids(ctx)
    if v in pads:
        fails.append(f"every one of the {valid.numel()} targets {where} keeps (of {y.numel()}) is id {v}, the "
                     f"padding_idx of {pads[v]}: the model is trained to predict padding only; the ignore mask "
                     "looks inverted (labels[mask == 1] = -100 where mask == 0 was meant)")


def _weight_layer_input_scale(ctx) -> float:
    """Largest std of what any weight layer (Linear, Conv, RNN) receives in one forward."""
    model = ctx.fresh_model()
    model.train()
    disable_dropout(model)
    seen: List[float] = []

    def hook(mod, args):
        if args and isinstance(args[0], torch.Tensor) and args[0].is_floating_point() and args[0].numel() > 1:
            a = args[0].detach()
            a = a[torch.isfinite(a)]
            if a.numel() > 1:
                seen.append(max(float(a.double().std()), abs(float(a.double().mean()))))
    handles = [m.register_forward_pre_hook(hook) for m in model.modules() if isinstance(m, WEIGHT_LAYERS)]
    try:
        with torch.no_grad():
            ctx.forward(model, ctx.inputs)
    finally:
        for h in handles:
            h.remove()
    return max(seen) if seen else float("nan")


def _class_count_from_prediction(pred: Optional[torch.Tensor], y: torch.Tensor) -> Optional[int]:
    """C when the prediction is (N, C, *rest) or (*y.shape, C) for integer targets y."""
    if pred is None or y.dim() == 0:
        return None
    if pred.dim() == y.dim() + 1:
        if pred.shape[0] == y.shape[0] and tuple(pred.shape[2:]) == tuple(y.shape[1:]):
            return int(pred.shape[1])
        if tuple(pred.shape[:-1]) == tuple(y.shape):
            return int(pred.shape[-1])
    return None


def _label_findings(y: torch.Tensor, c: int, ignore: int, where: str, fails: List[str],
                    metrics: Dict[str, Any]) -> Optional[torch.Tensor]:
    """Range and ignore-index findings for integer class targets; returns the valid labels."""
    valid = y[y != ignore].long()
    metrics.setdefault("num_classes", c)
    if y.numel() and valid.numel() == 0:
        fails.append(f"every target in {where} equals ignore_index {ignore}: the mean loss is 0/0 = NaN "
                     "and nothing is learned (an inverted padding mask?)")
        return None
    if valid.numel():
        lo, hi = int(valid.min()), int(valid.max())
        out = int(((valid < 0) | (valid >= c)).sum())
        if out:
            hint = " (1-based labels? subtract 1)" if lo >= 1 and hi == c else ""
            fails.append(f"{out} targets in {where} lie outside the {c} classes of the output: labels span "
                         f"{lo}..{hi}, valid are 0..{c - 1}{hint}")
            return None
    return valid


@check("batch-sanity", "the batch: NaN/Inf, input scale, constant features, target range, label balance", order=5)
def batch_sanity(ctx) -> Result:
    ins = list(T.named_leaves(ctx.inputs, "inputs"))
    tgs = list(T.named_leaves(ctx.targets, "targets"))
    metrics: Dict[str, Any] = {"inputs": {n: _stats(t) for n, t in ins},
                               "targets": {n: _stats(t) for n, t in tgs}}
    fails: List[str] = []
    warns: List[str] = []
    notes: List[str] = []
    pred, calls, loss, loss_error = _init_eval(ctx)
    if loss_error:
        notes.append(f"the loss could not run ({loss_error}); class counts read from the prediction")

    # 1. NaN / Inf
    for where, leaves in (("input", ins), ("target", tgs)):
        for n, t in leaves:
            if t.is_floating_point() and t.numel():
                bad = int((~torch.isfinite(t)).sum())
                if bad:
                    rows = int((~torch.isfinite(t.reshape(t.shape[0], -1) if t.dim() else t.reshape(1, 1))).any(1).sum())
                    text = f"{n} holds {bad} NaN/Inf values (in {rows} of {t.shape[0] if t.dim() else 1} examples)"
                    if loss is not None and math.isfinite(loss):
                        warns.append(text + "; the loss stays finite, so they seem masked out: make sure no "
                                            "gradient path touches them")
                    else:
                        fails.append(text + ": impute or drop them before the model sees the batch")

    # 2. scale of float inputs
    loud = []
    for n, t in ins:
        if not t.is_floating_point() or t.numel() < 2 or _is_mask_like(t):
            continue
        s = metrics["inputs"][n]
        if "mean" in s and (abs(s["mean"]) > SCALE_WARN or s["std"] > SCALE_WARN):
            loud.append((n, s))
    if loud:
        inner = _weight_layer_input_scale(ctx)
        metrics["max_weight_layer_input_scale"] = inner
        if math.isfinite(inner) and inner <= SCALE_WARN:
            notes.append(f"{', '.join(n for n, _ in loud)} are not normalised, but no weight layer receives values "
                         f"beyond {inner:.3g}: the model rescales them itself")
        else:
            for n, s in loud:
                pix = " (raw 0..255 pixels? divide by 255 and standardise)" if s["min"] >= 0 and 100 < s["max"] <= 255 else ""
                warns.append(f"{n} is far from normalised: mean {s['mean']:.3g}, std {s['std']:.3g}, range "
                             f"{s['min']:.3g}..{s['max']:.3g}{pix}; standardise inputs (zero mean, unit std)")

    # 3. constant float features
    floats = [(n, t) for n, t in ins if t.is_floating_point() and t.numel() > 1]
    for n, t in floats:
        x = t.detach()
        if x.shape[0] < 2 or not bool(torch.isfinite(x).all()):
            continue
        if bool((x == x.reshape(-1)[0]).all()):
            v = float(x.reshape(-1)[0])
            if v == 0.0 and len(floats) == 1:
                warns.append(f"{n} is all zeros: the model sees no data")
            elif v not in (0.0, 1.0):
                warns.append(f"{n} holds one value ({v:.4g}) everywhere")
            continue
        if x.dim() in (2, 3) and x.shape[0] * (x.shape[1] if x.dim() == 3 else 1) >= MIN_CONST_ROWS:
            flat = x.reshape(-1, x.shape[-1])                         # (examples[*steps], features)
            const = (flat == flat[0]).all(0) & ~((flat[0] == 0) | (flat[0] == 1))
            idx = torch.nonzero(const).flatten().tolist()
            if idx:
                warns.append(f"{n}: feature(s) {idx[:6]}{' ...' if len(idx) > 6 else ''} hold the same value for "
                             f"every example ({float(flat[0, idx[0]]):.4g}): no information, and NaN after standardising")

    # 4. targets against the loss calls (or the prediction)
    balance_labels: Optional[Tuple[torch.Tensor, int]] = None
    judged_ids = set()
    for call in calls:
        y, x = call.target, call.input
        if not isinstance(y, torch.Tensor) or not isinstance(x, torch.Tensor):
            continue
        if call.kind in CLASS_LOSSES and not y.is_floating_point():
            c = x.shape[1] if x.dim() >= 2 else x.shape[0]
            valid = _label_findings(y, c, int(call.args.get("ignore_index", -100)), f"the {call.kind} call",
                                    fails, metrics)
            judged_ids.add(id(y))
            if valid is not None and balance_labels is None:
                balance_labels = (valid, c)
            if valid is not None:
                _padding_only(ctx, valid, y, f"the {call.kind} call", fails)
        elif call.kind in CLASS_LOSSES + BINARY_LOSSES and y.is_floating_point() and y.numel():
            lo, hi = float(y.min()), float(y.max())
            if lo < -1e-6 or hi > 1 + 1e-6:
                what = "soft labels" if call.kind in CLASS_LOSSES else "binary targets"
                fails.append(f"{call.kind} {what} span {lo:.4g}..{hi:.4g}, outside [0, 1]"
                             + (" (0/255 masks? divide by 255)" if hi >= 254 else "")
                             + ("" if call.kind in CLASS_LOSSES else ": the loss is unbounded below and the "
                                "gradient pushes logits to infinity"))
            elif call.kind in BINARY_LOSSES and balance_labels is None and y.dim() == 1 and _is_mask_like(y):
                balance_labels = (y.long(), 2)
            elif call.kind in BINARY_LOSSES and y.dim() == 2 and _is_mask_like(y):
                metrics["positive_rate_per_label"] = [round(float(v), 4) for v in y.float().mean(0)]
    if not any(c.kind in CLASS_LOSSES for c in calls):
        # no captured class loss (it crashed, or is custom): read C off the prediction / NUM_CLASSES
        for n, y in tgs:
            if y.is_floating_point() or y.dtype == torch.bool or id(y) in judged_ids or y.dim() == 0:
                continue
            c = ctx.target.num_classes or _class_count_from_prediction(pred, y)
            if c is None:
                continue
            valid = _label_findings(y, c, -100, n, fails, metrics)
            if valid is not None and balance_labels is None and y.dim() == 1:
                balance_labels = (valid, c)

    # 5. label balance: per-example labels (1-D), few classes, enough samples
    if balance_labels is not None:
        valid, c = balance_labels
        if valid.dim() == 1 and 2 <= c <= MAX_BALANCE_CLASSES and valid.numel() > 0 and \
                all(t.dim() == 1 for _, t in tgs if not t.is_floating_point()):
            counts = torch.bincount(valid, minlength=c).double()
            frac = counts / counts.sum()
            metrics["class_fractions"] = [round(float(f), 4) for f in frac]
            top = float(frac.max())
            n = valid.numel()
            if int((counts > 0).sum()) == 1 and n >= SINGLE_CLASS_MIN:
                warns.append(f"all {n} labels in the batch are class {int(counts.argmax())}: is the data "
                             "sorted by label and not shuffled?")
            elif n >= MIN_PER_CLASS * c and top >= IMBALANCE_WARN:
                warns.append(f"heavy label imbalance: class {int(counts.argmax())} is {100 * top:.1f}% of {n} "
                             "labels; a constant guess scores that accuracy. Consider class weights or "
                             "resampling, and init the output bias to the log prior")

    # 6. targets identical to an integer input (an unshifted next-token target). Only the target a
    # torch class loss in loss_fn receives counts: labels handed to a model that shifts them inside
    # (Hugging Face LM heads take labels == input_ids) are fine; target-offset measures that case.
    int_inputs = [(n, t) for n, t in ins if not t.is_floating_point() and t.dtype != torch.bool]
    cand = [c.target for c in calls if c.kind in CLASS_LOSSES and isinstance(c.target, torch.Tensor)]
    for y in cand:
        if y.is_floating_point() or y.numel() < LEAK_MIN:
            continue
        for n, t in int_inputs:
            if t.numel() == y.numel() and torch.equal(t.reshape(-1).long(), y.reshape(-1).long()):
                msg = (f"the targets equal {n} element for element: each position is asked to predict the token "
                       "it is given (next-token targets not shifted by one?)")
                if ctx.target.causal_dim is not None:
                    fails.append(msg)
                else:
                    warns.append(msg + "; fine only for an autoencoder with a bottleneck")
                break

    details = fails + warns + notes
    details += [f"{n}: {s}" for n, s in {**metrics["inputs"], **metrics["targets"]}.items()]
    if fails:
        return Result("fail", fails[0] + (f" (+{len(fails) - 1} more)" if len(fails) > 1 else ""), metrics, details)
    if warns:
        return Result("warn", warns[0] + (f" (+{len(warns) - 1} more)" if len(warns) > 1 else ""), metrics, details)
    desc = "; ".join(f"{n} {tuple(s['shape'])} {s['dtype']}" for n, s in list(metrics["inputs"].items())[:3])
    return Result("pass", f"batch looks sane: {desc}; targets in range, finite, no constant features"
                  + (f" ({notes[0]})" if notes else ""), metrics, details)
