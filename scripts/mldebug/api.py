"""The Python API: run the doctor or one check from code, e.g. a test suite.

    from mldebug import doctor, run_check, assert_healthy
    report = doctor("my_target.py")                                  # a target file or module
    report = doctor(model=net, batch=(x, y), loss_fn=F.cross_entropy)  # or the objects themselves
    report.status, report.failed, report["checks"]                   # the JSON report, as a dict
    assert_healthy(model=net, batch=(x, y), loss_fn=F.cross_entropy, checks=["init-loss", "grad-flow"])

Nothing the caller owns is changed: a live `model` is deep-copied before any check sees it,
and the global RNG states (torch, CUDA, numpy, random) are put back after the run.
"""
from __future__ import annotations

import copy
from typing import Any, Callable, Dict, Iterable, List, Optional, Union

import torch

from .context import DEFAULT_BUDGET, Context, model_loss
from .runner import public, run_checks, select
from .target import Target, TargetError, load_target
from .tensors import clone, leaves, preserved_rng
from .unwrap import UnsupportedWrapper, plain_copy
from .unwrap import describe as describe_chain


class Report(dict):
    """The JSON report (CONTRACT.md section 3) as a dict, with a few conveniences."""

    @property
    def status(self) -> str:
        return self["status"]

    @property
    def checks(self) -> List[Dict[str, Any]]:
        return self["checks"]

    def check(self, check_id: str) -> Dict[str, Any]:
        """The entry of one check id (KeyError if it did not run)."""
        for c in self["checks"]:
            if c["id"] == check_id:
                return c
        raise KeyError(f"check {check_id!r} is not in this report")

    @property
    def failed(self) -> List[Dict[str, Any]]:
        """Entries whose status is fail or error."""
        return [c for c in self["checks"] if c["status"] in ("fail", "error")]

    def problems(self, allow_warn: bool = True) -> List[str]:
        """One line per check that is not healthy: 'id: status: summary'."""
        bad = {"fail", "error"} | (set() if allow_warn else {"warn"})
        return [f"{c['id']}: {c['status']}: {c['summary']}" for c in self["checks"] if c["status"] in bad]


def target_from_objects(model=None, build_model: Optional[Callable] = None, batch=None,
                        get_batch: Optional[Callable] = None, loss_fn: Optional[Callable] = None,
                        make_optimizer=None, make_scheduler=None, forward=None, causal_dim=None,
                        num_classes=None, total_steps=None, name: str = "<objects>") -> Target:
    """A Target from live objects. A `model` is never touched: checks work on deep copies.

    Without `loss_fn`, the loss is the model's own `outputs.loss` (a Hugging Face model given
    its labels); the report then says `"loss_from": "outputs.loss"`.
    """
    ns: Dict[str, Any] = {}
    if build_model is not None and model is not None:
        raise TargetError("pass either model= or build_model=, not both")
    if batch is not None and get_batch is not None:
        raise TargetError("pass either batch= or get_batch=, not both")
    if build_model is not None:
        ns["build_model"] = build_model
    elif model is not None:
        if not isinstance(model, torch.nn.Module):
            raise TargetError(f"model= must be a torch.nn.Module, got {type(model).__name__}")
        try:  # a snapshot now: later changes by the caller don't leak in; wrappers (DDP, compile) taken off
            frozen, chain = plain_copy(model)
        except UnsupportedWrapper as e:
            raise TargetError(f"model=: {e}") from None
        except Exception as e:
            raise TargetError(f"model= could not be deep-copied ({type(e).__name__}: {e}); "
                              "pass build_model= instead") from None
        ns["build_model"] = lambda: copy.deepcopy(frozen)
        if chain:
            ns["build_model"]._mldebug_unwrapped = describe_chain(chain, frozen)
    if get_batch is not None:
        ns["get_batch"] = get_batch
    elif batch is not None:
        kept = clone(batch)  # the caller's tensors are never handed to a check
        ns["get_batch"] = lambda: clone(kept)
    if loss_fn is not None:
        ns["loss_fn"] = loss_fn
    elif "build_model" in ns and "get_batch" in ns:
        def own_loss(outputs, targets):
            return model_loss(outputs, targets)
        own_loss._mldebug_source = "outputs.loss"
        ns["loss_fn"] = own_loss
    missing = [k for k, v in (("model= or build_model=", "build_model"), ("batch= or get_batch=", "get_batch"))
               if v not in ns]
    if missing:
        raise TargetError(f"doctor() needs a target path or the objects: pass {' and '.join(missing)}"
                          " (and loss_fn=, unless the model returns its own .loss)")
    ns.update({"make_optimizer": make_optimizer, "make_scheduler": make_scheduler, "forward": forward,
               "CAUSAL_DIM": causal_dim, "NUM_CLASSES": num_classes, "TOTAL_STEPS": total_steps})
    return Target.from_namespace(name, ns)


