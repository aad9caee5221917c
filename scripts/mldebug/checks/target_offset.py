"""target-offset: is each sequence position trained toward the next input, not the current one?

The target a position is trained toward is read off the loss, whatever code built it (dataset,
collate, training loop, or a shift inside the model): one forward and one backward of the user's
loss to the model's prediction. For a cross-entropy-like loss the gradient at a position is
softmax minus one-hot, so its argmin over the vocabulary axis is that position's effective target
class; positions whose gradient is zero (padding, ignore_index) are left out. Those targets are
compared with the input ids at offsets -1..+3 along the sequence axis; the match rate at each
offset is the metric. A next-token model matches at +1.

Sequence regression (a forecaster trained with MSE/L1/Huber, CAUSAL_DIM set): the loss is
evaluated, without the model, at predictions set to each input feature shifted by k; where the
candidate is the target, the gradient of the loss at that position is zero. A target equal to the
input at the same step is the unshifted-forecast bug. Horizons +1..+3 are all legitimate.

When CAUSAL_DIM is not given, a forward probe in eval mode (change the matched inputs at positions
>= L/2, watch the outputs before L/2) says whether the model is causal: a bidirectional model or a
sequence autoencoder may legitimately be trained toward its current input (reconstruction, MLM).
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple

import torch

from .. import tensors as T
from ..context import disable_dropout, prediction_of
from ..registry import Result, Skip, check

OFFSETS = (-1, 0, 1, 2, 3)
# A position "matches" offset k when its effective target equals input[t+k]. A real next-token
# pipeline copies ids, so the correct offset matches at 1.0 but for the few positions an EOS or
# special token replaces (ours: 1/L of positions for an appended EOS); chance for
# character text is sum p_i^2 ~ 0.06 (ours: English letter frequencies). 0.8 separates both.
MATCH_MIN = 0.8
# Below this best rate no offset is even partly right: the targets are not a shifted copy of the
# inputs at all (ours: 5x the ~0.06 chance rate of character text, far below MATCH_MIN).
ALIGN_NONE = 0.3
# "The targets should be input tokens": total variation distance (TV) between the histogram of the
# effective targets and the histogram of the input ids, against the TV a random sample of the
# input ids of the same size shows (the sampling noise of a small batch: 0.2-0.3 for 370 draws
# over 64 ids, ours). Shuffled next-token labels keep the same tokens (TV at the noise level, ours:
# tests/seq_targets/bug_lm_labels_shuffled.py); tags or classes have another distribution
# (TV near 1). The margin over the noise:
SAME_TOKENS_MARGIN = 0.15
# ... and at most 5% of them are ids above the batch's largest input id (tags or classes beyond the
# vocabulary are not tokens; a batch of a real corpus rarely lacks 5% of its targets' ids, ours).
OOV_MAX = 0.05
MIN_POSITIONS = 8        # fewer valid (position, offset) pairs than this: no verdict
ZERO_GRAD_REL = 1e-6     # a position whose |gradient| sum is below 1e-6 of the largest is ignored (padding)
CAUSAL_TOL = 1e-5        # relative change of earlier outputs that counts as non-causal (as causality's FORWARD_TOL)
# Regression: the loss gradient at a candidate that *is* the target is 0 up to float rounding
# (relative ~1e-7); a wrong candidate on a smooth series (a 50-steps-per-period sine shifted by
# one step) leaves ~0.1 of the gradient at init (ours). 1e-4 separates both.
REG_ZERO_REL = 1e-4
MAX_FEATURES = 16        # input features tried as regression targets


def _seq_view(pred: torch.Tensor, d: int, B: int, L: int) -> Optional[torch.Tensor]:
    """The prediction as (B, L, rest...) with the sequence on axis 1, or None."""
    if pred.dim() > d and pred.shape[0] == B and pred.shape[d] == L:
        return pred.movedim(d, 1)
    if d == 1 and pred.dim() >= 1 and pred.shape[0] == B * L:
        return pred.reshape(B, L, *pred.shape[1:])
    if d == 1 and pred.dim() == 3 and pred.shape[0] == B and pred.shape[2] == L:
        return pred.movedim(2, 1)      # channel-first (B, V, L), as F.cross_entropy takes it
    return None


def _ids(inputs: Any, B: int, d: int) -> List[Tuple[str, torch.Tensor]]:
    """Integer token-id tensors (B, L) among the inputs (not masks, not labels); L on axis d = 1."""
    out = []
    if d != 1:
        return out
    for name, t in T.named_leaves(inputs):
        if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool or t.dim() != 2 or t.shape[0] != B:
            continue
        key = re.findall(r"\[['\"]?([^\]'\"]*)['\"]?\]$", name)
        low = (key[0] if key else name).lower()
        if "label" in low or "target" in low or low.endswith("mask"):
            continue
        if t.numel() == 0 or int(t.max()) <= 1 or int(t.min()) < 0:      # a 0/1 mask, or not ids
            continue
        out.append((name, t))
    return out


def _unseq(c: torch.Tensor, pred: torch.Tensor, d: int, B: int, L: int) -> torch.Tensor:
    """Inverse of _seq_view: (B, L, P) back to the prediction's own shape."""
    if pred.dim() > d and pred.shape[0] == B and pred.shape[d] == L:
        rest = pred.movedim(d, 1).shape[2:]
        return c.reshape(B, L, *rest).movedim(1, d).contiguous()
    if pred.dim() == 3 and pred.shape[0] != B * L and pred.shape[2] == L:
        return c.reshape(B, L, pred.shape[1]).movedim(1, 2).contiguous()
    return c.reshape(pred.shape)


