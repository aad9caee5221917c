"""trace under torchrun: 2 CPU processes with the gloo backend, one report for both ranks.

tests/trace_projects/ddp/ holds a small DDP project (sensor windows, a Conv1d+BatchNorm net):
train.py is correct (DistributedSampler, set_epoch, DDP); each train_*.py plants one bug that
only several ranks can have. Every multi-process run is a few steps, so the whole file stays
within a couple of minutes on 2 cores. Skipped where torch.distributed is unavailable.
"""
import json
import os
import subprocess
import sys

import pytest
import torch

from conftest import ROOT

pytestmark = pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                                reason="torch.distributed with the gloo backend is not available in this build")

DDP_DIR = os.path.join(ROOT, "tests", "trace_projects", "ddp")
TRACE = os.path.join(ROOT, "scripts", "trace.py")
TIMEOUT = 300  # a hang (a rank left in a collective) fails the test instead of blocking CI


def launch(script, *script_args, steps=4, direct=False):
    """(exit status, report, stderr) of `trace.py --nproc-per-node 2` (or torchrun running trace.py)."""
    path = os.path.join(DDP_DIR, script)
    if direct:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", TRACE,
               "--steps", str(steps), "--json", "--", path, *script_args]
    else:
        cmd = [sys.executable, TRACE, "--nproc-per-node", "2", "--steps", str(steps), "--json", "--", path,
               *script_args]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, cwd=ROOT, env=env)
    try:
        report = json.loads(p.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"no JSON report (exit {p.returncode}): {p.stdout[-1000:]}\n{p.stderr[-3000:]}")
    return p.returncode, report, p.stderr


def by_id(report):
    return {c["id"]: c for c in report["checks"]}


def test_clean_ddp_over_two_epochs_passes():
    code, r, err = launch("train.py", steps=8)
    c = by_id(r)
    assert code == 0 and r["status"] != "fail", [x for x in r["checks"] if x["status"] == "fail"]
    assert r["world_size"] == 2 and [x["rank"] for x in r["ranks"]] == [0, 1]
    assert all(x["steps"] == 8 and x["ended"].startswith("stopped") for x in r["ranks"])
    assert r["model"].startswith("DistributedDataParallel > SensorNet")
    assert c["rank-data"]["status"] == "pass" and c["rank-data"]["metrics"]["same_step_match"] == 0
    assert "epoch advanced" in c["rank-data"]["summary"]
    assert c["rank-sync"]["status"] == "pass" and "bitwise equal" in c["rank-sync"]["summary"]
    for cid in ("train-mode", "grad-accumulation", "lr-trace", "param-coverage", "loss-trace"):
        assert c[cid]["status"] == "pass" and "on all 2 ranks" in c[cid]["summary"], c[cid]
    assert "step 2 loss" in err  # the script's own output, on stderr


def test_no_distributed_sampler_fails_rank_data_direct_torchrun():
    # `torchrun ... scripts/trace.py -- SCRIPT`: rank 0 gathers the records and prints the report
    code, r, _ = launch("train_no_sampler.py", direct=True)
    c = by_id(r)["rank-data"]
    assert code != 0 and c["status"] == "fail", c
    assert c["metrics"]["same_step_match"] == 1.0 and c["metrics"]["examples"] == 32
    assert "DistributedSampler" in c["summary"] and by_id(r)["rank-sync"]["status"] == "pass"


def test_set_epoch_never_called_fails_rank_data():
    code, r, _ = launch("train_no_set_epoch.py", steps=8)  # 4 steps per epoch: the second epoch replays the first
    c = by_id(r)["rank-data"]
    assert code == 1 and c["status"] == "fail" and "set_epoch" in c["summary"], c
    rep = c["metrics"]["replay"]
    assert rep["stuck"] and rep["step"] == 5 and rep["epoch"] == 0 and rep["share"] == 1.0
    assert c["metrics"]["same_step_match"] == 0  # the shards themselves are disjoint


def test_gradients_never_averaged_fails_rank_sync():
    code, r, _ = launch("train_no_allreduce.py")
    c = by_id(r)["rank-sync"]
    assert code == 1 and c["status"] == "fail", c
    assert c["metrics"]["first_divergent_step"] == 1 and c["metrics"]["differ_after"] == 5
    assert c["metrics"]["max_divergence"] > 1e-3 and "not averaged" in c["summary"]
    assert by_id(r)["rank-data"]["status"] == "pass"


def test_per_rank_init_without_broadcast_fails_rank_sync():
    code, r, _ = launch("train_rank_init.py")
    c = by_id(r)["rank-sync"]
    assert code == 1 and c["status"] == "fail" and "before the first step" in c["summary"], c
    assert c["metrics"]["differ_before_step1"] == 3 and "broadcast" in c["summary"]  # BatchNorm starts at 1, 0 everywhere


def test_clean_fsdp2_passes_and_shards_are_not_replicas():
    code, r, _ = launch("train_fsdp.py")
    c = by_id(r)
    assert code == 0 and r["status"] != "fail", [x for x in r["checks"] if x["status"] == "fail"]
    assert r["model"].startswith("fully_shard > SensorNet")
    assert c["rank-sync"]["status"] == "pass" and c["rank-sync"]["metrics"]["sharded_tensors"] == 5
    assert c["init-loss"]["status"] == "pass" and c["param-coverage"]["status"] == "pass"  # on gathered / local shards


def test_rank_in_eval_mode_and_rank_with_other_lr_are_reported_per_rank():
    code, r, _ = launch("train.py", "--eval-rank", "1", "--lr-rank", "1")
    c = by_id(r)
    tm = c["train-mode"]
    assert tm["status"] == "fail" and tm["summary"].startswith("rank 1:") and "rank 0: pass" in tm["summary"], tm
    assert tm["metrics"]["per_rank"]["0"]["status"] == "pass"
    lr = c["lr-trace"]
    assert lr["status"] == "warn" and "differs across ranks" in lr["summary"] and lr["metrics"]["lr_differs"]["step"] == 1
    sync = c["rank-sync"]
    assert sync["status"] == "fail" and "different LRs" in sync["summary"] and sync["metrics"]["first_divergent_step"] == 1


def test_a_rank_that_raises_is_named_with_its_file_and_line():
    code, r, _ = launch("train.py", "--crash-rank", "1", "--crash-step", "3", steps=6)
    assert "rank 1: ValueError: corrupt sample in shard 1 (at common.py:" in r["script_error"], r["script_error"]
    rows = {x["rank"]: x for x in r["ranks"]}
    assert rows[1]["steps"] == 2 and rows[1]["ended"] == "raised"
    assert rows[0]["steps"] <= 3  # rank 0 stopped too (its all-reduce lost its peer): nobody hangs
