"""init-loss: the loss of a fresh model against its value at chance.

For every torch loss call the user's loss_fn makes, we recompute the same call (same
targets, weights, reduction, label smoothing, ignore_index) with an uninformative
prediction: zero logits for cross-entropy and BCE-with-logits (ln C and ln 2), uniform
log-probabilities for NLL, zeros for regression (E[y^2]). The same call with the best
constant prediction (the batch's own label frequencies, or the target mean) gives the
floor a prior-aware init would start at. Comparing call by call makes the ratio immune
to how the user scales or sums terms afterwards.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional

import torch

from ..registry import Result, Skip, check

# Thresholds (refs/diagnostics.md#init-loss; evidence/karpathy-recipe-2019.md "verify loss @ init",
# evidence/karpathy-makemore-part3.md: its unfixed init starts ~8x chance (ours: reproduced there)).
FAIL_HIGH = 1.4        # loss >= 1.4x chance: logits start with std ~1.3+ (C=10); default PyTorch inits over
                       # our zoo measure 0.99-1.18x, so 1.4 leaves a margin for BatchNorm'd features
WARN_HIGH = 1.25       # 1.25x-1.4x: mildly overconfident init, worth a look
FAIL_EXCESS = 1.0      # softmax cross-entropy also needs >= 1 nat above ln C to fail (ours): the excess is about
                       # s^2/2 for logits of std s whatever C, so 1 nat is s ~1.4 (= FAIL_HIGH at C=10); a ratio
                       # alone is stricter at small C (1.4x ln 4 is only 0.55 nat, s ~1.05)
LEAK_LOW = 0.5         # loss < half of both chance and the best constant: the answer leaks before training
REG_FAIL_HIGH = 10.0   # regression: outputs at init 3x the target scale (variance 10x) is a scale bug
REG_WARN_HIGH = 3.0
IMBALANCED = 0.6       # best-constant loss < 0.6x chance: roughly >= 87:13 for binary labels
PRIOR_IGNORED = 0.5    # warn if the init loss has closed < half the gap from chance to the prior
MIN_SAMPLES_PER_CLASS = 10  # judge label frequencies only with >= 10 labelled samples per class
MAX_PRIOR_CLASSES = 1000    # a vocabulary-sized softmax: no prior-bias advice

CLASSIFICATION = ("cross_entropy", "nll_loss", "binary_cross_entropy_with_logits", "binary_cross_entropy")
REGRESSION = ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss")
MODELED = CLASSIFICATION + REGRESSION


def _class_count(call) -> int:
    x = call.input
    return x.shape[1] if x.dim() >= 2 else x.shape[0]


def _class_axis_view(x: torch.Tensor) -> torch.Tensor:
    """Values per class as (N*, C): move the class dim (1, or 0 if 1-D) last and flatten."""
    if x.dim() == 1:
        return x.unsqueeze(0)
    return x.movedim(1, -1).reshape(-1, x.shape[1])


def _broadcast_class_vector(vec: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A per-class vector (C,) laid out along the class dim of `like`, expanded to its shape."""
    if like.dim() == 1:
        return vec.to(like.dtype).expand_as(like).clone()
    shape = [1] * like.dim()
    shape[1] = -1
    return vec.to(like.dtype).reshape(shape).expand_as(like).clone()


def _scalar(t) -> float:
    """A loss call's value as one number: its mean when it was called with reduction="none"."""
    t = t.detach().float() if isinstance(t, torch.Tensor) else torch.as_tensor(t, dtype=torch.float32)
    return float(t.mean()) if t.numel() != 1 else float(t)


def chance_value(call) -> float:
    """The same loss call with an uninformative prediction."""
    x = call.input
    if call.kind in ("cross_entropy", "binary_cross_entropy_with_logits") or call.kind in REGRESSION:
        return _scalar(call.recompute(input=torch.zeros_like(x)))
    if call.kind == "nll_loss":
        return _scalar(call.recompute(input=torch.full_like(x, -math.log(_class_count(call)))))
    if call.kind == "binary_cross_entropy":
        return _scalar(call.recompute(input=torch.full_like(x, 0.5)))
    raise KeyError(call.kind)