_OBJECT_NAMES = ("model", "build_model", "batch", "get_batch", "loss_fn", "make_optimizer", "make_scheduler",
                 "forward", "causal_dim", "num_classes", "total_steps", "name")


def _target(target: Union[str, Target, None], objects: Dict[str, Any]) -> Target:
    unknown = sorted(set(objects) - set(_OBJECT_NAMES))
    if unknown:
        raise TypeError(f"unknown argument {unknown[0]!r}; the objects are: {', '.join(_OBJECT_NAMES)}")
    if target is not None and objects:
        raise TargetError(f"pass a target or the objects ({', '.join(sorted(objects))}), not both")
    if isinstance(target, Target):
        return target
    if isinstance(target, str):
        return load_target(target)
    if target is not None:
        raise TargetError(f"target must be a path, a module name or a Target, got {type(target).__name__}")
    return target_from_objects(**objects)


def _infer_device(objects: Dict[str, Any]) -> str:
    """The device of a live model (or batch) handed over; cpu otherwise."""
    model = objects.get("model")
    if isinstance(model, torch.nn.Module):
        for t in list(model.parameters()) + list(model.buffers()):
            return str(t.device)
    batch = objects.get("batch")
    if batch is not None:
        ts = leaves(batch)
        if ts:
            return str(ts[0].device)
    return "cpu"


def doctor(target: Union[str, Target, None] = None, checks: Optional[Iterable[str]] = None,
           seed: int = 0, device: Optional[str] = None, options: Optional[Dict[str, Any]] = None,
           budget: Optional[float] = DEFAULT_BUDGET, native_dtype: bool = False, **objects) -> Report:
    """Run the doctor (or the given check ids); return the JSON report as a `Report` (a dict).

    `target` is a path or module name, or pass the objects: model= or build_model=,
    batch= or get_batch=, loss_fn= (default: the model's own outputs.loss), and optionally
    make_optimizer=, make_scheduler=, forward=, causal_dim=, num_classes=, total_steps=.
    `device` defaults to the live model's device (else cpu); `budget` is seconds per check
    (None: no limit). A float16/bfloat16 model is checked as a float32 copy unless
    native_dtype=True (the report's "checked_in" says which). `options` holds check
    options by name, e.g. {"overfit_steps": 100}.
    Raises TargetError (one line) when the target can't be used, like the CLI's exit 2.
    """
    if isinstance(checks, str):
        checks = [c.strip() for c in checks.split(",") if c.strip()]
    with preserved_rng():  # the run seeds torch before each call into user code; the caller's RNG stays put
        t = _target(target, objects)
        dev = device or _infer_device(objects)
        if dev.startswith("cuda") and not torch.cuda.is_available():
            raise TargetError(f"device {dev!r}: no CUDA device is available here")
        specs = select(list(checks) if checks else None)
        ctx = Context(t, device=dev, seed=seed, options=options, budget=budget, native_dtype=native_dtype)
        ctx.preflight(keep_going=True)
        report = Report(public(run_checks(ctx, specs)))
        if ctx.preflight_error and report["status"] != "fail":
            raise TargetError(ctx.preflight_error)  # same rule as the CLI's exit 2
        return report


def run_check(check_id: str, target: Union[str, Target, None] = None, **kwargs) -> Dict[str, Any]:
    """Run one check; return its entry of the report (id, status, summary, metrics, ref, seconds)."""
    return doctor(target, checks=[check_id], **kwargs)["checks"][0]


def assert_healthy(target: Union[str, Target, None] = None, checks: Optional[Iterable[str]] = None,
                   allow_warn: bool = True, **kwargs) -> Report:
    """For a user's pytest suite: raise AssertionError naming every failing check with its summary.

    `error` counts as unhealthy (the check could not run on your code); with allow_warn=False,
    so does `warn`. A target that can't be loaded raises TargetError. Returns the report.
    """
    report = doctor(target, checks=checks, **kwargs)
    problems = report.problems(allow_warn=allow_warn)
    if problems:
        raise AssertionError(f"ml-debug found {len(problems)} problem(s) in {report['target']}:\n  "
                             + "\n  ".join(problems))
    return report
