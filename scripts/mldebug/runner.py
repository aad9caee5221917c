"""Run checks against one Context and assemble the report (CONTRACT.md section 3).

Each check runs isolated: global RNG state and grad mode are put back afterwards, its
time is measured, and any exception (in the check or in the user's code) becomes that
check's `error` status while the others go on.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
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


@contextmanager
def preserved_torch_settings():
    """Put back the process-wide torch switches a check might flip: grad mode, default dtype,
    deterministic algorithms, cuDNN flags, anomaly detection, matmul precision."""
    saved = (torch.is_grad_enabled(), torch.get_default_dtype(), torch.are_deterministic_algorithms_enabled(),
             torch.is_deterministic_algorithms_warn_only_enabled(), torch.backends.cudnn.benchmark,
             torch.backends.cudnn.deterministic, torch.is_anomaly_enabled(), torch.get_float32_matmul_precision())
    try:
        yield
    finally:
        grad, dtype, det, warn_only, bench, cudnn_det, anomaly, prec = saved
        torch.set_grad_enabled(grad)
        torch.set_default_dtype(dtype)
        torch.use_deterministic_algorithms(det, warn_only=warn_only)
        torch.backends.cudnn.benchmark = bench
        torch.backends.cudnn.deterministic = cudnn_det
        torch.set_anomaly_enabled(anomaly)
        torch.set_float32_matmul_precision(prec)


def run_one(ctx: Context, spec: registry.CheckSpec) -> Dict[str, Any]:
    t0 = time.perf_counter()
    result: Optional[Result] = None
    progress(f"[ml-debug] {spec.id} ...")
    start = getattr(ctx, "start_check", None)
    if start is not None:
        start(spec.id)
    with preserved_rng(), preserved_torch_settings():
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
            if start is not None:
                start(None)
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


# Checks whose finding stands when the loss is already non-finite at init: they look at the
# batch, the loss call or the init loss itself, or they hunt for the non-finite value.
NONFINITE_AWARE = {"init-loss", "nan-source", "batch-sanity", "loss-input", "init-symmetry", "reproducibility"}


def _void_on_nonfinite(ctx: Context, entries: List[Dict[str, Any]]) -> None:
    """With a NaN/Inf loss at init, a training check's `fail` says nothing about its own bug:
    turn it into `error` naming the real cause, so one fail (init-loss) points at it."""
    loss = ctx._cache.get("preflight_loss") if hasattr(ctx, "_cache") else None
    if loss is None or loss == loss and abs(loss) != float("inf"):
        return
    for e in entries:
        if e["status"] == "fail" and e["id"] not in NONFINITE_AWARE:
            e["status"] = "error"
            e["summary"] = (f"the loss is already {loss} at init, so this check measured nothing; make it finite "
                            f"first (run nan-source) [it saw: {e['summary']}]")


def run_checks(ctx: Context, specs: List[registry.CheckSpec]) -> Dict[str, Any]:
    t0 = time.perf_counter()
    entries = [run_one(ctx, s) for s in specs]
    _void_on_nonfinite(ctx, entries)
    report = {
        "target": ctx.target.name,
        "status": registry.worst(e["status"] for e in entries),
        "seed": ctx.seed,
        "device": str(ctx.device),
        "torch": torch.__version__,
        "seconds": round(time.perf_counter() - t0, 4),
    }
    describe = getattr(ctx, "describe", None)
    if describe is not None:  # extra fields (CONTRACT.md allows new ones): where prediction and loss came from
        report.update(describe())
    if getattr(ctx, "budget", None) is not None:
        report["budget"] = ctx.budget
    report["checks"] = entries
    return report


def public(report: Dict[str, Any]) -> Dict[str, Any]:
    """The report as JSON: the contract's fields, without private keys."""
    out = {k: v for k, v in report.items() if k != "checks"}
    out["checks"] = [{k: v for k, v in c.items() if not k.startswith("_")} for c in report["checks"]]
    return out