def _windows(L: int):
    """(offset k, lo, hi) for each offset: positions lo..hi-1 have a partner at +k; (k, 0, 0) when none do."""
    for k in OFFSETS:
        lo, hi = max(0, -k), min(L, L - k)
        yield (k, lo, hi) if hi > lo else (k, 0, 0)


def _rates(tgt: torch.Tensor, valid: torch.Tensor, x: torch.Tensor) -> Tuple[Dict[int, float], Dict[int, int]]:
    """Match rate of effective targets tgt (B, L) with x at each offset, over valid positions."""
    rates, counts = {}, {}
    for k, lo, hi in _windows(x.shape[1]):
        if hi == lo:
            rates[k], counts[k] = 0.0, 0
            continue
        v = valid[:, lo:hi]
        n = int(v.sum())
        eq = (tgt[:, lo:hi] == x[:, lo + k:hi + k]) & v
        rates[k], counts[k] = (float(eq.sum()) / n if n else 0.0), n
    return rates, counts


def _best(rates: Dict[int, float], counts: Dict[int, int]) -> int:
    usable = [k for k in OFFSETS if counts[k] >= MIN_POSITIONS]
    if not usable:
        return 1
    top = max(rates[k] for k in usable)
    return 1 if 1 in usable and rates[1] >= top else max(usable, key=lambda k: (rates[k], -abs(k - 1)))


def _replace(inputs: Any, name: str, new: torch.Tensor) -> Any:
    """A copy of the inputs with the leaf called `name` replaced."""
    names = [n for n, _ in T.named_leaves(inputs)]
    it = iter(names)
    return T.tree_map(lambda t: new if next(it) == name else t, inputs)


def _is_causal(ctx, d: int, name: str, perturb) -> Optional[bool]:
    """Forward probe in eval mode: do outputs before L/2 ignore a change of input `name` at >= L/2?"""
    model = ctx.fresh_model()
    model.eval()
    leaf = dict(T.named_leaves(ctx.inputs))[name]
    L = leaf.shape[d]
    s = L // 2
    if s < 1:
        return None
    changed = leaf.clone()
    idx = [slice(None)] * leaf.dim()
    idx[d] = slice(s, None)
    changed[tuple(idx)] = perturb(leaf[tuple(idx)])
    with torch.no_grad():
        a = prediction_of(ctx.forward(model, ctx.inputs))
        b = prediction_of(ctx.forward(model, _replace(ctx.inputs, name, changed)))
    B = ctx.batch_size
    a, b = _seq_view(a, d, B, L), _seq_view(b, d, B, L)
    if a is None or b is None:
        return None
    diff = float((a[:, :s].float() - b[:, :s].float()).abs().max())
    return diff <= CAUSAL_TOL * max(float(a.float().abs().max()), 1e-12)


def _fmt_rates(rates: Dict[int, float]) -> str:
    return ", ".join(f"{k:+d}: {rates[k]:.2f}" for k in OFFSETS)


