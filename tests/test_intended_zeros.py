"""Zeros on purpose (issue 10): a bigram table of zeros, a residual branch gated by a zero BatchNorm gamma,
a model whose deep copy still calls the original through a closure. No false alarm from update-ratio or
init-symmetry; a copy that is not independent is detected and the checks run in place."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from mldebug import copies
from mldebug.api import doctor


class Bigram(nn.Module):
    def __init__(self, v=20):
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(v, v))

    def forward(self, idx):
        return self.logits[idx]


def test_zero_bigram_table_passes_update_ratio_and_init_symmetry():
    x = torch.randint(0, 6, (4, 8))          # tokens 6..19 absent from the batch: their rows get no gradient
    y = torch.randint(0, 20, (4, 8))
    r = doctor(build_model=Bigram, batch=(x, y), loss_fn=lambda o, t: F.cross_entropy(o.flatten(0, 1), t.flatten()),
               checks=["update-ratio", "init-symmetry"])
    by = {c["id"]: c for c in r["checks"]}
    assert by["update-ratio"]["status"] == "pass", by["update-ratio"]["summary"]
    assert "logits" in by["update-ratio"]["metrics"]["flat_at_init"]
    assert by["init-symmetry"]["status"] == "pass", by["init-symmetry"]["summary"]


class Block(nn.Module):
    def __init__(self, c=8):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        nn.init.zeros_(self.bn2.weight)      # the branch starts as identity (zero_init_residual)

    def forward(self, x):
        return F.relu(x + self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))


def test_zero_gamma_residual_branches_are_not_the_median():
    def build():
        return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), Block(), Block(), Block(), nn.AdaptiveAvgPool2d(1),
                             nn.Flatten(), nn.Linear(8, 5))
    x, y = torch.randn(16, 3, 8, 8), torch.randint(0, 5, (16,))
    r = doctor(build_model=build, batch=(x, y), loss_fn=F.cross_entropy, checks=["update-ratio"],
               make_optimizer=lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=5e-4))
    c = r["checks"][0]
    assert c["status"] == "pass", c["summary"]
    assert len(c["metrics"]["gated_at_init"]) == 6   # conv1 and conv2 of each block: no data gradient at step 1


class ClosureMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(4, 8)
        self.mlp = nn.ModuleDict(dict(fc=nn.Linear(8, 8), drop=nn.Dropout(0.5)))
        m = self.mlp
        self.mlpf = lambda x: m.drop(F.relu(m.fc(x)))
        self.out = nn.Linear(8, 3)

    def forward(self, x):
        return self.out(self.mlpf(self.inp(x)))


def test_copy_policy_detects_a_closure_over_the_original():
    model, x = ClosureMLP(), torch.randn(5, 4)
    how, why = copies.choose(model, run=lambda m: m(x))
    assert how == "in-place" and "mlp.fc" in why
    assert copies.choose(nn.Sequential(nn.Linear(4, 3)), run=lambda m: m(x)) == ("copy", None)
    r = doctor(build_model=ClosureMLP, batch=(x, torch.randint(0, 3, (5,))), loss_fn=F.cross_entropy,
               checks=["grad-flow", "eval-mode", "update-ratio"])
    assert r["status"] == "pass", [(c["id"], c["summary"]) for c in r["checks"]]
    assert "mlp.fc" in r["checked_in_place"]


def test_checks_needing_two_models_at_once_skip_in_place():
    x = torch.randn(5, 4)
    r = doctor(build_model=ClosureMLP, batch=(x, torch.randint(0, 3, (5,))), loss_fn=F.cross_entropy,
               checks=["input-dependence"])
    c = r["checks"][0]
    assert c["status"] == "skip" and "in place" in c["summary"], c["summary"]
