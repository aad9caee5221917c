"""Run the doctor on a wrapped model in a fresh process, print one JSON line per scenario.

    python tests/dist_helpers/doctor_wrapped.py ddp+fsdp2|accelerate TMPDIR

A one-rank gloo process group (file store in TMPDIR) lets DistributedDataParallel and fully_shard
be built on CPU. The process ends with os._exit after flushing: with torch 2.13 + gloo a process
group torn down at interpreter exit can abort the process (SIGABRT) in a few % of runs, which
would make the test flaky for a reason that is not ours.
"""
import copy
import importlib.util
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(ROOT, "tests", "zoo"))

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

from mldebug import doctor  # noqa: E402

CHECKS = ["init-loss", "grad-flow", "batch-independence"]  # batch-independence fails: the planted bug


def zoo_module(name):
    spec = importlib.util.spec_from_file_location("_w_" + name, os.path.join(ROOT, "tests", "zoo", name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def summary(report):
    return {"status": {c["id"]: c["status"] for c in report["checks"]},
            "init_loss": report.check("init-loss")["metrics"].get("measured"),
            "unwrapped_from": report.get("unwrapped_from")}


def run(model, mod, **kw):
    torch.manual_seed(0)
    return summary(doctor(model=model, batch=mod.get_batch(), loss_fn=mod.loss_fn, checks=CHECKS, **kw))


def main():
    scenario, tmp = sys.argv[1], sys.argv[2]
    out = {"scenario": scenario}
    if "ddp" in scenario:
        dist.init_process_group("gloo", init_method=f"file://{tmp}/store", rank=0, world_size=1)
    mod = zoo_module("bug_c_view_mixes_batch")
    torch.manual_seed(0)
    plain = mod.build_model()
    out["plain"] = run(copy.deepcopy(plain), mod)
    if "ddp" in scenario:
        from torch.nn.parallel import DistributedDataParallel as DDP
        wrapped = DDP(copy.deepcopy(plain))
        out["ddp"] = run(wrapped, mod)
        # a target whose build_model returns the DDP model
        out["ddp_target"] = summary(doctor(build_model=lambda: DDP(copy.deepcopy(plain)), get_batch=mod.get_batch,
                                       loss_fn=mod.loss_fn, checks=CHECKS))
    if "fsdp2" in scenario:
        from torch.distributed.fsdp import fully_shard
        wrapped = copy.deepcopy(plain)
        fully_shard(wrapped.gru)
        fully_shard(wrapped)
        out["fsdp2"] = run(wrapped, mod)
        out["fsdp2_param_types"] = sorted({type(p).__name__ for p in wrapped.parameters()})
    if scenario == "accelerate":
        from accelerate import Accelerator
        acc = Accelerator(cpu=True, mixed_precision="bf16")
        wrapped = acc.prepare(copy.deepcopy(plain))
        out["autocast_forward"] = "_original_forward" in wrapped.__dict__
        out["accelerate"] = run(wrapped, mod)
        out["user_forward_kept"] = "_original_forward" in wrapped.__dict__
    print(json.dumps(out), flush=True)
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