def _classification(ctx, out, pred, seq, d, B, L, ids, declared) -> Result:
    V = seq.shape[-1] if seq.dim() == 3 else None
    if V is None or V < 2:
        raise Skip(f"the prediction has shape {tuple(pred.shape)}: no vocabulary axis next to the sequence axis")
    max_id = max(int(x.max()) for _, x in ids)
    if V < max_id + 1:
        raise Skip(f"the output has {V} classes per position, fewer than the input vocabulary (ids up to {max_id}): "
                   "the targets are not input tokens (tagging or per-position classification)")
    loss = ctx.loss(out, ctx.targets)
    if not loss.requires_grad:
        raise Skip("the loss does not require grad: no gradient to read the targets from (grad-flow says why)")
    (g,) = ctx.call("loss backward to the prediction", torch.autograd.grad, loss, pred, allow_unused=True)
    if g is None:
        raise Skip("the loss does not depend on the model's prediction")
    g = _seq_view(g, d, B, L).float()
    mass = g.abs().sum(-1)
    valid = mass > ZERO_GRAD_REL * float(mass.max())
    gmin, tgt = g.min(-1)
    ce_like = valid & (gmin < 0)
    if int(valid.sum()) == 0 or int(ce_like.sum()) < 0.5 * int(valid.sum()):
        raise Skip("the loss gradient is not softmax-minus-one-hot-like (no negative entry at most positions): "
                   "not a classification loss over the vocabulary")
    valid = ce_like
    results = []
    for name, x in ids:
        rates, counts = _rates(tgt, valid, x)
        results.append((name, x, rates, counts, _best(rates, counts)))
    name, x, rates, counts, k = max(results, key=lambda r: (r[2][r[4]], r[4] == 1))
    n_valid = int(valid.sum())
    metrics: Dict[str, Any] = {"mode": "classification", "input": name, "vocab": V, "valid_positions": n_valid,
                               "match_rate": {str(o): rates[o] for o in OFFSETS}, "best_offset": k,
                               "sequence_axis": d}
    ids_all = x[valid].flatten()     # the input ids at the positions that carry a target (padding left out)
    hist_in = torch.bincount(ids_all.clamp(min=0), minlength=V).float()
    hist_t = torch.bincount(tgt[valid].flatten(), minlength=V).float()
    n = max(hist_in.numel(), hist_t.numel())
    hist_in = torch.nn.functional.pad(hist_in, (0, n - hist_in.numel()))
    hist_t = torch.nn.functional.pad(hist_t, (0, n - hist_t.numel()))
    p_in, p_t = hist_in / hist_in.sum(), hist_t / hist_t.sum()
    tv = 0.5 * float((p_in - p_t).abs().sum())
    g = torch.Generator(device="cpu").manual_seed(ctx.seed)
    draw = ids_all.cpu()[torch.randint(0, ids_all.numel(), (int(valid.sum()),), generator=g)]
    hist_d = torch.bincount(draw.clamp(min=0), minlength=V).float()
    hist_d = torch.nn.functional.pad(hist_d, (0, n - hist_d.numel()))
    tv_noise = 0.5 * float((p_in.cpu() - hist_d / hist_d.sum()).abs().sum())
    metrics["chance_rate"] = float((p_in * p_in).sum())
    metrics["target_input_tv"] = tv
    metrics["sample_tv"] = tv_noise
    details = [f"effective targets of {n_valid} positions (argmin of the loss gradient over {V} classes) against "
               f"{name} at offsets -1..+3: {_fmt_rates(rates)}"]
    if counts[k] < MIN_POSITIONS:
        raise Skip(f"only {counts[k]} positions carry a loss gradient: too few to read an offset")
    oov = float((tgt[valid] > int(x.max())).float().mean())
    metrics["targets_beyond_input_ids"] = oov
    causal = None

    def need_causal():
        nonlocal causal
        if causal is None:
            hi = int(x.max())
            causal = _is_causal(ctx, d, name, lambda v: (v + 1) % (hi + 1))
            metrics["causal_probe"] = causal
        return causal

    best = rates[k]
    if best >= MATCH_MIN:
        if k == 1:
            return Result("pass", f"position t is trained toward input t+1 (next token): match rate {best:.2f} over "
                                  f"{n_valid} positions ({_fmt_rates(rates)})", metrics, details)
        if k >= 2:
            return Result("fail", f"targets are shifted {k} steps: position t is trained toward input t+{k} "
                                  f"(match rate {best:.2f}; next token +1: {rates[1]:.2f}); the labels are shifted "
                                  "twice (e.g. in the dataset or collate and again inside the model or loss)",
                          metrics, details)
        if need_causal() is False:
            return Result("pass", f"position t is trained toward input t{k:+d} (match rate {best:.2f}), and the model "
                                  "is not causal (outputs before L/2 change with later inputs): read as "
                                  "reconstruction / denoising, not next-token", metrics, details)
        what = "the current input token (offset 0), which the model sees" if k == 0 else \
            "the previous input token (offset -1), which the model has already seen"
        return Result("fail", f"targets are not shifted: position t is trained toward {what}; match rate "
                              f"{best:.2f} (next token +1: {rates[1]:.2f}). The loss will fall fast and "
                              f"generation will be garbage", metrics, details)
    if best >= ALIGN_NONE and need_causal() is not False:
        return Result("warn", f"targets match the inputs only partly: best offset {k:+d} at {best:.2f} "
                              f"({_fmt_rates(rates)}); some labels are misaligned or replaced", metrics, details)
    if tv <= tv_noise + SAME_TOKENS_MARGIN and oov <= OOV_MAX and need_causal() is not False:
        return Result("fail", f"targets are not aligned with the inputs at any offset: best match rate {best:.2f} "
                              f"({_fmt_rates(rates)}, chance {metrics['chance_rate']:.2f}), although they are tokens "
                              f"of the same vocabulary with the same frequencies (TV distance {tv:.2f}, sampling "
                              f"noise {tv_noise:.2f}): labels "
                              "shuffled or drawn from other examples", metrics, details)
    return Result("pass", f"targets are not a shifted copy of the inputs (best rate {best:.2f}, TV distance of their "
                          f"histograms {tv:.2f}): read as another task (tagging, translation, MLM)", metrics, details)


