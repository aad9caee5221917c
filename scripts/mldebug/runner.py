"""Run checks against one Context and assemble the report (CONTRACT.md section 3).

Each check runs isolated: global RNG state and grad mode are put back afterwards, its
time is measured, and any exception (in the check or in the user's code) becomes that
check's `error` status while the others go on.
"""
from __future__ import annotations

import time
from typing import Any, Dict, Iterable, List, Optional

import torch

from . import registry
from .context import Context, progress
from .registry import Result, Skip
from .target import TargetError, UserCodeError, describe_exception
from .tensors import finite_float, preserved_rng


def _clean_metrics(metrics: Dict[str, Any]) -> Dict[str, Any]:
    def clean(v):
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if isinstance(v, (bool, int, str)) or v is None:
            return v
        return finite_float(float(v) if not isinstance(v, torch.Tensor) else v)
    return {k: clean(v) for k, v in metrics.items()}


def run_one(ctx: Context, spec: registry.CheckSpec) -> Dict[str, Any]:
    t0 = time.perf_counter()
    result: Optional[Result] = None
    grad_enabled = torch.is_grad_enabled()
    progress(f"[ml-debug] {spec.id} ...")
    with preserved_rng():
        try:
            result = spec.fn(ctx)
        except Skip as s:
            result = Result("skip", str(s))
        except UserCodeError as e:
            result = Result("error", str(e))
        except TargetError as e:
            result = Result("error", str(e))
        except Exception as e:  # a bug in the check itself: report it, go on
            result = Result("error", f"check raised {describe_exception(e)}")
        finally:
            torch.set_grad_enabled(grad_enabled)
    seconds = time.perf_counter() - t0
    entry = {
        "id": spec.id,
        "status": result.status,
        "summary": " ".join(str(result.summary).split()),  # always one line
        "metrics": _clean_metrics(result.metrics),
        "ref": spec.ref,
        "seconds": round(seconds, 4),
    }
    entry["_details"] = list(result.details)
    entry["_plots"] = list(result.plots)
    return entry


def select(ids: Optional[Iterable[str]]) -> List[registry.CheckSpec]:
    """The checks to run: the given ids in registry order, or every doctor check."""
    specs = registry.ordered()
    if not ids:
        return [s for s in specs if s.in_doctor]
    ids = list(ids)
    unknown = [i for i in ids if i not in registry.REGISTRY]
    if unknown:
        known = ", ".join(s.id for s in specs)
        raise TargetError(f"unknown check id {unknown[0]!r}; known ids: {known}")
    return [s for s in specs if s.id in ids]


def run_checks(ctx: Context, specs: List[registry.CheckSpec]) -> Dict[str, Any]:
    t0 = time.perf_counter()
    entries = [run_one(ctx, s) for s in specs]
    return {
        "target": ctx.target.name,
        "status": registry.worst(e["status"] for e in entries),
        "seed": ctx.seed,
        "device": str(ctx.device),
        "torch": torch.__version__,
        "seconds": round(time.perf_counter() - t0, 4),
        "checks": entries,
    }


def public(report: Dict[str, Any]) -> Dict[str, Any]:
    """The report as JSON: the contract's fields, without private keys."""
    out = {k: v for k, v in report.items() if k != "checks"}
    out["checks"] = [{k: v for k, v in c.items() if not k.startswith("_")} for c in report["checks"]]
    return out
