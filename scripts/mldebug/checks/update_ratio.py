"""update-ratio: how big each optimizer step is relative to the weights it changes.

On a deep copy we take a few real steps (up to 5, fewer once the ratio has settled) with the
user's optimizer and scheduler on the batch; step 0's forward and backward are the shared
probe's (_probe.py), and the first two steps are recorded for reproducibility. We measure, per parameter tensor, log10(std(dtheta) / std(theta)) from the update
actually applied (so momentum, Adam's normalisation, clipping and weight decay all count).
Karpathy's rule of thumb puts healthy values near -3; we flag whole-model medians far
outside a wide band, parameters the optimizer never holds or never moves, and weight
decay strong enough to dominate the update.
"""
from __future__ import annotations

import math
import statistics
from typing import Any, Dict, List

import torch

from ..registry import Option, Plot, Result, check
from ..training import RECORD_STEPS, GraphCut, describe_optimizer, loss_backward, record_run
from ._probe import take_grad_model

DEFAULT_STEPS = 5   # at most: Adam's per-step size settles within a few steps
# Early stop (only when --ratio-steps is not given): after SETTLED_MIN_STEPS steps, once every
# tensor the optimizer holds has moved and no weight matrix's log10 ratio changed by more than
# SETTLED_TOL since the step before, more steps would repeat the same values (ours: `python
# scripts/bench.py` models: Adam on the MLP and LSTM LM moves < 0.03 decades from step 1 to 2 and
# stops at 3; AdamW on the GPT and SGD momentum 0.9 on the CNN stop at 4; the bands below are
# 0.5-1 decade apart). At least 3 steps, so the run covers the 2 updates reproducibility compares
# against (training.RECORD_STEPS).
SETTLED_MIN_STEPS = 3
SETTLED_TOL = 0.1    # decades (a 26% change of the ratio)
# Bands on the median log10 ratio over weight matrices (refs/diagnostics.md#update-ratio;
# evidence/karpathy-makemore-part3.md: ~-3 healthy; evidence/cs231n-babysitting.md: ~1e-3).
# Adam's first steps move every weight by ~lr, so lr/std(theta) sets the ratio early on:
# Adam 1e-3 on std-0.02 weights (GPT-style init) sits at -1.3 and is healthy. Hence a wide band.
HIGH_FAIL = -0.5     # each step changes weights by >30% of their spread: LR far too high
HIGH_WARN = -1.0     # >10% per step: high
LOW_WARN = -4.0      # 10x below the band: LR likely too low
LOW_FAIL = -5.0      # 100x below the band: nothing will train in any useful time
FLAT_STEP_FAIL = 1.0  # RMS step of a weight with no spread at init: moving by >1 per step (a logit by 1 nat) is
#                     far too fast (ours: Adam at lr<=1e-2 moves it by <=lr per step; a table of zeros is ~0 at init)
OUTLIER = 2.5        # a layer 2.5 decades from the median is out of step with the rest
WD_SHRINK_FAIL = 5e-3  # lr*wd: weights lose >=0.5% per step to decay alone (half-life < ~140 steps)
WD_DOMINANCE_FAIL = 10.0  # coupled decay: wd*theta >= 10x the data gradient; our own margin, no source gives one
DECOUPLED = ("AdamW",)


def _rms(t: torch.Tensor) -> float:
    return float(t.detach().float().pow(2).mean().sqrt()) if t.numel() else 0.0


def _std(t: torch.Tensor) -> float:
    return float(t.detach().float().std(unbiased=False)) if t.numel() > 1 else 0.0


def _weight_decay_findings(opt, names, grads_rms) -> List[str]:
    out = []
    decoupled = type(opt).__name__ in DECOUPLED
    for g in opt.param_groups:
        wd, lr = float(g.get("weight_decay") or 0.0), float(g.get("lr") or 0.0)
        if wd <= 0:
            continue
        dec = decoupled or bool(g.get("decoupled_weight_decay"))
        shrink = lr * wd
        if shrink >= WD_SHRINK_FAIL:
            half = math.log(2) / shrink
            out.append(f"weight decay {wd:g} at lr {lr:g} shrinks every weight by {100 * shrink:.2g}% per step "
                       f"(half-life {half:.0f} steps) regardless of the data")
            continue
        if not dec:
            doms = [wd * _rms(p) / grads_rms[id(p)] for p in g["params"]
                    if p.dim() >= 2 and grads_rms.get(id(p), 0) > 0]
            if doms and statistics.median(doms) >= WD_DOMINANCE_FAIL:
                out.append(f"weight decay {wd:g} (added to the gradient by {type(opt).__name__}) is "
                           f"{statistics.median(doms):.0f}x the data gradient: the optimizer mostly shrinks weights")
    return out


