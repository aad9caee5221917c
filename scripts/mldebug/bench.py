"""bench: what each check costs, in training steps of the same model.

    python scripts/bench.py --quick            # a few minutes on 2 CPU cores
    python scripts/bench.py                    # fuller: more repeats and sizes
    python scripts/bench.py --smoke            # seconds; what the test suite runs

For each reference target (an MLP, a CNN with BatchNorm, a causal transformer LM of a few
million parameters, an LSTM LM) it times one full training step (forward, backward,
optimizer step) and each check, several runs each, and prints the median cost of each
check as a multiple of one training step. A second table grows batch size, sequence
length and width on the transformer and shows each check's ratio at each size: a ratio
that grows means the check scales worse than training does.

Standard library plus torch only. Progress goes to stderr, tables to stdout.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import registry
from .api import target_from_objects
from .context import Context
from .runner import run_one


# ----------------------------------------------------------------------------- models

class MLP(nn.Module):
    def __init__(self, d_in=256, width=512, classes=10):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_in, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                                 nn.Linear(width, classes))

    def forward(self, x):            # (N, d_in) -> (N, classes)
        return self.net(x)


class CNN(nn.Module):
    def __init__(self, width=32, classes=10):
        super().__init__()
        w = width
        self.body = nn.Sequential(
            nn.Conv2d(3, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(2),          # 32 -> 16
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(), nn.MaxPool2d(2),  # 16 -> 8
            nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.BatchNorm2d(4 * w), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(4 * w, classes)

    def forward(self, x):            # (N, 3, 32, 32) -> (N, classes)
        return self.head(self.body(x))


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
        self.heads = heads

    def forward(self, x):            # (B, T, d)
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))  # (B, h, T, d/h)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(y.transpose(1, 2).reshape(b, t, d))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, vocab=512, d=256, layers=4, heads=4, max_len=1024):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(max_len, d)
        self.blocks = nn.ModuleList(Block(d, heads) for _ in range(layers))
        self.ln, self.head = nn.LayerNorm(d), nn.Linear(d, vocab, bias=False)
        for m in self.modules():   # GPT-2 style init
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
                if getattr(m, "bias", None) is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, idx):          # (B, T) token ids -> (B, T, vocab)
        x = self.tok(idx) + self.pos(torch.arange(idx.shape[1], device=idx.device))
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.ln(x))


class LSTMLM(nn.Module):
    def __init__(self, vocab=512, d=256, layers=2):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.rnn = nn.LSTM(d, d, layers, batch_first=True)
        self.head = nn.Linear(d, vocab)

    def forward(self, idx):          # (B, T) -> (B, T, vocab)
        return self.head(self.rnn(self.emb(idx))[0])


def _lm_loss(out, y):
    return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))


def _tokens(b, t, vocab, seed=0):
    g = torch.Generator().manual_seed(seed)
    seq = torch.randint(0, vocab, (b, t + 1), generator=g)
    seq[:, 1::2] = (seq[:, 0:-1:2] * 7 + 3) % vocab  # every other token predictable from the one before
    return seq[:, :-1].contiguous(), seq[:, 1:].contiguous()


def reference(name: str, batch: int = 0, seq: int = 0, width: int = 0):
    """(Target, description) for a reference model; 0 keeps the default size."""
    if name == "mlp":
        b, w = batch or 64, width or 512
        g = torch.Generator().manual_seed(0)
        x = torch.randn(b, 256, generator=g)
        y = (x[:, :10] * 3).argmax(1)
        t = target_from_objects(build_model=lambda: MLP(width=w), get_batch=lambda: (x, y), loss_fn=F.cross_entropy,
                                name=f"mlp(b={b},w={w})")
    elif name == "cnn":
        b, w = batch or 32, width or 32
        g = torch.Generator().manual_seed(0)
        x = torch.randn(b, 3, 32, 32, generator=g)
        y = torch.randint(0, 10, (b,), generator=g)
        t = target_from_objects(build_model=lambda: CNN(width=w), get_batch=lambda: (x, y),
                                loss_fn=F.cross_entropy, name=f"cnn_bn(b={b},w={w})",
                                make_optimizer=lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=5e-4))
    elif name == "gpt":
        b, s, w = batch or 16, seq or 128, width or 256
        x, y = _tokens(b, s, 512)
        t = target_from_objects(build_model=lambda: GPT(d=w, max_len=max(1024, s)), get_batch=lambda: (x, y),
                                loss_fn=_lm_loss, causal_dim=1, name=f"gpt(b={b},T={s},d={w})",
                                make_optimizer=lambda p: torch.optim.AdamW(p, lr=6e-4, weight_decay=0.1))
    elif name == "lstm":
        b, s, w = batch or 16, seq or 64, width or 256
        x, y = _tokens(b, s, 512)
        t = target_from_objects(build_model=lambda: LSTMLM(d=w), get_batch=lambda: (x, y), loss_fn=_lm_loss,
                                causal_dim=1, name=f"lstm_lm(b={b},T={s},d={w})")
    else:
        raise ValueError(name)
    return t


# ----------------------------------------------------------------------------- timing

def _median_time(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def train_step_time(target, repeats: int) -> float:
    ctx = Context(target)
    ctx.preflight()
    model = ctx.fresh_model()
    model.train()
    opt = ctx.make_optimizer(model.parameters())

    def step():
        opt.zero_grad(set_to_none=True)
        ctx.loss(ctx.forward(model, ctx.inputs)).backward()
        opt.step()
    return _median_time(step, repeats, warmup=2)


def check_time(target, spec, repeats: int) -> Dict[str, Any]:
    """Median seconds of one check, each run on a fresh Context (cold caches)."""
    times, status = [], None
    for _ in range(repeats):
        ctx = Context(target)
        ctx.preflight()
        entry = run_one(ctx, spec)
        times.append(entry["seconds"])
        status = entry["status"]
    return {"seconds": statistics.median(times), "status": status}


def doctor_time(target, specs, repeats: int) -> Dict[str, Any]:
    """A whole doctor run over `specs` on one Context (shared caches), `repeats` times: median
    seconds in all and per check (what each check adds after the ones before it), and how many
    model copies one run made."""
    totals, per, copies = [], {s.id: [] for s in specs}, 0
    for _ in range(repeats):
        ctx = Context(target)
        ctx.preflight()
        before = getattr(ctx, "copies_made", 0)
        t0 = time.perf_counter()
        for s in specs:
            per[s.id].append(run_one(ctx, s)["seconds"])
        totals.append(time.perf_counter() - t0)
        copies = getattr(ctx, "copies_made", 0) - before
    return {"seconds": statistics.median(totals), "per_check": {k: statistics.median(v) for k, v in per.items()},
            "copies": copies}


def startup_time() -> Dict[str, float]:
    """Seconds to import torch alone, and to start the doctor up to its first (cheap) check."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    demo = os.path.join(root, "examples", "demo_clean.py")

    def run(args):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, *args], capture_output=True, cwd=root)
        return time.perf_counter() - t0
    torch_s = statistics.median(run(["-c", "import torch"]) for _ in range(3))
    doc_s = statistics.median(run([os.path.join(root, "scripts", "doctor.py"), demo, "--checks", "init-loss"])
                              for _ in range(3))
    return {"import_torch_s": torch_s, "doctor_init_loss_s": doc_s, "beyond_torch_s": doc_s - torch_s}


