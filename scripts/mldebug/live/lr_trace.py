"""lr-trace: the LR the optimizer actually used at each traced step: zero, or collapsing.

refs/diagnostics.md#lr-trace explains it."""
from __future__ import annotations

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


@live_check("lr-trace", "the LR actually used at each step", order=120)
def check(tracer) -> Result:
    recs = tracer.records
    n = len(recs)
    ngroups = max(len(r.lrs) for r in recs)
    series = {f"group {g}": [r.lrs[g] if g < len(r.lrs) else float("nan") for r in recs] for g in range(ngroups)}
    plot = Plot("lr-trace", "LR used at each optimizer step", "step", "learning rate",
                series, x=[r.step for r in recs], logy=True)
    g0 = series["group 0"]
    metrics = {"steps": n, "lr_first": g0[0], "lr_last": g0[-1], "lr_max": max(g0), "lr_min": min(g0),
               "lr": g0[:200]}
    peaks = {g: max(v) for g, v in series.items()}
    if all(p <= 0 for p in peaks.values()):
        return Result("fail", f"the LR was 0 at all {n} traced steps: nothing is learned "
                                   "(lr=0 in the optimizer, or a schedule that starts and stays at 0)",
                      metrics, plots=[plot])
    worst = None
    for g, v in series.items():
        peak = peaks[g]
        if peak <= 0:
            continue
        dead = [i for i, x in enumerate(v) if x < LR_DEAD * peak]
        low = [i for i, x in enumerate(v) if x < LR_LOW * peak]
        after = [i for i in dead if i > v.index(peak)]
        for level, idx, status in ((LR_DEAD, after, "fail"), (LR_LOW, [i for i in low if i > v.index(peak)], "warn")):
            if len(idx) >= LR_MIN_STEPS and len(idx) >= LR_DEAD_FRACTION * n:
                cand = (status, g, idx, level, peak, v)
                if worst is None or (status == "fail" and worst[0] == "warn"):
                    worst = cand
                break
    if worst is not None:
        status, g, idx, level, peak, v = worst
        first = idx[0] + 1
        drops = [i + 1 for i in range(1, n) if v[i] < v[i - 1] * 0.999]
        period = ""
        if len(drops) >= 3:
            gaps = {b - a for a, b in zip(drops, drops[1:])}
            if len(gaps) == 1:
                period = (f"; it dropped every {gaps.pop()} step(s), as a scheduler built for epochs does when "
                          "stepped every batch")
        metrics.update({"low_steps": len(idx), "first_low_step": first})
        return Result(status,
                      f"the LR{'' if ngroups == 1 else f' of {g}'} collapsed within the first {n} steps: "
                      f"{peak:.3g} at its peak, below {level:g}x that ({v[idx[0]]:.3g}) from step {first}, and "
                      f"{len(idx)} of {n} steps ran there (last {v[-1]:.3g}){period}", metrics, plots=[plot])
    zero_groups = [g for g, p in peaks.items() if p <= 0]
    if zero_groups:
        return Result("warn", f"{', '.join(zero_groups)} had LR 0 at every traced step while other groups "
                                   "trained: fine if that group is frozen on purpose", metrics, plots=[plot])
    warm = " (warm-up from 0)" if g0[0] == 0 else ""
    return Result("pass", f"LR {g0[0]:.3g} at step 1{warm}, {g0[-1]:.3g} at step {n} (peak {max(g0):.3g}); "
                               "no collapse", metrics, plots=[plot])
