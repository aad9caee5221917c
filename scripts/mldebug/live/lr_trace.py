"""lr-trace: the LR the optimizer actually used at each step (zero, or collapsing), and what the
schedule will do over an epoch and over the planned run.

Two measurements. (1) The LR each traced step used, judged within each phase (a new optimizer for
fine-tuning may start at a lower LR on purpose). (2) Epoch-aware: the recorder knows each LR
scheduler (class, parameters, where it was built), how often its step() is called per optimizer
step and from which line, and the training DataLoader's epoch length; the schedule is replayed on
a stand-in optimizer over one epoch of those calls. A scheduler whose parameters count epochs
(StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR with T_max far below an epoch's steps)
stepped every batch, whose LR falls 10x or more within the first epoch, fails.
refs/diagnostics.md#lr-trace explains it."""
from __future__ import annotations

import copy
import warnings
from typing import List, Optional

from ..registry import Plot, Result, Skip, live_check

# lr-trace thresholds (refs/diagnostics.md#lr-trace). Schedules that end at ~0 (cosine, linear,
# one-cycle) spend only their last few % of steps below 1e-3 of the peak, and a warm-up from 0
# only its first step or two; a per-epoch StepLR stepped per batch spends most steps there
# (evidence/pytorch-docs.md: scheduler.step() belongs after the optimizer's, at the interval
# the scheduler was built for).
LR_DEAD = 1e-3           # an LR below 1e-3 of the traced peak moves weights ~1000x less than it did
LR_LOW = 1e-2            # 100x below the peak: warn
LR_DEAD_FRACTION = 0.25  # ... for at least a quarter of the traced steps
LR_MIN_STEPS = 4         # and at least this many steps (one warm-up step at 0 is normal)
# Epoch-aware rule: StepLR, MultiStepLR and ExponentialLR decay "every step_size epochs", at
# "milestones" counted in epochs, "every epoch" (evidence/pytorch-docs.md); stepped every batch,
# they decay as many times faster as an epoch has batches. The 10x threshold is ours: one such
# decay is a 10x cut, and a whole run's schedule seldom spends it inside the first epoch.
EPOCH_FALL = 0.1         # LR at its lowest within the first epoch <= 0.1 x its peak there: fail (ours)
PER_BATCH = 0.5          # scheduler.step() calls per optimizer step at or above this: stepped per batch
COSINE_EPOCHS = 0.5      # CosineAnnealingLR with T_max below half an epoch's calls counts epochs
EPOCH_CLASSES = ("StepLR", "MultiStepLR", "ExponentialLR")
MAX_SIM_STEPS = 20_000   # scheduler steps replayed at most (one epoch of a large dataset)


def _segments(recs):
    """Records split by phase: [(phase index, [records])]."""
    out = []
    for r in recs:
        if not out or out[-1][0] != r.phase:
            out.append((r.phase, []))
        out[-1][1].append(r)
    return out


def _collapse(seg, n_all):
    """Worst collapse within one phase's records: (status, group, idx, level, peak, series) or None."""
    ngroups = max(len(r.lrs) for r in seg)
    worst = None
    for g in range(ngroups):
        v = [r.lrs[g] if g < len(r.lrs) else float("nan") for r in seg]
        peak = max(v)
        if not peak > 0:
            continue
        ipeak = v.index(peak)
        n = len(v)
        for level, status in ((LR_DEAD, "fail"), (LR_LOW, "warn")):
            idx = [i for i, x in enumerate(v) if x < level * peak and i > ipeak]
            if len(idx) >= LR_MIN_STEPS and len(idx) >= LR_DEAD_FRACTION * n:
                if worst is None or (status == "fail" and worst[0] == "warn"):
                    worst = (status, f"group {g}", idx, level, peak, v)
                break
    return worst


def epoch_steps(tracer):
    """(optimizer steps per epoch, the training LoaderRecord), or (None, None) when unknown."""
    train = [rec for rec in tracer.loaders if rec.train_batches and rec.epochs]
    if not train:
        return None, None
    rec = max(train, key=lambda x: x.train_batches)
    e0 = rec.epochs[0]
    if len(rec.epochs) >= 2 and rec.epochs[1].start_step > e0.start_step:
        return rec.epochs[1].start_step - e0.start_step, rec
    steps = tracer.steps - e0.start_step
    if rec.length and steps > 0 and e0.batches:
        per_step = e0.batches / steps          # batches per optimizer step (accumulation)
        return max(1, round(rec.length / per_step)), rec
    return None, rec


