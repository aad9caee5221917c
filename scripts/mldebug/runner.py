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
        # only when changed: the setter imports torch._inductor (~2 s) on first use
        if (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()) \
                != (det, warn_only):
            torch.use_deterministic_algorithms(det, warn_only=warn_only)
        torch.backends.cudnn.benchmark = bench
        torch.backends.cudnn.deterministic = cudnn_det
        torch.set_anomaly_enabled(anomaly)
        if torch.get_float32_matmul_precision() != prec:
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
NONFINITE_AWARE = {"init-loss", "nan-source", "grad-flow", "batch-sanity", "loss-input", "init-symmetry",
                   "reproducibility"}


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


GUARD_MAX_ELEMENTS = 50_000_000  # keep a CPU copy of model + batch to verify checks left them alone, up to ~200 MB


class _Guard:
    """A copy of the pristine model's state and the batch, to catch a check that changes either in place."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        model = getattr(ctx, "pristine", None)
        batch = getattr(ctx, "_batch", None)
        self.on = model is not None and batch is not None
        if self.on:
            from .tensors import leaves
            total = sum(t.numel() for t in model.state_dict().values()) + sum(t.numel() for t in leaves(batch))
            self.on = total <= GUARD_MAX_ELEMENTS
        if self.on:
            self.state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            self.batch = _tree_copy(batch)
            self.training = model.training
            self.stamp = self._stamp()

    def _stamp(self):
        """Version counter and storage of every guarded tensor: an in-place op or a new tensor
        changes them. A write through `.data` does not, so `final` compares the values once more."""
        from .tensors import leaves
        ts = list(self.ctx.pristine.state_dict().values()) + list(leaves(self.ctx._batch))
        return [(t._version, t.data_ptr()) for t in ts]

    def verify(self, entry: Dict[str, Any]) -> None:
        """Put back anything the check changed, and turn its result into `error` saying so. The
        values are compared only when a version counter or storage moved (the model's mode always)."""
        if not self.on:
            return
        if self._stamp() == self.stamp:
            if self.ctx.pristine.training != self.training:
                self.ctx.pristine.train(self.training)
            return
        self._compare(entry)
        self.stamp = self._stamp()

    def final(self, report: Dict[str, Any]) -> None:
        """One value comparison after all checks: catches writes through `.data`, which leave the
        version counter alone (restored; reported in the report's `guard` field)."""
        if not self.on:
            return
        probe = {"id": "a check", "status": "pass", "summary": ""}
        self._compare(probe)
        if probe["status"] == "error":
            report["guard"] = probe["summary"]

    def _compare(self, entry: Dict[str, Any]) -> None:
        from .tensors import leaves
        model = self.ctx.pristine
        changed = [k for k, v in model.state_dict().items()
                   if k not in self.state or not _same(v, self.state[k])]
        now, then = leaves(self.ctx._batch), leaves(self.batch)
        batch_changed = len(now) != len(then) or any(not _same(a, b) for a, b in zip(now, then))
        if model.training != self.training:
            model.train(self.training)
        if not changed and not batch_changed:
            return
        with torch.no_grad():
            sd = model.state_dict()
            for k in changed:
                if k in sd:
                    sd[k].copy_(self.state[k].to(sd[k].device))
        if batch_changed:
            self.ctx._batch = _tree_copy(self.batch, self.ctx.device)
        what = (["the model's " + ", ".join(changed[:3])] if changed else []) + (["the batch"] if batch_changed else [])
        entry["status"] = "error"
        entry["summary"] = (f"ml-debug bug: check {entry['id']} changed {' and '.join(what)} in place "
                            f"(restored; please report) [it said: {entry['summary']}]")


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Exactly equal, NaN matching NaN (a batch with planted NaNs is unchanged, not 'changed')."""
    a = a.detach().cpu()
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if torch.equal(a, b):
        return True
    return bool(a.is_floating_point() and torch.allclose(a, b, rtol=0.0, atol=0.0, equal_nan=True))


def _tree_copy(obj, device="cpu"):
    from .tensors import tree_map
    return tree_map(lambda t: t.detach().to(device, copy=True), obj)


def run_checks(ctx: Context, specs: List[registry.CheckSpec]) -> Dict[str, Any]:
    t0 = time.perf_counter()
    guard = _Guard(ctx)
    entries = []
    for s in specs:
        entries.append(run_one(ctx, s))
        guard.verify(entries[-1])
    _void_on_nonfinite(ctx, entries)
    late: Dict[str, Any] = {}
    guard.final(late)
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
    report.update(late)
    report["checks"] = entries
    return report


def public(report: Dict[str, Any]) -> Dict[str, Any]:
    """The report as JSON: the contract's fields, without private keys."""
    out = {k: v for k, v in report.items() if k != "checks"}
    out["checks"] = [{k: v for k, v in c.items() if not k.startswith("_")} for c in report["checks"]]
    return out
