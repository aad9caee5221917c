"""The check registry: every check declares itself here; the runner never lists them.

A check is a function `fn(ctx) -> Result`, registered with `@check(...)`. It may raise
`Skip("why")` when it does not apply. Any other exception becomes the check's `error`
status in the runner. Modules under `mldebug/checks/` are imported automatically, so a
new check is one new file.

Shared work (the doctor's quick checks cost ~10-15 training steps together because they reuse
it; README "Benchmarks"). Before making a copy and running a forward of your own, use:
`ctx.init_eval()` (a no-grad forward + traced loss at init, dropout off; add a recorder that
rides along it with `context.INIT_EVAL_RECORDERS`), `checks._probe.probe(ctx)` and
`grad_model(ctx)` (one train-mode forward + backward at init and the copy with its gradients),
`checks._inputgrad.shared_eval_copy(ctx)` / `shared_tapped_forward(ctx, B)` (an eval-mode copy
and its forward with gradient taps on the inputs). All are read only; a check that changes a
model makes its own with `ctx.fresh_model()`, the one place copies are made (`ctx.copies_made`
counts them; tests/test_shared_work.py holds the budget). `ctx.share_models = False` turns the
sharing off.

The live checks of `ml-debug trace` (CONTRACT.md section 5) register the same way with
`@live_check(...)`, one module each under `mldebug/live/`; they are `fn(tracer) -> Result` and
read what the recorder saw while the user's script ran. They live in their own registry
(`LIVE`, `live_ordered()`), so the doctor never offers them.
"""
from __future__ import annotations

import importlib
import pkgutil
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

STATUSES = ("pass", "warn", "fail", "skip", "error")
_RANK = {"pass": 0, "skip": 0, "warn": 1, "error": 1, "fail": 2}


class Skip(Exception):
    """Raised by a check that does not apply; the message says why."""


@dataclass
class Plot:
    """Data for one figure; the report draws it if matplotlib is there, else writes CSV."""
    name: str                                   # file stem, e.g. "update-ratio"
    title: str
    xlabel: str
    ylabel: str
    series: Dict[str, List[float]]              # label -> y values
    x: Optional[List[float]] = None             # shared x values (default 0..n-1)
    logy: bool = False
    kind: str = "line"                          # "line" or "hist" or "bar"


@dataclass
class Result:
    status: str
    summary: str
    metrics: Dict[str, Any] = field(default_factory=dict)
    details: List[str] = field(default_factory=list)   # extra lines shown with -v and in report.md
    plots: List[Plot] = field(default_factory=list)

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")


def worst(statuses) -> str:
    """Overall status, as CONTRACT.md section 3 defines it: fail if any failed, else warn
    if any warned, else pass (an `error` or `skip` alone leaves it at pass)."""
    statuses = list(statuses)
    if "fail" in statuses:
        return "fail"
    if "warn" in statuses:
        return "warn"
    return "pass"


def rank(status: str) -> int:
    return _RANK[status]


@dataclass
class Option:
    """A command-line option a check adds, e.g. Option('--overfit-steps', int, 300, '...')."""
    flag: str
    type: Callable
    default: Any
    help: str

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


@dataclass
class CheckSpec:
    id: str
    fn: Callable
    title: str
    order: int
    options: List[Option]
    in_doctor: bool = True     # False: runs only when asked for by id
    expensive: bool = False    # trains for many steps (overfit-batch, input-dependence)
    live: bool = False         # a live check of `trace` (fn(tracer)), registered in LIVE

    @property
    def ref(self) -> str:
        return f"refs/diagnostics.md#{self.id}"


REGISTRY: Dict[str, CheckSpec] = {}
LIVE: Dict[str, CheckSpec] = {}
LOAD_ERRORS: Dict[str, str] = {}


def check(id: str, title: str, order: int, options: Optional[List[Option]] = None,
          in_doctor: bool = True, expensive: bool = False):
    """Decorator: register `fn(ctx) -> Result` under the contract id `id`."""
    def deco(fn):
        if id in REGISTRY or id in LIVE:
            raise ValueError(f"check id {id!r} registered twice")
        REGISTRY[id] = CheckSpec(id, fn, title, order, list(options or []), in_doctor, expensive)
        return fn
    return deco


def live_check(id: str, title: str, order: int):
    """Decorator: register the live check `fn(tracer) -> Result` of `ml-debug trace` under `id`."""
    def deco(fn):
        if id in REGISTRY or id in LIVE:
            raise ValueError(f"check id {id!r} registered twice")
        LIVE[id] = CheckSpec(id, fn, title, order, [], in_doctor=False, live=True)
        return fn
    return deco


_loaded = set()


def _import_package(name: str) -> None:
    """Import every public module of mldebug.<name> once; a broken one is reported, not fatal."""
    if name in _loaded:
        return
    pkg = importlib.import_module(f"{__package__}.{name}")
    for mod in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if not mod.name.startswith("_"):
            try:
                importlib.import_module(f"{pkg.__name__}.{mod.name}")
            except Exception as e:  # one broken check module must not take the others down
                LOAD_ERRORS[f"{name}/{mod.name}"] = f"{type(e).__name__}: {e}"
                print(f"ml-debug: could not load {name}/{mod.name}.py: {type(e).__name__}: {e}",
                      file=sys.stderr)
    _loaded.add(name)


def load_all() -> Dict[str, CheckSpec]:
    """Import every module in mldebug.checks (each registers its checks); return the registry."""
    _import_package("checks")
    return REGISTRY


def ordered() -> List[CheckSpec]:
    return sorted(load_all().values(), key=lambda s: (s.order, s.id))


def live_ordered() -> List[CheckSpec]:
    """The live checks of `ml-debug trace`, in report order (imports mldebug.live)."""
    _import_package("live")
    return sorted(LIVE.values(), key=lambda s: (s.order, s.id))
