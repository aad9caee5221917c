"""lr-schedule: planted schedule bugs fail, standard schedules (warmup from 0 included) pass."""
import warnings

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim.lr_scheduler as L

from util import entry

from mldebug.api import doctor


@pytest.mark.parametrize("target, needle", [
    ("bug_d_lambda_zero", "exactly 0 for the first 200 steps"),
    ("bug_d_steplr_per_batch", "at step 90 (0.9% of TOTAL_STEPS=10000) and stays"),
    ("bug_d_cosine_tmax_epochs", "cycles back"),
    ("bug_d_lr_zero_no_sched", "LR is 0 and no scheduler"),
    ("bug_lr_zero", "LR is 0 and no scheduler"),
])
def test_planted_schedule_bugs_fail(target, needle):
    e = entry(target, "lr-schedule")
    assert e["status"] == "fail", e["summary"]
    assert needle in e["summary"]


@pytest.mark.parametrize("target", ["sched_warmup_cosine", "sched_hf_linear_warmup", "sched_onecycle",
                                    "transformer_lm", "mlp_classifier", "sgd_plain"])
def test_clean_schedules_pass(target):
    e = entry(target, "lr-schedule")
    assert e["status"] == "pass", e["summary"]


def test_metrics_of_a_warmup_from_zero():
    m = entry("sched_hf_linear_warmup", "lr-schedule")["metrics"]
    assert m["lr_start"] == 0.0 and m["zero_steps_at_start"] == 1      # 0 at step 0 only, then it rises
    assert m["lr_peak"] == pytest.approx(5e-4) and m["peak_step"] == 800
    assert m["horizon"] == 8000 and m["horizon_from"] == "TOTAL_STEPS"
    assert 7900 < m["first_below_1pct_step"] < 8000 and m["dead_from_step"] > 7900


def test_steplr_stops_simulating_once_dead():
    m = entry("bug_d_steplr_per_batch", "lr-schedule")["metrics"]
    assert m["simulated_steps"] < 2000 and m["horizon"] == 10000
    assert m["lr_final"] < 1e-6 * m["lr_peak"]


X, Y = torch.randn(16, 4), torch.randint(0, 3, (16,))


def sched_entry(make_scheduler, total=None, lr=0.1):
    rep = doctor(model=nn.Linear(4, 3), batch=(X, Y), loss_fn=F.cross_entropy,
                 make_optimizer=lambda p: torch.optim.SGD(p, lr=lr), make_scheduler=make_scheduler,
                 total_steps=total, checks=["lr-schedule"])
    return rep["checks"][0]


@pytest.mark.parametrize("name, make, total, status", [
    ("StepLR every step, no TOTAL_STEPS", lambda o: L.StepLR(o, 1, 0.1), None, "fail"),
    ("StepLR(30), no TOTAL_STEPS", lambda o: L.StepLR(o, 30, 0.1), None, "pass"),
    ("cosine T_max=10, no TOTAL_STEPS", lambda o: L.CosineAnnealingLR(o, 10), None, "pass"),
    ("cosine over all steps", lambda o: L.CosineAnnealingLR(o, 10000), 10000, "pass"),
    ("ResNet MultiStep 30/60 of 90 epochs", lambda o: L.MultiStepLR(o, [3000, 6000], 0.1), 9000, "pass"),
    ("warmup then cosine (SequentialLR)", lambda o: L.SequentialLR(
        o, [L.LinearLR(o, 0.01, 1.0, 100), L.CosineAnnealingLR(o, 9900)], [100]), 10000, "pass"),
    ("warm restarts every 10 steps", lambda o: L.CosineAnnealingWarmRestarts(o, 10), 5000, "fail"),
    ("warm restarts every 4000 steps", lambda o: L.CosineAnnealingWarmRestarts(o, 4000), 40000, "pass"),
    ("CyclicLR", lambda o: L.CyclicLR(o, 1e-4, 1e-2, step_size_up=500), 10000, "pass"),
    ("OneCycle shorter than training", lambda o: L.OneCycleLR(o, 0.1, total_steps=1000), 2000, "fail"),
    ("linear to 0 at half of training", lambda o: L.LinearLR(o, 1.0, 0.0, total_iters=5000), 10000, "warn"),
    ("HF linear decay over 1/100 of training", lambda o: L.LambdaLR(
        o, lambda s: s / 200 if s < 200 else max(0.0, (10_000 - s) / 9800)), 1_000_000, "fail"),
    ("HF linear warmup over 1M steps", lambda o: L.LambdaLR(
        o, lambda s: s / 2000 if s < 2000 else max(0.0, (10 ** 6 - s) / (10 ** 6 - 2000))), 10 ** 6, "pass"),
    ("integer warmup of 2 steps", lambda o: L.LambdaLR(o, lambda s: min(1, s // 2)), 1000, "warn"),
])
def test_scheduler_zoo(name, make, total, status):
    e = sched_entry(make, total)
    assert e["status"] == status, f"{name}: {e['summary']}"


def test_plateau_is_skipped_and_no_scheduler_warning_leaks():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        e = sched_entry(lambda o: L.StepLR(o, 300, 0.5), 1000)
    assert e["status"] == "pass"
    assert not [w for w in caught if "lr_scheduler.step()" in str(w.message)]
    e = sched_entry(lambda o: L.ReduceLROnPlateau(o))
    assert e["status"] == "skip" and "metric" in e["summary"]


def test_frozen_param_group_is_a_warning():
    rep = doctor(model=nn.Linear(4, 3), batch=(X, Y), loss_fn=F.cross_entropy,
                 make_optimizer=lambda p: torch.optim.SGD([{"params": [next(iter(p))]},
                                                           {"params": [], "lr": 0.0}], lr=0.1),
                 make_scheduler=lambda o: L.LambdaLR(o, lambda s: 1.0), total_steps=100, checks=["lr-schedule"])
    e = rep["checks"][0]
    assert e["status"] == "warn" and "param group 1" in e["summary"]


def test_without_total_steps_it_says_what_would_sharpen_it():
    e = sched_entry(lambda o: L.CosineAnnealingLR(o, 10))
    assert e["status"] == "pass" and "set TOTAL_STEPS" in e["summary"]
    assert e["metrics"]["horizon_from"] == "T_max=10" and e["metrics"]["first_below_1pct_step"] == 10