def best_constant(call) -> Optional[float]:
    """The same loss call with the best constant prediction given this batch's targets."""
    x, y = call.input, call.target
    eps = 1e-6
    if call.kind in ("cross_entropy", "nll_loss"):
        c = _class_count(call)
        if y.dtype in (torch.long, torch.int, torch.int16, torch.int8, torch.uint8):
            valid = y[y != call.args.get("ignore_index", -100)].long()
            if valid.numel() == 0 or valid.min() < 0 or valid.max() >= c:
                return None
            freq = torch.bincount(valid.flatten(), minlength=c).to(x.dtype)
            w = call.args.get("weight")
            if w is not None:
                freq = freq * w.to(freq.dtype)
        else:  # class probabilities as targets
            freq = _class_axis_view(y.to(x.dtype)).mean(0)
        p = freq / freq.sum().clamp_min(eps)
        logp = torch.log(p.clamp_min(eps))
        return _scalar(call.recompute(input=_broadcast_class_vector(logp, x)))
    if call.kind in ("binary_cross_entropy_with_logits", "binary_cross_entropy"):
        if y.shape != x.shape:
            return None
        p = y.float().mean(0, keepdim=True).clamp(eps, 1 - eps).expand_as(y).to(x.dtype)
        pred = torch.log(p / (1 - p)) if call.kind.endswith("logits") else p
        return _scalar(call.recompute(input=pred.clone()))
    if call.kind in REGRESSION:
        if not y.is_floating_point():
            return None
        const = y.float().median() if call.kind == "l1_loss" else y.float().mean()
        return _scalar(call.recompute(input=torch.full_like(x, float(const))))
    return None


def _labelled_count(call) -> int:
    y = call.target
    if call.kind in ("cross_entropy", "nll_loss") and not y.is_floating_point():
        return int((y != call.args.get("ignore_index", -100)).sum())
    return int(y.shape[0]) if y.dim() else 1


