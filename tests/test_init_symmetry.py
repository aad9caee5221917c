"""init-symmetry: constant/zero inits that never break symmetry fail; legitimate zero inits pass."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from util import entry
from mldebug.api import doctor

CLEAN = ["mlp_classifier", "cnn_bn", "regression", "multilabel", "imbalanced_prior", "dict_input",
         "zero_init_head", "logsoftmax_nll", "lstm_lm", "transformer_lm", "bidir_encoder", "gru_classifier",
         "tied_lm"]


@pytest.mark.parametrize("target", CLEAN)
def test_clean_targets_pass(target):
    e = entry(target, "init-symmetry")
    assert e["status"] == "pass", e["summary"]


@pytest.mark.parametrize("target, needle, tensor", [
    ("bug_a_constant_init", "identical gradients", "0.weight"),
    ("bug_a_constant_lstm", "identical gradients", "lstm.weight_ih_l0"),
    ("bug_a_zero_init_relu", "stays exactly zero", "hidden.weight"),
])
def test_planted_bugs_fail(target, needle, tensor):
    e = entry(target, "init-symmetry")
    assert e["status"] == "fail", e["summary"]
    assert needle in e["summary"] and tensor in e["metrics"]["tied"]


def test_zero_init_head_breaks_symmetry_through_its_gradient():
    m = entry("zero_init_head", "init-symmetry")["metrics"]["per_tensor"]
    assert m["head.weight"]["all_zero"] and m["head.weight"]["grad_tied_rows"] == 0
    # residual projections behind a zero head get no gradient at step 1, but do after the probe step
    assert m["blocks.0.proj.weight"]["after_probe_grad_tied_rows"] == 0


def test_constant_conv_fails():
    def build():
        net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                            nn.Flatten(), nn.Linear(8 * 8 * 8, 4))
        for mod in net:
            if isinstance(mod, (nn.Conv2d, nn.Linear)):
                nn.init.constant_(mod.weight, 0.02)
        return net
    x, y = torch.randn(16, 1, 8, 8), torch.randint(0, 4, (16,))
    e = doctor(build_model=build, batch=(x, y), loss_fn=F.cross_entropy, checks=["init-symmetry"])["checks"][0]
    assert e["status"] == "fail" and "0.weight" in e["metrics"]["tied"]


def test_rezero_gate_is_not_dead():
    class ReZero(nn.Module):          # zero alpha gates a zero-init branch: step 1 gives it no gradient
        def __init__(self):
            super().__init__()
            self.inp = nn.Linear(8, 16)
            self.branch = nn.Linear(16, 16)
            nn.init.zeros_(self.branch.weight)
            self.alpha = nn.Parameter(torch.zeros(1))
            self.head = nn.Linear(16, 3)

        def forward(self, x):
            h = self.inp(x)
            return self.head(h + self.alpha * self.branch(torch.tanh(h)))
    x, y = torch.randn(32, 8), torch.randint(0, 3, (32,))
    e = doctor(build_model=ReZero, batch=(x, y), loss_fn=F.cross_entropy, checks=["init-symmetry"])["checks"][0]
    assert e["status"] == "pass", e["summary"]


def test_constant_embedding_warns():
    def build():
        net = nn.Sequential(nn.Embedding(10, 8), nn.Flatten(), nn.Linear(8 * 4, 3))
        nn.init.constant_(net[0].weight, 0.3)
        return net
    x, y = torch.randint(0, 10, (32, 4)), torch.randint(0, 3, (32,))
    e = doctor(build_model=build, batch=(x, y), loss_fn=F.cross_entropy, checks=["init-symmetry"])["checks"][0]
    assert e["status"] == "warn" and "0.weight" in e["summary"]
