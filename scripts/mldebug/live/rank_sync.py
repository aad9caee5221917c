"""rank-sync: replicas whose parameters differ across ranks, before the first step or after a step.

Runs on the records of every rank of a multi-process trace (ranks.py): an exact hash, the norm and
SAMPLE_VALUES values of every parameter before the first update and after the last traced step, and a
few values per step. refs/diagnostics.md#rank-sync explains it.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Tuple

from ..registry import Result, Skip, live_check

SYNC_FAIL = 1e-5  # relative divergence (RMS of the difference over RMS of the values). Data-parallel replicas
                  # are bit-identical (DDP broadcasts at construction, all-reduce hands every rank the same sum);
                  # float32 rounding differences would be ~1e-7 per step: 1e-5 is far above, and a missed
                  # gradient average is 1e-3..1e-1 after one step


def _rel(a: List[float], b: List[float]) -> float:
    if not a or len(a) != len(b):
        return math.nan
    d = math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b)) / len(a))
    s = math.sqrt(sum(x * x for x in a) / len(a))
    return d / s if s > 0 else (0.0 if d == 0 else math.inf)


def _differ(d0: Dict[str, Any], dr: Dict[str, Any], names: List[str]) -> List[Tuple[str, float]]:
    out = []
    for n in names:
        if d0[n]["hash"] != dr[n]["hash"]:
            out.append((n, _rel(d0[n]["sample"], dr[n]["sample"])))
    return out


def _first_step(s0: List[List[float]], sr: List[List[float]]) -> Optional[int]:
    for i, (a, b) in enumerate(zip(s0, sr)):
        if a != b:
            return i + 1
    return None


def _names(pairs: List[Tuple[str, float]], k: int = 4) -> str:
    top = sorted(pairs, key=lambda x: -(x[1] if math.isfinite(x[1]) else 1e300))[:k]
    text = ", ".join(f"{n} ({v:.2g})" for n, v in top)
    return text + (f" and {len(pairs) - k} more" if len(pairs) > k else "")


def _cause_after(records: Dict[int, Dict[str, Any]], r: int, r0: int, differ: int, total: int) -> str:
    chain = next((rec.get("chain") for rec in records.values() if rec.get("chain")), []) or []
    lrs0, lrsr = records[r0].get("lrs") or [], records[r].get("lrs") or []
    if any(a != b for a, b in zip(lrs0, lrsr)):
        return "the ranks stepped with different LRs (see lr-trace)"
    if "DistributedDataParallel" in chain:
        return ("the model is wrapped in DDP, so its gradients should be averaged: is no_sync() left on for the "
                "stepping backward, or are parameters changed outside the optimizer on some ranks?")
    part = f" ({differ} of {total} tensors: a hand-written all-reduce that misses some?)" if differ < total else ""
    return ("the gradients were not averaged across ranks: the model is not wrapped in DistributedDataParallel and "
            f"no all_reduce of the gradients reaches the optimizer{part}")


@live_check("rank-sync", "replicas whose parameters differ across ranks", order=160)
def check(view) -> Result:
    records = getattr(view, "ranks", None) or {}
    if len(records) < 2:
        raise Skip("one process: no replica to compare with")
    order = sorted(records)
    r0 = order[0]
    init = {r: records[r]["log"].get("init_digest") for r in order}
    if any(d is None for d in init.values()):
        missing = [r for r, d in init.items() if d is None]
        raise Skip(f"rank(s) {missing} captured no model (no forward of a module holding the optimizer's "
                   "parameters before the first step)")
    shapes = {r: {n: tuple(v["shape"]) for n, v in init[r].items()} for r in order}
    if any(shapes[r] != shapes[r0] for r in order):
        raise Skip("the ranks hold different parameter sets (pipeline or model parallel?): they are not replicas")
    names = list(init[r0])
    sharded = [n for n in names if any(init[r][n]["sharded"] for r in order)]
    replicated = [n for n in names if n not in sharded]
    steps = {r: records[r]["report"].get("steps_traced", 0) for r in order}
    metrics: Dict[str, Any] = {"ranks": len(order), "tensors": len(names), "replicated_tensors": len(replicated),
                               "sharded_tensors": len(sharded), "steps": steps[r0]}
    shard_note = (f"; {len(sharded)} FSDP-sharded tensor(s) hold a different shard on each rank by design and are "
                  "not compared as replicas") if sharded else ""
    if not replicated:
        return Result("pass", f"all {len(names)} parameter tensors are FSDP shards: each rank holds its own part, "
                              "so there are no replicas to compare (the gathered model was checked on rank 0)", metrics)
    # before the first step
    before = {r: _differ(init[r0], init[r], replicated) for r in order[1:]}
    bad = {r: d for r, d in before.items() if d}
    if bad:
        r, d = max(bad.items(), key=lambda kv: len(kv[1]))
        metrics.update({"differ_before_step1": len(d), "divergence_before": {n: v for n, v in d[:20]}})
        return Result("fail", f"the replicas differ before the first step: {len(d)} of {len(replicated)} parameter "
                              f"tensors of rank {r} are not rank {r0}'s ({_names(d)}; relative difference in "
                              "brackets). Each rank initialised its own model and nothing copied rank 0's weights: "
                              "wrap the model in DistributedDataParallel (it broadcasts them), or "
                              "dist.broadcast(p.data, src=0) for every parameter before training", metrics)
    # after the steps
    finals = {r: records[r]["log"].get("final_digest") for r in order}
    samples = {r: records[r]["log"].get("step_samples") or [] for r in order}
    first = {r: _first_step(samples[r0], samples[r]) for r in order[1:]}
    same_steps = len(set(steps.values())) == 1
    after = {r: _differ(finals[r0], finals[r], replicated) if same_steps and finals[r0] and finals[r] else []
             for r in order[1:]}
    worst_r = max(order[1:], key=lambda r: (len(after[r]), first[r] is not None))
    d = after[worst_r]
    step = first[worst_r]
    if d or step is not None:
        rels = [v for _, v in d if math.isfinite(v)]
        top = max(rels) if rels else math.nan
        metrics.update({"first_divergent_step": step, "differ_after": len(d), "max_divergence": top,
                        "divergence_after": {n: v for n, v in sorted(d, key=lambda x: -x[1])[:20]}})
        when = f"from step {step}" if step is not None else f"by step {steps[r0]}"
        cause = _cause_after(records, worst_r, r0, len(d), len(replicated))
        what = f"{len(d)} of {len(replicated)} parameter tensors" if d else "the sampled parameters"
        text = (f"the replicas drift apart {when}: after {steps[r0]} steps {what} differ between rank {worst_r} and "
                f"rank {r0}" + (f" ({_names(d)}; relative difference in brackets)" if d else "") + f"; {cause}")
        if d and not (top >= SYNC_FAIL):
            return Result("warn", text + f". The largest difference ({top:.2g}) is near rounding level", metrics)
        return Result("fail", text, metrics)
    if not same_steps:
        metrics["steps_per_rank"] = {str(r): s for r, s in steps.items()}
        return Result("pass", f"replicas identical at every step all ranks took ({min(steps.values())}); the ranks "
                              f"stopped after different step counts {dict(steps)}" + shard_note, metrics)
    return Result("pass", f"replicas identical: all {len(replicated)} replicated parameter tensors are bitwise equal on "
                          f"all {len(order)} ranks before step 1 and after step {steps[r0]}" + shard_note, metrics)


check.multi_rank = True  # run by the gathering process on every rank's records, not in each rank