def simulate(sched, n: int) -> Optional[List[float]]:
    """Group 0's LR over `n` more step() calls of a copy of the scheduler as it was before its first
    step() in the run, on a stand-in optimizer (the user's objects are not touched)."""
    if sched.state is None or not sched.groups or sched.cls_obj is None:
        return None
    import torch
    try:
        groups = copy.deepcopy(sched.groups)
        params = [torch.zeros(1) for _ in groups]
        opt = torch.optim.SGD([dict(g, params=[p]) for g, p in zip(groups, params)], lr=groups[0].get("lr", 0.1))
        clone = sched.cls_obj.__new__(sched.cls_obj)
        clone.__dict__.update(copy.deepcopy(sched.state))
        clone.optimizer = opt
        lrs = [float(opt.param_groups[0]["lr"])]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(min(n, MAX_SIM_STEPS)):
                clone.step()
                lrs.append(float(opt.param_groups[0]["lr"]))
        return lrs
    except Exception:  # an unusual scheduler: no projection
        return None


def _period(v) -> str:
    """'; it dropped every 2 step(s)' when the traced LR fell at a fixed period."""
    drops = [i for i in range(1, len(v)) if v[i] < v[i - 1] * 0.999]
    if len(drops) >= 3:
        gaps = {b - a for a, b in zip(drops, drops[1:])}
        if len(gaps) == 1:
            return (f"; it dropped every {gaps.pop()} step(s), as a scheduler built for epochs does when stepped "
                    "every batch")
    return ""


def _fmt_fall(peak, low) -> str:
    return f"from {peak:.3g} to 0" if low <= 0 else f"from {peak:.3g} to {low:.3g} ({peak / low:.3g}x lower)"


def _params_text(s) -> str:
    keys = [k for k in ("step_size", "milestones", "gamma", "T_max", "total_steps") if k in s.params]
    return ", ".join(f"{k}={s.params[k]}" for k in keys)


def _epochy(s, n1) -> bool:
    if s.cls in EPOCH_CLASSES:
        return True
    if s.cls == "CosineAnnealingLR":
        t = s.params.get("T_max")
        return isinstance(t, (int, float)) and t < COSINE_EPOCHS * n1
    return False


def judge_schedulers(tracer):
    """Per scheduler stepped during the run: a dict of what it does per epoch (see the module doc)."""
    E, loader = epoch_steps(tracer)
    out = []
    for s in tracer.struct.schedulers:
        seen = tracer.steps - s.created_step
        if not s.calls or seen <= 0:
            continue
        if s.calls >= 2 and s.last_call_step > s.first_call_step:   # calls per optimizer step between them
            rate = (s.calls - 1) / (s.last_call_step - s.first_call_step)
        else:
            rate = s.calls / seen
        site = max(s.sites, key=s.sites.get) if s.sites else "?"
        info = {"sched": s, "rate": rate, "site": site, "E": E, "loader": loader}
        if E and rate >= PER_BATCH:
            n1 = max(1, round(E * rate))
            lrs = simulate(s, n1)
            if lrs:
                peak = max(lrs)
                ip = lrs.index(peak)
                low = min(lrs[ip:])
                info.update(n1=n1, peak=peak, low=low, start=lrs[0], end=lrs[-1], fall=(low / peak) if peak > 0 else 1.0,
                            epochy=_epochy(s, n1))
                epochs_seen = len(loader.epochs) if loader is not None else 0
                if tracer.final is not None and epochs_seen > 1 and tracer.records:
                    info["epochs_seen"] = epochs_seen
                    info["run_last"] = tracer.records[-1].lrs[0] if tracer.records[-1].lrs else None
        out.append(info)
    return out


