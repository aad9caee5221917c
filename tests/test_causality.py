"""causality: models that read the future must fail with the offset named; causal models pass;
a model with no CAUSAL_DIM (a bidirectional encoder, legitimately) is skipped."""
import textwrap

import pytest

from util import entry

CHECK = "causality"


@pytest.mark.parametrize("target", ["lstm_lm", "transformer_lm", "causal_conv"])
def test_causal_models_pass(target):
    e = entry(target, CHECK)
    assert e["status"] == "pass", e["summary"]
    m = e["metrics"]
    assert m["max_leak"] == 0.0 and m["method"] == "gradient" and m["causal_dim"] == 1
    assert len(m["boundaries"]) <= 4  # a fixed handful of probes, not one per position


@pytest.mark.parametrize("target", ["bidir_encoder", "mlp_classifier", "cnn_bn"])
def test_no_causal_dim_skips(target):
    e = entry(target, CHECK)
    assert e["status"] == "skip" and "CAUSAL_DIM" in e["summary"]


@pytest.mark.parametrize("target, max_offset", [
    ("bug_c_mask_off_by_one", 2),      # two layers of an off-by-one mask: t sees t+1, t+2
    ("bug_c_same_padding_conv", 3),    # three k=3 convs padded both sides: t+1..t+3
    ("bug_c_no_causal_mask", 31),      # sees the whole sequence
    ("bug_c_bidirectional_lm", 31),
])
def test_future_leaks_fail_with_offset(target, max_offset):
    e = entry(target, CHECK)
    assert e["status"] == "fail", e["summary"]
    m = e["metrics"]
    assert m["first_offset"] == 1 and m["max_offset"] == max_offset
    assert "position t sees t+1" in e["summary"]
    assert m["max_leak"] > 1e-3


# --------------------------------------------------------------------------- odd layouts

HEAD = """
import torch, torch.nn as nn, torch.nn.functional as F
CAUSAL_DIM = 1
"""


def _target(tmp_path, name, body):
    p = tmp_path / f"{name}.py"
    p.write_text(HEAD + textwrap.dedent(body))
    return str(p)


FLOAT_CONV = """
class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(3, 8, 4); self.head = nn.Linear(8, 1)
    def forward(self, x):                                   # x: (B, T, 3) float series
        h = self.conv(F.pad(x.transpose(1, 2), ({left}, {right})))  # (B, 8, T)
        return self.head(h.transpose(1, 2)).squeeze(-1)    # (B, T)
def build_model(): return M()
def get_batch():
    g = torch.Generator().manual_seed(0)
    return torch.randn(5, 40, 3, generator=g), torch.randn(5, 40, generator=g)
def loss_fn(out, y): return F.mse_loss(out, y)
"""


@pytest.mark.parametrize("left, right, status, offset", [(3, 0, "pass", None), (1, 2, "fail", 1), (0, 3, "fail", 1)])
def test_float_series_forecaster(tmp_path, left, right, status, offset):
    body = FLOAT_CONV.replace("{left}", str(left)).replace("{right}", str(right))
    e = entry(_target(tmp_path, f"conv{left}{right}", body), CHECK)
    assert e["status"] == status, e["summary"]
    if offset:
        assert e["metrics"]["first_offset"] == offset
        assert e["metrics"]["max_offset"] == right


ONE_HOT_SHIFT = """
class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(12, 12)
    def forward(self, ids):                             # ids: (B, T), no nn.Embedding
        x = F.one_hot(ids, 12).float()                  # (B, T, 12)
        x = x + 0.5 * x.roll({shift}, dims=1)           # mixes in the token `shift` steps away
        return self.fc(x)                               # (B, T, 12)
def build_model(): return M()
def get_batch():
    g = torch.Generator().manual_seed(0)
    s = torch.randint(0, 12, (4, 17), generator=g)
    return s[:, :-1], s[:, 1:]
def loss_fn(out, y): return F.cross_entropy(out.reshape(-1, 12), y.reshape(-1))
"""


@pytest.mark.parametrize("shift, status", [(1, "pass"), (-2, "fail")])
def test_forward_probe_for_ids_without_embedding(tmp_path, shift, status):
    """roll(1) mixes in the previous token (fine, but wraps the last token into position 0!);
    roll(-2) reads two steps ahead."""
    e = entry(_target(tmp_path, f"onehot{shift}", ONE_HOT_SHIFT.replace("{shift}", str(shift))), CHECK)
    assert e["metrics"]["method"] == "forward"
    if shift == 1:   # the wrap-around makes position 0 read position T-1: a real leak
        assert e["status"] == "fail" and e["metrics"]["position"] == 0
    else:
        assert e["status"] == status, e["summary"]
        assert e["metrics"]["first_offset"] == 2


FLAT_LM = """
class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(16, 8); self.rnn = nn.GRU(8, 8, batch_first=True)
        self.head = nn.Linear(8, 16)
        nn.init.zeros_(self.head.weight)                # zero-initialised output layer
    def forward(self, ids):                             # ids: (B, T)
        h, _ = self.rnn(self.emb(ids))                  # (B, T, 8)
        return self.head(h).reshape(-1, 16)             # (B*T, 16) flattened
def build_model(): return M()
def get_batch():
    g = torch.Generator().manual_seed(0)
    s = torch.randint(0, 16, (3, 21), generator=g)
    return s[:, :-1], s[:, 1:]
def loss_fn(out, y): return F.cross_entropy(out, y.reshape(-1))
"""


def test_flattened_prediction_and_zero_head(tmp_path):
    e = entry(_target(tmp_path, "flatlm", FLAT_LM), CHECK)
    assert e["status"] == "pass", e["summary"]
    assert e["metrics"]["method"] == "gradient" and e["metrics"]["seq_len"] == 20


def test_causal_dim_zero_is_rejected(tmp_path):
    body = FLAT_LM + "\nCAUSAL_DIM = 0\n"
    e = entry(_target(tmp_path, "dim0", body), CHECK)
    assert e["status"] == "skip" and "batch axis" in e["summary"]
