"""Bad targets: each gives exit 2 with one actionable line, or the affected checks' error/fail.

The messages asserted here are the ones tabled in README.md#troubleshooting.
"""
import json
import os

import pytest

from conftest import ROOT
from util import cli

from mldebug.api import doctor
from mldebug.target import TargetError

BAD = os.path.join(ROOT, "tests", "bad_targets")


def bad(name):
    return os.path.join(BAD, name + ".py")


# fixture -> words the one-line error must contain
EXIT2 = [
    ("missing_loss", ["defines no loss_fn()", "def loss_fn(outputs, targets)"]),
    ("build_raises", ["build_model() raised KeyError", "(at build_raises.py:7)"]),
    ("forward_raises", ["model forward raised RuntimeError", "(at forward_raises.py:13)"]),
    ("nonscalar_loss", ["loss_fn returned a tensor of shape (32,)", "scalar"]),
    ("loss_not_tensor", ["loss_fn returned float, not a scalar Tensor"]),
    ("batch_not_pair", ["get_batch() must return (inputs, targets), got a Tensor"]),
    ("batch_triple", ["get_batch() must return (inputs, targets), got a tuple of length 3"]),
    ("batch_dims_disagree", ["disagree on the batch size", "inputs has 32, targets has 16"]),
    ("no_params", ["with no parameters", "nothing to train"]),
    ("all_frozen", ["requires_grad=False", "nothing to train"]),
    ("not_a_module", ["build_model() returned function, not a torch.nn.Module"]),
    ("import_error", ["could not import target", "No module named 'not_installed_anywhere'",
                      "(at import_error.py:2)"]),
    ("bad_causal_dim", ["CAUSAL_DIM must be an int, got '1'"]),
]


@pytest.mark.parametrize("name, needles", EXIT2, ids=[n for n, _ in EXIT2])
def test_unusable_target_raises_one_line(name, needles):
    with pytest.raises(TargetError) as info:
        doctor(bad(name), checks=["init-loss"])
    msg = str(info.value)
    assert "\n" not in msg
    for n in needles:
        assert n in msg, msg


@pytest.mark.parametrize("name", ["missing_loss", "build_raises", "nonscalar_loss", "batch_dims_disagree"])
def test_cli_exit_2_prints_one_line_on_stderr(name):
    r = cli("doctor.py", bad(name))
    assert r.returncode == 2, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip() and not ln.startswith("[ml-debug]")]
    assert len(lines) == 1 and lines[0].startswith("ml-debug: error: "), r.stderr
    assert r.stdout == ""


def test_cli_exit_2_with_json_prints_one_json_document():
    r = cli("doctor.py", bad("no_params"), "--json")
    assert r.returncode == 2
    doc = json.loads(r.stdout)
    assert doc["status"] == "error" and "no parameters" in doc["error"] and doc["checks"] == []


def test_syntax_error_names_file_and_line(tmp_path):
    p = tmp_path / "broken.py"
    p.write_text("import torch\n\ndef build_model(:\n    pass\n")
    with pytest.raises(TargetError, match=r"SyntaxError at broken.py:3"):
        doctor(str(p))


def test_missing_file_and_module():
    with pytest.raises(TargetError, match="target file not found"):
        doctor("no/such/target.py")
    with pytest.raises(TargetError, match="could not import target module no_such_module_xyz"):
        doctor("no_such_module_xyz")


def test_unknown_check_id_lists_known_ones():
    with pytest.raises(TargetError, match="unknown check id 'init-los'.*init-loss"):
        doctor(bad("_base"), checks=["init-los"])


def test_nan_loss_at_init_fails_init_loss_and_voids_training_checks():
    rep = doctor(bad("nan_loss"), checks=["init-loss", "update-ratio", "overfit-batch"])
    assert rep["status"] == "fail"
    assert rep.check("init-loss")["status"] == "fail"
    assert "nan" in rep.check("init-loss")["summary"] and "nan-source" in rep.check("init-loss")["summary"]
    for cid in ("update-ratio", "overfit-batch"):
        e = rep.check(cid)
        # a training check cannot judge anything from a NaN start: error naming the cause, not its own verdict
        assert e["status"] == "error" and "already nan at init" in e["summary"], e


def test_user_code_that_raises_inside_one_check_errors_that_check_only():
    rep = doctor(bad("loss_raises_later"), checks=["init-loss", "update-ratio", "overfit-batch"])
    e = rep.check("overfit-batch")
    assert e["status"] == "error"
    assert "loss_fn(outputs, targets) raised RuntimeError" in e["summary"]
    assert "(at loss_raises_later.py:9)" in e["summary"]
    assert rep.check("init-loss")["status"] == "pass" and rep.check("update-ratio")["status"] == "pass"


def test_api_objects_missing_names():
    import torch
    with pytest.raises(TargetError, match="pass batch= or get_batch="):
        doctor(model=torch.nn.Linear(2, 2))
    with pytest.raises(TargetError, match="must be a torch.nn.Module"):
        doctor(model="net", batch=(torch.zeros(2, 2), torch.zeros(2, 2)))
    with pytest.raises(TypeError, match="unknown argument 'modle'"):
        doctor(modle=torch.nn.Linear(2, 2))
    # no loss_fn and outputs without .loss: the one-line error says what to do
    with pytest.raises(TargetError, match="carry no .loss: pass loss_fn"):
        doctor(model=torch.nn.Linear(2, 2), batch=(torch.zeros(4, 2), torch.zeros(4, 2)), checks=["init-loss"])
