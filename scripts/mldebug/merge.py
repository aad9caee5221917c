"""One report for all ranks: per-rank live check entries merged, and how each rank's run ended.

Each rank ran every single-process live check on its own recorder. Merged, an id keeps the
lowest rank's entry when every rank agrees; where they differ the worst rank's entry leads
("rank 1: ..."), the others' statuses follow, and `metrics.per_rank` holds each rank's figures.
The LR is compared across ranks too: data-parallel replicas step with the same LR, so a rank
whose LR differs makes lr-trace warn (rank-sync then measures what it did to the weights).
"""
from __future__ import annotations

import copy
import math
from typing import Any, Dict, List, Optional, Tuple

LR_RTOL = 1e-6  # LRs are computed the same way on every rank; any real difference is far above float rounding

# errors that follow from another rank leaving (a collective that lost its peer), not a cause of their own
_CONSEQUENCES = ("Connection closed by peer", "Connection reset by peer", "Broken pipe", "Terminated",
                 "stopped by SIGTERM", "DistBackendError", "Gloo", "NCCL", "timed out", "Timeout")


def _scalars(metrics: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool)) or v is None}


def _combine_plots(entries: Dict[int, Dict[str, Any]]) -> List[Any]:
    """The lowest rank's plots, with every rank's series of the same plot ("rank 1 loss", ...)."""
    ranks = sorted(entries)
    base = [copy.copy(p) for p in entries[ranks[0]].get("_plots", [])]
    if len(ranks) < 2:
        return base
    for p in base:
        series = {}
        for r in ranks:
            for q in entries[r].get("_plots", []):
                if q.name == p.name and q.x == p.x:
                    for k, v in q.series.items():
                        series[f"rank {r} {k}"] = v
        if series:
            p.series = series
    return base


def merge_live(per_rank: Dict[int, List[Dict[str, Any]]], records: Dict[int, Dict[str, Any]]) -> List[Dict[str, Any]]:
    from .registry import rank
    if not per_rank:
        return []
    ranks = sorted(per_rank)
    order = [c["id"] for c in per_rank[ranks[0]]]
    out = []
    for cid in order:
        entries = {r: e for r in ranks for e in per_rank[r] if e["id"] == cid}
        statuses = {r: e["status"] for r, e in entries.items()}
        lead_rank = ranks[0]
        if len(set(statuses.values())) > 1:
            worst = max(rank(s) for s in statuses.values())
            lead_rank = min(r for r, s in statuses.items() if rank(s) == worst and s != "skip") \
                if any(rank(s) == worst and s != "skip" for s in statuses.values()) else ranks[0]
        e = copy.deepcopy({k: v for k, v in entries[lead_rank].items() if k != "_plots"})
        e["_plots"] = _combine_plots(entries)
        if len(entries) > 1:
            if len(set(statuses.values())) == 1:
                e["summary"] = f"{e['summary']} [rank {lead_rank}; {e['status']} on all {len(entries)} ranks]"
            else:
                others = ", ".join(f"rank {r}: {s}" for r, s in sorted(statuses.items()) if r != lead_rank)
                e["summary"] = f"rank {lead_rank}: {e['summary']} ({others})"
                e["metrics"]["per_rank"] = {str(r): dict(_scalars(x["metrics"]), status=x["status"])
                                            for r, x in sorted(entries.items())}
        if cid == "lr-trace":
            _lr_across_ranks(e, records)
        out.append(e)
    return out


def _lr_across_ranks(e: Dict[str, Any], records: Dict[int, Dict[str, Any]]) -> None:
    """Warn when ranks used different LRs at the same step (replicas should step alike)."""
    series = {r: rec.get("lrs") or [] for r, rec in records.items()}
    if len(series) < 2:
        return
    r0 = min(series)
    for r, lrs in sorted(series.items()):
        if r == r0:
            continue
        for step, (a, b) in enumerate(zip(series[r0], lrs), start=1):
            if len(a) != len(b) or any(not math.isclose(x, y, rel_tol=LR_RTOL, abs_tol=0.0) for x, y in zip(a, b)):
                e["metrics"]["lr_differs"] = {"step": step, f"rank {r0}": a, f"rank {r}": b}
                e["metrics"]["per_rank_lr_first"] = {str(q): (s[0] if s else None) for q, s in sorted(series.items())}
                msg = (f"the LR differs across ranks: rank {r0} used {_fmt(a)} and rank {r} {_fmt(b)} at step {step}; "
                       "data-parallel replicas must step with the same LR (a per-rank LR scaling or schedule?), "
                       "or their weights drift apart (see rank-sync)")
                if e["status"] in ("pass", "skip"):
                    e["status"] = "warn"
                    e["summary"] = msg
                else:
                    e["summary"] = msg + "; also: " + e["summary"]
                return


def _fmt(lrs: List[float]) -> str:
    return "/".join(f"{x:.3g}" for x in lrs)


def _is_consequence(error: str) -> bool:
    return any(k in error for k in _CONSEQUENCES)


def rank_summaries(records: Dict[int, Dict[str, Any]], world: int) -> Tuple[List[Dict[str, Any]], Optional[str]]:
    """One line of facts per rank, and the error to show for the run: the first rank whose own code
    raised (not a collective that failed because another rank had left)."""
    rows = []
    raised = []
    for r in range(world):
        rec = records.get(r)
        if rec is None:
            rows.append({"rank": r, "missing": "left no record (killed, or still blocked when the report was "
                                               "made; multi-node runs need MLDEBUG_TRACE_DIR on a shared disk)"})
            continue
        if "report" not in rec:
            rows.append({"rank": r, "missing": rec.get("failed", "failed")})
            continue
        rep = rec["report"]
        row = {"rank": r, "steps": rep.get("steps_traced", 0), "ended": rep.get("script_ended"),
               "script_seconds": rep.get("script_seconds")}
        if rep.get("script_error"):
            row["error"] = rep["script_error"]
            if rep.get("script_ended") in ("raised", "exited"):
                raised.append((_is_consequence(rep["script_error"]), rec.get("ended_at", 0.0), r, rep["script_error"]))
        losses = [x for x in rec.get("losses") or [] if x is not None]
        if losses:
            row["loss_first"], row["loss_last"] = losses[0], losses[-1]
        rows.append(row)
    if not raised:
        return rows, None
    raised.sort()
    _, _, r, err = raised[0]
    first = f"rank {r}: {err}"
    others = [f"rank {q}" for _, _, q, _ in raised[1:]]
    if others:
        first += f" (then {', '.join(others)} stopped too)"
    return rows, first
