"""Tests for the shape of `ml-debug lint`: one module per rule under mldebug/linting/rules/, each
registered once, matching the RULES catalogue; and the rules that follow values across calls/files."""
import ast
import json
import os
import subprocess
import sys

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


# ---------------------------------------------------------------- view-swaps-dims-after-transpose

def rules_on(src):
    return [(f["line"], f["rule"]) for f in lint.lint_source(src)]


AFTER = "view-swaps-dims-after-transpose"


def test_reshape_after_transpose_follows_the_actual_axis_order():
    src = ("def f(x):\n"
           "    b, t, d = x.shape\n"
           "    y = x.transpose(1, 2)\n"               # (b, d, t)
           "    z = y.reshape(b, t, d)\n"              # 4: contradicts (d before t)
           "    w = y.reshape(b, d, t)\n"              # 5: the order the transpose left
           "    v = y.transpose(1, 2).reshape(t, b, d)\n"  # 6: back to (b, t, d); t before b contradicts
           "    u = x.movedim(1, 0).reshape(t, b * d)\n"   # 7: (t, b, d): fine
           "    return z, w, v, u\n")
    assert rules_on(src) == [(4, AFTER), (6, AFTER)]


def test_unknown_layouts_stay_quiet():
    src = ("import numpy as np\n"
           "def branch(x, flag):\n"
           "    b, t, d = x.shape\n"
           "    if flag:\n"
           "        x = x.transpose(0, 1)\n"
           "    return x.reshape(t, b, d)\n"           # x is (b, t, d) or (t, b, d): unknown
           "def loop(x, n):\n"
           "    b, t, d = x.shape\n"
           "    for _ in range(n):\n"
           "        x = x.transpose(0, 1)\n"
           "    return x.reshape(t, b, d)\n"
           "def inplace(x):\n"
           "    b, t, d = x.shape\n"
           "    x.transpose_(0, 1)\n"
           "    return x.reshape(t, b, d)\n"
           "def module_call(x, rnn):\n"
           "    b, t, d = x.shape\n"
           "    h = rnn(x.transpose(0, 1))\n"           # an unknown function: unknown axes
           "    return h.reshape(t, b, d)\n"
           "def fortran(a):\n"
           "    n, m = a.shape\n"
           "    return a.T.reshape(n, m, order='F')\n"
           "def numpy_2d(a):\n"
           "    n, m = a.shape\n"
           "    return a.transpose(0, 1).reshape(n, m)\n"  # numpy (imported here): identity
           "def partial(x):\n"
           "    b, t = x.shape[:2]\n"
           "    return x.transpose(-1, -2).reshape(t, b, -1)\n")  # rank unknown: -1/-2 can't be placed
    assert rules_on(src) == []


def test_no_double_report_with_view_swaps_dims():
    # without any layout change in the function the older rule reports it, and only it
    src = "def f(x):\n    B, T, C = x.shape\n    return x.view(T, B, C)\n"
    assert rules_on(src) == [(3, "view-swaps-dims")]


# ---------------------------------------------------------------- per-epoch-scheduler-in-helper

ENGINE = '''import torch.nn.functional as F


def train_one_epoch(model, loader, optimizer, scheduler):
    for x, y in loader:
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
        scheduler.step()
'''

MAIN = '''import torch
from torch.optim.lr_scheduler import {cls}
{imp}


def main(model, loader, epochs=90):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = {ctor}
    for epoch in range(epochs):
        {call}(model, loader, opt, sched)
'''


def write_project(root, cls="StepLR", ctor="StepLR(opt, step_size=30)", imp="from engine import train_one_epoch",
                  call="train_one_epoch", engine_path="engine.py", main_path="main.py"):
    (root / engine_path).parent.mkdir(parents=True, exist_ok=True)
    (root / engine_path).write_text(ENGINE)
    (root / main_path).write_text(MAIN.format(cls=cls, imp=imp, ctor=ctor, call=call))
    return str(root / engine_path), str(root / main_path)


def cli_json(*paths):
    r = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "lint.py"), *paths, "--json"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    return r.returncode, json.loads(r.stdout)


HELPER = "per-epoch-scheduler-in-helper"