def judge(call, measured: float) -> Dict[str, Any]:
    """Status and one-line reading for one loss call."""
    chance = chance_value(call)
    best = best_constant(call)
    info: Dict[str, Any] = {"kind": call.kind, "measured": measured, "expected": chance,
                            "ratio": measured / chance if chance > 0 else float("nan"),
                            "best_constant": best}
    name = call.kind
    y = call.target
    if call.kind.startswith("binary_cross_entropy") and isinstance(y, torch.Tensor) and y.numel() \
            and (float(y.min()) < 0 or float(y.max()) > 1):
        info["num_classes"] = 2
        info["status"] = "fail"
        info["text"] = (f"{name} targets span {float(y.min()):.4g}..{float(y.max()):.4g}, outside [0, 1], so the loss "
                        f"at init ({measured:.4g}) has no chance value; scale the targets to 0/1 (see batch-sanity)")
        return info
    if call.kind in CLASSIFICATION:
        c = _class_count(call) if call.kind in ("cross_entropy", "nll_loss") else 2
        info["num_classes"] = c
        what = f"ln({c})={chance:.3g}" if abs(chance - math.log(c)) < 1e-3 * chance else f"{chance:.4g}"
        info["status"], info["text"] = "pass", f"{name} at init {measured:.4g} vs {what} at chance (ratio {info['ratio']:.2f})"
        softmax = call.kind in ("cross_entropy", "nll_loss")
        info["excess_nats"] = measured - chance
        if measured >= FAIL_HIGH * chance and (not softmax or measured - chance >= FAIL_EXCESS):
            info["status"] = "fail"
            info["text"] = (f"{name} at init {measured:.4g} is {info['ratio']:.1f}x the {what} expected at chance: "
                            "the output layer starts overconfident (scale its init down) or the loss is wrong")
        elif best is not None and measured < LEAK_LOW * min(chance, best):
            info["status"] = "fail"
            info["text"] = (f"{name} at init {measured:.4g} is far below chance {chance:.3g} and the best constant "
                            f"{best:.3g} before any training: the loss or the inputs leak the targets")
        elif measured >= WARN_HIGH * chance:
            info["status"] = "warn"
            info["text"] = (f"{name} at init {measured:.4g} is {info['ratio']:.2f}x the {what} expected at chance: "
                            "a somewhat overconfident output layer")
        elif (best is not None and c <= MAX_PRIOR_CLASSES
              and _labelled_count(call) >= MIN_SAMPLES_PER_CLASS * c
              and best < IMBALANCED * chance
              and measured - best > PRIOR_IGNORED * (chance - best)):
            info["status"] = "warn"
            info["text"] = (f"labels are imbalanced (best constant loss {best:.3g} vs chance {chance:.3g}) but the "
                            f"init loss {measured:.3g} ignores it: init the final bias to the log class prior")
        return info
    # regression: "chance" is a model that outputs ~0
    ref = max(chance, best or 0.0)
    info["status"], info["text"] = "pass", (f"{name} at init {measured:.4g} vs {chance:.4g} for zero outputs "
                                            f"(best constant {best if best is None else f'{best:.4g}'})")
    if ref > 0 and measured >= REG_FAIL_HIGH * ref:
        info["status"] = "fail"
        info["text"] = (f"{name} at init {measured:.4g} is {measured / ref:.1f}x the {ref:.4g} of predicting zero: "
                        "outputs start far larger than the targets (output-layer init or unscaled inputs)")
    elif ref > 0 and measured >= REG_WARN_HIGH * ref:
        info["status"] = "warn"
        info["text"] = (f"{name} at init {measured:.4g} is {measured / ref:.1f}x the {ref:.4g} of predicting zero: "
                        "outputs start larger than the targets")
    elif best is not None and best > 0 and chance > 4 * best and measured > 0.5 * chance:
        info["status"] = "warn"
        info["text"] = (f"targets are far from zero: {name} at init {measured:.4g} vs {best:.4g} for predicting "
                        "their mean; init the output bias to the target mean (or standardise the targets)")
    return info


@check("init-loss", "loss at initialisation against its value at chance", order=20)
def init_loss(ctx) -> Result:
    ie = ctx.init_eval()
    loss = float(ie["loss"])
    calls = [c for c in ie["trace"].calls if c.kind in MODELED and c.output is not None]
    metrics: Dict[str, Any] = {"loss": loss}
    if not math.isfinite(loss):
        return Result("fail", f"loss at init is {loss}: run nan-source to find the first non-finite module",
                      metrics)
    if not calls:
        seen = sorted({c.kind for c in ie["trace"].calls})
        raise Skip("loss_fn makes no loss call whose chance value I can model"
                   + (f" (saw {', '.join(seen)})" if seen else " (no torch loss function called)")
                   + "; compare the loss at init with its chance value by hand")
    judged: List[Dict[str, Any]] = [judge(c, _scalar(c.output)) for c in calls]
    details = [f"{j['status']}: {j['text']}" for j in judged]
    order = {"fail": 2, "warn": 1, "pass": 0}
    top = max(judged, key=lambda j: order[j["status"]])
    status = top["status"]
    if loss < 0 and all(j["measured"] >= 0 for j in judged):
        status = "fail"
        top = {"text": f"the total loss at init is negative ({loss:.4g}) while its terms are not: "
                       "a sign is flipped, so training would maximise the loss"}
    main = judged[0]
    metrics.update({k: main[k] for k in ("kind", "measured", "expected", "ratio", "best_constant")})
    if "excess_nats" in main:
        metrics["excess_nats"] = main["excess_nats"]
    if "num_classes" in main:
        metrics["num_classes"] = main["num_classes"]
    if len(judged) > 1:
        metrics["terms"] = [{k: v for k, v in j.items() if k != "text"} for j in judged]
    summary = top["text"] + (f" ({len(judged)} loss terms)" if len(judged) > 1 else "")
    return Result(status, summary, metrics, details)