def _regression(ctx, out, pred, seq, d, B, L, declared) -> Result:
    xs = [(n, t) for n, t in T.named_leaves(ctx.inputs)
          if t.is_floating_point() and t.dim() > d and t.shape[0] == B and t.shape[d] == L]
    if not xs:
        raise Skip(f"no float input has the prediction's sequence length {L} on axis {d}")
    if not declared:
        raise Skip("a float sequence model: the regression offset test runs with CAUSAL_DIM (doctor) or "
                   "--causal-dim (trace)")
    P = seq[0, 0].numel()
    if not (isinstance(out, torch.Tensor) and out is pred):
        raise Skip("the prediction is not the model's whole output: the regression test replaces it")
    base = pred.detach().clone().requires_grad_(True)
    loss0 = ctx.loss(base, ctx.targets)
    g0 = torch.autograd.grad(loss0, base, allow_unused=True)[0] if loss0.requires_grad else None
    if g0 is None:
        raise Skip("the loss does not depend on the model's prediction")
    g0 = _seq_view(g0, d, B, L).reshape(B, L, -1).float()
    scale = g0.abs().amax(-1)
    valid = scale > ZERO_GRAD_REL * float(scale.max())
    typical = float(scale[valid].mean()) if bool(valid.any()) else 0.0
    if typical == 0.0:
        raise Skip("the loss gradient at the prediction is zero everywhere")
    p_seq = _seq_view(pred.detach(), d, B, L).reshape(B, L, -1)
    results = []
    for name, t in xs:
        feats = t.movedim(d, 1).reshape(B, L, -1).float()
        F_ = feats.shape[-1]
        chans = [(j, j) for j in range(P)] if P == F_ and P > 1 else \
            [(0, f) for f in range(min(F_, MAX_FEATURES))] if P == 1 else []
        for j, f in chans:
            rates, counts = {}, {}
            for k, lo, hi in _windows(L):
                if hi == lo:
                    rates[k], counts[k] = 0.0, 0
                    continue
                c = p_seq.clone()
                c[:, lo:hi, j] = feats[:, lo + k:hi + k, f].to(c.dtype)
                c_in = _unseq(c, pred, d, B, L).detach().requires_grad_(True)
                (g,) = torch.autograd.grad(ctx.loss(c_in, ctx.targets), c_in, allow_unused=True)
                if g is None:
                    rates[k], counts[k] = 0.0, 0
                    continue
                g = _seq_view(g, d, B, L).reshape(B, L, -1)[:, lo:hi, j].float().abs()
                v = valid[:, lo:hi]
                n = int(v.sum())
                rates[k] = float(((g <= REG_ZERO_REL * typical) & v).sum()) / n if n else 0.0
                counts[k] = n
            results.append((f"{name}[..., {f}]", name, rates, counts))
    if not results:
        raise Skip(f"the prediction has {P} values per position and the inputs a different number of features: "
                   "no pairing of output and input channels to test")
    name, leaf, rates, counts = max(results, key=lambda r: max(r[2][k] for k in OFFSETS if r[3][k] >= MIN_POSITIONS)
                                    if any(r[3][k] >= MIN_POSITIONS for k in OFFSETS) else -1)
    usable = [k for k in OFFSETS if counts[k] >= MIN_POSITIONS]
    if not usable:
        raise Skip("too few positions carry a loss gradient to read an offset")
    k = max(usable, key=lambda o: (rates[o], o))
    best = rates[k]
    metrics = {"mode": "regression", "input": name, "valid_positions": int(valid.sum()),
               "match_rate": {str(o): rates[o] for o in OFFSETS}, "best_offset": k, "sequence_axis": d}
    details = [f"positions where the loss gradient vanishes when the prediction is set to {name} shifted by k: "
               f"{_fmt_rates(rates)}"]
    if best >= MATCH_MIN and k <= 0:
        causal = _is_causal(ctx, d, leaf,
                            lambda v: v + 1.0 + v.abs())
        metrics["causal_probe"] = causal
        if causal is False:
            return Result("pass", f"position t is trained toward {name} at t{k:+d} (match rate {best:.2f}) and the model is "
                                  "not causal (outputs before L/2 change with later inputs): read as reconstruction "
                                  "(an autoencoder), not a forecast", metrics, details)
        what = "the input value at the same step" if k == 0 else "the input value one step back"
        return Result("fail", f"the forecast target is {what} (match rate {best:.2f} at offset {k:+d}; "
                              f"+1: {rates[1]:.2f}): the window was not shifted, so the model learns to copy "
                              "its input and the loss sits near zero", metrics, details)
    if best >= MATCH_MIN:
        return Result("pass", f"position t is trained toward {name} at t{k:+d} (a {k}-step-ahead forecast; match "
                              f"rate {best:.2f})", metrics, details)
    return Result("pass", f"the targets are no input feature at offsets -1..+3 (best rate {best:.2f}): an exogenous "
                          "target, not a copy of the inputs", metrics, details)


