"""ml-debug trace over whole runs: phases (a head replaced, layers frozen, an optimizer rebuilt),
epoch-aware LR schedules, hand-written losses, a loss falling through its floor.

Each project in tests/trace_projects/ has planted-bug scripts and clean twins; a planted bug must
make exactly the checks its bug explains fail, and a clean twin must fail none."""
import os

import pytest

from conftest import ROOT

from mldebug.trace import LIVE_CHECK_IDS, trace

PROJECTS = os.path.join(ROOT, "tests", "trace_projects")


def run(project, script, *args, steps=None, **kw):
    return trace(os.path.join(PROJECTS, project, script), list(args), steps=steps, **kw)


def by_id(report):
    return {c["id"]: c for c in report["checks"]}


def failing(report):
    return {c["id"] for c in report["checks"] if c["status"] == "fail"}


def summaries(report):
    return "\n".join(f"{c['status']} {c['id']}: {c['summary']}" for c in report["checks"])


# ---------------------------------------------------------------------------- phases
def test_new_head_missing_from_the_kept_optimizer_fails_naming_head_and_phase():
    r = run("finetune", "pretrain_finetune.py")
    assert r["steps_traced"] == 48 and r["script_ended"] == "ran to its end"
    assert failing(r) == {"param-coverage"}, summaries(r)
    pc = by_id(r)["param-coverage"]
    assert pc["metrics"]["not_in_optimizer"] == 2 and pc["metrics"]["first_not_held_step"] == 25
    s = pc["summary"]
    assert "head.weight, head.bias" in s and "from step 25, in phase 2" in s, s
    assert "reset_head (model.py:" in s and "pretrain_finetune.py:" in s, s   # made where, optimizer built where
    assert "freeze (trainer.py:" in s, s                                       # the phase's other cause
    ga = by_id(r)["grad-accumulation"]
    assert ga["status"] == "warn" and ga["metrics"]["zeroed_steps"] == 0, ga
    assert "zero_grad() runs between" not in ga["summary"] and "never made, not zeroed" in ga["summary"]
    assert ga["metrics"]["no_grad_steps"] == 24


def test_clean_twin_that_rebuilds_the_optimizer_passes():
    r = run("finetune", "pretrain_finetune_rebuild.py")
    assert r["steps_traced"] == 48
    assert not failing(r), summaries(r)
    live = {k: v for k, v in by_id(r).items() if k in LIVE_CHECK_IDS}
    assert all(c["status"] == "pass" for c in live.values()), summaries(r)
    pc = live["param-coverage"]
    assert pc["metrics"]["phases"] == 2 and "a new AdamW was built by main (pretrain_finetune_rebuild.py:" in pc["summary"]


def test_frozen_backbone_with_a_trained_head_passes():
    r = run("finetune", "frozen_backbone.py")
    assert not failing(r), summaries(r)
    ga = by_id(r)["grad-accumulation"]
    assert ga["status"] == "pass" and ga["metrics"]["zeroed_steps"] == 0 and ga["metrics"]["no_grad_steps"] == 0
    assert by_id(r)["param-coverage"]["status"] == "pass"
    assert by_id(r)["param-coverage"]["metrics"]["phases"] == 1


def test_wrappers_are_removed_after_the_run():
    import torch
    import torch.nn as nn
    from torch.optim import lr_scheduler as L
    from torch.optim.optimizer import Optimizer
    before = {(o, n): o.__dict__.get(n) for o, n in [(nn.Module, "__setattr__"), (nn.Module, "add_module"),
                                                    (nn.Module, "register_parameter"), (nn.Module, "requires_grad_"),
                                                    (Optimizer, "__init__"), (Optimizer, "add_param_group"),
                                                    (L.LRScheduler, "__init__"), (L.LRScheduler, "step"),
                                                    (L.ReduceLROnPlateau, "step")]}
    run("finetune", "frozen_backbone.py", "--finetune-epochs", "1", steps=3)
    assert "requires_grad" not in torch.Tensor.__dict__        # the property is gone, the C one shows
    for (o, n), v in before.items():
        assert o.__dict__.get(n) is v, (o, n)
    p = nn.Parameter(torch.zeros(2))
    p.requires_grad = False
    assert not p.requires_grad
