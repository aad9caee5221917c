"""loss-input: does each torch loss call get what it expects, measured on the real batch?

We rerun the forward and the user's loss_fn once on a fresh copy, recording every torch
loss call (losscapture) and, for every tensor made along the way, which op produced it
(softmax, log_softmax, sigmoid, ...), followed through shape-only ops such as view or
squeeze. Then, per call:

- cross_entropy fed probabilities (rows in [0,1] summing to 1), or fed a one-class input;
- nll_loss fed anything but log-probabilities (a positive value, or rows whose exp sums
  to more than 1);
- binary_cross_entropy_with_logits fed a sigmoid output, and binary_cross_entropy fed
  unbounded scores that only happen to lie in [0,1]. Values in (0,1) alone are weak
  evidence, so we look for a sigmoid/softmax producer and, failing that, scale every
  parameter of a copy by PERTURB_FACTOR: probabilities stay inside [0,1], logits leave it;
- kl_div fed probabilities as its input (it expects log-probabilities);
- elementwise regression losses whose input and target shapes broadcast to a bigger
  shape ((N,1) against (N,) becomes an N x N loss).
"""
from __future__ import annotations

import math
import weakref
from typing import Any, Dict, List, Optional, Tuple

import torch
from torch.overrides import TorchFunctionMode

from ..context import INIT_EVAL_RECORDERS, disable_dropout
from ..registry import Result, Skip, check

# Tolerances (refs/diagnostics.md#loss-input; ../evidence/pytorch-docs.md: CrossEntropyLoss takes
# logits, NLLLoss takes log-probabilities, BCEWithLogitsLoss takes logits).
SUM_TOL = 1e-4        # rows of a softmax sum to 1 within float32 rounding (~1e-6); 1e-4 leaves margin
RANGE_TOL = 1e-6      # slack on the [0,1] and <= 0 bounds for rounding
LSE_TOL = 1e-3        # log-probabilities: logsumexp over classes <= 0 (= 0 when complete) within 1e-3
PERTURB_FACTOR = 4.0  # scale every parameter of a copy by 4: logits' spread grows >= 4x and leaves
                      # [0,1]; sigmoid/softmax outputs can't. 4 keeps a 10-layer ReLU net finite (4^10 ~ 1e6)

BROADCASTING = ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "kl_div",
                "soft_margin_loss", "poisson_nll_loss")
PROB_PRODUCERS = ("sigmoid", "special_expit", "softmax", "exp")
SHAPE_OPS = {"view", "reshape", "squeeze", "unsqueeze", "flatten", "transpose", "permute", "contiguous",
             "__getitem__", "float", "double", "half", "to", "type_as", "select", "narrow", "expand",
             "expand_as", "view_as", "reshape_as", "movedim", "clone", "t", "mT", "unflatten", "squeeze_",
             "unsqueeze_", "detach", "flip", "roll"}
TRACKED = {"sigmoid", "special_expit", "softmax", "log_softmax", "exp", "log", "log_sigmoid", "tanh",
           "relu", "clamp", "clip", "hardtanh", "softplus", "abs"}


class _Producers(TorchFunctionMode):
    """Remember which op made each tensor, following shape-only ops back to their source.
    Tensors are held weakly: the recorder rides along the shared init_eval() forward
    (context.INIT_EVAL_RECORDERS), which stays cached for the whole run."""

    def __init__(self):
        super().__init__()
        self.made: Dict[int, Tuple[str, Any]] = {}

    def of(self, t: Any) -> Optional[str]:
        if isinstance(t, torch.Tensor):
            hit = self.made.get(id(t))
            if hit is not None and hit[1]() is t:
                return hit[0]
        return None

    def _keep(self, name: str, out: torch.Tensor) -> None:
        try:
            self.made[id(out)] = (name, weakref.ref(out))
        except TypeError:   # a tensor subclass without weakref support: hold it
            self.made[id(out)] = (name, lambda out=out: out)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if isinstance(out, torch.Tensor):
            name = getattr(func, "__name__", "")
            if name in TRACKED:
                self._keep(name, out)
            elif name in SHAPE_OPS and args:
                src = self.of(args[0])
                if src is not None:
                    self._keep(src, out)
        return out


