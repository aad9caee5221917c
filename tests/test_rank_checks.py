"""rank-data and rank-sync on hand-made rank records (no processes): the decisions at their edges.

The 2-process runs in test_trace_dist.py cover the planted bugs end to end; these cover the cases
that would cost a false alarm: data that repeats itself, tensor-parallel ranks that share their
batch, FSDP shards, ranks holding different models, and differences at rounding level."""
import pytest
import torch

from mldebug.launch import RankView
from mldebug.live import rank_data, rank_sync
from mldebug.ranks import example_hashes, param_digest


def record(rank, hashes, passes=None, digest=None, final=None, samples=None, chain=(), steps=None, lrs=None):
    n = len(hashes)
    loaders = {0: {"role": "train", "length": 8, "batch_size": 8, "sampler": "DistributedSampler", "where": "t",
                   "epochs": [{"start_step": 0, "batches": n}]}}
    return {"rank": rank, "chain": list(chain), "lrs": lrs or [[0.1]] * n,
            "report": {"steps_traced": steps if steps is not None else n},
            "log": {"step_hashes": hashes, "passes": passes or [
                {"loader": 0, "start_step": 0, "sampler": "DistributedSampler", "distributed": True, "epoch": 0,
                 "shuffle": True, "num_replicas": 2, "dataset_len": 64, "length": 4, "where": "t"}],
                    "loaders": loaders, "init_digest": digest, "final_digest": final if final is not None else digest,
                    "step_samples": samples or [], "sync_names": []}}


def steps_of(start, n=4, b=8):
    return [list(range(start + s * b, start + (s + 1) * b)) for s in range(n)]


def run(check, *records):
    return check.check(RankView({r["rank"]: r for r in records}, len(records)))


def test_example_hashes_are_per_example_and_batch_independent():
    x = torch.randn(6, 3, 5)
    h = example_hashes((x,), {})
    assert len(h) == 6 and len(set(h)) == 6
    assert example_hashes((x[[2, 0]],), {}) == [h[2], h[0]]  # the same example hashes alike in any batch
    big = torch.randn(2, 10_000)
    assert example_hashes((big,), {}) != example_hashes((big + 1,), {})


def test_disjoint_shards_pass_and_identical_batches_fail():
    assert run(rank_data, record(0, steps_of(0)), record(1, steps_of(1000))).status == "pass"
    r = run(rank_data, record(0, steps_of(0)), record(1, steps_of(0)))
    assert r.status == "fail" and r.metrics["same_step_match"] == 1.0


def test_repetitive_data_is_not_judged():
    same = [[7] * 8 for _ in range(4)]  # every example equal: a match says nothing about the sampler
    r = run(rank_data, record(0, same), record(1, same))
    assert r.status == "pass" and "no overlap judged" in r.summary


def test_tensor_parallel_ranks_sharing_a_batch_only_warn():
    digest = {"w": {"hash": "a", "sample": [1.0], "sharded": True, "shape": [4, 4], "numel": 16, "norm": 1.0}}
    r = run(rank_data, record(0, steps_of(0), digest=digest), record(1, steps_of(0), digest=digest))
    assert r.status == "warn" and "tensor-parallel" in r.summary
    r = run(rank_data, record(0, steps_of(0), digest=digest, chain=["fully_shard"]),
            record(1, steps_of(0), digest=digest, chain=["fully_shard"]))
    assert r.status == "fail"  # FSDP ranks must read different data


def _digest(model):
    return param_digest(model)


def test_rank_sync_pass_fail_and_rounding_level_warn():
    torch.manual_seed(0)
    m = torch.nn.Linear(64, 64)
    d0 = _digest(m)
    assert run(rank_sync, record(0, steps_of(0), digest=d0), record(1, steps_of(8), digest=d0)).status == "pass"
    with torch.no_grad():
        m.weight[0, 0] += 1e-7 * float(m.weight.abs().max())  # one value, at rounding level
    tiny = _digest(m)
    r = run(rank_sync, record(0, steps_of(0), digest=d0), record(1, steps_of(8), digest=d0, final=tiny))
    assert r.status == "warn" and r.metrics["differ_after"] == 1
    with torch.no_grad():
        m.weight.mul_(1.01)
    r = run(rank_sync, record(0, steps_of(0), digest=d0), record(1, steps_of(8), digest=d0, final=_digest(m)))
    assert r.status == "fail" and r.metrics["max_divergence"] == pytest.approx(0.01, rel=0.05)


def test_rank_sync_skips_different_models_and_passes_fsdp_shards():
    a = _digest(torch.nn.Linear(4, 4))
    b = _digest(torch.nn.Linear(4, 8))
    with pytest.raises(rank_sync.Skip):
        run(rank_sync, record(0, steps_of(0), digest=a), record(1, steps_of(8), digest=b))
    sharded = {k: dict(v, sharded=True) for k, v in a.items()}
    other = {k: dict(v, sharded=True, hash="x") for k, v in a.items()}
    r = run(rank_sync, record(0, steps_of(0), digest=sharded), record(1, steps_of(8), digest=other))
    assert r.status == "pass" and r.metrics["sharded_tensors"] == 2
