"""What `trace --steps all` costs per training step, as a ratio to the untraced step.

    python scripts/bench.py --trace-overhead            # the bench's reference models
    python scripts/bench.py --trace-overhead --smoke    # a tiny MLP, seconds

For each reference model of bench.py a small training script (the model, its batch, loss and
optimizer, N plain steps, each timed by the script itself) runs in this process twice per round:
plainly (`runpy`, as trace runs scripts) and under the Tracer with every live check on for the whole
run (`trace.run_script(..., steps=None)`). The first WARMUP steps of each run are left out (step 1
carries the one-off capture: a deep copy of the model and the loss recorder), so the ratio is the
steady per-step cost of the hooks. Rounds alternate plain and traced; the fastest run of each kind
is kept (on a shared machine the minimum is the least disturbed measurement).
"""
from __future__ import annotations

import json
import os
import runpy
import statistics
import sys
import tempfile
from typing import Any, Dict, List

WARMUP = 3            # first steps of each run left out (capture at step 1, allocator warm-up)

_SCRIPT = '''
import json, os, sys, time
sys.path.insert(0, {scripts!r})
import torch
from mldebug.bench import reference
torch.manual_seed(0)
tgt = reference({name!r}, **{sizes!r})
model = tgt.build_model()
model.train()
x, y = tgt.get_batch()
opt = tgt.make_optimizer(model.parameters()) if tgt.make_optimizer else torch.optim.Adam(model.parameters(), lr=3e-4)
times = []
for i in range({steps}):
    t0 = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    loss = tgt.loss_fn(model(x), y)
    loss.backward()
    opt.step()
    times.append(time.perf_counter() - t0)
with open({out!r}, "w") as f:
    json.dump(times, f)
'''


def _per_step(path: str) -> float:
    with open(path) as f:
        times = json.load(f)
    return statistics.median(times[WARMUP:])


def measure(name: str, sizes: Dict[str, int], steps: int, rounds: int) -> Dict[str, Any]:
    """Median step time of the script plainly and traced (--steps all), best of `rounds` each."""
    from .trace import run_script
    scripts = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "times.json")
        script = os.path.join(d, f"train_{name}.py")
        with open(script, "w") as f:
            f.write(_SCRIPT.format(scripts=scripts, name=name, sizes=sizes, steps=steps, out=out))
        plain, traced = [], []
        for _ in range(rounds):
            runpy.run_path(script, run_name="__main__")
            plain.append(_per_step(out))
            tracer, ended, error, _ = run_script(script, [], None)
            if error:
                raise RuntimeError(f"traced run failed: {error}")
            traced.append(_per_step(out))
            assert len(tracer.records) == steps, (len(tracer.records), steps)
    p, t = min(plain), min(traced)
    return {"plain_step_s": p, "traced_step_s": t, "ratio": t / p, "steps": steps, "rounds": rounds,
            "plain_runs": plain, "traced_runs": traced}


def run(smoke: bool = False, rounds: int = 3) -> Dict[str, Any]:
    from .bench import reference
    plan: List[tuple] = [("mlp", dict(batch=8, width=32), 30)] if smoke else \
        [("mlp", {}, 60), ("cnn", {}, 30), ("gpt", {}, 12), ("lstm", {}, 20)]
    out: Dict[str, Any] = {}
    for name, sizes, steps in plan:
        label = reference(name, **sizes).name
        print(f"[trace-overhead] {label}: {rounds} x ({steps} plain + {steps} traced steps) ...", file=sys.stderr,
              flush=True)
        out[label] = measure(name, sizes, steps, 1 if smoke else rounds)
    return out


def render(results: Dict[str, Any]) -> str:
    lines = ["| model | untraced step | traced step (`--steps all`) | ratio |", "|---|---:|---:|---:|"]
    for label, r in results.items():
        lines.append(f"| {label} | {r['plain_step_s'] * 1e3:.1f} ms | {r['traced_step_s'] * 1e3:.1f} ms | "
                     f"{r['ratio']:.3f} |")
    return "\n".join(lines)