INIT_EVAL_RECORDERS["loss-input"] = _Producers


def _class_view(x: torch.Tensor) -> torch.Tensor:
    """(rows, C) with the class dim (1, or 0 for a 1-D input) last."""
    if x.dim() == 1:
        return x.unsqueeze(0)
    return x.movedim(1, -1).reshape(-1, x.shape[1])


def _probability_rows(x: torch.Tensor) -> Tuple[bool, float]:
    """(all values in [0,1] and every row sums to 1, max |row sum - 1|)."""
    rows = _class_view(x.detach().double())
    if rows.numel() == 0:
        return False, float("nan")
    dev = float((rows.sum(-1) - 1).abs().max())
    inside = bool(rows.min() >= -RANGE_TOL) and bool(rows.max() <= 1 + RANGE_TOL)
    return inside and dev <= SUM_TOL, dev


def _lse(x: torch.Tensor) -> torch.Tensor:
    return torch.logsumexp(_class_view(x.detach().double()), -1)


def _in_unit(x: torch.Tensor) -> bool:
    x = x.detach()
    return bool(torch.isfinite(x).all()) and bool(x.min() >= -RANGE_TOL) and bool(x.max() <= 1 + RANGE_TOL)


def _run(ctx, scale: float = 1.0):
    """Fresh copy (params scaled), forward + traced loss under the producer recorder. Unscaled,
    that is the shared init_eval() forward, which ran with the recorder on."""
    if scale == 1.0 and getattr(ctx, "share_models", False):
        ie = ctx.init_eval()
        rec = (ie.get("recorders") or {}).get("loss-input")
        if rec is not None:
            return ie["loss_fn_trace"], rec
    model = ctx.fresh_model()
    model.train()
    disable_dropout(model)
    with torch.no_grad():
        if scale != 1.0:
            for p in model.parameters():
                if p.is_floating_point():
                    p.mul_(scale)
        rec = _Producers()
        with rec:
            out = ctx.forward(model, ctx.inputs)
            loss, trace = ctx.traced_loss(out, ctx.targets)
    return trace, rec


def _bounded_under_perturbation(ctx, index: int, kind: str) -> Optional[bool]:
    """Scale every parameter of a copy; does the same call's input stay inside [0,1]?

    True: stays (a bounded, probability-like output); False: leaves (unbounded scores);
    None: inconclusive (the call vanished, non-finite values, or some other error)."""
    try:
        trace, _ = _run(ctx, PERTURB_FACTOR)
    except Exception as e:  # binary_cross_entropy itself refuses inputs outside [0,1]
        return False if "between 0 and 1" in str(e) else None
    if index >= len(trace.calls) or trace.calls[index].kind != kind:
        return None
    x = trace.calls[index].input.detach()
    if not bool(torch.isfinite(x).all()):
        return None
    return _in_unit(x)


