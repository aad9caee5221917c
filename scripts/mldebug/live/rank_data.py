"""rank-data: ranks training on the same examples, and epochs that replay the previous epoch's order.

Runs on the records of every rank of a multi-process trace (launch.py, ranks.py): each step's
examples as 64-bit hashes of their values, and the state of each DataLoader's sampler at each
pass. refs/diagnostics.md#rank-data explains it.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from ..registry import Result, Skip, live_check

OVERLAP_FAIL = 0.5    # share of a rank's examples rank 0 also trained on: with a DistributedSampler it is 0
                      # (disjoint shards), without one and the same seed it is 1 (identical batches)
OVERLAP_WARN = 0.05   # ... at any step of the window, where each rank iterates the whole dataset in its own order
MIN_EXAMPLES = 16     # examples compared before any verdict (one small batch is not enough)
DISTINCT_MIN = 0.5    # share of distinct examples within a step: below it the data repeats itself and a
                      # match across ranks says nothing about the sampler
REPLAY_MATCH = 0.5    # share of a pass's examples found at the same position in the previous pass


def _train_loader(rec: Dict[str, Any]) -> Optional[int]:
    loaders = rec["log"].get("loaders") or {}
    train = [(v.get("epochs") and sum(e["batches"] for e in v["epochs"]) or 0, i)
             for i, v in loaders.items() if v.get("role") in ("train", "both")]
    return max(train)[1] if train else None


def _passes(rec: Dict[str, Any], loader: Optional[int]) -> List[Dict[str, Any]]:
    return [p for p in rec["log"].get("passes") or [] if p["loader"] == loader]


def _overlap(h0: List[List[int]], hr: List[List[int]], epoch_end: Optional[int] = None):
    """(same-step share, any-step share, examples of rank r compared, steps compared). The any-step share
    looks within the first pass over the data only (`epoch_end` steps): later epochs reshuffle the shards."""
    n = min(len(h0), len(hr))
    m = min(n, epoch_end) if epoch_end else n
    all0 = {h for s in h0[:m] for h in s}
    same = anywhere = total = steps = first_total = 0
    for s in range(n):
        a, b = set(h0[s]), hr[s]
        if not a or not b:
            continue
        steps += 1
        total += len(b)
        same += sum(1 for h in b if h in a)
        if s < m:
            anywhere += sum(1 for h in b if h in all0)
            first_total += len(b)
    if not total:
        return 0.0, 0.0, 0, 0
    return same / total, (anywhere / first_total if first_total else 0.0), total, steps


def _distinct(h: List[List[int]]) -> float:
    shares = [len(set(s)) / len(s) for s in h if s]
    return sum(shares) / len(shares) if shares else 0.0


def _replay(rec: Dict[str, Any], loader: Optional[int]):
    """The first pass over the training loader that repeats the previous one: sampler evidence (a
    DistributedSampler with shuffle whose epoch did not advance) and the share of its examples found at
    the same position in the previous pass. Returns a dict or None."""
    passes = _passes(rec, loader)
    hashes = rec["log"].get("step_hashes") or []
    for i in range(1, len(passes)):
        prev, cur = passes[i - 1], passes[i]
        a0, a1 = prev["start_step"], cur["start_step"]
        b1 = passes[i + 1]["start_step"] if i + 1 < len(passes) else len(hashes)
        if a1 >= len(hashes) or b1 <= a1:
            continue  # the traced steps end before this pass trained on anything
        matched = total = 0
        for j in range(min(a1 - a0, b1 - a1)):
            old, new = set(hashes[a0 + j]), hashes[a1 + j]
            total += len(new)
            matched += sum(1 for h in new if h in old)
        share = matched / total if total else 0.0
        stuck = cur["distributed"] and cur.get("shuffle") and cur.get("epoch") is not None \
            and cur["epoch"] == prev.get("epoch")
        if stuck or (share >= REPLAY_MATCH and total >= MIN_EXAMPLES):
            return {"pass": i + 1, "step": a1 + 1, "epoch": cur.get("epoch"), "share": share, "examples": total,
                    "sampler": cur["sampler"], "stuck": bool(stuck), "shuffle": cur.get("shuffle"),
                    "where": cur.get("where")}
    return None


def _tensor_parallel(ranks: Dict[int, Dict[str, Any]]) -> bool:
    """Sharded (DTensor) parameters in a model that FSDP does not wrap: tensor parallelism, whose ranks
    are meant to read the same batch."""
    for rec in ranks.values():
        digest = rec["log"].get("init_digest") or {}
        if any(v.get("sharded") for v in digest.values()) and "fully_shard" not in (rec.get("chain") or []):
            return True
    return False


def _sampler_text(recs: Dict[int, Dict[str, Any]], loader: Dict[int, Optional[int]]) -> str:
    kinds = set()
    for r, rec in recs.items():
        ps = _passes(rec, loader[r])
        if ps:
            p = ps[0]
            kinds.add(f"{p['sampler']}" + (f" over {p['dataset_len']} examples" if p.get("dataset_len") else ""))
    return "; ".join(sorted(kinds)) if kinds else "no DataLoader seen"


@live_check("rank-data", "ranks reading the same batches; epochs replaying their order", order=150)
def check(view) -> Result:
    ranks = getattr(view, "ranks", None) or {}
    if len(ranks) < 2:
        raise Skip("one process: no other rank to compare batches with")
    order = sorted(ranks)
    r0 = order[0]
    hashes = {r: ranks[r]["log"].get("step_hashes") or [] for r in order}
    if not any(any(s) for s in hashes[r0]):
        raise Skip("no training forward with tensor inputs was seen before the optimizer steps: no examples to compare")
    loader = {r: _train_loader(ranks[r]) for r in order}
    sampler = _sampler_text(ranks, loader)
    distinct = _distinct(hashes[r0])
    metrics: Dict[str, Any] = {"ranks": len(order), "distinct_within_step": round(distinct, 4), "sampler": sampler}
    per_rank = {}
    p0 = _passes(ranks[r0], loader[r0])
    epoch_end = p0[1]["start_step"] if len(p0) > 1 else None
    for r in order[1:]:
        same, anywhere, total, steps = _overlap(hashes[r0], hashes[r], epoch_end)
        per_rank[str(r)] = {"same_step_match": round(same, 4), "any_step_match": round(anywhere, 4),
                            "examples": total, "steps": steps}
    metrics["per_rank"] = per_rank
    worst_r, worst = max(per_rank.items(), key=lambda kv: kv[1]["same_step_match"])
    metrics.update({"same_step_match": worst["same_step_match"], "any_step_match": max(
        v["any_step_match"] for v in per_rank.values()), "examples": worst["examples"], "steps": worst["steps"]})
    enough = worst["examples"] >= MIN_EXAMPLES and distinct >= DISTINCT_MIN
    structural = all(_passes(ranks[r], loader[r]) and not _passes(ranks[r], loader[r])[0]["distributed"]
                     for r in order)
    lens = {(_passes(ranks[r], loader[r]) or [{}])[0].get("dataset_len") for r in order}
    whole = structural and len(lens) == 1 and None not in lens

    # 1. the same examples at the same step on several ranks
    if enough and worst["same_step_match"] >= OVERLAP_FAIL and _tensor_parallel(ranks):
        return Result("warn", f"rank {worst_r} trained on the same examples as rank {r0} at the same steps "
                              f"({worst['same_step_match']:.0%} of {worst['examples']}), and the model's parameters are "
                              "DTensor shards outside FSDP: tensor-parallel ranks share their batch by design; if "
                              "these ranks are data-parallel replicas, give them a DistributedSampler", metrics)
    if enough and worst["same_step_match"] >= OVERLAP_FAIL:
        cause = ("each rank's DataLoader has no DistributedSampler (" + sampler + "), so every rank reads the same "
                 "batches in the same order" if structural else
                 f"the ranks' loaders ({sampler}) hand every rank the same examples: a sampler built with "
                 "num_replicas/rank of one process, or a dataset that does not shard itself by rank")
        return Result("fail", f"rank {worst_r} trained on the same examples as rank {r0} at the same steps: "
                              f"{worst['same_step_match']:.0%} of its {worst['examples']} examples over "
                              f"{worst['steps']} steps; {cause}. The ranks compute the same gradient N times: "
                              "use DistributedSampler(dataset) (shuffle in it, not in the DataLoader) and call "
                              "sampler.set_epoch(epoch) each epoch", metrics)
    # 2. an epoch that replays the previous one
    for r in order:
        rep = _replay(ranks[r], loader[r])
        if rep is None:
            continue
        metrics["replay"] = {"rank": r, **{k: v for k, v in rep.items() if k != "where"}}
        if rep["stuck"]:
            return Result("fail", f"DistributedSampler.set_epoch() is never called: pass {rep['pass']} over the "
                                  f"training loader (from step {rep['step']}, rank {r}) ran with epoch "
                                  f"{rep['epoch']} again, so it replays the previous pass's order "
                                  f"({rep['share']:.0%} of its {rep['examples']} examples at the same positions). "
                                  "Call train_sampler.set_epoch(epoch) at the start of every epoch", metrics)
        if rep["sampler"] in ("RandomSampler", "SubsetRandomSampler") and rep["examples"] >= MIN_EXAMPLES:
            return Result("warn", f"pass {rep['pass']} over the training loader (from step {rep['step']}, rank {r}) "
                                  f"replays the previous pass: {rep['share']:.0%} of its {rep['examples']} examples "
                                  f"at the same positions although its {rep['sampler']} shuffles (a generator "
                                  "re-seeded every epoch?)", metrics)
    # 3. every rank iterates the whole dataset, in its own order
    anyw = metrics["any_step_match"]
    if whole and enough and anyw >= OVERLAP_WARN:
        status = "fail" if anyw >= OVERLAP_FAIL else "warn"
        return Result(status, f"every rank iterates the whole dataset ({sampler} on each rank, no "
                              f"DistributedSampler): {anyw:.0%} of rank {worst_r}'s examples were also rank {r0}'s "
                              f"within the {worst['steps']} traced steps (in another order, so batches differ). "
                              "An epoch trains on each example N times; use DistributedSampler(dataset) and call "
                              "set_epoch(epoch)", metrics)
    if not enough:
        why = (f"only {worst['examples']} examples compared" if worst["examples"] < MIN_EXAMPLES else
               f"the examples repeat within a step ({distinct:.0%} distinct)")
        return Result("pass", f"no overlap judged: {why}; same-step match {worst['same_step_match']:.0%}", metrics)
    epochs = _epoch_text(ranks[r0], loader[r0])
    return Result("pass", f"ranks trained on different examples: {worst['same_step_match']:.0%} of rank {worst_r}'s "
                          f"{worst['examples']} examples over {worst['steps']} steps were rank {r0}'s at the same step "
                          f"({anyw:.0%} at any step of the first pass); {sampler}; {epochs}", metrics)


def _epoch_text(rec: Dict[str, Any], loader: Optional[int]) -> str:
    ps = _passes(rec, loader)
    if len(ps) < 2 or ps[1]["start_step"] >= len(rec["log"].get("step_hashes") or []):
        return "one pass over the loader in the traced steps, so set_epoch was not judged"
    eps = [p.get("epoch") for p in ps]
    if all(e is not None for e in eps):
        return f"the sampler's epoch advanced each pass ({', '.join(str(e) for e in eps[:6])})"
    return f"{len(ps)} passes, none replaying the previous order"


check.multi_rank = True  # run by the gathering process on every rank's records, not in each rank