def test_scheduler_followed_into_a_helper_in_another_file(tmp_path):
    engine, main = write_project(tmp_path)
    rc, doc = cli_json(engine, main)
    assert rc == 1
    assert [(f["file"], f["line"], f["rule"]) for f in doc["findings"]] == [(engine, 9, HELPER)]
    assert "main.py:10" in doc["findings"][0]["message"] and "StepLR(step_size=30)" in doc["findings"][0]["message"]
    # the helper alone: nothing says what it is given
    assert cli_json(engine)[1]["findings"] == []


def test_helper_import_forms_and_per_step_schedules(tmp_path):
    for i, (imp, call) in enumerate([("import engine", "engine.train_one_epoch"),
                                     ("import engine as eng", "eng.train_one_epoch"),
                                     ("from engine import train_one_epoch as one", "one")]):
        d = tmp_path / f"p{i}"
        d.mkdir()
        engine, main = write_project(d, imp=imp, call=call)
        assert [f["line"] for f in cli_json(engine, main)[1]["findings"]] == [9], imp
    d = tmp_path / "pkg_rel"
    engine, main = write_project(d, imp="from .engine import train_one_epoch", engine_path="pkg/engine.py",
                                 main_path="pkg/main.py")
    assert [f["line"] for f in cli_json(str(d))[1]["findings"]] == [9]
    for cls, ctor in [("OneCycleLR", "OneCycleLR(opt, max_lr=0.1, total_steps=epochs * len(loader))"),
                      ("CosineAnnealingLR", "CosineAnnealingLR(opt, T_max=epochs * len(loader))"),
                      ("LambdaLR", "LambdaLR(opt, lambda s: min(1.0, (s + 1) / 500))")]:
        d = tmp_path / cls
        d.mkdir()
        assert cli_json(*write_project(d, cls=cls, ctor=ctor))[1]["findings"] == [], cls


def test_two_projects_linted_together_do_not_mix(tmp_path):
    # a/main.py builds a StepLR and calls its own engine; b/engine.py has the same name, is never called
    a_engine, a_main = write_project(tmp_path / "a")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "engine.py").write_text(ENGINE)
    _, doc = cli_json(str(tmp_path / "b"), str(tmp_path / "a"))
    assert [(f["file"], f["line"]) for f in doc["findings"]] == [(a_engine, 9)]


def test_helper_run_once_or_stepping_conditionally_is_left_alone():
    src = ENGINE.replace("        scheduler.step()\n", "        if len(x) > 1:\n            scheduler.step()\n") + (
        "import torch\n"
        "def main(model, loader):\n"
        "    opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "    for epoch in range(90):\n"
        "        train_one_epoch(model, loader, opt, torch.optim.lr_scheduler.StepLR(opt, 30))\n")
    assert rules_on(src) == []
    once = ENGINE + ("import torch\n"
                     "def main(model, loader):\n"
                     "    opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
                     "    train_one_epoch(model, loader, opt, torch.optim.lr_scheduler.StepLR(opt, 30))\n")
    assert rules_on(once) == []  # called once, not per epoch: nothing says the helper is an epoch
    per_epoch = once.replace("    train_one_epoch(", "    for epoch in range(90):\n        train_one_epoch(")
    assert rules_on(per_epoch) == [(9, HELPER)]


def test_a_method_is_only_reached_from_its_own_class():
    # B.train_epoch steps a StepLR per batch, but the loop that passes the StepLR calls A's train_epoch
    body = ("        for x, y in loader:\n"
            "            opt.zero_grad()\n"
            "            F.mse_loss(self.model(x), y).backward()\n"
            "            opt.step()\n"
            "            sched.step()\n")
    src = ("import torch\n"
           "import torch.nn.functional as F\n"
           "class A:\n"
           "    def train_epoch(self, loader, opt, sched):\n"
           "{a}"
           "    def fit(self, model, loader):\n"
           "        opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
           "        sched = torch.optim.lr_scheduler.StepLR(opt, 30)\n"
           "        for epoch in range(90):\n"
           "            self.train_epoch(loader, opt, sched)\n"
           "class B:\n"
           "    def train_epoch(self, loader, opt, sched):\n"
           "{b}")
    assert rules_on(src.format(a="        pass\n", b=body)) == []
    assert rules_on(src.format(a=body, b="        pass\n")) == [(9, HELPER)]