@check("target-offset", "sequence targets are the next input, not the current one or two ahead", order=92)
def target_offset(ctx) -> Result:
    declared = ctx.target.causal_dim
    d = declared if declared is not None else 1
    B = ctx.batch_size
    ids = _ids(ctx.inputs, B, d)
    if declared is None and not ids:
        raise Skip("not a sequence model: no CAUSAL_DIM, and no integer token-id input (B, L)")
    model = ctx.fresh_model()
    model.train()
    disable_dropout(model)
    out = ctx.forward(model, ctx.inputs)
    pred = prediction_of(out)
    if not isinstance(pred, torch.Tensor) or not pred.is_floating_point() or not pred.requires_grad:
        raise Skip("the model's prediction is no float tensor with a gradient")
    seq, L = None, None
    for _, x in ids:
        seq = _seq_view(pred, d, B, x.shape[1])
        if seq is not None:
            L = x.shape[1]
            break
    if seq is not None:
        ids = [(n, x) for n, x in ids if x.shape[1] == L]
        if seq.dim() == 3:
            return _classification(ctx, out, pred, seq, d, B, L, ids, declared is not None)
        if declared is None:
            raise Skip(f"the prediction {tuple(pred.shape)} has no vocabulary axis next to the sequence axis")
    if declared is None:
        raise Skip(f"the prediction {tuple(pred.shape)} has no axis of the token sequence's length on axis 1")
    lengths = [t.shape[d] for t in T.leaves(ctx.inputs) if t.is_floating_point() and t.dim() > d and t.shape[0] == B]
    for L in lengths:
        seq = _seq_view(pred, d, B, L)
        if seq is not None:
            return _regression(ctx, out, pred, seq, d, B, L, True)
    raise Skip(f"CAUSAL_DIM={d}, but the prediction {tuple(pred.shape)} shares no sequence axis with the inputs")
