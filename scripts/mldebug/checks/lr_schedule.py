"""lr-schedule: the learning rate the scheduler will give at every step of training.

We build the user's optimizer and scheduler over a fresh copy's parameters and step the
scheduler alone through TOTAL_STEPS (no gradients, no training), reading the LR each
optimizer step would use. Karpathy: "your code could secretely be driving your learning
rate to zero too early" (evidence/karpathy-recipe-2019.md), e.g. a per-epoch schedule
(StepLR(30), CosineAnnealingLR(T_max=epochs)) stepped once per batch. We flag an LR that
is 0 from the start, or that falls to ~0 early in training.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Dict, List, Optional, Tuple

import torch

from ..registry import Plot, Result, Skip, check

MAX_STEPS = 100_000       # scheduler steps we simulate at most (~1-5 s worst case; LambdaLR is sampled instead)
DEFAULT_HORIZON = 1000    # steps simulated without TOTAL_STEPS or a horizon of the scheduler's own
DEAD_FRAC = 0.01          # "~0": < 1% of the peak LR. Cosine to 0 crosses it at 94% of training, linear
                          # decay to 0 at 99%, the usual floors (nanoGPT max/10, OneCycle) never or at the
                          # very end (evidence/nanochat-pretraining.md): crossing it early is off-design
FAIL_FRACTION = 0.10      # ~0 and staying there before 10% of TOTAL_STEPS: >90% of training wasted. Also
                          # the playbook's cap on warmup length (evidence/google-tuning-playbook.md)
WARN_FRACTION = 0.75      # ~0 and staying there before 75%: the last quarter of training barely moves
CYCLE_LOW, CYCLE_HIGH = 0.1, 0.5  # a cycle: down below 10% of the peak, back above 50% (SGDR's cosine
                                  # restarts bottom out at 2.4% with a 10-step period, never below 1%)
CYCLIC = ("CyclicLR", "CosineAnnealingWarmRestarts")  # cycling is their design: warn only on absurd periods
CYCLE_FAIL_FRACTION = 0.01  # an LR that returns from ~0 but first hits it within 1% of training cycles
                            # >= 50 times: a per-epoch horizon (T_max, T_0) stepped per batch
ZERO_RUN_WARN = 2         # LR exactly 0 for >= 2 leading steps (HF linear warmup has exactly 1)
ZERO_RUN_FAIL = 10        # ... for >= 10 steps: a warmup computed with integer division, or a real 0
KILL_FRAC = 1e-6          # without TOTAL_STEPS: LR < 1e-6 x peak for good ...
KILL_STEPS = 100          # ... within the first 100 steps is wrong for any training length
STOP_DEAD_STEPS = 1000    # stop simulating once the LR has been < KILL_FRAC x peak this long
SAMPLED_DENSE = 1000      # LambdaLR fast path: every step up to here, then evenly spaced samples
PLOT_POINTS = 2000


def _lrs(opt) -> List[float]:
    return [float(g["lr"]) for g in opt.param_groups]


def _own_horizon(sched) -> Tuple[Optional[int], Optional[str]]:
    """A horizon the scheduler declares itself (T_max, total_iters, total_steps), if any."""
    for attr in ("total_steps", "T_max", "total_iters"):
        v = getattr(sched, attr, None)
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            return v, attr
    return None, None


def _lambda_curve(sched, opt, n: int) -> Optional[Tuple[List[int], List[List[float]]]]:
    """LambdaLR: evaluate its lambdas at sampled steps instead of stepping it n times.

    Checked against real scheduler steps over the first 200 steps; None on any mismatch."""
    if type(sched) is not torch.optim.lr_scheduler.LambdaLR:
        return None
    try:
        lams, bases = list(sched.lr_lambdas), [float(b) for b in sched.base_lrs]
        if n <= SAMPLED_DENSE:
            xs = list(range(n))
        else:
            stride = max(1, math.ceil((n - SAMPLED_DENSE) / (MAX_STEPS - SAMPLED_DENSE)))
            xs = list(range(SAMPLED_DENSE)) + list(range(SAMPLED_DENSE, n, stride))
            if xs[-1] != n - 1:
                xs.append(n - 1)
        ys = [[b * float(f(s)) for s in xs] for f, b in zip(lams, bases)]
        check_n = min(200, n)
        stepped = _stepped_curve(sched, opt, check_n, None)[1]
        for g in range(len(ys)):
            for s in range(check_n):
                if not math.isclose(stepped[g][s], ys[g][s], rel_tol=1e-9, abs_tol=1e-15):
                    return None
        return xs, ys
    except Exception:
        return None


def _stepped_curve(sched, opt, n: int, stop_dead: Optional[int]):
    """Step the scheduler n-1 times; LR of every group before each step. Stops early after the
    LR has stayed below KILL_FRAC x its peak for `stop_dead` steps. Returns (xs, ys, error)."""
    ys: List[List[float]] = [[] for _ in opt.param_groups]
    peak, dead_for, error = 0.0, 0, None
    for s in range(n):
        now = _lrs(opt)
        for g, v in enumerate(now):
            ys[g].append(v)
        peak = max(peak, max(now))
        dead_for = dead_for + 1 if peak > 0 and max(now) < KILL_FRAC * peak else 0
        if stop_dead is not None and dead_for >= stop_dead:
            break
        if s < n - 1:
            try:
                sched.step()
            except Exception as e:  # e.g. OneCycleLR stepped past its total_steps
                error = (s + 1, f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}")
                break
    return list(range(len(ys[0]))), ys, error


def _shape(xs: List[int], ys: List[float]) -> Dict[str, Any]:
    """Facts about one LR curve: peak, leading zeros, first ~0 after the peak zone, when ~0 for good."""
    peak = max(ys)
    peak_i = ys.index(peak)
    out: Dict[str, Any] = {"lr_start": ys[0], "lr_peak": peak, "peak_step": xs[peak_i], "lr_min": min(ys),
                           "lr_final": ys[-1]}
    zero_run = 0
    for x, y in zip(xs, ys):
        if peak > 0 and y > 1e-12 * peak:
            break
        zero_run = x + 1
    out["zero_steps_at_start"] = zero_run
    first_below = None
    risen = False   # ~0 counts only after the LR has been up (a warmup from 0 is not a collapse)
    for x, y in zip(xs, ys):
        if y >= 10 * DEAD_FRAC * peak:
            risen = True
        if risen and y < DEAD_FRAC * peak * (1 - 1e-6):
            first_below = x
            break
    out["first_below_1pct_step"] = first_below
    # cycles: the LR falls below CYCLE_LOW x peak and climbs back above CYCLE_HIGH x peak
    first_low, restarts, state = None, 0, "start"
    for x, y in zip(xs, ys):
        if state == "high" and y < CYCLE_LOW * peak:
            state = "low"
            first_low = x if first_low is None else first_low
        elif y >= CYCLE_HIGH * peak:
            restarts += state == "low"
            state = "high"
    out["first_below_10pct_step"] = first_low
    out["restarts"] = restarts
    dead_from = None
    for i in range(len(ys) - 1, -1, -1):
        if ys[i] >= DEAD_FRAC * peak * (1 - 1e-6):  # 10x-steps land on exactly 1%: not below it
            break
        dead_from = xs[i]
    out["dead_from_step"] = dead_from if peak > 0 else 0
    killed = None
    for i in range(len(ys) - 1, -1, -1):
        if ys[i] >= KILL_FRAC * peak:
            break
        killed = xs[i]
    out["killed_from_step"] = killed
    return out


def _judge(shape: Dict[str, Any], total: Optional[int], simulated: int,
           cyclic: bool = False) -> Tuple[List[str], List[str]]:
    """(fail reasons, warn reasons) for one param group's curve."""
    fails, warns = [], []
    if shape["lr_peak"] <= 0:
        return [f"the LR is 0 at every one of the {simulated} steps simulated"], []
    z = shape["zero_steps_at_start"]
    if z >= ZERO_RUN_FAIL:
        fails.append(f"the LR is exactly 0 for the first {z} steps (a warmup that starts at 0 should rise on "
                     "step 1: integer division, or a factor that rounds to 0?)")
    elif z >= ZERO_RUN_WARN:
        warns.append(f"the LR is exactly 0 for the first {z} steps")
    dead, first = shape["dead_from_step"], shape["first_below_1pct_step"]
    peak = shape["lr_peak"]
    if total is None:
        killed = shape["killed_from_step"]
        if killed is not None and killed < KILL_STEPS:
            fails.append(f"the LR falls below {KILL_FRAC:g} of its peak {peak:.3g} by step {killed} and stays there: "
                         f"training stops after ~{killed} steps (a per-epoch schedule stepped per batch?)")
        return fails, warns
    pct = lambda s: f"{100 * s / total:.3g}% of TOTAL_STEPS={total}"  # noqa: E731
    if dead is not None and dead < FAIL_FRACTION * total:
        fails.append(f"the LR falls below 1% of its peak {peak:.3g} at step {dead} ({pct(dead)}) and stays "
                     "there: most of training would not move the weights (a per-epoch schedule stepped per batch, "
                     "or a horizon shorter than TOTAL_STEPS?)")
    elif dead is not None and dead < WARN_FRACTION * total:
        warns.append(f"the LR is below 1% of its peak from step {dead} on ({pct(dead)}): the last "
                     f"{100 * (1 - dead / total):.0f}% of training barely moves the weights")
    low, restarts = shape["first_below_10pct_step"], shape["restarts"]
    if dead is None and restarts and low is not None and low < CYCLE_FAIL_FRACTION * total:
        fails.append(f"the LR drops below 10% of its peak already at step {low} ({pct(low)}) and cycles back "
                     f"{restarts} times: a horizon in epochs (T_max, T_0) with a per-batch scheduler.step()?")
    elif dead is None and restarts and low is not None and low < FAIL_FRACTION * total and not cyclic:
        warns.append(f"the LR drops below 10% of its peak at step {low} ({pct(low)}) and comes back {restarts} "
                     "times: fine for restarts by design, otherwise the schedule's horizon is shorter than "
                     "the training")
    return fails, warns


