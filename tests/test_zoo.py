"""The whole doctor over the whole zoo: each planted bug is flagged by the check meant to
catch it, and no clean target gets a `fail` from any check.

Clean targets are every tests/zoo/*.py not named bug_*; each bug target is listed here
with the check that must flag it (other checks may flag it too)."""
import glob
import os

import pytest

from conftest import ZOO
from util import run

# bug target -> (check id, status it must get)
EXPECT = {
    # data and loss wiring
    "bug_a_all_ignored": ("batch-sanity", "fail"),
    "bug_a_labels_off_by_one": ("batch-sanity", "fail"),
    "bug_a_lm_unshifted": ("batch-sanity", "fail"),
    "bug_a_mask_255": ("batch-sanity", "fail"),
    "bug_a_nan_input": ("batch-sanity", "fail"),
    "bug_a_raw_pixels": ("init-loss", "fail"),
    "bug_a_mse_broadcast": ("loss-input", "fail"),
    "bug_a_nll_on_logits": ("loss-input", "fail"),
    "bug_a_nll_on_softmax": ("loss-input", "fail"),
    "bug_a_sigmoid_bcewithlogits": ("loss-input", "fail"),
    "bug_a_softmax_ce": ("loss-input", "fail"),
    "bug_a_constant_init": ("init-symmetry", "fail"),
    "bug_a_constant_lstm": ("init-symmetry", "fail"),
    "bug_a_zero_init_relu": ("init-symmetry", "fail"),
    # gradients, activations, non-finite values
    "bug_b_unused_layer": ("grad-flow", "fail"),
    "bug_b_detached_branch": ("grad-flow", "fail"),
    "bug_b_frozen_middle": ("grad-flow", "fail"),
    "bug_b_vanishing_sigmoid": ("grad-flow", "fail"),
    "bug_b_tanh_saturated": ("activations", "fail"),
    "bug_b_dead_relu": ("activations", "fail"),
    "bug_b_log_zero": ("nan-source", "fail"),
    "bug_b_zero_std_div": ("nan-source", "fail"),
    "bug_b_sqrt_zero_backward": ("nan-source", "fail"),
    "bug_b_exp_overflow": ("nan-source", "fail"),
    # mixing across the batch or the future, eval-mode randomness
    "bug_c_batch_mean_norm": ("batch-independence", "fail"),
    "bug_c_softmax_over_batch": ("batch-independence", "fail"),
    "bug_c_view_mixes_batch": ("batch-independence", "fail"),
    "bug_c_mask_off_by_one": ("causality", "fail"),
    "bug_c_no_causal_mask": ("causality", "fail"),
    "bug_c_bidirectional_lm": ("causality", "fail"),
    "bug_c_same_padding_conv": ("causality", "fail"),
    "bug_c_functional_dropout": ("eval-mode", "fail"),
    "bug_c_noise_layer": ("eval-mode", "fail"),
    # inputs ignored, schedules, seeds
    "bug_d_ignores_input": ("input-dependence", "fail"),
    "bug_d_input_overwritten": ("input-dependence", "fail"),
    "bug_d_wrong_dict_key": ("input-dependence", "fail"),
    "bug_d_lambda_zero": ("lr-schedule", "fail"),
    "bug_d_steplr_per_batch": ("lr-schedule", "fail"),
    "bug_d_cosine_tmax_epochs": ("lr-schedule", "fail"),
    "bug_d_lr_zero_no_sched": ("lr-schedule", "fail"),
    "bug_d_unseeded_data": ("reproducibility", "fail"),
    "bug_d_unseeded_init": ("reproducibility", "fail"),
    # init, optimizer
    "bug_huge_final_init": ("init-loss", "fail"),
    "bug_optimizer_reads_params_twice": ("update-ratio", "fail"),
    "bug_tanh_squashed_logits": ("overfit-batch", "fail"),
    "bug_python_random_crop": ("reproducibility", "fail"),
    "bug_sign_flip": ("init-loss", "fail"),
    "bug_lr_zero": ("update-ratio", "fail"),
    "bug_lr_ten": ("update-ratio", "fail"),
    "bug_head_only_optimizer": ("update-ratio", "fail"),
    "bug_huge_weight_decay": ("update-ratio", "fail"),
    "bug_unused_layer": ("update-ratio", "fail"),
}


def _names(pattern):
    return sorted(os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(ZOO, pattern)))


CLEAN = [n for n in _names("*.py") if not n.startswith(("bug_", "_"))]
BUGS = _names("bug_*.py")


def test_every_bug_target_has_an_expectation():
    assert sorted(EXPECT) == BUGS


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_bug_is_flagged_by_its_check(name):
    check_id, status = EXPECT[name]
    report = run(name)
    by_id = {c["id"]: c for c in report["checks"]}
    assert by_id[check_id]["status"] == status, f"{check_id}: {by_id[check_id]['summary']}"
    assert report["status"] == status  # the top-level verdict carries it


@pytest.mark.parametrize("name", CLEAN)
def test_clean_target_has_no_fail(name):
    report = run(name)
    bad = [f"{c['id']}: {c['status']}: {c['summary']}" for c in report["checks"] if c["status"] in ("fail", "error")]
    assert not bad, bad