# ----------------------------------------------------------------------------- tables

def _ratio(x: float, step: float) -> str:
    return f"{x / step:.1f}" if step > 0 else "n/a"


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(
        prog="ml-debug bench", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  python scripts/bench.py --quick\n  python scripts/bench.py --smoke --json\n"
               "  python scripts/bench.py --targets gpt --checks batch-independence,causality\n"
               "  python scripts/bench.py --trace-overhead --smoke\n\n"
               "exit status: 0 done, 2 bad arguments")
    p.add_argument("--quick", action="store_true", help="fewer repeats and sizes (a few minutes)")
    p.add_argument("--smoke", action="store_true", help="tiny models, one repeat, cheap checks (seconds)")
    p.add_argument("--targets", default="mlp,cnn,gpt,lstm", help="comma-separated: mlp,cnn,gpt,lstm")
    p.add_argument("--checks", default=None, help="comma-separated check ids (default: all)")
    p.add_argument("--repeats", type=int, default=None, help="runs per measurement (median reported)")
    p.add_argument("--no-scaling", action="store_true", help="skip the scaling table")
    p.add_argument("--json", action="store_true", help="print the results as one JSON document")
    p.add_argument("--trace-overhead", action="store_true",
                   help="instead: what `trace --steps all` costs per training step, as a ratio to the untraced step")
    args = p.parse_args(argv)
    if args.trace_overhead:
        from . import trace_overhead
        res = trace_overhead.run(smoke=args.smoke, rounds=args.repeats or 3)
        print(json.dumps(res, indent=2) if args.json else trace_overhead.render(res))
        return 0
    torch.set_num_threads(max(1, torch.get_num_threads()))
    specs_all = registry.ordered()
    if args.checks:
        wanted = [c.strip() for c in args.checks.split(",")]
        unknown = [c for c in wanted if c not in registry.REGISTRY]
        if unknown:
            print(f"ml-debug bench: unknown check id {unknown[0]!r}", file=sys.stderr)
            return 2
        specs_all = [s for s in specs_all if s.id in wanted]
    if args.smoke:
        specs = [s for s in specs_all if not s.expensive][:4]
        repeats, sizes = args.repeats or 1, {"mlp": dict(batch=8, width=32)}
        targets = ["mlp"]
    else:
        specs = specs_all
        repeats = args.repeats or (3 if args.quick else 5)
        targets = [t.strip() for t in args.targets.split(",") if t.strip()]
        sizes = {}
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    results: Dict[str, Any] = {"machine": _machine(), "repeats": repeats, "targets": {}, "scaling": []}
    for name in targets:
        tgt = reference(name, **sizes.get(name, {}))
        log(f"[bench] {tgt.name}: training step ...")
        step = train_step_time(tgt, repeats)
        row = {"train_step_s": step, "checks": {}}
        for s in specs:
            log(f"[bench] {tgt.name}: {s.id} ...")
            r = check_time(tgt, s, 1 if s.expensive and not args.smoke else repeats)
            r["steps"] = r["seconds"] / step
            row["checks"][s.id] = r
        cheap = [s for s in specs if not s.expensive]
        doc = doctor_time(tgt, cheap, repeats)
        step = statistics.median([step, train_step_time(tgt, repeats)])  # before and after: load drifts
        row["train_step_s"] = step
        for r in row["checks"].values():
            r["steps"] = r["seconds"] / step
        row["doctor_cheap_s"] = doc["seconds"]
        row["doctor_cheap_steps"] = doc["seconds"] / step
        row["doctor_per_check_steps"] = {k: v / step for k, v in doc["per_check"].items()}
        row["doctor_copies"] = doc["copies"]
        results["targets"][tgt.name] = row
    if not args.smoke and not args.no_scaling:
        small = [dict(batch=8, seq=64)]   # the small causal LM of issue 14, where fixed costs show most
        grid = (small + [dict(batch=b) for b in (8, 32)] + [dict(seq=s) for s in (32, 256)] +
                [dict(width=w) for w in (128, 256)]) \
            if args.quick else \
            (small + [dict(batch=b) for b in (8, 32, 128)] + [dict(seq=s) for s in (32, 128, 512)] +
             [dict(width=w) for w in (128, 256, 512)])
        scal_specs = [s for s in specs if not s.expensive]
        for kw in grid:
            tgt = reference("gpt", **kw)
            log(f"[bench] scaling {tgt.name} ...")
            step = train_step_time(tgt, repeats)
            secs = {s.id: check_time(tgt, s, repeats)["seconds"] for s in scal_specs}
            doc = doctor_time(tgt, scal_specs, max(1, repeats // 2))
            step = statistics.median([step, train_step_time(tgt, repeats)])
            ratios = {k: v / step for k, v in secs.items()}
            results["scaling"].append({"target": tgt.name, "vary": kw, "train_step_s": step, "ratios": ratios,
                                       "doctor_steps": doc["seconds"] / step})
    if not args.smoke:
        log("[bench] start-up ...")
        results["startup"] = startup_time()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(render(results))
    return 0


def _machine() -> str:
    import platform
    return (f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), Python {platform.python_version()}")


def render(results: Dict[str, Any]) -> str:
    out = [f"machine: {results['machine']}; median of {results['repeats']} runs "
           "(expensive checks: 1 run)", ""]
    names = list(results["targets"])
    ids = list(next(iter(results["targets"].values()))["checks"]) if names else []
    out.append("| check | " + " | ".join(names) + " |")
    out.append("|---|" + "---:|" * len(names))
    out.append("| one training step (s) | " + " | ".join(f"{results['targets'][n]['train_step_s'] * 1000:.1f} ms"
                                                    for n in names) + " |")
    for cid in ids:
        cells = []
        for n in names:
            c = results["targets"][n]["checks"][cid]
            cells.append(f"{c['steps']:.1f} ({c['status']})")
        out.append(f"| {cid} | " + " | ".join(cells) + " |")
    out.append("| doctor without expensive checks | " + " | ".join(
        f"{results['targets'][n]['doctor_cheap_steps']:.1f}" for n in names) + " |")
    out.append("")
    out.append("Cells: cost in training steps of the same model (status of the check), each check alone on a "
               "fresh context.")
    if names and "doctor_per_check_steps" in results["targets"][names[0]]:
        out += ["", "Inside one doctor run without the expensive checks (work shared between checks; what each "
                    "check adds after the ones before it):", ""]
        out.append("| check | " + " | ".join(names) + " |")
        out.append("|---|" + "---:|" * len(names))
        dids = list(results["targets"][names[0]]["doctor_per_check_steps"])
        for cid in dids:
            out.append(f"| {cid} | " + " | ".join(
                f"{results['targets'][n]['doctor_per_check_steps'].get(cid, float('nan')):.1f}" for n in names) + " |")
        out.append("| in all | " + " | ".join(f"{results['targets'][n]['doctor_cheap_steps']:.1f}" for n in names)
                   + " |")
        out.append("| model copies made | " + " | ".join(str(results["targets"][n]["doctor_copies"]) for n in names)
                   + " |")
    if results["scaling"]:
        out += ["", "Scaling (transformer LM; cost in training steps at each size):", ""]
        sc = results["scaling"]
        sids = list(sc[0]["ratios"])
        out.append("| check | " + " | ".join(r["target"] for r in sc) + " |")
        out.append("|---|" + "---:|" * len(sc))
        out.append("| one training step | " + " | ".join(f"{r['train_step_s'] * 1000:.0f} ms" for r in sc) + " |")
        for cid in sids:
            out.append(f"| {cid} | " + " | ".join(f"{r['ratios'][cid]:.1f}" for r in sc) + " |")
        if all("doctor_steps" in r for r in sc):
            out.append("| doctor without expensive checks (one run) | "
                       + " | ".join(f"{r['doctor_steps']:.1f}" for r in sc) + " |")
    if "startup" in results:
        s = results["startup"]
        out += ["", f"start-up: import torch {s['import_torch_s']:.2f}s; doctor with one cheap check "
                    f"{s['doctor_init_loss_s']:.2f}s; beyond torch {s['beyond_torch_s']:.2f}s"]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