def _judge(ctx, i: int, call, producer: Optional[str]) -> Dict[str, Any]:
    kind, x, y = call.kind, call.input, call.target
    r: Dict[str, Any] = {"kind": kind, "input_shape": list(x.shape), "producer": producer,
                         "status": "pass", "text": f"{kind}: input shape {tuple(x.shape)} looks as expected"}
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.numel() == 0:
        r["text"] = f"{kind}: input is not a float tensor; not judged"
        return r
    if isinstance(y, torch.Tensor):
        r["target_shape"] = list(y.shape)
    if kind == "cross_entropy":
        c = x.shape[1] if x.dim() >= 2 else x.shape[0]
        r["num_classes"] = c
        probs, dev = _probability_rows(x)
        r["max_row_sum_error"] = dev
        if c == 1:
            r["status"] = "fail"
            r["text"] = ("cross_entropy over a single class: its softmax is always 1, so the loss is constant and "
                         "no gradient flows; for a binary target use one logit with binary_cross_entropy_with_logits")
        elif probs:
            floor = math.log(1 + (c - 1) / math.e)
            r["status"] = "fail"
            r["text"] = (f"cross_entropy gets probabilities (every row in [0,1] and sums to 1 within {dev:.1e}"
                         f"{', made by ' + producer if producer else ''}): softmax applied before CrossEntropyLoss, "
                         f"which applies log-softmax itself; the loss can't fall below ln(1+(C-1)/e)={floor:.3f} "
                         f"for C={c} and gradients are squashed. Return raw logits")
        elif producer in ("sigmoid", "special_expit"):
            r["status"] = "fail"
            r["text"] = ("cross_entropy gets a sigmoid output: values squashed into (0,1) are not logits, so the "
                         "loss has a floor above zero. Return raw logits")
        else:
            lse = _lse(x)
            if bool((x <= RANGE_TOL).all()) and float(lse.abs().max()) <= LSE_TOL:
                r["text"] = ("cross_entropy gets log-probabilities (log_softmax first): redundant but harmless, "
                             "log_softmax of log-probabilities changes nothing")
            else:
                r["text"] = f"cross_entropy gets unnormalised logits over {c} classes, as it expects"
        return r
    if kind == "nll_loss":
        c = x.shape[1] if x.dim() >= 2 else x.shape[0]
        r["num_classes"] = c
        lse = _lse(x)
        r["max_logsumexp"] = float(lse.max())
        probs, dev = _probability_rows(x)
        if probs:
            r["status"] = "fail"
            r["text"] = ("nll_loss gets probabilities (rows in [0,1] summing to 1): softmax without log. NLLLoss "
                         "expects log-probabilities; use log_softmax (or cross_entropy on logits)")
        elif float(x.detach().max()) > RANGE_TOL or float(lse.max()) > LSE_TOL:
            r["status"] = "fail"
            r["text"] = (f"nll_loss gets values that are not log-probabilities (max {float(x.detach().max()):.3g}, "
                         f"logsumexp over classes up to {float(lse.max()):.3g}, should be 0): raw logits? NLLLoss only "
                         "picks -input[target], so the loss is unbounded below; apply log_softmax first or use cross_entropy")
        elif float(lse.min()) < -LSE_TOL:
            r["text"] = ("nll_loss gets log-probabilities of a subset of the classes (their exp sums to < 1): "
                         "as expected if the classes were cut down on purpose")
        else:
            r["text"] = f"nll_loss gets log-probabilities over {c} classes, as it expects"
        return r
    if kind in ("binary_cross_entropy_with_logits", "binary_cross_entropy"):
        shape_r = _shape_problem(kind, x, y)
        if shape_r is not None:
            r.update(shape_r)
            return r
        in_unit = _in_unit(x)
        r["input_min"], r["input_max"] = float(x.detach().min()), float(x.detach().max())
        if kind == "binary_cross_entropy_with_logits":
            if not in_unit:
                r["text"] = "binary_cross_entropy_with_logits gets unbounded logits, as it expects"
                return r
            evidence = None
            if producer in PROB_PRODUCERS:
                evidence = f"it is the output of {producer}"
            else:
                bounded = _bounded_under_perturbation(ctx, i, kind)
                r["bounded_under_perturbation"] = bounded
                if bounded:
                    evidence = (f"every value is in [0,1] and stays there with all parameters scaled "
                                f"{PERTURB_FACTOR:g}x, as a squashed output does")
            if evidence:
                r["status"] = "fail"
                r["text"] = (f"binary_cross_entropy_with_logits gets probabilities, not logits ({evidence}): it "
                             "applies sigmoid itself, so predictions are stuck in (0.5, 0.73) and the loss can't "
                             "reach 0. Drop the sigmoid (or use binary_cross_entropy on it)")
            else:
                r["text"] = ("binary_cross_entropy_with_logits gets values in [0,1] that leave it when the "
                             "weights are scaled: small logits, as expected")
            return r
        # binary_cross_entropy expects probabilities; torch refuses values outside [0,1]
        if producer in PROB_PRODUCERS:
            r["text"] = f"binary_cross_entropy gets probabilities from {producer}, as it expects"
            return r
        bounded = _bounded_under_perturbation(ctx, i, kind)
        r["bounded_under_perturbation"] = bounded
        if bounded is False:
            r["status"] = "fail"
            r["text"] = ("binary_cross_entropy gets unbounded scores that only happen to lie in [0,1] now (scaling "
                         f"the weights {PERTURB_FACTOR:g}x pushes them out): apply sigmoid, or better use "
                         "binary_cross_entropy_with_logits on the raw logits")
        else:
            r["text"] = "binary_cross_entropy gets values that stay in [0,1] (probabilities), as it expects"
        return r
    if kind == "kl_div":
        log_target = bool(call.args.get("log_target"))
        if float(x.detach().max()) > RANGE_TOL:
            r["status"] = "fail"
            r["text"] = (f"kl_div gets an input with positive values (max {float(x.detach().max()):.3g}): its "
                         "input must be log-probabilities (log_softmax), not probabilities or logits")
            return r
        if isinstance(y, torch.Tensor) and y.is_floating_point() and not log_target and float(y.min()) < -RANGE_TOL:
            r["status"] = "fail"
            r["text"] = ("kl_div gets a target with negative values while log_target=False: pass probabilities, "
                         "or set log_target=True for log-probabilities")
            return r
    if kind in BROADCASTING:
        shape_r = _shape_problem(kind, x, y)
        if shape_r is not None:
            r.update(shape_r)
            return r
        r["text"] = f"{kind}: input and target shapes match {tuple(x.shape)}"
    return r


