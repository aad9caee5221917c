"""input-dependence: does the model do better on its real inputs than on zeroed ones?

Karpathy's input-independent baseline (evidence/karpathy-recipe-2019.md): train one copy
on the real batch and one on the same batch with the inputs zeroed (token ids set to 0,
float features to 0.0; masks, lengths and labels carried in the inputs left alone), same
init, same optimizer, same steps. On one batch the real-input copy can memorise while the
zero-input copy can at best learn the label marginal, so a healthy model pulls clearly
ahead within a few dozen steps. A model whose two runs stay level ignores its input.

Both runs use Adam lr=1e-3 with dropout and weight decay off, not the user's optimizer:
the question is whether the inputs reach the loss, and a broken LR (judged by
overfit-batch and update-ratio) must not make this check undecidable.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch

from .. import tensors as T
from ..context import default_forward, disable_dropout
from ..registry import Option, Plot, Result, Skip, check
from ..target import UserCodeError
from ..training import GraphCut

DEFAULT_STEPS = 100     # step cap per run; every clean zoo model pulls ahead well within it
LRS = (3e-3, 1e-3)      # Adam; 3e-3 settles most small models fastest, 1e-3 is the retry when it does not decide
MIN_STEPS = 5           # no verdict before 5 steps: at init the two losses differ by chance
PASS_GAP = 0.2          # real-input loss >= 20% below the zero-input loss: the inputs clearly help
WARN_GAP = 0.05         # 5-20% at the cap: helps a little (warn); < 5%: the model ignores its input (fail)
MIN_FAIL_STEPS = 50     # a "no gap" fail needs runs this long: early on both copies only learn the marginal
STALLED = 0.01          # ... and a real-input loss that fell < 1% over the last quarter of the run: a slow
                        # model still improving at the cap (a linear model, a small LR) gets a warn instead
IDENTICAL_STEPS = 10    # losses equal for 10 steps: the outputs do not depend on the inputs at all
IDENTICAL_TOL = 1e-6    # relative; float noise only (bit-identical on CPU for an input-blind model)
SOLVED_WITHOUT = 0.01   # zero-input loss < 1% of its start: the batch is fit without inputs (constant targets?)
NO_PROGRESS = 0.01      # real-input loss fell < 1% in the whole run: can't judge
DIVERGE = 10.0          # loss > 10x its start: diverged (retry at the lower LR)
SCALE_FLOOR = 0.01      # gap is relative to |zero-input loss|, floored at 1% of |start| (losses near 0)
KEEP_NAMES = ("mask", "label", "length", "lens")  # input leaves left as they are (masks, lengths, labels)


def _baseline(inputs: Any, how: str) -> Tuple[Any, List[str], List[str]]:
    """(input-independent copy of `inputs`, names changed, names kept).

    how="zeros": floats -> 0.0, integers -> 0. how="first": every example replaced by
    example 0 (still input-independent; used when zeros crash or give a non-finite loss).
    """
    plan: List[Callable[[torch.Tensor], torch.Tensor]] = []
    changed, kept = [], []
    for name, t in T.named_leaves(inputs):
        keep = t.dtype == torch.bool or any(k in name.lower() for k in KEEP_NAMES) or t.dim() == 0
        if keep:
            kept.append(name)
            plan.append(lambda t: t.detach().clone())
        elif how == "zeros":
            changed.append(name)
            plan.append(lambda t: torch.zeros_like(t))
        else:
            changed.append(name)
            plan.append(lambda t: t.detach()[:1].expand_as(t).clone())
    it = iter(plan)
    return T.tree_map(lambda t: next(it)(t), inputs), changed, kept


def _probe(ctx, model, inputs) -> Optional[float]:
    """Loss of `model` on `inputs` without grad; None if the user's code raised."""
    try:
        with torch.no_grad():
            return float(ctx.loss(ctx.forward(model, inputs), ctx.targets).detach().float())
    except UserCodeError:
        return None


def _rel_gap(zero: float, real: float, start: float) -> float:
    scale = max(abs(zero), SCALE_FLOOR * abs(start), 1e-12)
    return (zero - real) / scale


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= IDENTICAL_TOL * max(abs(a), abs(b), 1e-12)


def _no_dropout(model) -> None:
    """Dropout off, including the dropout between stacked RNN layers (nn.LSTM/GRU/RNN)."""
    disable_dropout(model)
    for m in model.modules():
        if isinstance(m, torch.nn.RNNBase) and m.dropout > 0:
            m.dropout = 0.0


def _loss_backward(ctx, model, inputs, step: int) -> float:
    """Forward, user loss, backward; the forward's RNG is seeded per step (the same in both runs).

    ctx.forward reseeds with the run's seed on every call, so a noise layer would draw the
    same per-example noise at every step: a fixed fingerprint the zero-input copy could
    memorise. A per-step seed keeps the runs paired and the noise fresh.
    """
    fwd = ctx.target.forward or default_forward

    def run():
        torch.manual_seed(ctx.seed + 1 + step)
        return fwd(model, inputs)
    out = ctx.call("forward(model, inputs)", run)
    loss = ctx.loss(out, ctx.targets)
    if not loss.requires_grad:
        raise GraphCut("the loss does not require grad: the graph from the parameters to the loss is cut")
    loss.backward()
    return float(loss.detach().float())


