"""activations: saturated tanh/sigmoid layers and dead ReLU layers must be flagged; clean
targets, fused layers, model-output sigmoids and GELU/SiLU must not be."""
import glob
import os
import textwrap

import pytest

from conftest import ZOO
from util import entry

CHECK = "activations"
CLEAN = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(ZOO, "*.py"))
               if not os.path.basename(p).startswith(("bug", "_")))


@pytest.mark.parametrize("target", CLEAN)
def test_clean_targets_pass(target):
    e = entry(target, CHECK)
    # LSTM/GRU-only models have nothing visible to judge: skip is the honest answer
    assert e["status"] in ("pass", "skip"), e["summary"]


def test_clean_cnn_counts_every_position():
    e = entry("cnn_bn", CHECK)
    assert e["status"] == "pass", e["summary"]
    layers = e["metrics"]["layers"]
    assert [d["units"] for d in layers.values()] == [16, 32]      # channels, not pixels
    assert all(d["dead_frac"] == 0 for d in layers.values())


def test_tanh_saturated_fails():
    e = entry("bug_b_tanh_saturated", CHECK)
    assert e["status"] == "fail", e["summary"]
    assert e["metrics"]["max_saturated"] > 0.5 and "tanh" in e["summary"]


def test_dead_relu_fails_and_names_the_layer():
    e = entry("bug_b_dead_relu", CHECK)
    assert e["status"] == "fail", e["summary"]
    assert e["metrics"]["layers"]["1"]["dead_frac"] == 1.0
    assert e["summary"].startswith("1 (relu) has 64/64 units")


def test_lstm_gates_are_not_judged():
    e = entry("lstm_lm", CHECK)
    assert e["status"] == "skip", e["summary"]


HEAD = """
import torch, torch.nn as nn, torch.nn.functional as F
def get_batch():
    g = torch.Generator().manual_seed(0)
    return torch.randn(64, 16, generator=g), torch.randint(0, 4, (64,), generator=g)
def loss_fn(out, y): return F.cross_entropy(out, y)
"""


def _target(tmp_path, name, body, head=HEAD):
    p = tmp_path / f"{name}.py"
    p.write_text(head + textwrap.dedent(body))
    return str(p)


def test_functional_tanh_moderately_saturated_warns(tmp_path):
    body = """
    class M(nn.Module):
        def __init__(self):
            super().__init__(); self.fc, self.out = nn.Linear(16, 128), nn.Linear(128, 4)
            nn.init.normal_(self.fc.weight, std=0.35)          # pre-activation std ~1.4
        def forward(self, x):
            return self.out(self.fc(x).tanh())
    def build_model(): return M()
    """
    e = entry(_target(tmp_path, "tanh_warm", body), CHECK)
    assert e["status"] == "warn", e["summary"]
    assert 0.1 < e["metrics"]["max_saturated"] < 0.5
    assert "<model>:tanh" in e["summary"]


def test_gelu_and_silu_with_negative_bias_have_no_dead_units(tmp_path):
    body = """
    def build_model():
        m = nn.Sequential(nn.Linear(16, 32), nn.GELU(), nn.Linear(32, 32), nn.SiLU(), nn.Linear(32, 4))
        nn.init.constant_(m[0].bias, -3.0); nn.init.constant_(m[2].bias, -3.0)
        return m
    """
    e = entry(_target(tmp_path, "gelu", body), CHECK)
    assert e["status"] != "fail" and "dead" not in e["summary"], e["summary"]
    assert all("dead_frac" not in d for d in e["metrics"]["layers"].values())


def test_sigmoid_output_is_not_saturation(tmp_path):
    head = HEAD.replace("torch.randint(0, 4, (64,), generator=g)", "torch.randint(0, 2, (64,), generator=g).float()")
    head = head.replace("F.cross_entropy(out, y)", "F.binary_cross_entropy(out, y)")
    body = """
    def build_model():
        m = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 1), nn.Sigmoid(), nn.Flatten(0))
        nn.init.normal_(m[2].weight, std=3.0)         # confident at init: init-loss's business
        return m
    """
    e = entry(_target(tmp_path, "sig_out", body, head), CHECK)
    assert e["status"] == "pass", e["summary"]
    assert e["metrics"]["layers"]["3"]["judged"] is False


def test_saturated_sigmoid_hidden_layer_fails(tmp_path):
    body = """
    def build_model():
        m = nn.Sequential(nn.Linear(16, 64), nn.Sigmoid(), nn.Linear(64, 4))
        nn.init.normal_(m[0].weight, std=3.0)         # pre-activation std ~12
        return m
    """
    e = entry(_target(tmp_path, "sig_hidden", body), CHECK)
    assert e["status"] == "fail", e["summary"]
    assert e["metrics"]["layers"]["1"]["saturated"] > 0.5


def test_small_batch_dead_units_not_judged(tmp_path):
    head = HEAD.replace("torch.randn(64, 16", "torch.randn(4, 16").replace("(64,)", "(4,)")
    body = """
    def build_model():
        m = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
        nn.init.constant_(m[0].bias, -10.0)
        return m
    """
    e = entry(_target(tmp_path, "small", body, head), CHECK)
    assert e["status"] == "pass", e["summary"]


def test_conv1d_channels_after_inplace_relu(tmp_path):
    head = """
import torch, torch.nn as nn, torch.nn.functional as F
def get_batch():
    g = torch.Generator().manual_seed(0)
    return torch.randn(8, 4, 50, generator=g), torch.randint(0, 3, (8,), generator=g)
def loss_fn(out, y): return F.cross_entropy(out, y)
"""
    body = """
    def build_model():
        return nn.Sequential(nn.Conv1d(4, 32, 5, padding=2), nn.BatchNorm1d(32), nn.ReLU(inplace=True),
                             nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(32, 3))
    """
    e = entry(_target(tmp_path, "conv1d", body, head), CHECK)
    assert e["status"] == "pass", e["summary"]
    assert e["metrics"]["layers"]["2"]["units"] == 32        # channels of (N, C, L), 8 x 50 observations each
