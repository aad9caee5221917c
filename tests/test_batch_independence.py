"""batch-independence: planted batch-mixing bugs must fail, clean models (BatchNorm included) must pass."""
import textwrap

import pytest

from util import entry

CHECK = "batch-independence"

CLEAN = ["mlp_classifier", "cnn_bn", "regression", "lstm_lm", "transformer_lm", "bidir_encoder",
         "causal_conv", "gru_classifier"]


@pytest.mark.parametrize("target", CLEAN)
def test_clean_targets_pass(target):
    e = entry(target, CHECK)
    assert e["status"] == "pass", e["summary"]
    assert e["metrics"]["max_leak"] == 0.0


def test_batchnorm_is_explained():
    e = entry("cnn_bn", CHECK)
    assert e["metrics"]["has_batchnorm"] is True
    assert "BatchNorm" in e["summary"] and "train mode" in e["summary"]


@pytest.mark.parametrize("target", ["bug_c_view_mixes_batch", "bug_c_softmax_over_batch", "bug_c_batch_mean_norm"])
def test_planted_bugs_fail(target):
    e = entry(target, CHECK)
    assert e["status"] == "fail", e["summary"]
    m = e["metrics"]
    assert m["max_leak"] > 1e-3 and m["n_leaking_rows"] > 0
    assert "depends on" in e["summary"] and "other examples" in e["summary"]


def test_batch_mean_norm_leaks_into_every_row():
    m = entry("bug_c_batch_mean_norm", CHECK)["metrics"]
    assert m["n_leaking_rows"] == m["batch_size"]  # 3 probes x 63 others cover all 64 rows
    assert m["method"] == "gradient" and m["taps"] == ["inputs"]


def test_token_ids_are_followed_to_the_embedding():
    m = entry("lstm_lm", CHECK)["metrics"]
    assert m["taps"] == ["embedding 'emb'"]
    assert m["probed_rows"] == [0, 8, 15]  # a fixed handful of rows, not one pass per example


# --------------------------------------------------------------------------- odd layouts

HEAD = """
import torch, torch.nn as nn, torch.nn.functional as F
def loss_fn(out, y):
    return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
"""


def _target(tmp_path, name, body):
    p = tmp_path / f"{name}.py"
    p.write_text(HEAD + textwrap.dedent(body))
    return str(p)


SEQ_FIRST_OUT = """
class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 8); self.rnn = nn.GRU(8, 8); self.head = nn.Linear(8, 5)
    def forward(self, ids):                    # ids: (B, T)
        h, _ = self.rnn(self.emb(ids.t()))     # (T, B, 8): ids transposed before the embedding
        return self.head(h)                    # (T, B, 5): sequence-first output, T == B
def build_model(): return M()
def get_batch():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 10, (6, 6), generator=g)
    return ids, torch.randint(0, 5, (6, 6), generator=g).t()
"""


def test_sequence_first_output_with_t_equal_b_passes(tmp_path):
    e = entry(_target(tmp_path, "seqfirst", SEQ_FIRST_OUT), CHECK)
    assert e["status"] == "pass", e["summary"]
    assert e["metrics"]["batch_axis"] == 1


ONE_HOT = """
class M(nn.Module):
    def __init__(self, mix):
        super().__init__()
        self.mix = mix; self.fc = nn.Linear(10, 4)
    def forward(self, ids):                           # ids: (B,) ints, no nn.Embedding
        h = self.fc(F.one_hot(ids, 10).float())       # (B, 4)
        return h.softmax(0) if self.mix else h        # softmax over the batch when mix
def build_model(): return M({mix})
def get_batch():
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 10, (12,), generator=g), torch.randint(0, 4, (12,), generator=g)
"""


@pytest.mark.parametrize("mix, status", [(False, "pass"), (True, "fail")])
def test_forward_probe_without_gradient_path(tmp_path, mix, status):
    e = entry(_target(tmp_path, f"onehot{mix}", ONE_HOT.replace("{mix}", str(mix))), CHECK)
    assert e["status"] == status, e["summary"]
    assert e["metrics"]["method"] == "forward"


ZERO_HEAD = """
def build_model():
    m = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 3))
    nn.init.zeros_(m[2].weight)                  # zero-initialised head: no gradient reaches the input
    return m
class Centre(nn.Module):
    def forward(self, x): return x - {scale} * x.mean(0)
def get_batch():
    g = torch.Generator().manual_seed(0)
    return torch.randn(16, 8, generator=g), torch.randint(0, 3, (16,), generator=g)
"""


def test_zero_initialised_head_is_still_checked(tmp_path):
    e = entry(_target(tmp_path, "zerohead", ZERO_HEAD.replace("{scale}", "0")), CHECK)
    assert e["status"] == "pass", e["summary"]
    assert e["metrics"]["method"] == "gradient"


DICT_AND_FLAT = """
class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(20, 8); self.proj = nn.Linear(3, 8); self.head = nn.Linear(8, 20)
    def forward(self, ids, feats):                         # ids: (B, T), feats: (B, T, 3)
        h = self.emb(ids) + self.proj(feats)               # (B, T, 8)
        {mix}
        return self.head(h).reshape(-1, 20)                # (B*T, 20): flattened
def build_model(): return M()
def get_batch():
    g = torch.Generator().manual_seed(0)
    return {"ids": torch.randint(0, 20, (4, 5), generator=g), "feats": torch.randn(4, 5, 3, generator=g)}, \\
        torch.randint(0, 20, (4, 5), generator=g)
"""


@pytest.mark.parametrize("mix, status", [("", "pass"), ("h = h + h.flip(0)", "fail")])
def test_dict_inputs_and_flattened_prediction(tmp_path, mix, status):
    e = entry(_target(tmp_path, f"dictflat{bool(mix)}", DICT_AND_FLAT.replace("{mix}", mix)), CHECK)
    assert e["status"] == status, e["summary"]
    assert set(e["metrics"]["taps"]) == {"inputs['feats']", "embedding 'emb'"}


def test_single_example_batch_skips(tmp_path):
    body = """
    def build_model(): return nn.Linear(4, 2)
    def get_batch(): return torch.randn(1, 4), torch.tensor([1])
    """
    e = entry(_target(tmp_path, "one", body), CHECK)
    assert e["status"] == "skip" and "one example" in e["summary"]


def test_user_batch_untouched():
    """The check works on clones: the batch the target returns is not modified."""
    from mldebug.context import Context
    from mldebug.registry import load_all
    from mldebug.target import load_target
    from conftest import zoo
    ctx = Context(load_target(zoo("lstm_lm")))
    ctx.preflight()
    before = ctx.inputs.clone()
    load_all()["batch-independence"].fn(ctx)
    assert ctx.inputs.equal(before) and not ctx.inputs.requires_grad
