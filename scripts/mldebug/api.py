"""The Python API: run the doctor or one check from code, e.g. a test suite."""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, Optional, Union

from .context import Context
from .runner import public, run_checks, select
from .target import Target, load_target


def _target(target: Union[str, Target, None], **objects) -> Target:
    if isinstance(target, Target):
        return target
    if isinstance(target, str):
        return load_target(target)
    return target_from_objects(**objects)


def target_from_objects(model=None, build_model: Optional[Callable] = None, batch=None,
                        get_batch: Optional[Callable] = None, loss_fn: Optional[Callable] = None,
                        make_optimizer=None, make_scheduler=None, forward=None, causal_dim=None,
                        num_classes=None, total_steps=None, name: str = "<objects>") -> Target:
    """A Target from live objects. A `model` is never touched: checks work on deep copies."""
    import copy
    ns: Dict[str, Any] = {}
    if build_model is not None:
        ns["build_model"] = build_model
    elif model is not None:
        frozen = copy.deepcopy(model)
        ns["build_model"] = lambda: copy.deepcopy(frozen)
    if get_batch is not None:
        ns["get_batch"] = get_batch
    elif batch is not None:
        ns["get_batch"] = lambda: batch
    if loss_fn is not None:
        ns["loss_fn"] = loss_fn
    ns.update({"make_optimizer": make_optimizer, "make_scheduler": make_scheduler, "forward": forward,
               "CAUSAL_DIM": causal_dim, "NUM_CLASSES": num_classes, "TOTAL_STEPS": total_steps})
    return Target.from_namespace(name, ns)


def doctor(target: Union[str, Target, None] = None, checks: Optional[Iterable[str]] = None,
           seed: int = 0, device: str = "cpu", options: Optional[Dict[str, Any]] = None,
           **objects) -> Dict[str, Any]:
    """Run the doctor (or the given check ids); return the JSON report as a dict.

    `target` is a path or module name, or pass the objects: model= or build_model=,
    batch= or get_batch=, loss_fn=, and optionally make_optimizer=, make_scheduler=,
    forward=, causal_dim=, num_classes=, total_steps=. Raises TargetError if unusable.
    """
    ctx = Context(_target(target, **objects), device=device, seed=seed, options=options)
    ctx.preflight()
    return public(run_checks(ctx, select(list(checks) if checks else None)))


def run_check(check_id: str, target: Union[str, Target, None] = None, **kwargs) -> Dict[str, Any]:
    """Run one check; return its entry of the report (id, status, summary, metrics, ref, seconds)."""
    return doctor(target, checks=[check_id], **kwargs)["checks"][0]


def assert_healthy(target: Union[str, Target, None] = None, checks: Optional[Iterable[str]] = None,
                   allow_warn: bool = True, **kwargs) -> Dict[str, Any]:
    """For a user's pytest suite: raise AssertionError naming every failing check."""
    report = doctor(target, checks=checks, **kwargs)
    bad = {"fail", "error"} | (set() if allow_warn else {"warn"})
    problems = [f"{c['id']}: {c['status']}: {c['summary']}" for c in report["checks"] if c["status"] in bad]
    if problems:
        raise AssertionError("ml-debug found problems:\n  " + "\n  ".join(problems))
    return report