def _shape_problem(kind: str, x: torch.Tensor, y: Any) -> Optional[Dict[str, Any]]:
    """A silent broadcast between input and target: None if the shapes agree."""
    if not isinstance(y, torch.Tensor) or y.shape == x.shape:
        return None
    try:
        b = torch.broadcast_shapes(x.shape, y.shape)
    except RuntimeError:
        return None
    n_b, n_x, n_y = b.numel(), x.numel(), y.numel()
    out = {"broadcast_shape": list(b)}
    if n_b > n_x and n_b > n_y:
        out["status"] = "fail"
        out["text"] = (f"{kind}: input {tuple(x.shape)} and target {tuple(y.shape)} broadcast silently to "
                       f"{tuple(b)}: every prediction is compared with every target. Make the shapes equal "
                       "(e.g. squeeze(-1) the output)")
    elif n_b > n_x:
        out["status"] = "warn"
        out["text"] = (f"{kind}: input {tuple(x.shape)} is broadcast up to the target {tuple(y.shape)}: one "
                       "prediction is compared with several targets; intended?")
    else:
        out["status"] = "pass"
        out["text"] = f"{kind}: target {tuple(y.shape)} is broadcast over the input {tuple(x.shape)} (a constant target)"
    return out


@check("loss-input", "each loss call gets what it expects (logits vs probabilities, matching shapes)", order=15)
def loss_input(ctx) -> Result:
    trace, rec = _run(ctx)
    if not trace.calls:
        raise Skip("loss_fn calls no torch loss function I know (losscapture.LOSS_FUNCTIONS); "
                   "check by hand that each loss gets the input it documents")
    judged: List[Dict[str, Any]] = []
    for i, call in enumerate(trace.calls):
        producer = rec.of(call.input) or call.input_producer
        judged.append(_judge(ctx, i, call, producer))
    order = {"fail": 2, "warn": 1, "pass": 0}
    top = max(judged, key=lambda j: order[j["status"]])
    metrics: Dict[str, Any] = {"calls": [{k: v for k, v in j.items() if k != "text"} for j in judged]}
    details = [f"{j['status']}: {j['text']}" for j in judged]
    if top["status"] == "pass":
        kinds = ", ".join(sorted({j["kind"] for j in judged}))
        notes = [j["text"] for j in judged if "redundant" in j["text"] or "subset" in j["text"]]
        summary = f"{len(judged)} loss call(s) ({kinds}) get the input they expect" + (f"; {notes[0]}" if notes else "")
        return Result("pass", summary, metrics, details)
    bad = [j for j in judged if j["status"] == top["status"]]
    summary = top["text"] + (f" (+{len(bad) - 1} more)" if len(bad) > 1 else "")
    return Result(top["status"], summary, metrics, details)
