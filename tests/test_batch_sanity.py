"""batch-sanity: planted data bugs it must flag, clean (and tricky) batches it must pass."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from conftest import EXAMPLES, zoo
from util import cli, entry
from mldebug import registry
from mldebug.api import doctor, target_from_objects
from mldebug.context import Context
from mldebug.target import load_target

CLEAN = ["mlp_classifier", "cnn_bn", "regression", "multilabel", "imbalanced_prior", "dict_input",
         "zero_init_head", "logsoftmax_nll", "lstm_lm", "transformer_lm", "bidir_encoder", "autoencoder",
         "multitask", "tied_lm", "gru_classifier"]


@pytest.mark.parametrize("target", CLEAN)
def test_clean_targets_pass(target):
    e = entry(target, "batch-sanity")
    assert e["status"] == "pass", e["summary"]


@pytest.mark.parametrize("target, status, needle", [
    ("bug_a_mask_255", "fail", "outside [0, 1]"),
    ("bug_a_all_ignored", "fail", "ignore_index"),
    ("bug_a_lm_unshifted", "fail", "not shifted"),
    ("bug_a_raw_pixels", "warn", "far from normalised"),
])
def test_planted_bugs_flagged(target, status, needle):
    e = entry(target, "batch-sanity")
    assert e["status"] == status, e["summary"]
    assert needle in e["summary"]


def _direct(name_or_target):
    """Run batch-sanity on a Context prepared like preflight minus the loss (which may crash)
    and without the runner's mutation guard (which compares batches with torch.equal: NaN != NaN)."""
    t = load_target(zoo(name_or_target)) if isinstance(name_or_target, str) else name_or_target
    ctx = Context(t)
    ctx._pristine = ctx.call("build_model()", t.build_model)
    ctx._batch = ctx._validate_batch(ctx.call("get_batch()", t.get_batch))
    return registry.load_all()["batch-sanity"].fn(ctx)


def test_labels_off_by_one_found_without_the_loss():
    # F.cross_entropy raises on label 10; the doctor still runs batch-sanity, which explains
    # it (exit 1, the loss's exception on stderr) ...
    r = cli("doctor.py", zoo("bug_a_labels_off_by_one"), "--checks", "batch-sanity")
    assert r.returncode == 1 and "out of bounds" in r.stderr and "1-based" in r.stdout
    # ... and alone it reads C=10 off the prediction and names the range
    res = _direct("bug_a_labels_off_by_one")
    assert res.status == "fail" and "1..10" in res.summary and "1-based" in res.summary


def test_nan_input_fails():
    res = _direct("bug_a_nan_input")
    assert res.status == "fail" and "NaN" in res.summary and "2 of 64" in res.summary


def test_masked_nan_targets_only_warn():
    x, y = torch.randn(32, 4), torch.randn(32)
    y[::8] = float("nan")
    t = target_from_objects(build_model=lambda: nn.Linear(4, 1), batch=(x, y),
                            loss_fn=lambda o, t: F.mse_loss(o.squeeze(-1)[~t.isnan()], t[~t.isnan()]))
    res = _direct(t)
    assert res.status == "warn" and "masked" in res.summary


def test_model_that_rescales_raw_pixels_passes():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(48, 3)

        def forward(self, x):                      # uint8-style pixels scaled inside the model
            return self.fc((x / 255.0 - 0.5).flatten(1))
    x, y = torch.randint(0, 256, (32, 3, 4, 4)).float(), torch.randint(0, 3, (32,))
    e = doctor(build_model=Net, batch=(x, y), loss_fn=F.cross_entropy, checks=["batch-sanity"])["checks"][0]
    assert e["status"] == "pass", e["summary"]


def test_single_class_batch_and_constant_feature_warn():
    x, y = torch.randn(64, 6), torch.full((64,), 2)
    x[:, 3] = 7.5
    res = _direct(target_from_objects(build_model=lambda: nn.Linear(6, 4), batch=(x, y), loss_fn=F.cross_entropy))
    assert res.status == "warn" and "same value" in res.summary
    assert any("all 64 labels in the batch are class 2" in d for d in res.details)


def test_heavy_imbalance_warns_but_90_10_does_not():
    x = torch.randn(200, 4)
    y = torch.zeros(200, dtype=torch.long)
    y[:4] = 1                                             # 98:2
    e = doctor(build_model=lambda: nn.Linear(4, 2), batch=(x, y), loss_fn=F.cross_entropy,
               checks=["batch-sanity"])["checks"][0]
    assert e["status"] == "warn" and "imbalance" in e["summary"]
    assert entry("imbalanced_prior", "batch-sanity")["metrics"]["class_fractions"] == [0.9, 0.1]


def test_attention_mask_and_token_ids_are_not_judged_for_scale():
    ids = torch.randint(0, 1000, (32, 12))
    mask = torch.ones(32, 12)
    y = torch.randint(0, 2, (32,))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(1000, 8)
            self.fc = nn.Linear(8, 2)

        def forward(self, ids, mask):
            return self.fc((self.emb(ids) * mask[..., None]).mean(1))
    e = doctor(build_model=Net, batch=((ids, mask), y), loss_fn=F.cross_entropy,
               checks=["batch-sanity"])["checks"][0]
    assert e["status"] == "pass", e["summary"]
    assert e["metrics"]["inputs"]["inputs[0]"]["dtype"] == "int64"


def _padded_lm(invert: bool):
    """A GRU language model over right-padded sequences (pad id 1); the labels of padding are
    ignored, or, with `invert`, the labels of every real token are."""
    pad, vocab = 1, 30
    g = torch.Generator().manual_seed(4)
    lengths = torch.randint(6, 13, (12,), generator=g)
    ids = torch.randint(2, vocab, (12, 13), generator=g)
    real = torch.arange(13).unsqueeze(0) < lengths.unsqueeze(1)
    ids = ids.masked_fill(~real, pad)
    x, y, keep = ids[:, :-1], ids[:, 1:].clone(), real[:, 1:]
    y = y.masked_fill(keep if invert else ~keep, -100)

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(vocab, 16, padding_idx=pad)
            self.rnn = nn.GRU(16, 16, batch_first=True)
            self.out = nn.Linear(16, vocab)

        def forward(self, t):
            return self.out(self.rnn(self.emb(t))[0])

    return target_from_objects(build_model=LM, batch=(x, y),
                               loss_fn=lambda o, t: F.cross_entropy(o.transpose(1, 2), t, ignore_index=-100))


def test_inverted_padding_mask_fails_naming_the_padding_id():
    e = doctor(_padded_lm(invert=True), checks=["batch-sanity"])["checks"][0]
    assert e["status"] == "fail" and "padding_idx of emb" in e["summary"] and "inverted" in e["summary"], e["summary"]


def test_padding_ignored_the_right_way_passes():
    e = doctor(_padded_lm(invert=False), checks=["batch-sanity"])["checks"][0]
    assert e["status"] == "pass", e["summary"]
