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


# ---------------------------------------------------------------------------- epoch-aware LR
# schedules/: 640 ratings, batches of 16, so 40 optimizer steps per epoch. Traced for 20 steps
# (half an epoch): the collapse is projected from the scheduler, the loader's length and how often
# scheduler.step() is called per optimizer step.
@pytest.mark.parametrize("script,args,cls,site", [
    ("train.py", ["--scheduler", "step", "--interval", "step"], "StepLR", "Trainer.after_step (trainer.py:"),
    ("train_multistep_callback.py", [], "MultiStepLR", "SchedulerCallback.on_batch_end (trainer.py:"),
    ("train.py", ["--scheduler", "exponential", "--interval", "step"], "ExponentialLR", "Trainer.after_step"),
    ("train.py", ["--scheduler", "cosine-epochs", "--interval", "step"], "CosineAnnealingLR", "Trainer.after_step"),
])
def test_epoch_scheduler_stepped_per_batch_fails_naming_the_step_call(script, args, cls, site):
    r = run("schedules", script, *args, steps=20)
    assert failing(r) == {"lr-trace"}, summaries(r)
    lr = by_id(r)["lr-trace"]
    s = lr["summary"]
    assert s.startswith(cls + "(") and site in s and "built by build (schedules.py:" in s, s
    assert "over one epoch (40 optimizer steps" in s, s
    assert lr["metrics"]["epoch_fall"] <= 0.1 and lr["metrics"]["epoch_steps"] == 40
    assert lr["metrics"]["lr_last"] > 0.01 * lr["metrics"]["lr_max"]   # within 20 steps it had not collapsed yet


@pytest.mark.parametrize("args", [["--scheduler", "onecycle", "--interval", "step"],
                                  ["--scheduler", "warmup", "--interval", "step"],
                                  ["--scheduler", "cosine", "--interval", "step"],
                                  ["--scheduler", "step", "--interval", "epoch"]])
def test_per_step_schedules_and_per_epoch_stepping_pass(args):
    r = run("schedules", "train.py", *args, steps=20)
    assert not failing(r), summaries(r)
    lr = by_id(r)["lr-trace"]
    assert lr["status"] == "pass", lr["summary"]
    if args[-1] == "step":
        assert "a per-step schedule" in lr["summary"] and "Trainer.after_step (trainer.py:" in lr["summary"]


def test_whole_run_of_a_per_step_onecycle_passes():
    r = run("schedules", "train.py", "--scheduler", "onecycle", "--interval", "step", steps="all")
    assert r["steps_traced"] == 120 and r["script_ended"] == "ran to its end"
    assert not failing(r), summaries(r)


# ---------------------------------------------------------------------------- hand-written losses
def test_hand_written_weighted_mse_runs_the_backward_checks():
    r = run("losses", "train_weighted.py")
    assert r["loss_from"].startswith("a hand-written loss on the model's output") and "losses.py:" in r["loss_from"]
    assert not failing(r), summaries(r)
    c = by_id(r)
    for cid in ("batch-sanity", "init-symmetry", "grad-flow", "nan-source", "update-ratio"):
        assert c[cid]["status"] == "pass", (cid, c[cid]["summary"])
    for cid in ("init-loss", "loss-input"):
        assert c[cid]["status"] == "skip" and "hand-written" in c[cid]["summary"]


def test_hand_written_contrastive_loss_with_two_views_runs_the_backward_checks():
    r = run("losses", "train_contrastive.py")
    assert "logsumexp" in r["loss_from"]
    assert any("another forward of the model" in n for n in r.get("capture_notes", []))
    assert not failing(r), summaries(r)
    c = by_id(r)
    for cid in ("grad-flow", "nan-source", "update-ratio", "init-symmetry"):
        assert c[cid]["status"] == "pass", (cid, c[cid]["summary"])


def test_log_of_zero_in_a_hand_written_loss_is_found_at_the_users_line():
    r = run("losses", "train_counts.py")
    assert failing(r) <= {"loss-trace", "nan-source", "grad-flow"} and {"loss-trace", "nan-source"} <= failing(r), \
        summaries(r)
    c = by_id(r)
    assert "torch.log" in c["nan-source"]["summary"] and "losses.py:" in c["nan-source"]["summary"]
    assert "log of" in c["loss-trace"]["summary"] and c["loss-trace"]["metrics"]["nonfinite_step"] == 1
    assert c["grad-accumulation"]["status"] == "pass"     # zero gradients from the ReLU are not 'zeroed'


# ---------------------------------------------------------------------------- a loss through its floor
def test_vae_with_flipped_kl_sign_falls_through_the_floor():
    r = run("vae", "train_kl_sign.py")
    assert failing(r) == {"loss-trace"}, summaries(r)
    lt = by_id(r)["loss-trace"]
    s = lt["summary"]
    assert "fell through its floor" in s and "F.binary_cross_entropy" in s, s
    assert "train_kl_sign.py:" in s, s        # the line that subtracts the KL term
    assert lt["metrics"]["loss_min"] < 0


def test_clean_vae_passes():
    r = run("vae", "train.py")
    assert not failing(r), summaries(r)
    assert by_id(r)["loss-trace"]["status"] == "pass"
