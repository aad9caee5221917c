"""input-dependence: input-blind models must fail, every clean zoo model must pass."""
import pytest
import torch

from util import entry

from mldebug.checks.input_dependence import _baseline

CLEAN = ["mlp_classifier", "cnn_bn", "regression", "multilabel", "imbalanced_prior", "dict_input",
         "lstm_lm", "transformer_lm", "bidir_encoder", "causal_conv", "gru_classifier", "tied_lm"]
BUGS = ["bug_d_ignores_input", "bug_d_wrong_dict_key", "bug_d_input_overwritten"]


@pytest.mark.parametrize("target", BUGS)
def test_input_blind_models_fail(target):
    e = entry(target, "input-dependence", budget=None)
    assert e["status"] == "fail", e["summary"]
    assert "do not depend on the inputs" in e["summary"]
    m = e["metrics"]
    assert m["stopped"] == "identical" and m["steps"] == 10       # stops as soon as it is certain
    assert m["real_loss"] == pytest.approx(m["zeroed_loss"], rel=1e-6)
    assert m["real_loss"] < m["start_loss"]                       # it did train: learned the marginal only


@pytest.mark.parametrize("target", CLEAN)
def test_clean_models_pass(target):
    e = entry(target, "input-dependence", budget=None)
    assert e["status"] == "pass", e["summary"]
    m = e["metrics"]
    assert m["relative_gap"] >= 0.2 and m["real_loss"] < m["zeroed_loss"]
    assert m["steps"] <= 100


def test_wrong_dict_key_keeps_the_mask():
    e = entry("bug_d_wrong_dict_key", "input-dependence", budget=None)
    assert e["metrics"]["changed_inputs"] == ["inputs['input_ids']"]
    assert e["metrics"]["kept_inputs"] == ["inputs['attention_mask']"]


def test_baseline_zeroes_features_and_ids_but_not_masks_or_labels():
    ids = torch.randint(1, 9, (4, 6))
    inputs = {"input_ids": ids, "attention_mask": torch.ones(4, 6, dtype=torch.long),
              "pad": torch.ones(4, 6, dtype=torch.bool), "pixels": torch.randn(4, 3), "labels": ids.clone()}
    z, changed, kept = _baseline(inputs, "zeros")
    assert changed == ["inputs['input_ids']", "inputs['pixels']"]
    assert int(z["input_ids"].abs().sum()) == 0 and float(z["pixels"].abs().sum()) == 0
    assert torch.equal(z["attention_mask"], inputs["attention_mask"]) and torch.equal(z["labels"], ids)
    assert torch.equal(z["pad"], inputs["pad"])
    assert int(inputs["input_ids"].min()) >= 1                      # the original is untouched
    rep, _, _ = _baseline((torch.randn(5, 2),), "first")             # fallback: example 0 everywhere
    assert torch.equal(rep[0], rep[0][:1].expand(5, 2))


def test_small_cap_is_inconclusive_not_fail():
    e = entry("tied_lm", "input-dependence", options={"dependence_steps": 5}, budget=None)
    assert e["metrics"]["step_cap"] == 5 and e["metrics"]["steps"] <= 5
    assert e["status"] in ("pass", "warn"), e["summary"]


BATCH_MEAN = '''
import torch, torch.nn as nn, torch.nn.functional as F
import sys; sys.path.insert(0, {zoo!r})
from _data import teacher_classification

class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 10))
    def forward(self, x):                                   # x: (B, 20)
        x = x.mean(dim=0, keepdim=True).expand_as(x)        # bug: every row is the batch mean
        return self.net(x)

def build_model(): return M()
def get_batch(): return teacher_classification(64, 20, 10)
def loss_fn(o, y): return F.cross_entropy(o, y)
'''


def test_same_input_for_every_example_fails_after_full_runs(tmp_path):
    """Not bit-identical to the zeroed run (a different constant input), so it runs to the cap."""
    from conftest import ZOO
    p = tmp_path / "batch_mean_input.py"
    p.write_text(BATCH_MEAN.format(zoo=ZOO))
    e = entry(str(p), "input-dependence", budget=None)
    assert e["status"] == "fail", e["summary"]
    assert e["metrics"]["stopped"] == "cap" and abs(e["metrics"]["relative_gap"]) < 0.05
    assert e["metrics"]["last_quarter_drop"] < 0.01          # stalled: not just slow
