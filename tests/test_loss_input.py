"""loss-input: planted loss-input bugs it must fail, correct pairings it must pass."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from conftest import EXAMPLES
from util import entry
from mldebug.api import doctor

CLEAN = ["mlp_classifier", "cnn_bn", "regression", "multilabel", "imbalanced_prior", "dict_input",
         "zero_init_head", "logsoftmax_nll", "lstm_lm", "transformer_lm", "bidir_encoder", "autoencoder",
         "multitask", "label_smoothing"]


@pytest.mark.parametrize("target", CLEAN)
def test_clean_targets_pass(target):
    e = entry(target, "loss-input")
    assert e["status"] == "pass", e["summary"]


@pytest.mark.parametrize("target, needle", [
    ("bug_a_softmax_ce", "softmax applied before CrossEntropyLoss"),
    ("bug_a_sigmoid_bcewithlogits", "gets probabilities, not logits"),
    ("bug_a_nll_on_logits", "not log-probabilities"),
    ("bug_a_nll_on_softmax", "softmax without log"),
    ("bug_a_mse_broadcast", "broadcast silently to (64, 64)"),
])
def test_planted_bugs_fail(target, needle):
    e = entry(target, "loss-input")
    assert e["status"] == "fail", e["summary"]
    assert needle in e["summary"]


def test_demos():
    assert entry(f"{EXAMPLES}/demo_buggy.py", "loss-input")["status"] == "fail"
    assert entry(f"{EXAMPLES}/demo_clean.py", "loss-input")["status"] == "pass"


def test_log_softmax_into_cross_entropy_is_harmless():
    x, y = torch.randn(32, 8), torch.randint(0, 4, (32,))
    e = doctor(build_model=lambda: nn.Sequential(nn.Linear(8, 4), nn.LogSoftmax(1)), batch=(x, y),
               loss_fn=F.cross_entropy, checks=["loss-input"])["checks"][0]
    assert e["status"] == "pass" and "harmless" in e["summary"]


def test_sigmoid_inside_loss_fn_is_caught():
    x, y = torch.randn(32, 8), (torch.rand(32, 3) > 0.5).float()
    e = doctor(build_model=lambda: nn.Linear(8, 3), batch=(x, y),
               loss_fn=lambda o, t: F.binary_cross_entropy_with_logits(torch.sigmoid(o), t),
               checks=["loss-input"])["checks"][0]
    assert e["status"] == "fail" and "sigmoid" in e["summary"]


def test_hand_written_sigmoid_found_by_perturbation():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 3)

        def forward(self, x):
            return 1 / (1 + torch.exp(-self.fc(x)))   # no sigmoid op to see
    x, y = torch.randn(32, 8), (torch.rand(32, 3) > 0.5).float()
    e = doctor(build_model=Net, batch=(x, y), loss_fn=F.binary_cross_entropy_with_logits,
               checks=["loss-input"])["checks"][0]
    assert e["status"] == "fail", e["summary"]
    assert e["metrics"]["calls"][0]["bounded_under_perturbation"] is True


def test_small_logits_in_unit_interval_pass_bce_with_logits():
    # logits that all happen to lie in [0,1] at init are not probabilities: perturbation shows it
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 1)
            nn.init.normal_(self.fc.weight, std=0.01)
            nn.init.constant_(self.fc.bias, 0.5)

        def forward(self, x):
            return self.fc(x).squeeze(-1)
    x, y = torch.randn(32, 8), (torch.rand(32) > 0.5).float()
    e = doctor(build_model=Net, batch=(x, y), loss_fn=F.binary_cross_entropy_with_logits,
               checks=["loss-input"])["checks"][0]
    assert e["status"] == "pass", e["summary"]
    assert e["metrics"]["calls"][0]["bounded_under_perturbation"] is False


def test_bce_on_clamped_linear_output_fails():
    # raw scores clamped into [0,1] only look like probabilities
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 1)
            nn.init.normal_(self.fc.weight, std=0.01)
            nn.init.constant_(self.fc.bias, 0.5)

        def forward(self, x):
            return self.fc(x).squeeze(-1)
    x, y = torch.randn(32, 8), (torch.rand(32) > 0.5).float()
    e = doctor(build_model=Net, batch=(x, y), loss_fn=F.binary_cross_entropy,
               checks=["loss-input"])["checks"][0]
    assert e["status"] == "fail" and "binary_cross_entropy_with_logits" in e["summary"]


def test_single_class_cross_entropy_fails():
    x, y = torch.randn(32, 8), torch.rand(32, 1)
    e = doctor(build_model=lambda: nn.Linear(8, 1), batch=(x, y), loss_fn=F.cross_entropy,
               checks=["loss-input"])["checks"][0]
    assert e["status"] == "fail" and "single class" in e["summary"]


def test_constant_target_broadcast_is_not_a_bug():
    x = torch.randn(32, 8)
    e = doctor(build_model=lambda: nn.Linear(8, 4), batch=(x, torch.zeros(32)),
               loss_fn=lambda o, t: F.mse_loss(o, torch.zeros(1)), checks=["loss-input"])["checks"][0]
    assert e["status"] == "pass", e["summary"]


def test_no_known_loss_skips():
    x, y = torch.randn(16, 4), torch.randn(16, 2)
    e = doctor(build_model=lambda: nn.Linear(4, 2), batch=(x, y),
               loss_fn=lambda o, t: ((o - t) ** 2).mean(), checks=["loss-input"])["checks"][0]
    assert e["status"] == "skip"
