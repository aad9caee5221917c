"""Sanity of the held-out corpus itself, independent of the doctor: every target imports, runs one
forward + loss, and (for CLEAN targets) its loss falls over a short training run with its own
optimizer and scheduler.

    python tests/heldout/validate.py                 # all targets
    python tests/heldout/validate.py clean_vae       # names containing a substring
"""
import glob
import importlib.util
import math
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def load(path):
    name = "_heldout_" + os.path.splitext(os.path.basename(path))[0]
    sys.path.insert(0, HERE)
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(HERE)
    return mod


def call_model(mod, model, inputs):
    if getattr(mod, "forward", None):
        return mod.forward(model, inputs)
    if isinstance(inputs, dict):
        return model(**inputs)
    if isinstance(inputs, (tuple, list)):
        return model(*inputs)
    return model(inputs)


def check(path, steps=40):
    torch.manual_seed(0)
    mod = load(path)
    model = mod.build_model()
    x, y = mod.get_batch()
    model.train()
    opt = mod.make_optimizer(model.parameters()) if getattr(mod, "make_optimizer", None) else \
        torch.optim.Adam(model.parameters(), lr=3e-4)
    sched = mod.make_scheduler(opt) if getattr(mod, "make_scheduler", None) else None
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = mod.loss_fn(call_model(mod, model, x), y)
        losses.append(float(loss))
        if not math.isfinite(losses[-1]):
            break
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
    return losses


def main():
    pats = sys.argv[1:]
    paths = sorted(glob.glob(os.path.join(HERE, "clean_*.py")) + glob.glob(os.path.join(HERE, "bug_*.py")))
    paths = [p for p in paths if not pats or any(s in os.path.basename(p) for s in pats)]
    bad = 0
    for p in paths:
        name = os.path.basename(p)[:-3]
        t0 = time.time()
        try:
            losses = check(p)
            first, last = losses[0], losses[-1]
            ok = math.isfinite(first) and math.isfinite(last) and last < first
            flag = "" if ok or name.startswith("bug_") else "  <-- CLEAN TARGET DID NOT LEARN"
            bad += bool(flag)
            print(f"{name:45s} loss {first:9.4g} -> {last:9.4g} ({len(losses)} steps, {time.time() - t0:4.1f}s){flag}")
        except Exception as e:  # noqa: BLE001 - report every target
            print(f"{name:45s} RAISED {type(e).__name__}: {str(e).splitlines()[0][:120]}")
            bad += name.startswith("clean_")
    print(f"{len(paths)} targets, {bad} clean problems")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
