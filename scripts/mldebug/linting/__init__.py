"""The machinery behind `ml-debug lint` (front end: `mldebug/lint.py`).

- `base.py`: small `ast` helpers and the name tables (optimizers, losses, layout ops).
- `analysis.py`: the shared analysis: `FileInfo` (one parsed file: parents, imports, bindings),
  `Scope` (assignments of a function), `Project` (the other files of the run) and `Analysis`
  (name resolution, loops, same-file helpers), handed to every rule.
- `losses.py`, `training.py`, `shapes.py`, `layout.py`: what groups of rules share (activations and
  losses; optimizer/backward/mode/scheduler events; sizes read off shapes; axis order through a
  chain of view/transpose calls).
- `rules/<rule_id>.py`: one file per rule. Each registers a function `check(a) -> iterable of
  (node or line, message)` with `@rule("<rule-id>")`; every module under `rules/` is imported
  automatically. A new rule is one new file there, plus its one-line entry in the `RULES` catalogue
  of `mldebug/lint.py` (kept a literal so the audit reads it without importing), its `## <rule-id>`
  section in refs/static_analysis.md, and `tests/lint_cases/bad_<rule>.py` / `ok_<rule>.py`.
"""
from __future__ import annotations

import ast
import importlib
import pkgutil
from typing import Callable, Dict, Iterable, Tuple, Union

Finding = Tuple[Union[ast.AST, int], str]   # (node or line number, message)
RuleFn = Callable[..., Iterable[Finding]]

RULE_FUNCS: Dict[str, RuleFn] = {}


def rule(rule_id: str):
    """Register `fn(a: Analysis) -> iterable of (node or line, message)` as the rule `rule_id`."""
    def deco(fn: RuleFn) -> RuleFn:
        if rule_id in RULE_FUNCS and RULE_FUNCS[rule_id] is not fn:
            raise ValueError(f"lint rule {rule_id!r} registered twice")
        RULE_FUNCS[rule_id] = fn
        fn.rule_id = rule_id
        return fn
    return deco


def load_rules() -> Dict[str, RuleFn]:
    """Import every module under linting/rules/ (each registers itself) and return the registry."""
    from . import rules as pkg
    for m in pkgutil.iter_modules(pkg.__path__):
        if not m.name.startswith("_"):
            importlib.import_module(f"{pkg.__name__}.{m.name}")
    return RULE_FUNCS