def _holds_all_from_a_list(ctx, named) -> bool:
    """Whether make_optimizer, given the parameters as a list instead of an iterator, holds every
    trainable one: then the iterator was read twice (a generator exhausted by the first pass)."""
    try:
        opt = ctx.make_optimizer([p for _, p in named], as_list=True)
    except Exception:
        return False
    held = {id(p) for g in opt.param_groups for p in g["params"]}
    return all(id(p) in held for _, p in named if p.requires_grad)


def _settled(ratios: Dict[str, List[float]]) -> bool:
    """Every weight matrix's last two log10 ratios within SETTLED_TOL (and at least one measured)."""
    pairs = [v[-2:] for v in ratios.values() if len(v) >= 2]
    return bool(pairs) and all(abs(b - a) <= SETTLED_TOL for a, b in pairs) \
        and all(len(v) >= 2 for v in ratios.values() if v)


@check("update-ratio", "per-layer update-to-data ratio over a few real steps", order=70,
       options=[Option("--ratio-steps", int, DEFAULT_STEPS, "optimizer steps to measure the update ratio over "
                       "(given: exactly that many; not given: at most the default, fewer once the ratio has settled)")])
def update_ratio(ctx) -> Result:
    asked = ctx.option("ratio_steps")
    steps = max(1, int(asked if asked is not None else DEFAULT_STEPS))
    may_settle = asked is None   # --ratio-steps N asks for N steps: no early stop
    # the shared probe has done step 0's forward + backward on its copy (train mode, the user's
    # loss, seeded as here): train that copy on instead of repeating them
    pr, model = take_grad_model(ctx)
    warm = model is not None
    if model is None:
        model = ctx.fresh_model()
    model.train()
    named = list(model.named_parameters())
    opt = ctx.make_optimizer([p for _, p in named])
    sched = ctx.make_scheduler(opt)
    held = {id(p) for g in opt.param_groups for p in g["params"]}
    trainable = [(n, p) for n, p in named if p.requires_grad]
    frozen = [n for n, p in named if not p.requires_grad]
    not_held = [n for n, p in trainable if id(p) not in held]
    watch = [(n, p) for n, p in trainable if id(p) in held]
    base_lr = [float(g.get("initial_lr", g.get("lr", 0.0))) for g in opt.param_groups]
    group_of = {id(p): i for i, g in enumerate(opt.param_groups) for p in g["params"]}
    ratios: Dict[str, List[float]] = {n: [] for n, _ in watch}
    moved = {n: False for n, _ in watch}
    had_grad = {n: False for n, _ in watch}
    # a weight matrix with no spread at init (a bigram table of zeros, on purpose) has no ratio to take: its
    # first updates are all of its spread. It is judged by the size of its updates instead.
    flat_init = {n for n, p in watch if p.dim() >= 2 and _std(p) == 0.0}
    gated: set = set()   # weight matrices with an exactly-zero data gradient at the first step (see below)
    flat_steps: Dict[str, List[float]] = {n: [] for n in flat_init}
    lrs, losses, wd_findings = [], [], []
    nonfinite = None
    budget_hit = settled = False
    for step in range(steps):
        if step > 0 and ctx.over_budget():  # judge the steps taken so far
            budget_hit = True
            break
        if may_settle and step >= SETTLED_MIN_STEPS and all(moved.values()) and _settled(ratios):
            settled = True
            break
        if step == 0 and warm:
            losses.append(pr.loss)   # the probe's step 0: seeded with the seed itself, as step 0 is here
        else:
            opt.zero_grad(set_to_none=True)
            # each step draws its own randomness (dropout masks, blocks skipped by stochastic depth), as
            # successive training steps do; with one seed for all, a block skipped once is skipped always
            try:
                with ctx.seeded(step):
                    loss, _ = loss_backward(ctx, model, ctx.inputs, ctx.targets)
            except GraphCut as e:
                return Result("fail", f"no update can happen: {e}", {"steps": 0})
            losses.append(float(loss.detach().float()))
        if step == RECORD_STEPS and getattr(ctx, "share_models", False) and math.isfinite(losses[-1]):
            record_run(ctx, model, losses)
        if not math.isfinite(losses[-1]):
            nonfinite = f"loss became {losses[-1]} at step {step}"
            break
        for n, p in watch:
            had_grad[n] |= p.grad is not None
        if step == 0:
            grads_rms = {id(p): _rms(p.grad) for _, p in watch if p.grad is not None}
            # weight matrices whose data gradient is exactly zero at the first step while others have one sit
            # behind a zero-initialised gate (a residual branch's last BatchNorm gamma = 0, on purpose): at
            # first only weight decay moves them, so their ratio says nothing about the LR
            nonzero = {n for n, p in watch if p.grad is not None and p.dim() >= 2 and bool(p.grad.ne(0).any())}
            if nonzero:
                gated = {n for n, p in watch if p.grad is not None and p.dim() >= 2 and n not in nonzero}
            wd_findings = _weight_decay_findings(opt, dict(named), grads_rms)
        lr_now = [float(g.get("lr", 0.0)) for g in opt.param_groups]
        lrs.append(lr_now[0])
        before = {n: p.detach().clone() for n, p in watch}
        opt.step()
        if sched is not None:
            ctx.call("scheduler.step()", sched.step)
        for n, p in watch:
            d = p.detach() - before[n]
            if not torch.isfinite(d).all():
                nonfinite = nonfinite or f"update of {n} became non-finite at step {step}"
                continue
            if bool((d != 0).any()):
                moved[n] = True
            s = _std(before[n])
            lr_used, lr_base = lr_now[group_of[id(p)]], base_lr[group_of[id(p)]]
            if n in flat_init:
                flat_steps[n].append(_rms(d))
            elif p.dim() >= 2 and s > 0 and lr_used > 0:
                r = _std(d) / s
                if r > 0:
                    # judge at the base LR: a warmup step at 1% of it is not "LR too low"
                    ratios[n].append(math.log10(r) + math.log10(max(lr_base, lr_used) / lr_used))
    per_layer = {n: statistics.median(v) for n, v in ratios.items() if v and n not in gated}
    gated_ratios = {n: statistics.median(v) for n, v in ratios.items() if v and n in gated}
    median = statistics.median(per_layer.values()) if per_layer else None
    # the first step is judged too: after a huge step the weights themselves are huge,
    # and later ratios shrink back towards 1 even though training has already blown up
    peak = statistics.median(max(v) for n, v in ratios.items() if v and n not in gated) if per_layer else None
    never = [n for n, _ in watch if not moved[n]]
    no_grad = [n for n in never if not had_grad[n]]
    n_params = sum(p.numel() for _, p in named)
    metrics: Dict[str, Any] = {
        "steps": len(losses), "optimizer": describe_optimizer(opt), "lr": lrs,
        "median_log10_ratio": median, "peak_log10_ratio": peak, "per_layer": per_layer,
        "not_in_optimizer": not_held, "never_updated": never, "frozen": len(frozen),
        "loss": losses,
        "flat_at_init": {n: max(v) for n, v in flat_steps.items() if v},
        "gated_at_init": gated_ratios,
    }
    if settled:
        metrics["stopped"] = "settled"
    if budget_hit:
        metrics["stopped"] = "budget"
        problems_note = f" (time budget: {len(losses)} of {steps} steps)"
    else:
        problems_note = ""
    details = [f"{n:<40} {v:+.2f}" for n, v in sorted(per_layer.items(), key=lambda kv: kv[1])]
    details += [f"{n:<40} {v:+.2f} (gated at init: no data gradient at step 1, not judged)"
                for n, v in sorted(gated_ratios.items(), key=lambda kv: kv[1])]
    plots = [Plot("update-ratio", "log10 update/data ratio per layer", "step", "log10(std(dθ)/std(θ))",
                  {n: v for n, v in ratios.items() if v})]
    problems, warns = [], []
    if nonfinite:
        problems.append(nonfinite)
    if not_held and _holds_all_from_a_list(ctx, named):
        problems.append(f"make_optimizer(params) reads `params` more than once: given an iterator, as "
                        f"`model.parameters()` is, it leaves {len(not_held)} trainable tensors out "
                        f"({', '.join(not_held[:4])}{' ...' if len(not_held) > 4 else ''}), which a list "
                        "would include; take `params = list(params)` first")
    elif not_held:
        frac = sum(p.numel() for n, p in trainable if n in not_held) / max(1, n_params)
        problems.append(f"{len(not_held)} trainable tensors ({100 * frac:.0f}% of weights) are not in the optimizer "
                        f"and will never train: {', '.join(not_held[:4])}{' ...' if len(not_held) > 4 else ''}")
    if lrs and all(x == 0 for x in lrs):
        problems.append(f"the learning rate is 0 for all {len(lrs)} steps measured")
    elif never:
        # A 1-D tensor (a bias, a norm's shift) whose gradient is exactly zero while every weight
        # matrix moves is usually cancelled by what follows it (a bias before a normalisation, or
        # before a difference of two passes through the same tower): useless, harmless. grad-flow
        # reads it the same way and warns.
        shapes = dict((n, p.dim()) for n, p in watch)
        cancelled = [n for n in never if had_grad[n] and shapes[n] <= 1]
        if len(cancelled) < len(never):
            why = "no gradient reaches them (unused in forward, or cut by detach)" if no_grad == never else \
                "their update is exactly zero"
            problems.append(f"{len(never)} parameter tensors never changed over {len(losses)} steps: {why}: "
                            f"{', '.join(never[:4])}{' ...' if len(never) > 4 else ''}")
        else:
            warns.append(f"{len(never)} 1-D parameter tensors never changed over {len(losses)} steps, their gradient "
                         f"exactly zero while every weight matrix moved: {', '.join(never[:4])}"
                         f"{' ...' if len(never) > 4 else ''}; usually cancelled by what follows them (a bias before "
                         "a normalisation or a difference of two passes), harmless; see grad-flow")
    problems += wd_findings
    huge = [n for n, v in flat_steps.items() if v and max(v) > FLAT_STEP_FAIL]
    if huge:
        problems.append(f"{len(huge)} weight tensors with no spread at init move by up to "
                        f"{max(max(flat_steps[n]) for n in huge):.3g} (RMS) in one step: the LR is far too high for "
                        f"them: {', '.join(huge[:4])}")
    if median is not None:
        if peak > HIGH_FAIL:
            problems.append(f"updates reach 10^{peak:.1f} of the weights' spread in one step (median layer; "
                            "healthy ~10^-3): the LR is far too high")
        elif median < LOW_FAIL:
            problems.append(f"median update/weight ratio is 10^{median:.1f} per step (healthy ~10^-3): "
                            "the LR is far too low")
        elif median > HIGH_WARN:
            warns.append(f"median update/weight ratio is 10^{median:.1f} per step (healthy ~10^-3): LR on the high side")
        elif median < LOW_WARN:
            warns.append(f"median update/weight ratio is 10^{median:.1f} per step (healthy ~10^-3): LR likely too low")
        outliers = [n for n, v in per_layer.items() if abs(v - median) > OUTLIER]
        if outliers:
            warns.append(f"{len(outliers)} layers are >{OUTLIER:g} decades from the median ratio "
                         f"{median:.1f}: " + ", ".join(f"{n} ({per_layer[n]:+.1f})" for n in outliers[:4]))
    if problems:
        return Result("fail", "; ".join(problems) + problems_note, metrics, details, plots)
    if warns:
        return Result("warn", "; ".join(warns) + problems_note, metrics, details, plots)
    if median is None:
        flat = f"; {len(metrics['flat_at_init'])} with no spread at init move by <= " \
            f"{max(metrics['flat_at_init'].values()):.2g} (RMS) per step" if metrics["flat_at_init"] else ""
        return Result("pass", f"every trainable tensor moved over {len(losses)} steps "
                              f"(no weight matrix with spread to take a ratio on{flat})", metrics, details, plots)
    return Result("pass", f"median log10 update/weight ratio {median:+.1f} over {len(per_layer)} weight "
                          f"tensors ({metrics['optimizer']}, {len(losses)} steps); all held by the optimizer and moving"
                          + problems_note,
                  metrics, details, plots)