@live_check("lr-trace", "the LR actually used at each step", order=120)
def check(tracer) -> Result:
    recs = tracer.records
    n = len(recs)
    if not n:
        raise Skip("no optimizer step was taken")
    ngroups = max(len(r.lrs) for r in recs)
    series = {f"group {g}": [r.lrs[g] if g < len(r.lrs) else float("nan") for r in recs] for g in range(ngroups)}
    plot = Plot("lr-trace", "LR used at each optimizer step", "step", "learning rate",
                series, x=[r.step for r in recs], logy=True)
    g0 = series["group 0"]
    metrics = {"steps": n, "lr_first": g0[0], "lr_last": g0[-1], "lr_max": max(g0), "lr_min": min(g0),
               "lr": g0[:200]}
    peaks = {g: max(v) for g, v in series.items()}
    if all(not p > 0 for p in peaks.values()):
        return Result("fail", f"the LR was 0 at all {n} traced steps: nothing is learned "
                              "(lr=0 in the optimizer, or a schedule that starts and stays at 0)",
                      metrics, plots=[plot])
    scheds = judge_schedulers(tracer)
    E = scheds[0]["E"] if scheds else epoch_steps(tracer)[0]
    if E:
        metrics["epoch_steps"] = E
    bad = [x for x in scheds if x.get("epochy") and x["fall"] <= EPOCH_FALL]
    if bad:
        x = bad[0]
        s = x["sched"]
        ld = x["loader"]
        per = "every optimizer step" if abs(x["rate"] - 1) < 0.05 else f"{x['rate']:.2g} times per optimizer step"
        text = (f"{s.cls}({_params_text(s)}), built by {s.where}, is stepped {per} by {x['site']}, but its "
                f"parameters count epochs: over one epoch ({E} optimizer steps, {ld.length} batches of the "
                f"DataLoader first iterated by {ld.where}) the LR falls {_fmt_fall(x['peak'], x['low'])}"
                f"{_period(g0)}")
        if x.get("epochs_seen"):
            text += f", and the run's {x['epochs_seen']} epochs ended at {x['run_last']:.3g}"
        text += ". Step it once per epoch (after the loop over batches), or give its parameters in optimizer steps"
        metrics.update({"scheduler": s.cls, "scheduler_calls_per_step": round(x["rate"], 3),
                        "lr_after_one_epoch": x["end"], "epoch_fall": x["fall"]})
        return Result("fail", text, metrics, plots=[plot])
    worst = None
    for phase, seg in _segments(recs):
        w = _collapse(seg, n)
        if w is not None and (worst is None or (w[0] == "fail" and worst[1][0] == "warn")):
            worst = (seg, w)
    if worst is not None:
        seg, (status, g, idx, level, peak, v) = worst
        first = seg[idx[0]].step
        m = len(seg)
        period = _period(v)
        stepped = [x for x in scheds if x["rate"] >= PER_BATCH]
        if stepped:
            x = stepped[0]
            period += f" ({x['sched'].cls} built by {x['sched'].where}, stepped by {x['site']})"
        metrics.update({"low_steps": len(idx), "first_low_step": first})
        span = f"within the first {m} steps" if seg[0].step == 1 else \
            f"within {m} steps{tracer.struct.where_phase(seg[0].step)}"
        return Result(status,
                      f"the LR{'' if ngroups == 1 else f' of {g}'} collapsed {span}: "
                      f"{peak:.3g} at its peak, below {level:g}x that ({v[idx[0]]:.3g}) from step {first}, and "
                      f"{len(idx)} of {m} steps ran there (last {v[-1]:.3g}){period}", metrics, plots=[plot])
    zero_groups = [g for g, p in peaks.items() if not p > 0]
    if zero_groups:
        return Result("warn", f"{', '.join(zero_groups)} had LR 0 at every traced step while other groups "
                              "trained: fine if that group is frozen on purpose", metrics, plots=[plot])
    warm = " (warm-up from 0)" if g0[0] == 0 else ""
    text = f"LR {g0[0]:.3g} at step 1{warm}, {g0[-1]:.3g} at step {n} (peak {max(g0):.3g}); no collapse"
    for x in scheds[:2]:
        s = x["sched"]
        how = "per optimizer step" if x["rate"] >= PER_BATCH else "less than once per optimizer step"
        text += f"; {s.cls} stepped {how} by {x['site']}"
        if x.get("n1"):
            text += (f"; replayed over one epoch ({E} steps) its LR goes from {x['start']:.3g} to {x['end']:.3g} "
                     f"(peak {x['peak']:.3g})")
            if not x["epochy"]:
                text += ", a per-step schedule"
    return Result("pass", text, metrics, plots=[plot])
