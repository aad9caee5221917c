"""eval-mode: randomness or changing state left on in model.eval() must fail and be located;
models whose dropout/BatchNorm respect the mode must pass."""
import textwrap

import pytest

from util import entry

CHECK = "eval-mode"

CLEAN = ["mlp_classifier", "cnn_bn", "regression", "lstm_lm", "transformer_lm", "bidir_encoder",
         "causal_conv", "gru_classifier"]


@pytest.mark.parametrize("target", CLEAN)
def test_clean_targets_pass(target):
    e = entry(target, CHECK)
    assert e["status"] == "pass", e["summary"]
    assert e["metrics"]["max_rel_diff"] <= 1e-6


def test_functional_dropout_fails_and_points_at_the_forward():
    e = entry("bug_c_functional_dropout", CHECK)
    assert e["status"] == "fail", e["summary"]
    m = e["metrics"]
    assert m["max_rel_diff"] > 1e-2 and m["cause"] == "rng"
    # fc1 agrees; fc2 is the first module whose output differs, and its inputs already do
    assert m["first_module"] == "fc2" and m["where"] == "inputs"
    assert "model's own forward() (MLP)" in e["summary"]


def test_noise_layer_fails_and_is_named():
    e = entry("bug_c_noise_layer", CHECK)
    assert e["status"] == "fail", e["summary"]
    m = e["metrics"]
    assert m["first_module"] == "3" and m["module_class"] == "GaussianNoise" and m["where"] == "own"
    assert m["cause"] == "rng" and "GaussianNoise" in e["summary"]


HEAD = """
import torch, torch.nn as nn, torch.nn.functional as F
def get_batch():
    g = torch.Generator().manual_seed(0)
    return torch.randn(8, 4, generator=g), torch.randint(0, 3, (8,), generator=g)
def loss_fn(out, y): return F.cross_entropy(out, y)
"""


def _target(tmp_path, name, body):
    p = tmp_path / f"{name}.py"
    p.write_text(HEAD + textwrap.dedent(body))
    return str(p)


def test_state_that_changes_every_call(tmp_path):
    body = """
    class Counter(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("calls", torch.zeros(()))
        def forward(self, x):
            self.calls += 1                    # state updated even in eval
            return x * (1 + 0.1 * self.calls)
    def build_model(): return nn.Sequential(nn.Linear(4, 8), Counter(), nn.Linear(8, 3))
    """
    e = entry(_target(tmp_path, "counter", body), CHECK)
    assert e["status"] == "fail", e["summary"]
    assert e["metrics"]["cause"] == "state" and e["metrics"]["first_module"] == "1"


def test_noise_outside_the_modules(tmp_path):
    body = """
    def build_model(): return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    def forward(model, x): return model(x) + 0.1 * torch.randn(x.shape[0], 3)
    """
    e = entry(_target(tmp_path, "outside", body), CHECK)
    assert e["status"] == "fail", e["summary"]
    assert e["metrics"]["where"] == "outside" and "outside the model's modules" in e["summary"]


def test_dropout_in_train_mode_only_passes(tmp_path):
    """MultiheadAttention and functional dropout gated on self.training are fine."""
    body = """
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 8); self.att = nn.MultiheadAttention(8, 2, dropout=0.5, batch_first=True)
            self.out = nn.Linear(8, 3)
        def forward(self, x):                                     # x: (N, 4)
            h = F.dropout(self.fc(x), 0.5, training=self.training).unsqueeze(1)  # (N, 1, 8)
            h, _ = self.att(h, h, h)
            return self.out(F.alpha_dropout(h.squeeze(1), 0.3, self.training))   # (N, 3)
    def build_model(): return M()
    """
    e = entry(_target(tmp_path, "gated", body), CHECK)
    assert e["status"] == "pass", e["summary"]
