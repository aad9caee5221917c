"""Real-code corpus (tests/real_projects/, issue 10): `trace` on faithful reproductions of public
training scripts. Clean runs: no fail, no warn, and something measured. Planted bugs: caught by
the check meant for them."""
import os

import pytest

from conftest import ROOT

from mldebug.trace import trace

HERE = os.path.join(ROOT, "tests", "real_projects")
STEPS = 6


def script(name):
    return os.path.join(HERE, name, "train.py")


def by_id(report):
    return {c["id"]: c for c in report["checks"]}


# project -> (script args, checks that must have run, i.e. not skip)
CLEAN = {
    "mingpt_closure": ([], {"grad-flow", "update-ratio", "eval-mode", "loss-input", "init-loss", "batch-sanity"}),
    "nanogpt_own_loss": ([], {"batch-sanity", "loss-input", "init-loss", "update-ratio"}),
    "bigram_zeros": (["--batch-size", "2"], {"init-symmetry", "update-ratio", "init-loss"}),
    "reinforce_policy": ([], {"eval-mode", "loss-trace", "param-coverage"}),
    "transformer_wordlm": ([], {"batch-independence", "loss-input", "init-loss", "update-ratio"}),
    "lstm_wordlm": ([], {"batch-independence", "loss-input", "init-loss", "grad-flow", "param-coverage"}),
    "dcgan": ([], {"batch-sanity", "init-loss", "loss-input", "activations", "update-ratio"}),
    "lbfgs_sine": (["--steps", "1", "--n", "12", "--length", "60"], {"init-loss", "grad-flow", "loss-trace"}),
}


@pytest.mark.parametrize("name", sorted(CLEAN))
def test_clean_project_no_fail_no_warn(name):
    args, must_run = CLEAN[name]
    r = trace(script(name), args, steps=1 if name == "lbfgs_sine" else STEPS)
    bad = [(c["id"], c["status"], c["summary"]) for c in r["checks"] if c["status"] in ("fail", "warn", "error")]
    assert not bad, bad
    assert r["status"] == "pass", r.get("error")
    ran = {c["id"] for c in r["checks"] if c["status"] != "skip"}
    assert must_run <= ran, must_run - ran


def test_closure_model_is_checked_in_place_and_left_as_it_was():
    r = trace(script("mingpt_closure"), [], steps=STEPS)
    assert any("in place" in n and "mlp.c_fc" in n for n in r["capture_notes"]), r["capture_notes"]
    assert r["loss_from"].startswith("F.cross_entropy") and "inside the model's forward" in r["loss_from"]


def test_policy_that_cannot_be_copied_is_checked_in_place():
    r = trace(script("reinforce_policy"), [], steps=STEPS)
    assert any("cannot be deep-copied" in n for n in r["capture_notes"]), r["capture_notes"]
    assert by_id(r)["eval-mode"]["status"] == "pass"


@pytest.mark.parametrize("name", ["mingpt_closure", "nanogpt_own_loss"])
def test_softmax_before_cross_entropy_inside_forward_is_caught(name):
    r = trace(script(name), ["--softmax-bug"], steps=STEPS)
    li = by_id(r)["loss-input"]
    assert li["status"] == "fail" and "probabilities" in li["summary"], li["summary"]


def test_sequence_first_transformer_batch_axis_and_causality():
    r = trace(script("transformer_wordlm"), [], steps=STEPS, causal_dim=0)
    assert any("sequence-first" in n and "batch axis 1" in n for n in r["capture_notes"]), r["capture_notes"]
    c = by_id(r)
    assert c["batch-independence"]["status"] == "pass", c["batch-independence"]["summary"]
    assert c["causality"]["status"] == "pass", c["causality"]["summary"]


def test_off_by_one_mask_in_sequence_first_transformer_is_caught():
    r = trace(script("transformer_wordlm"), ["--mask-bug"], steps=STEPS, causal_dim=0)
    c = by_id(r)["causality"]
    assert c["status"] == "fail" and "sees t+1" in c["summary"], c["summary"]
    assert by_id(r)["batch-independence"]["status"] == "pass"


def test_hand_updated_lstm_is_traced_as_steps_on_the_batch_axis():
    r = trace(script("lstm_wordlm"), [], steps=STEPS)
    assert r["steps_traced"] == STEPS
    notes = " ".join(r["capture_notes"])
    assert "updates its parameters by hand" in notes and "LR measured from the first update (20)" in notes
    assert "rnn (LSTM, batch_first=False)" in notes and "batch axis 1" in notes
    assert by_id(r)["update-ratio"]["status"] == "skip"


def test_gan_discriminator_step_judges_both_halves():
    r = trace(script("dcgan"), [], steps=STEPS)
    assert any("2 losses" in n and "targets all 1" in n and "targets all 0" in n for n in r["capture_notes"])
    c = by_id(r)
    assert c["batch-sanity"]["status"] == "pass", c["batch-sanity"]["summary"]
    assert c["init-loss"]["status"] == "pass", c["init-loss"]["summary"]


def test_vae_sampling_in_eval_is_a_warn_naming_the_call():
    r = trace(script("vae"), [], steps=STEPS)
    c = by_id(r)
    em = c["eval-mode"]
    assert em["status"] == "warn" and "torch.randn_like at train.py" in em["summary"] and "reparameterize" in em["summary"]
    assert [k for k, v in c.items() if v["status"] in ("fail", "warn", "error")] == ["eval-mode"]


@pytest.mark.parametrize("name", ["mingpt_closure", "reinforce_policy"])
def test_in_place_checks_leave_the_live_model_as_the_run_left_it(name):
    import torch
    from mldebug.trace import run_script
    from mldebug.trace_target import doctor_entries
    tracer, ended, error, _ = run_script(script(name), [], STEPS)
    model = tracer.capture["model"]
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    grads = {n: None if p.grad is None else p.grad.clone() for n, p in model.named_parameters()}
    modes = {n: (m.training, getattr(m, "p", None)) for n, m in model.named_modules()}
    entries, info = doctor_entries(tracer, script(name), None, 0, None)
    assert any("in place" in n for n in info["capture_notes"])
    assert any(e["status"] == "pass" for e in entries)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    for n, p in model.named_parameters():
        assert (grads[n] is None) == (p.grad is None) and (p.grad is None or torch.equal(grads[n], p.grad)), n
    assert modes == {n: (m.training, getattr(m, "p", None)) for n, m in model.named_modules()}
