"""Wrapped and compiled models in the doctor and the API: DistributedDataParallel (.module),
torch.compile (_orig_mod), FSDP2 (fully_shard, full parameters gathered), Accelerate-prepared
models (the autocast forward dropped), SyncBatchNorm (a local batch norm in copies). Each must give
the findings of the plain model, and leave the caller's wrapper as it was.

torch.compile is tested with backend="eager": unwrapping means the checks never call the compiled
module, so the backend does not matter and no C compiler runs. DDP and FSDP2 need a process group:
they run in a subprocess with a one-rank gloo group (tests/dist_helpers/doctor_wrapped.py)."""
import copy
import json
import os
import subprocess
import sys

import pytest
import torch
import torch.nn as nn

from conftest import ROOT, zoo
from mldebug import doctor
from mldebug.target import TargetError, load_target
from mldebug.unwrap import LocalBatchNorm, plain_copy, unwrap

CHECKS = ["init-loss", "grad-flow", "batch-independence"]
HELPER = os.path.join(ROOT, "tests", "dist_helpers", "doctor_wrapped.py")


def statuses(report):
    return {c["id"]: c["status"] for c in report["checks"]}


def _view_bug():
    t = load_target(zoo("bug_c_view_mixes_batch"))
    torch.manual_seed(0)
    return t, t.build_model(), t.get_batch()


def test_compiled_model_gives_the_plain_models_findings():
    t, net, batch = _view_bug()
    compiled = torch.compile(copy.deepcopy(net), backend="eager")
    plain = doctor(model=net, batch=batch, loss_fn=t.loss_fn, checks=CHECKS)
    wrapped = doctor(model=compiled, batch=batch, loss_fn=t.loss_fn, checks=CHECKS)
    assert statuses(wrapped) == statuses(plain) and statuses(plain)["batch-independence"] == "fail"
    assert wrapped.check("init-loss")["metrics"]["measured"] == plain.check("init-loss")["metrics"]["measured"]
    assert wrapped["unwrapped_from"] == "torch.compile > Model" and "unwrapped_from" not in plain
    assert type(compiled).__name__ == "OptimizedModule"  # the caller's wrapper is left as it was


def test_target_whose_build_model_returns_a_compiled_model(tmp_path):
    target = tmp_path / "compiled_target.py"
    target.write_text(
        "import sys, torch\n"
        f"sys.path.insert(0, {os.path.dirname(zoo('x'))!r})\n"
        "from bug_c_view_mixes_batch import Model, get_batch, loss_fn\n"
        "def build_model():\n"
        "    return torch.compile(Model(), backend='eager')\n")
    r = doctor(str(target), checks=CHECKS)
    assert statuses(r)["batch-independence"] == "fail", r.problems()
    assert r["unwrapped_from"] == "torch.compile > Model"


def test_nested_wrappers_and_inplace_compile_are_taken_off():
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    outer = torch.compile(nn.DataParallel(net), backend="eager")
    inner, chain = unwrap(outer)
    assert inner is net and chain == ["torch.compile", "DataParallel"]
    net.compile(backend="eager")  # nn.Module.compile: in place
    cp, chain = plain_copy(net)
    assert chain == [] and cp._compiled_call_impl is None and net._compiled_call_impl is not None


def test_syncbatchnorm_becomes_a_local_batch_norm_in_copies():
    torch.manual_seed(0)
    bn = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
    sync = nn.SyncBatchNorm.convert_sync_batchnorm(copy.deepcopy(bn))
    cp, chain = plain_copy(sync)
    assert isinstance(cp[1], LocalBatchNorm) and isinstance(sync[1], nn.SyncBatchNorm)
    assert chain and "SyncBatchNorm" in chain[-1]
    x = torch.randn(8, 3, 6, 6)
    assert torch.allclose(cp(x), bn(x), atol=1e-6)  # train mode: the same batch statistics
    assert torch.equal(cp[1].running_mean, bn[1].running_mean)


def test_model_that_cannot_be_copied_is_one_line():
    class Bad(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 2)

        def __deepcopy__(self, memo):
            raise RuntimeError("no copies")
    with pytest.raises(TargetError, match="could not be deep-copied"):
        doctor(model=Bad(), batch=(torch.randn(4, 2), torch.zeros(4, dtype=torch.long)),
               loss_fn=nn.functional.cross_entropy, checks=["init-loss"])


def _helper(scenario, tmp_path, env=None):
    p = subprocess.run([sys.executable, HELPER, scenario, str(tmp_path)], capture_output=True, text=True,
                       timeout=600, cwd=ROOT, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_ddp_and_fsdp2_models_give_the_plain_models_findings(tmp_path):
    pytest.importorskip("torch.distributed")
    if not torch.distributed.is_available():
        pytest.skip("torch.distributed is not available in this build")
    out = _helper("ddp+fsdp2", tmp_path)
    plain = out["plain"]
    assert plain["status"]["batch-independence"] == "fail"
    for key, chain in (("ddp", "DistributedDataParallel > Model"), ("ddp_target", "DistributedDataParallel > Model"),
                       ("fsdp2", "fully_shard > Model")):
        assert out[key]["status"] == plain["status"], (key, out[key])
        assert out[key]["init_loss"] == pytest.approx(plain["init_loss"], rel=1e-6), key
        assert out[key]["unwrapped_from"] == chain
    assert out["fsdp2_param_types"] == ["DTensor"]  # sharded in the caller's model, gathered in the copies


def test_accelerate_prepared_model_gives_the_plain_models_findings(tmp_path):
    pytest.importorskip("accelerate")
    out = _helper("accelerate", tmp_path)
    assert out["autocast_forward"] and out["user_forward_kept"]  # bf16 autocast forward; the caller's stays
    assert out["accelerate"]["status"] == out["plain"]["status"]
    assert out["accelerate"]["init_loss"] == pytest.approx(out["plain"]["init_loss"], rel=1e-6)
    assert out["accelerate"]["unwrapped_from"] == "accelerate forward wrapper > Model"
