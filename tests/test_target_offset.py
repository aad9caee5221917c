"""target-offset: the effective target of each sequence position (read off the loss gradient)
against the inputs at offsets -1..+3. Planted bugs in tests/seq_targets/ must fail with the offset
named; clean twins (a collate that shifts, a model that shifts inside, a tagger, an MLM, an
autoencoder, multi-step forecasters) must not fail. One trace project (tests/trace_projects/seqlm)
where the collate shifts and the model shifts again."""
import os

import pytest

from conftest import ROOT
from util import entry

CHECK = "target-offset"
SEQ = os.path.join(ROOT, "tests", "seq_targets")


# seed=0: run this check alone (util.entry runs the whole doctor once per target without options)


def seq(name):
    return os.path.join(SEQ, name + ".py")


@pytest.mark.parametrize("name", ["clean_gru_lm_collate_shift", "clean_hf_internal_shift", "clean_transformer_lm",
                                  "clean_conv_lm_channel_first"])
def test_next_token_pipelines_pass_at_plus_one(name):
    e = entry(seq(name), CHECK, seed=0)
    assert e["status"] == "pass", e["summary"]
    m = e["metrics"]
    assert m["best_offset"] == 1 and m["match_rate"]["1"] == 1.0
    assert max(m["match_rate"][k] for k in ("-1", "0", "2", "3")) < 0.2
    assert m["valid_positions"] < 16 * 32    # padded / ignored positions are left out


def test_targets_shifted_twice_fail_at_plus_two():
    e = entry(seq("bug_hf_shifted_twice"), CHECK, seed=0)
    assert e["status"] == "fail", e["summary"]
    assert e["metrics"]["best_offset"] == 2 and e["metrics"]["match_rate"]["2"] == 1.0
    assert "shifted 2 steps" in e["summary"]


@pytest.mark.parametrize("name", ["bug_gru_lm_unshifted", "bug_conv_lm_unshifted"])
def test_unshifted_targets_fail_at_zero(name):
    e = entry(seq(name), CHECK, seed=0)
    assert e["status"] == "fail", e["summary"]
    m = e["metrics"]
    assert m["best_offset"] == 0 and m["match_rate"]["0"] == 1.0 and m["match_rate"]["1"] < 0.2
    assert m["causal_probe"] is True          # no CAUSAL_DIM: the forward probe found the GRU causal
    assert "current input token" in e["summary"]


def test_shuffled_labels_fail_as_not_aligned():
    e = entry(seq("bug_lm_labels_shuffled"), CHECK, seed=0)
    assert e["status"] == "fail", e["summary"]
    assert "not aligned with the inputs at any offset" in e["summary"]
    assert max(e["metrics"]["match_rate"].values()) < 0.3


def test_tagger_is_skipped():
    e = entry(seq("clean_bidir_tagger"), CHECK, seed=0)
    assert e["status"] == "skip" and "tagging" in e["summary"], e["summary"]


def test_masked_lm_does_not_fail():
    e = entry(seq("clean_mlm_encoder"), CHECK, seed=0)
    assert e["status"] == "pass", e["summary"]
    assert e["metrics"]["target_input_tv"] > 0.5    # targets are the hidden tokens, the inputs mostly [MASK]


@pytest.mark.parametrize("name, offset", [("clean_forecaster_next_step", 1), ("clean_forecaster_horizon3", 3)])
def test_forecasters_pass_at_their_horizon(name, offset):
    e = entry(seq(name), CHECK, seed=0)
    assert e["status"] == "pass", e["summary"]
    assert e["metrics"]["mode"] == "regression" and e["metrics"]["best_offset"] == offset
    assert e["metrics"]["match_rate"][str(offset)] == 1.0 and e["metrics"]["match_rate"]["0"] == 0.0


def test_unshifted_forecaster_fails():
    e = entry(seq("bug_forecaster_unshifted"), CHECK, seed=0)
    assert e["status"] == "fail", e["summary"]
    assert e["metrics"]["best_offset"] == 0 and e["metrics"]["match_rate"]["0"] == 1.0
    assert "same step" in e["summary"]


def test_sequence_autoencoder_reconstruction_passes():
    e = entry(seq("clean_seq_autoencoder"), CHECK, seed=0)
    assert e["status"] == "pass", e["summary"]
    assert e["metrics"]["best_offset"] == 0 and e["metrics"]["causal_probe"] is False


@pytest.mark.parametrize("target", ["mlp_classifier", "cnn_bn", "bidir_encoder"])
def test_non_sequence_models_skip(target):
    assert entry(target, CHECK)["status"] == "skip"


def test_trace_names_target_offset_when_collate_and_model_both_shift():
    from mldebug.trace import trace
    script = os.path.join(ROOT, "tests", "trace_projects", "seqlm", "train.py")
    bug = trace(script, [], steps=5)
    failing = {c["id"] for c in bug["checks"] if c["status"] == "fail"}
    assert failing == {"target-offset"}, [(c["id"], c["summary"]) for c in bug["checks"] if c["status"] == "fail"]
    e = next(c for c in bug["checks"] if c["id"] == CHECK)
    assert e["metrics"]["best_offset"] == 2
    clean = trace(script, ["--collate-shift", "0"], steps=5)
    assert not [c for c in clean["checks"] if c["status"] == "fail"]
    assert next(c for c in clean["checks"] if c["id"] == CHECK)["metrics"]["best_offset"] == 1