@check("lr-schedule", "the LR over the whole training: not 0 at the start, not ~0 long before the end", order=65)
def lr_schedule(ctx) -> Result:
    model = ctx.fresh_model()
    opt = ctx.make_optimizer(model.parameters())
    if not hasattr(opt, "param_groups") or not opt.param_groups or "lr" not in opt.param_groups[0]:
        raise Skip(f"make_optimizer returned {type(opt).__name__} without param_groups[...]['lr']: no LR to read")
    base = _lrs(opt)
    total = ctx.target.total_steps
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "lr_scheduler.step() before optimizer.step()": no training here
        sched = ctx.make_scheduler(opt)
    if sched is None:
        if max(base) <= 0:
            return Result("fail", f"the optimizer's LR is {max(base):g} and no scheduler changes it: "
                                  "nothing will train", {"lr": base, "scheduler": None})
        zero = [i for i, v in enumerate(base) if v <= 0]
        if zero:
            return Result("warn", f"param group(s) {zero} have LR 0 and no scheduler: their weights never train "
                                  "(intended freezing?)", {"lr": base, "scheduler": None})
        lr = f"{base[0]:.3g}" if len(set(base)) == 1 else "/".join(f"{v:.3g}" for v in base)
        return Result("pass", f"constant LR {lr} ({type(opt).__name__}, no scheduler)", {"lr": base, "scheduler": None})
    if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
        raise Skip("ReduceLROnPlateau follows a validation metric: its LR can't be known ahead of training")
    if not callable(getattr(sched, "step", None)):
        raise Skip(f"make_scheduler returned {type(sched).__name__}, which has no step()")
    name = type(sched).__name__
    own, own_attr = _own_horizon(sched)
    if total is not None:
        horizon, source = total, "TOTAL_STEPS"
    elif own is not None:
        horizon, source = max(own, DEFAULT_HORIZON), f"{own_attr}={own}"
    else:
        horizon, source = DEFAULT_HORIZON, "default"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast = _lambda_curve(sched, opt, horizon)
        if fast is not None:
            xs, ys, error, how = fast[0], fast[1], None, "lambda sampled"
        else:
            n = min(horizon, MAX_STEPS)
            stop = max(STOP_DEAD_STEPS, horizon // 100)
            xs, ys, error = _stepped_curve(sched, opt, n, stop)
            how = "stepped"
    simulated = xs[-1] + 1
    shapes = [_shape(xs, y) for y in ys]
    verdicts = [_judge(sh, total, simulated, name in CYCLIC) for sh in shapes]
    live = [v for v, sh in zip(verdicts, shapes) if sh["lr_peak"] > 0]
    frozen = [g for g, sh in enumerate(shapes) if sh["lr_peak"] <= 0]
    if live and frozen:  # some groups at LR 0 throughout, others training: maybe deliberate freezing
        verdicts = [v if sh["lr_peak"] > 0 else ([], [f"LR 0 at every step simulated: its weights never train "
                                                       "(intended freezing?)"]) for v, sh in zip(verdicts, shapes)]
    same = all(v == verdicts[0] for v in verdicts)   # the usual case: one schedule shape for every group
    fails, warns = [], []
    for g, (f, w) in enumerate(verdicts[:1] if same else verdicts):
        tag = "" if same else f"param group {g}: "
        fails += [tag + x for x in f]
        warns += [tag + x for x in w]
    if error is not None and total is not None and error[0] < total:
        fails.append(f"scheduler.step() raised at step {error[0]} of TOTAL_STEPS={total}: {error[1]}")
    main = shapes[0]
    metrics: Dict[str, Any] = {"scheduler": name, "optimizer_lr": base[0], "horizon": horizon,
                               "horizon_from": source, "simulated_steps": simulated, "how": how}
    metrics.update(main)
    if len(shapes) > 1:
        metrics["groups"] = shapes
    if error is not None:
        metrics["scheduler_error"] = f"step {error[0]}: {error[1]}"
    stride = max(1, len(xs) // PLOT_POINTS)
    px = xs[::stride]
    series = {("lr" if len(ys) == 1 else f"group {g}"): y[::stride] for g, y in enumerate(ys)}
    plots = [Plot("lr-schedule", f"LR per step ({name}, {source})", "optimizer step", "learning rate",
                  series, x=[float(x) for x in px])]
    stopped = f"; simulated {simulated} of {horizon} steps (LR stayed ~0 from then on)" \
        if simulated < min(horizon, MAX_STEPS) and error is None else ""
    details = [f"{k}: {v}" for k, v in main.items()]
    if fails:
        return Result("fail", f"{name}: " + "; ".join(fails) + stopped, metrics, details, plots)
    if warns:
        return Result("warn", f"{name}: " + "; ".join(warns) + stopped, metrics, details, plots)
    desc = (f"{name}: LR {main['lr_start']:.3g} at step 0, peak {main['lr_peak']:.3g} at step {main['peak_step']}, "
            f"{main['lr_final']:.3g} at step {xs[-1]}")
    if main["first_below_1pct_step"] is not None:
        desc += f", below 1% of the peak first at step {main['first_below_1pct_step']}"
    if total is None:
        return Result("pass", desc + f" (no TOTAL_STEPS: simulated {simulated} steps, horizon from {source}; "
                                     "set TOTAL_STEPS to judge when the decay ends)", metrics, details, plots)
    return Result("pass", desc + f" of TOTAL_STEPS={total}; never ~0 before "
                                 f"{100 * WARN_FRACTION:.0f}% of training", metrics, details, plots)