def _attempt(ctx, baseline, lr: float, cap: int) -> Dict[str, Any]:
    """Train a real-input and an input-independent copy side by side with Adam `lr`."""
    models = {"real": ctx.fresh_model(), "zeroed": ctx.fresh_model()}
    batches = {"real": ctx.inputs, "zeroed": baseline}
    opts = {}
    for k, m in models.items():
        m.train()
        _no_dropout(m)
        opts[k] = torch.optim.Adam([p for p in m.parameters() if p.requires_grad], lr=lr)
    runs: Dict[str, List[float]] = {"real": [], "zeroed": []}
    verdict = "cap"
    for step in range(cap):
        if step > 0 and ctx.over_budget():
            verdict = "budget"
            break
        for k in ("real", "zeroed"):
            opts[k].zero_grad(set_to_none=True)
            try:
                runs[k].append(_loss_backward(ctx, models[k], batches[k], step))
            except GraphCut as e:
                raise Skip(f"can't train: {e} (grad-flow and overfit-batch report it)")
            opts[k].step()
        r, z, r0 = runs["real"][-1], runs["zeroed"][-1], runs["real"][0]
        if not math.isfinite(r) or abs(r) > DIVERGE * max(abs(r0), 1e-8):
            verdict = "diverged"
            break
        learned = r0 - r >= NO_PROGRESS * max(abs(r0), 1e-12)
        if step + 1 >= min(IDENTICAL_STEPS, cap) and learned and all(
                _same(a, b) for a, b in zip(runs["real"], runs["zeroed"])):
            verdict = "identical"
            break
        if step + 1 >= MIN_STEPS and math.isfinite(z) and r < r0 and _rel_gap(z, r, r0) >= PASS_GAP:
            verdict = "clear"
            break
        ctx.progress(f"Adam lr={lr:g} step {step + 1}/{cap} real {r:.4g} zeroed {z:.4g}")
    fin = lambda xs: [x for x in xs if math.isfinite(x)] or [float("nan")]  # noqa: E731
    gap = _rel_gap(min(fin(runs["zeroed"])), min(fin(runs["real"])), runs["real"][0]) if runs["real"] else 0.0
    return {"lr": lr, "verdict": verdict, "runs": runs, "gap": gap if math.isfinite(gap) else -math.inf}


@check("input-dependence", "real inputs beat zeroed inputs after the same training", order=85, expensive=True,
       options=[Option("--dependence-steps", int, DEFAULT_STEPS,
                       "step cap for the real-input and the zero-input training runs")])
