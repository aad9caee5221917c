"""Tests for the shape of `ml-debug lint`: one module per rule under mldebug/linting/rules/, each
registered once, matching the RULES catalogue; and the rules that follow values across calls/files."""
import ast
import os

from conftest import ROOT
from mldebug import lint
from mldebug.linting import load_rules

RULES_DIR = os.path.join(ROOT, "scripts", "mldebug", "linting", "rules")
CASES = os.path.join(ROOT, "tests", "lint_cases")


def test_one_module_per_rule_registered_once():
    funcs = load_rules()
    assert set(funcs) == set(lint.RULES)
    for rid, fn in funcs.items():
        # the module is named after the rule, and registers exactly that rule
        assert fn.__module__.rsplit(".", 1)[-1] == rid.replace("-", "_"), (rid, fn.__module__)
        path = os.path.join(RULES_DIR, rid.replace("-", "_") + ".py")
        tree = ast.parse(open(path, encoding="utf-8").read())
        ids = [d.args[0].value for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)
               for d in n.decorator_list if isinstance(d, ast.Call) and getattr(d.func, "id", "") == "rule"]
        assert ids == [rid], (path, ids)


def test_rule_functions_follow_the_catalogue_order():
    assert list(lint.rule_functions()) == list(lint.RULES)
