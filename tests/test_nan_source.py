"""nan-source: the first op that makes NaN/Inf (forward) or the backward node that does must
be named with its module and input statistics; every clean zoo target must pass."""
import glob
import os
import textwrap

import pytest

from conftest import ZOO
from util import entry

CHECK = "nan-source"
CLEAN = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(ZOO, "*.py"))
               if not os.path.basename(p).startswith(("bug", "_")))


@pytest.mark.parametrize("target", CLEAN)
def test_clean_targets_pass(target):
    e = entry(target, CHECK)
    assert e["status"] == "pass", e["summary"]


def test_log_of_relu_is_named_with_its_zeros():
    e = entry("bug_b_log_zero", CHECK)
    assert e["status"] == "fail", e["summary"]
    m = e["metrics"]
    assert m["phase"] == "forward" and m["op"] == "torch.log" and m["line"] == "bug_b_log_zero.py:16"
    assert m["input_stats"][0]["zeros"] > 0 and m["input_stats"][0]["negatives"] == 0


def test_division_by_zero_std_is_named():
    e = entry("bug_b_zero_std_div", CHECK)
    assert e["status"] == "fail", e["summary"]
    m = e["metrics"]
    assert "div" in m["op"] and m["module"].startswith("<model>")
    assert m["input_stats"][1]["zeros"] == 4          # the four padded rows have std 0


def test_sqrt_of_zero_backward_is_named():
    e = entry("bug_b_sqrt_zero_backward", CHECK)
    assert e["status"] == "fail", e["summary"]
    m = e["metrics"]
    assert m["phase"] == "backward" and "sqrt" in m["op"] and "SqrtBackward" in e["summary"]
    assert m["input_stats"][0]["zeros"] == 16         # one pair in four is identical


def test_exp_overflow_in_hand_written_softmax():
    e = entry("bug_b_exp_overflow", CHECK)
    assert e["status"] == "fail", e["summary"]
    assert e["metrics"]["op"] == "torch.exp" and e["metrics"]["input_stats"][0]["max"] > 88


HEAD = """
import math, torch, torch.nn as nn, torch.nn.functional as F
def get_batch():
    g = torch.Generator().manual_seed(0)
    return torch.randn(8, 6, 16, generator=g), torch.randint(0, 4, (8,), generator=g)
def loss_fn(out, y): return F.cross_entropy(out, y)
"""


def _target(tmp_path, name, body):
    p = tmp_path / f"{name}.py"
    p.write_text(HEAD + textwrap.dedent(body))
    return str(p)


ATTN = """
class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.qk, self.fc, self.head = nn.Linear(16, 32), nn.Linear(16, 16), nn.Linear(16, 4)
    def forward(self, x):                                      # (N, T, 16)
        q, k = self.qk(x).chunk(2, -1)
        att = q @ k.transpose(1, 2) / 4                        # (N, T, T)
        mask = torch.triu(torch.ones(6, 6, dtype=torch.bool), 1)
        att = att.masked_fill(mask, float("-inf")).softmax(-1)  # -inf absorbed by softmax
        h = (att @ x).mean(1)                                   # (N, 16)
        return self.head(FEATURE)
def build_model(): return M()
"""


def test_masked_attention_is_not_blamed(tmp_path):
    e = entry(_target(tmp_path, "attn_ok", ATTN.replace("FEATURE", "h")), CHECK)
    assert e["status"] == "pass", e["summary"]


def test_real_source_behind_a_masked_attention(tmp_path):
    e = entry(_target(tmp_path, "attn_bad", ATTN.replace("FEATURE", "torch.log(F.relu(self.fc(h)))")), CHECK)
    assert e["status"] == "fail", e["summary"]
    assert e["metrics"]["op"] == "torch.log", e["summary"]


def test_nan_in_the_batch_is_named(tmp_path):
    body = """
    _gb = get_batch
    def get_batch():
        x, y = _gb(); x[0, 0, 0] = float('nan'); return x, y
    def build_model(): return nn.Sequential(nn.Flatten(), nn.Linear(96, 4))
    """
    e = entry(_target(tmp_path, "nan_batch", body), CHECK)
    assert e["status"] in ("fail", "error"), e["summary"]   # the runner's guard may misread a NaN batch
    assert "the batch's inputs" in e["summary"]


def test_fully_masked_row_names_the_mask_and_the_softmax(tmp_path):
    body = """
    _gb = get_batch
    def get_batch():
        x, y = _gb(); return x, y
    class M(nn.Module):
        def __init__(self):
            super().__init__(); self.qk, self.head = nn.Linear(16, 32), nn.Linear(16, 4)
        def forward(self, x):                                   # (N, T, 16)
            q, k = self.qk(x).chunk(2, -1)
            keep = torch.ones(x.shape[0], x.shape[1], dtype=torch.bool); keep[-1] = False   # an all-padding row
            att = (q @ k.transpose(1, 2)).masked_fill(~keep[:, None, :], float("-inf")).softmax(-1)
            return self.head((att @ x).mean(1))
    def build_model(): return M()
    """
    e = entry(_target(tmp_path, "all_masked", body), CHECK)
    assert e["status"] == "fail", e["summary"]
    assert e["metrics"]["op"] == "Tensor.masked_fill" and e["metrics"]["nan_op"] == "Tensor.softmax"