def input_dependence(ctx) -> Result:
    if getattr(ctx, "in_place", False):
        raise Skip("the model is checked in place (copies.py: its deep copy is not independent, or it cannot be "
                   "copied), and input-dependence trains two models side by side")
    cap = max(MIN_STEPS, int(ctx.option("dependence_steps", DEFAULT_STEPS)))
    # the input-independent batch: zeros first, the first example repeated if zeros break the model
    probe_model = ctx.fresh_model()
    probe_model.train()
    _no_dropout(probe_model)
    real0 = _probe(ctx, probe_model, ctx.inputs)
    if real0 is None or not math.isfinite(real0):
        raise Skip(f"the loss on the real batch is already {real0} at init: nothing to compare (see nan-source)")
    baseline, how, changed, kept, why_not_zeros = None, None, [], [], None
    for h in ("zeros", "first"):
        b, ch, kp = _baseline(ctx.inputs, h)
        if not ch:
            raise Skip("every input tensor looks like a mask, length or label: nothing to zero")
        v = _probe(ctx, probe_model, b)
        if v is not None and math.isfinite(v):
            baseline, how, changed, kept = b, h, ch, kp
            break
        why_not_zeros = "raised" if v is None else f"gave loss {v}"
    if baseline is None:
        raise Skip("the model can't run on an input-independent batch (zeroed or repeated inputs "
                   f"{why_not_zeros}); nothing to compare")
    del probe_model

    attempts = []
    for lr in LRS:
        a = _attempt(ctx, baseline, lr, cap)
        attempts.append(a)
        if a["verdict"] in ("clear", "identical") or ctx.over_budget():
            break
    # judge the attempt that came closest to a verdict: a clear one, else the widest gap
    best = max(attempts, key=lambda a: (a["verdict"] == "clear", a["verdict"] == "identical", a["gap"]))
    verdict, lr_used, runs = best["verdict"], best["lr"], best["runs"]
    if any(a["verdict"] == "budget" for a in attempts) and verdict not in ("clear", "identical"):
        verdict = "budget"
    real, zero = runs["real"], runs["zeroed"]
    fin = lambda xs: [x for x in xs if math.isfinite(x)] or [float("nan")]  # noqa: E731
    start = real[0]
    best_r, best_z = min(fin(real)), min(fin(zero))
    gap = best["gap"]
    word = "zeroed" if how == "zeros" else "repeated"
    what = "zeroed" if how == "zeros" else "replaced by the first example (zeros broke the model)"
    metrics: Dict[str, Any] = {
        "steps": len(real), "step_cap": cap, "optimizer": f"Adam lr={lr_used:g}", "baseline": how,
        "start_loss": start, "real_loss": best_r, "zeroed_loss": best_z, "relative_gap": gap,
        "stopped": verdict, "attempts": [f"Adam lr={a['lr']:g}: {a['verdict']} after {len(a['runs']['real'])} steps"
                                          for a in attempts], "changed_inputs": changed, "kept_inputs": kept,
        "curves": {"real": real, "zeroed": zero},
    }
    plots = [Plot("input-dependence", "real vs input-independent training", "step", "loss",
                  {"real inputs": real, f"inputs {word}": zero})]
    details = [f"inputs {what}: {', '.join(changed)}"] + ([f"left as they are: {', '.join(kept)}"] if kept else [])
    res = lambda s, msg: Result(s, msg, metrics, details, plots)  # noqa: E731
    n = len(real)
    if verdict == "identical":
        return res("fail", f"the loss is identical on real and {word} inputs for {n} steps of training "
                           f"({start:.4g} -> {real[-1]:.4g} in both): the outputs do not depend on the inputs "
                           "(input multiplied away, overwritten, or the wrong input key read)")
    if verdict == "clear" or gap >= PASS_GAP:
        return res("pass", f"real inputs clearly help: loss {real[-1]:.4g} vs {zero[-1]:.4g} with inputs "
                           f"{word} after {n} steps (Adam lr={lr_used:g}), {100 * gap:.0f}% lower")
    if all(a["verdict"] == "diverged" for a in attempts):
        return res("warn", f"inconclusive: training diverged at every LR tried (Adam "
                           f"{', '.join(f'{a:g}' for a in LRS)}; loss {start:.4g} -> {real[-1]:.4g})")
    if abs(best_z) <= SOLVED_WITHOUT * abs(zero[0]):
        return res("warn", f"the input-independent copy already fits this batch (loss {zero[0]:.4g} -> "
                           f"{best_z:.4g}): the targets can be predicted without the inputs (constant targets?)")
    if verdict == "budget":
        return res("warn", f"inconclusive: the {ctx.budget:g}s time budget ran out after {n} steps, before the "
                           f"real-input loss pulled ahead ({best_r:.4g} vs {best_z:.4g} with inputs {word}, "
                           f"{100 * gap:.0f}% lower; needs >= {100 * PASS_GAP:.0f}%); raise --budget")
    if start - best_r < NO_PROGRESS * max(abs(start), 1e-12):
        return res("warn", f"inconclusive: the loss did not fall in {n} steps of Adam lr={lr_used:g} "
                           f"({start:.4g} -> {best_r:.4g}); see overfit-batch")
    tried = " and ".join(f"{a['lr']:g}" for a in attempts)
    if gap >= WARN_GAP:
        return res("warn", f"real inputs help only a little: best loss {best_r:.4g} vs {best_z:.4g} with inputs "
                           f"{word} after {n} steps (Adam lr {tried}; {100 * gap:.0f}% lower, a healthy model "
                           f"gets >= {100 * PASS_GAP:.0f}%); raise --dependence-steps if the model is slow to fit")
    if n < MIN_FAIL_STEPS:
        return res("warn", f"inconclusive after only {n} steps: loss {best_r:.4g} vs {best_z:.4g} with inputs {word} "
                           f"({100 * gap:.0f}% lower); raise --dependence-steps (>= {MIN_FAIL_STEPS} to judge)")
    q = int(0.75 * n)
    tail = (real[q] - min(fin(real[q:]))) / max(abs(real[q]), 1e-12)
    metrics["last_quarter_drop"] = tail
    if tail > STALLED:
        return res("warn", f"inconclusive: after {n} steps the real-input loss ({best_r:.4g}) is no better than with "
                           f"inputs {word} ({best_z:.4g}) but still falling ({100 * tail:.1f}% over the last quarter); "
                           "raise --dependence-steps")
    return res("fail", f"the model does no better on real inputs than on {word} ones: best loss "
                       f"{best_r:.4g} vs {best_z:.4g} after {n} steps (Adam lr {tried}; {100 * gap:.1f}% lower, "
                       f"a healthy model gets >= {100 * PASS_GAP:.0f}%): the inputs barely reach the output, "
                       "or the loss can't use them (e.g. (N, 1) outputs against (N,) targets broadcast in the loss)")
