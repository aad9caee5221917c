"""reproducibility: unseeded randomness in the model, the data, the forward or the training
step must fail and name the part; seeded code (including torch.randn left to the tool's
seed, and seeded streams that advance) must pass."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from conftest import ZOO
from util import entry

from mldebug.api import doctor

CLEAN = ["mlp_classifier", "cnn_bn", "regression", "multilabel", "imbalanced_prior", "dict_input", "lstm_lm",
         "transformer_lm", "bidir_encoder", "causal_conv", "gru_classifier", "autoencoder", "multitask",
         "sched_onecycle"]


@pytest.mark.parametrize("target, part, needle", [
    ("bug_d_unseeded_data", "data", "get_batch() gives a different batch with the same seed: first at inputs,"),
    ("bug_d_unseeded_init", "model", "build_model() gives different weights with the same seed: first at emb.weight"),
    ("bug_python_random_crop", "data", "get_batch() gives a different batch when only torch is seeded"),
])
def test_unseeded_randomness_fails_and_names_the_part(target, part, needle):
    e = entry(target, "reproducibility")
    assert e["status"] == "fail", e["summary"]
    assert needle in e["summary"]
    assert e["metrics"]["differs"] == [part]
    assert e["metrics"]["compared"] == "two fresh imports of the target"


@pytest.mark.parametrize("target", CLEAN)
def test_clean_targets_pass(target):
    e = entry(target, "reproducibility")
    assert e["status"] == "pass", e["summary"]
    assert e["metrics"]["differs"] == []


HEADER = '''
import random
import numpy as np
import torch, torch.nn as nn, torch.nn.functional as F
'''
SEEDED_STREAM = HEADER + '''
rng = np.random.default_rng(1234)          # seeded: a new run restarts it; consecutive calls advance it
W = rng.standard_normal((8, 3))

def build_model(): return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
def get_batch():
    x = rng.standard_normal((32, 8)).astype("float32")
    return torch.from_numpy(x), torch.from_numpy((x @ W).argmax(1)).long()
def loss_fn(o, y): return F.cross_entropy(o, y)
'''
NOISY_FORWARD = HEADER + '''
_noise = random.Random()                   # unseeded, used inside forward
class M(nn.Module):
    def __init__(self):
        super().__init__(); self.fc = nn.Linear(8, 3)
    def forward(self, x):                  # x: (B, 8)
        return self.fc(x) * (1 + _noise.gauss(0, 0.1))   # (B, 3), a random temperature
def build_model(): return M()
def get_batch(): return torch.randn(32, 8), torch.randint(0, 3, (32,))
def loss_fn(o, y): return F.cross_entropy(o, y)
'''
NOISY_TRAINING = HEADER + '''
_noise = np.random.default_rng()           # unseeded, only touched when gradients are on (training)
class M(nn.Module):
    def __init__(self):
        super().__init__(); self.fc = nn.Linear(8, 3)
    def forward(self, x):                  # x: (B, 8)
        if torch.is_grad_enabled():
            x = x + torch.from_numpy(_noise.standard_normal(x.shape).astype("float32"))
        return self.fc(x)
def build_model(): return M()
def get_batch(): return torch.randn(32, 8), torch.randint(0, 3, (32,))
def loss_fn(o, y): return F.cross_entropy(o, y)
'''
IMPORT_TIME_NUMPY = HEADER + '''
DATA = np.random.randn(32, 8).astype("float32")   # drawn at import from numpy's unseeded global RNG
def build_model(): return nn.Linear(8, 3)
def get_batch(): return torch.from_numpy(DATA), torch.from_numpy(DATA[:, :3].argmax(1)).long()
def loss_fn(o, y): return F.cross_entropy(o, y)
'''


def _write(tmp_path, name, text):
    p = tmp_path / f"{name}.py"
    p.write_text(text)
    return str(p)


def test_seeded_stream_that_advances_passes(tmp_path):
    e = entry(_write(tmp_path, "seeded_stream", SEEDED_STREAM), "reproducibility")
    assert e["status"] == "pass", e["summary"]


def test_unseeded_noise_in_forward_is_named(tmp_path):
    e = entry(_write(tmp_path, "noisy_forward", NOISY_FORWARD), "reproducibility")
    assert e["status"] == "fail", e["summary"]
    assert "forward" in e["metrics"]["differs"] and "model" not in e["metrics"]["differs"]


def test_unseeded_noise_in_training_only_is_named(tmp_path):
    e = entry(_write(tmp_path, "noisy_training", NOISY_TRAINING), "reproducibility")
    assert e["status"] == "fail", e["summary"]
    assert e["metrics"]["differs"] == ["training"]
    assert "two identical 2-step trainings disagree" in e["summary"]


def test_import_time_draw_from_numpy_global_fails(tmp_path):
    """A fresh process seeds numpy from OS entropy: module-level np.random draws differ per run."""
    e = entry(_write(tmp_path, "import_numpy", IMPORT_TIME_NUMPY), "reproducibility")
    assert e["status"] == "fail", e["summary"]
    assert e["metrics"]["differs"] == ["data"]


def test_objects_without_a_file_compare_two_calls():
    rep = doctor(build_model=lambda: nn.Linear(4, 2), get_batch=lambda: (torch.randn(8, 4), torch.randint(0, 2, (8,))),
                 loss_fn=F.cross_entropy, checks=["reproducibility"])
    e = rep["checks"][0]
    assert e["status"] == "pass", e["summary"]
    assert e["metrics"]["compared"].startswith("two calls in this process")


def test_user_rng_state_is_untouched():
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    entry("mlp_classifier", "reproducibility")
    assert torch.equal(torch.rand(3), before)
