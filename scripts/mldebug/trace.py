"""ml-debug trace: run a user's own training script, watch its first N optimizer steps, report.

    python scripts/trace.py [--steps N] [--json] [--out DIR] [--causal-dim D] [--continue] -- SCRIPT [ARGS...]

The script runs in this process, as `python SCRIPT ARGS...` would run it: `runpy.run_path`
with run_name "__main__", sys.argv = [SCRIPT, *ARGS], the script's folder first on sys.path,
the current directory unchanged. Hooks (see trace_live.py) record what the run does; after N
steps of the first optimizer that steps we stop the script (or, with --continue, let it
finish). Then the doctor's checks run on copies of what we captured at the first step (the
model before its first update, the batch of its last forward, the loss call, the optimizer),
and the live checks below judge what the run did. Exit status as the doctor's: 0 no check
failed, 1 a check failed, 2 bad arguments or a script that can't be found.
"""
from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import runpy
import statistics
import sys
import time
from typing import Any, Dict, List, Optional

LIVE_CHECK_IDS = ("train-mode", "grad-accumulation", "lr-trace", "param-coverage", "loss-trace")

# Doctor checks that make sense on objects captured from a run (the expensive ones that train
# for hundreds of steps, and those that need a scheduler or a rebuild from scratch, are left out).
DOCTOR_IDS = ("batch-sanity", "init-symmetry", "loss-input", "init-loss", "grad-flow", "nan-source",
              "activations", "batch-independence", "causality", "eval-mode", "update-ratio")
LOSS_FREE_IDS = ("activations", "batch-independence", "causality", "eval-mode")

DEFAULT_STEPS = 50

# lr-trace thresholds (refs/diagnostics.md#lr-trace). Schedules that end at ~0 (cosine, linear,
# one-cycle) spend only their last few % of steps below 1e-3 of the peak, and a warm-up from 0
# only its first step or two; a per-epoch StepLR stepped per batch spends most steps there
# (evidence/pytorch-docs.md: scheduler.step() belongs after the optimizer's, at the interval
# the scheduler was built for).
LR_DEAD = 1e-3           # an LR below 1e-3 of the traced peak moves weights ~1000x less than it did
LR_LOW = 1e-2            # 100x below the peak: warn
LR_DEAD_FRACTION = 0.25  # ... for at least a quarter of the traced steps
LR_MIN_STEPS = 4         # and at least this many steps (one warm-up step at 0 is normal)

# loss-trace thresholds (refs/diagnostics.md#loss-trace; evidence/karpathy-recipe-2019.md,
# evidence/google-tuning-playbook.md on loss spikes and instability).
FLAT_REL = 1e-7          # max-min of the loss below this fraction of its size: bit-for-bit stuck
FLAT_MIN_STEPS = 5
SPIKE_FACTOR = 5.0       # a step's loss > 5x the median of the 10 before it, and above the first loss
SPIKE_WINDOW = 10
RISE_FACTOR = 2.0        # mean of the last quarter > 2x the first quarter's: the loss went up
RISE_MIN_STEPS = 12


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ml-debug trace",
                usage="ml-debug trace [--steps N] [--json] [--out DIR] [--causal-dim D] [--continue] "
                      "-- SCRIPT [ARGS...]",
                description="Run your training script unmodified, watch its first N optimizer steps, then run "
                            "the doctor's checks on the model, batch and loss it captured, plus live checks: "
                            + ", ".join(LIVE_CHECK_IDS) + ". What each id means: refs/diagnostics.md#<id>.",
                epilog="examples:\n  python scripts/trace.py -- train.py --epochs 3\n"
                       "  python scripts/trace.py --steps 20 --json -- train.py > report.json\n\n"
                       "exit status: 0 no check failed, 1 a check failed, 2 bad arguments or no such script.",
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=DEFAULT_STEPS, help=f"optimizer steps to watch (default {DEFAULT_STEPS})")
    p.add_argument("--json", action="store_true", help="print one JSON report on stdout and nothing else")
    p.add_argument("--out", metavar="DIR", help="also write report.json, report.md and plots to DIR")
    p.add_argument("--causal-dim", type=int, default=None, metavar="D",
                   help="sequence axis of an autoregressive model's inputs: also run the causality check")
    p.add_argument("--continue", dest="keep_going", action="store_true",
                   help="let the script run to its end after the watched steps (default: stop it)")
    p.add_argument("--seed", type=int, default=0, help="seed for the checks run on copies (default 0); "
                   "the script's own seeding is left alone")
    p.add_argument("-v", "--verbose", action="store_true", help="details and metrics under each check")
    p.add_argument("script", help="the training script")
    p.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    return p


def split_argv(argv: List[str]):
    """Our flags before `--`, the script and its arguments after it (`--` may be left out)."""
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1:]
    return None, argv


# ---------------------------------------------------------------------------- running the script
def run_script(script: str, args: List[str], steps: int, keep_going: bool = False):
    """Run the script under a Tracer. Returns (tracer, how it ended, error line or None, seconds)."""
    import torch  # noqa: F401  (torch must be importable before hooks go in)
    from .target import describe_exception
    from .trace_live import StopTrace, Tracer

    path = os.path.abspath(script)
    folder = os.path.dirname(path)
    tracer = Tracer(steps, path)
    tracer.keep_going = keep_going
    saved_argv, saved_path = sys.argv[:], sys.path[:]
    before = set(sys.modules)
    ended, error = "finished", None
    t0 = time.perf_counter()
    sys.argv = [script, *args]
    sys.path.insert(0, folder)
    tracer.open()
    try:
        runpy.run_path(path, run_name="__main__")
    except StopTrace:
        ended = "stopped"
    except SystemExit as e:
        code = e.code
        if code not in (None, 0):
            ended, error = "exited", f"the script exited with status {code}"
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # noqa: B036 - any exception of the user's script is reported
        ended, error = "raised", describe_exception(e)
    finally:
        seconds = time.perf_counter() - t0
        try:
            tracer.finish()
        finally:
            tracer.close()
            sys.argv[:] = saved_argv
            sys.path[:] = saved_path
            # forget the script's own modules (model.py, data.py, ...): another trace may reuse the names
            for name in set(sys.modules) - before:
                f = getattr(sys.modules.get(name), "__file__", None) or ""
                if f and os.path.abspath(f).startswith(folder + os.sep):
                    del sys.modules[name]
    return tracer, ended, error, seconds


# ---------------------------------------------------------------------------- the target from a run
def _batched(obj, B) -> bool:
    from .tensors import leaves
    ts = leaves(obj)
    return bool(ts) and all(t.dim() > 0 and t.shape[0] == B for t in ts)


def build_target(tracer, script: str, causal_dim: Optional[int]):
    """A Target from what was captured at step 1. Returns (target, loss_known, notes)."""
    import torch
    from .api import target_from_objects
    from .context import prediction_of
    from .tensors import leaves
    from .trace_live import TRANSFORMS

    cap = tracer.capture
    notes: List[str] = []
    args, kwargs = cap["args"], cap["kwargs"]
    tensors = leaves((args, kwargs))
    firsts = [t for t in tensors if t.dim() > 0]
    if not firsts:
        raise ValueError("the model's forward got no tensor with a batch dimension")
    B = firsts[0].shape[0]
    bargs = [i for i, a in enumerate(args) if _batched(a, B)]
    bkw = [k for k, v in kwargs.items() if _batched(v, B)]
    forward = None
    if not kwargs and len(bargs) == len(args):
        inputs = args[0] if len(args) == 1 else tuple(args)
    elif not args and len(bkw) == len(kwargs):
        inputs = dict(kwargs)
    else:  # mixed or with constants: batched tensors travel as inputs, the rest stays fixed
        inputs = {f"arg{i}": args[i] for i in bargs}
        inputs.update({k: kwargs[k] for k in bkw})

        def forward(model, inp, _args=args, _kw=kwargs, _bargs=tuple(bargs), _bkw=tuple(bkw)):
            a = [inp[f"arg{i}"] if i in _bargs else x for i, x in enumerate(_args)]
            kw = {k: (inp[k] if k in _bkw else v) for k, v in _kw.items()}
            return model(*a, **kw)
        notes.append("non-batch arguments of the forward kept fixed")

    match = cap.get("loss_match") or {"kind": "unknown", "seen": []}
    loss_known = True
    targets = None
    if match["kind"] == "model-output":
        leaf = match["leaf"]

        def loss_fn(outputs, _t, _leaf=leaf):
            return leaves(outputs)[_leaf]
        loss_from = "the model's own output"
    elif match["kind"] != "unknown":
        call, leaf, tf = match["call"], match["leaf"], TRANSFORMS[match["transform"]]
        largs = {k: v for k, v in match["args"].items() if k not in ("size_average", "reduce")}
        in_shape = match["input_shape"]
        rec_t = largs.get("target")
        t_shape = tuple(rec_t.shape) if isinstance(rec_t, torch.Tensor) else None
        if isinstance(rec_t, torch.Tensor) and rec_t.dim() > 0 and rec_t.shape[0] == B:
            targets = rec_t
        elif isinstance(rec_t, torch.Tensor) and rec_t.dim() > 0 and rec_t.numel() % B == 0:
            targets = rec_t.reshape(B, -1)  # e.g. y.view(-1) of a (B, T) batch: batch-major
        else:
            targets = None
            notes.append("loss target kept fixed (its dim 0 is not the batch)")

        def loss_fn(outputs, tgt, _f=call.func, _a=largs, _leaf=leaf, _tf=tf, _s=in_shape, _ts=t_shape,
                    _fixed=targets is None):
            kw = dict(_a)
            kw["input"] = _tf(leaves(outputs)[_leaf], _s)
            if not _fixed and _ts is not None:
                kw["target"] = tgt if tuple(tgt.shape[1:]) == _ts[1:] else tgt.reshape(-1, *_ts[1:])
            return _f(**kw)
        loss_from = f"F.{match['kind']} on the model's output" + \
            ("" if match["transform"] == "same" else f" ({match['transform']})")
        if match.get("n_calls", 1) > 1 or abs(match["total"] - match["value"]) > 1e-6 * max(1.0, abs(match["value"])):
            notes.append(f"the backpropagated loss ({match['total']:.4g}) also scales or adds to the "
                         f"{match['kind']} term ({match['value']:.4g}); the checks use that term alone")
    else:
        loss_known = False

        def loss_fn(outputs, _t):  # a stand-in so forward-only checks can run; never judged
            return prediction_of(outputs).float().mean()
        loss_from = None

    make_optimizer = None
    if cap.get("opt_groups"):
        otype, defaults, groups = cap["opt_type"], cap["opt_defaults"], cap["opt_groups"]

        def make_optimizer(params, _type=otype, _defaults=defaults, _groups=groups):
            params = list(params)
            gs = [dict(hp, params=[params[i] for i in idx if i < len(params)]) for hp, idx in _groups]
            gs = [g for g in gs if g["params"]]
            try:
                return _type(gs, **_defaults)
            except TypeError:
                return _type(gs)
    snapshot = cap["snapshot"]
    snapshot.train()
    target = target_from_objects(model=snapshot, batch=(inputs, targets), loss_fn=loss_fn,
                                 make_optimizer=make_optimizer, forward=forward, causal_dim=causal_dim,
                                 name=script)
    if loss_known and match["kind"] != "model-output":  # the rebuilt loss must give the value seen in the run
        try:
            v = float(loss_fn(cap["output"], targets).detach())
            same = (math.isnan(v) and math.isnan(match["value"])) or v == match["value"] or \
                math.isclose(v, match["value"], rel_tol=1e-4, abs_tol=1e-6)
            if not same:
                loss_known = False
                notes.append(f"the rebuilt loss ({v:.4g}) does not reproduce the run's ({match['value']:.4g})")
        except Exception as e:
            loss_known = False
            notes.append(f"the rebuilt loss raised {type(e).__name__}")
    if not loss_known and match["kind"] != "unknown":
        loss_from = None
    return target, loss_known, loss_from, notes


def _skip(check_id: str, why: str, spec_ref: Optional[str] = None) -> Dict[str, Any]:
    return {"id": check_id, "status": "skip", "summary": why, "metrics": {},
            "ref": spec_ref or f"refs/diagnostics.md#{check_id}", "seconds": 0.0, "_details": [], "_plots": []}


def doctor_entries(tracer, script: str, causal_dim: Optional[int], seed: int, why_not: Optional[str]):
    """The doctor's checks on the captured objects (or skips saying why they can't run)."""
    from . import registry
    from .context import DEFAULT_BUDGET, Context
    from .runner import run_checks
    from .target import TargetError

    ids = [i for i in DOCTOR_IDS if i != "causality" or causal_dim is not None]
    specs = [s for s in registry.ordered() if s.id in ids]
    info: Dict[str, Any] = {}
    if why_not is None:
        cap = tracer.capture
        if cap is None or cap.get("model") is None:
            why_not = "no nn.Module holding the optimizer's parameters ran a forward before the first step"
    if why_not is None:
        try:
            target, loss_known, loss_from, notes = build_target(tracer, script, causal_dim)
            ctx = Context(target, device=str(tracer.capture["device"]), seed=seed, budget=DEFAULT_BUDGET)
            ctx.preflight()
        except (TargetError, ValueError, RuntimeError, TypeError, KeyError, IndexError) as e:
            why_not = f"could not rebuild the captured model, batch and loss: {e}"
    if why_not is not None:
        return [_skip(s.id, why_not, s.ref) for s in specs], info
    m = tracer.capture["model"]
    info["model"] = f"{type(m).__name__} ({sum(p.numel() for p in m.parameters()):,} parameters)"
    info["loss_from"] = loss_from or "unknown"
    if tracer.other_optimizers:
        notes.append(f"the script steps {1 + len(tracer.other_optimizers)} optimizers; the checks follow the "
                     f"first to step, which trains {type(m).__name__}")
    if notes:
        info["capture_notes"] = notes
    seen = tracer.capture["loss_match"] or {}
    lost = "loss not computed by a torch loss function on the model's output" + \
        (f" (saw {', '.join(seen['seen'])})" if seen.get("seen") else "") + ": {id} can't model it"
    run = [s for s in specs if loss_known or s.id in LOSS_FREE_IDS]
    skips = {}
    step_params = inspect.signature(tracer.capture["opt_type"].step).parameters
    if "closure" in step_params and step_params["closure"].default is inspect.Parameter.empty:
        skips["update-ratio"] = (f"{tracer.capture['opt_type'].__name__} steps only with a closure that re-evaluates "
                                 "the loss; update-ratio takes plain steps")
        run = [s for s in run if s.id not in skips]
    entries = run_checks(ctx, run)["checks"]
    by_id = {e["id"]: e for e in entries}
    out = [by_id.get(s.id) or _skip(s.id, skips.get(s.id) or lost.format(id=s.id), s.ref) for s in specs]
    return out, info


# ---------------------------------------------------------------------------- the live checks
def _entry(cid, status, summary, metrics=None, details=None, plots=None, seconds=0.0):
    return {"id": cid, "status": status, "summary": " ".join(summary.split()), "metrics": metrics or {},
            "ref": f"refs/diagnostics.md#{cid}", "seconds": round(seconds, 4),
            "_details": list(details or []), "_plots": list(plots or [])}


def _switch_to_eval(tracer, model, first_eval_step):
    """The last call that put the model (or a module holding it) in eval mode before that step."""
    hits = []
    for done, ref, mode, where in tracer.mode_changes:
        mod = ref()
        if mode or mod is None or done >= first_eval_step:
            continue
        if mod is model or any(c is model for c in mod.modules()):
            hits.append((done, where))
    return hits[-1] if hits else None


def check_train_mode(tracer) -> Dict[str, Any]:
    cid = "train-mode"
    recs = tracer.records
    model = tracer.capture["model"]
    n = len(recs)
    sens = tracer._sensitive
    kinds = sorted({type(m).__name__ for _, m in sens})
    eval_steps = [r.step for r in recs if not r.model_training]
    metrics = {"steps": n, "eval_steps": len(eval_steps), "mode_sensitive_modules": len(sens)}
    if eval_steps:
        first = eval_steps[0]
        sw = _switch_to_eval(tracer, model, first)
        how = (f"; model.eval() was called after step {sw[0]} by {sw[1]}" if sw and sw[0] > 0 else
               f"; it was put in eval mode by {sw[1]} before the first step" if sw else "")
        back = "" if eval_steps == list(range(first, n + 1)) else " (train mode came back at some steps)"
        metrics["first_eval_step"] = first
        if sens:
            return _entry(cid, "fail",
                          f"optimizer stepped {len(eval_steps)} of {n} times with the model in eval mode, "
                          f"so {', '.join(kinds)} behave as at inference while it trains; first at step {first}"
                          f"{how}{back}. Call model.train() after evaluating", metrics,
                          [f"eval-mode steps: {eval_steps[:20]}{' ...' if len(eval_steps) > 20 else ''}"])
        return _entry(cid, "warn",
                      f"optimizer stepped {len(eval_steps)} of {n} times with the model in eval mode (first at step "
                      f"{first}{how}); it has no dropout or BatchNorm, so this only matters if your code reads "
                      "self.training. Call model.train() after evaluating", metrics)
    partial = [r for r in recs if r.eval_sensitive]
    if partial:
        names = sorted({n for r in partial for n in r.eval_sensitive})
        mods = dict(sens)
        frozen = all(not any(p.requires_grad for p in mods[nm].parameters()) for nm in names if nm in mods)
        metrics["steps_with_eval_submodules"] = len(partial)
        text = (f"{len(names)} mode-sensitive submodule(s) ({', '.join(names[:4])}{', ...' if len(names) > 4 else ''}) "
                f"were in eval mode at {len(partial)} of {n} steps while the model was in train mode")
        if frozen:
            return _entry(cid, "pass", text + ": their parameters are frozen too, as when BatchNorm is frozen on "
                                              "purpose for fine-tuning", metrics)
        return _entry(cid, "warn", text + ": fine if you froze them on purpose (frozen BatchNorm), otherwise "
                                          "something called .eval() on them", metrics)
    return _entry(cid, "pass", f"all {n} steps ran with the model in train mode"
                               + (f" ({len(sens)} dropout/BatchNorm modules)" if sens else ""), metrics)


def check_grad_accumulation(tracer) -> Dict[str, Any]:
    cid = "grad-accumulation"
    recs = tracer.records
    n = len(recs)
    if not tracer.probes:
        raise_skip = "no parameter held by the optimizer had a gradient at the first step"
        return _skip(cid, raise_skip)
    bws = [r.backwards for r in recs]
    carried = [r.step for r in recs if r.carried]
    zeroed = [r.step for r in recs if r.zeroed]
    discarded = [r.step for r in recs if r.discarded]
    counts = sorted(set(bws))
    metrics = {"steps": n, "backward_per_step": counts if len(counts) > 1 else (counts[0] if counts else 0),
               "carried_steps": len(carried), "zeroed_steps": len(zeroed), "discarded_steps": len(discarded)}
    if carried:
        return _entry(cid, "fail",
                      f"gradients carried over into {len(carried)} of {n} optimizer steps (first at step "
                      f"{carried[0]}): the gradients a step used were still there when the next backward added to "
                      "them, so each step applies the sum of every gradient so far. Call optimizer.zero_grad() "
                      "once per optimizer step", metrics, [f"carried at steps {carried[:20]}"])
    if zeroed:
        return _entry(cid, "fail",
                      f"the optimizer stepped with zeroed gradients at {len(zeroed)} of {n} steps (first at step "
                      f"{zeroed[0]}): zero_grad() runs between backward() and step(); move it before backward()",
                      metrics)
    if discarded:
        return _entry(cid, "warn",
                      f"gradients of a backward pass were zeroed before any step used them at {len(discarded)} of "
                      f"{n} steps (first at step {discarded[0]}): with gradient accumulation, zero_grad() belongs "
                      "after optimizer.step(), not before each micro-batch", metrics)
    k = max(bws) if bws else 0
    if tracer.other_optimizers:
        text = (f"{counts} backward pass(es) between steps of this optimizer ({len(tracer.other_optimizers)} other "
                "optimizer(s) step too); no gradient reached a step it was not meant for")
    elif k > 1 and len(set(bws[1:] or bws)) == 1:
        text = (f"{k} backward passes per optimizer step with gradients zeroed after each step: a consistent "
                "accumulate-then-step pattern (scale each micro-batch loss by 1/k)")
    elif k > 1:
        text = f"{counts} backward passes per step, gradients zeroed after each step"
    else:
        text = f"one backward pass per step over {n} steps, gradients zeroed between steps"
    return _entry(cid, "pass", text, metrics)


def check_lr_trace(tracer) -> Dict[str, Any]:
    from .registry import Plot
    cid = "lr-trace"
    recs = tracer.records
    n = len(recs)
    ngroups = max(len(r.lrs) for r in recs)
    series = {f"group {g}": [r.lrs[g] if g < len(r.lrs) else float("nan") for r in recs] for g in range(ngroups)}
    plot = Plot("lr-trace", "LR used at each optimizer step", "step", "learning rate",
                series, x=[r.step for r in recs], logy=True)
    g0 = series["group 0"]
    metrics = {"steps": n, "lr_first": g0[0], "lr_last": g0[-1], "lr_max": max(g0), "lr_min": min(g0),
               "lr": g0[:200]}
    peaks = {g: max(v) for g, v in series.items()}
    if all(p <= 0 for p in peaks.values()):
        return _entry(cid, "fail", f"the LR was 0 at all {n} traced steps: nothing is learned "
                                   "(lr=0 in the optimizer, or a schedule that starts and stays at 0)",
                      metrics, plots=[plot])
    worst = None
    for g, v in series.items():
        peak = peaks[g]
        if peak <= 0:
            continue
        dead = [i for i, x in enumerate(v) if x < LR_DEAD * peak]
        low = [i for i, x in enumerate(v) if x < LR_LOW * peak]
        after = [i for i in dead if i > v.index(peak)]
        for level, idx, status in ((LR_DEAD, after, "fail"), (LR_LOW, [i for i in low if i > v.index(peak)], "warn")):
            if len(idx) >= LR_MIN_STEPS and len(idx) >= LR_DEAD_FRACTION * n:
                cand = (status, g, idx, level, peak, v)
                if worst is None or (status == "fail" and worst[0] == "warn"):
                    worst = cand
                break
    if worst is not None:
        status, g, idx, level, peak, v = worst
        first = idx[0] + 1
        drops = [i + 1 for i in range(1, n) if v[i] < v[i - 1] * 0.999]
        period = ""
        if len(drops) >= 3:
            gaps = {b - a for a, b in zip(drops, drops[1:])}
            if len(gaps) == 1:
                period = (f"; it dropped every {gaps.pop()} step(s), as a scheduler built for epochs does when "
                          "stepped every batch")
        metrics.update({"low_steps": len(idx), "first_low_step": first})
        return _entry(cid, status,
                      f"the LR{'' if ngroups == 1 else f' of {g}'} collapsed within the first {n} steps: "
                      f"{peak:.3g} at its peak, below {level:g}x that ({v[idx[0]]:.3g}) from step {first}, and "
                      f"{len(idx)} of {n} steps ran there (last {v[-1]:.3g}){period}", metrics, plots=[plot])
    zero_groups = [g for g, p in peaks.items() if p <= 0]
    if zero_groups:
        return _entry(cid, "warn", f"{', '.join(zero_groups)} had LR 0 at every traced step while other groups "
                                   "trained: fine if that group is frozen on purpose", metrics, plots=[plot])
    warm = " (warm-up from 0)" if g0[0] == 0 else ""
    return _entry(cid, "pass", f"LR {g0[0]:.3g} at step 1{warm}, {g0[-1]:.3g} at step {n} (peak {max(g0):.3g}); "
                               "no collapse", metrics, plots=[plot])


def check_param_coverage(tracer) -> Dict[str, Any]:
    cid = "param-coverage"
    cap = tracer.capture
    held = cap["held"] | tracer.other_opt_params
    not_held = [(nm, p) for nm, p in cap["graded"] if id(p) not in held]
    final = tracer.final or {"unchanged": [], "changed": []}
    n = len(tracer.records)
    model = cap["model"]
    trainable = [(nm, p) for nm, p in model.named_parameters() if p.requires_grad and id(p) in held]
    unchanged = [(nm, p) for nm, p in final["unchanged"] if p.requires_grad and id(p) in held]
    got_grad = [nm for nm, p in unchanged if id(p) in tracer.ever_grad]
    no_grad = [nm for nm, p in unchanged if id(p) not in tracer.ever_grad]
    metrics = {"steps": n, "trainable_tensors": len(trainable), "not_in_optimizer": len(not_held),
               "unchanged_with_grad": len(got_grad), "unchanged_no_grad": len(no_grad)}

    def names(xs):
        return ", ".join(xs[:5]) + (f" and {len(xs) - 5} more" if len(xs) > 5 else "")
    if not_held:
        k = sum(p.numel() for _, p in not_held)
        return _entry(cid, "fail",
                      f"{len(not_held)} parameter tensor(s) get gradients but no optimizer holds them: "
                      f"{names([nm for nm, _ in not_held])} ({k:,} values). They never train: was the optimizer "
                      "built before they were created or replaced? Build it after the model is final",
                      metrics, [f"not in any optimizer: {nm} {tuple(p.shape)}" for nm, p in not_held])
    if got_grad and n >= 2:
        return _entry(cid, "fail",
                      f"{len(got_grad)} parameter tensor(s) held by the optimizer got gradients but did not change "
                      f"over {n} steps: {names(got_grad)} (LR 0 for their group, or they are reloaded every step)",
                      metrics)
    if no_grad and n >= 2 and any(r.zeroed for r in tracer.records):
        return _entry(cid, "fail",
                      f"{len(no_grad)} trainable parameter tensor(s) never changed over {n} steps: the optimizer only "
                      "saw zeroed gradients (see grad-accumulation)", metrics)
    if no_grad and n >= 2:
        return _entry(cid, "warn",
                      f"{len(no_grad)} trainable parameter tensor(s) never received a gradient and never changed "
                      f"over {n} steps: {names(no_grad)}. Unused in the forward, or cut from the loss (detach); "
                      "fine for layers you defined but don't use", metrics)
    return _entry(cid, "pass", f"all {len(trainable)} trainable tensors of {type(model).__name__} are held by the "
                               f"optimizer" + (f" and changed over {n} steps" if n >= 2 else ""), metrics)


def check_loss_trace(tracer) -> Dict[str, Any]:
    from .registry import Plot
    cid = "loss-trace"
    recs = tracer.records
    losses = [r.loss for r in recs if r.loss is not None]
    steps = [r.step for r in recs if r.loss is not None]
    nf = tracer.nonfinite
    plot = Plot("loss-trace", "loss at each optimizer step", "step", "loss", {"loss": losses}, x=steps)
    metrics: Dict[str, Any] = {"steps": len(losses)}
    if losses:
        metrics.update({"loss_first": losses[0], "loss_last": losses[-1]})
    if nf is not None:
        where = []
        if nf.get("bad_inputs"):
            where.append(f"the batch itself holds inf/nan ({', '.join(nf['bad_inputs'][:3])})")
        if nf.get("first_module"):
            where.append(f"first non-finite module: {nf['first_module']}")
        elif nf.get("outputs_finite"):
            ops = nf.get("loss_ops") or []
            where.append("the model's outputs are finite: the loss computation makes it"
                         + (f" ({'; '.join(ops[:3])})" if ops else " (log of 0, division by 0?)"))
        metrics.update({"nonfinite_step": nf["step"], "nonfinite_value": str(nf["value"])})
        if nf.get("first_module"):
            metrics["first_nonfinite_module"] = nf["first_module"]
        return _entry(cid, "fail", f"the loss was {nf['value']} at step {nf['step']}"
                                   + (f"; {'; '.join(where)}" if where else ""), metrics, plots=[plot])
    if not losses:
        return _skip(cid, "no scalar loss was backpropagated before the optimizer steps")
    bad = [st for st, x in zip(steps, losses) if not math.isfinite(x)]
    if bad:
        return _entry(cid, "fail", f"the loss was non-finite at {len(bad)} of {len(losses)} steps (first at step "
                                   f"{bad[0]}); run nan-source on the model", metrics, plots=[plot])
    if len(losses) >= FLAT_MIN_STEPS:
        spread = max(losses) - min(losses)
        if spread <= FLAT_REL * max(abs(x) for x in losses):
            return _entry(cid, "fail", f"the loss was {losses[0]:.6g} at all {len(losses)} steps: the model is "
                                       "not learning (no update reaches the weights that make the loss, or the "
                                       "loss does not depend on them)", metrics, plots=[plot])
    spikes = []
    for i in range(3, len(losses)):
        prev = losses[max(0, i - SPIKE_WINDOW):i]
        med = statistics.median(prev)
        if losses[i] > SPIKE_FACTOR * max(med, 1e-12) and losses[i] > losses[0]:
            spikes.append(steps[i])
    metrics["spikes"] = len(spikes)
    if spikes:
        return _entry(cid, "warn", f"{len(spikes)} loss spike(s) above {SPIKE_FACTOR:g}x the recent median and above "
                                   f"the starting loss (first at step {spikes[0]}): too high an LR, a bad batch, or "
                                   "missing warm-up/clipping", metrics, plots=[plot])
    if len(losses) >= RISE_MIN_STEPS:
        q = len(losses) // 4
        a, b = statistics.mean(losses[:q]), statistics.mean(losses[-q:])
        if a > 0 and b > RISE_FACTOR * a:
            return _entry(cid, "warn", f"the loss rose from {a:.4g} (first {q} steps) to {b:.4g} (last {q}): "
                                       "the LR may be too high, or the loss's sign is flipped", metrics, plots=[plot])
    return _entry(cid, "pass", f"loss {losses[0]:.4g} at step {steps[0]}, {losses[-1]:.4g} at step {steps[-1]}; "
                               "finite, moving, no spikes", metrics, plots=[plot])


LIVE_CHECKS = {"train-mode": check_train_mode, "grad-accumulation": check_grad_accumulation,
               "lr-trace": check_lr_trace, "param-coverage": check_param_coverage, "loss-trace": check_loss_trace}


def live_entries(tracer, why_not: Optional[str]) -> List[Dict[str, Any]]:
    from .target import describe_exception
    out = []
    for cid in LIVE_CHECK_IDS:
        if why_not is not None:
            out.append(_skip(cid, why_not))
            continue
        needs_model = cid in ("train-mode", "param-coverage")
        if needs_model and (tracer.capture is None or tracer.capture.get("model") is None):
            out.append(_skip(cid, "no nn.Module holding the optimizer's parameters ran a forward before the "
                                  "first step"))
            continue
        t0 = time.perf_counter()
        try:
            e = LIVE_CHECKS[cid](tracer)
        except Exception as ex:  # a bug in a live check: report it, go on
            e = _entry(cid, "error", f"check raised {describe_exception(ex)}")
        e["seconds"] = round(time.perf_counter() - t0, 4)
        out.append(e)
    return out


# ---------------------------------------------------------------------------- the whole trace
def trace(script: str, args: Optional[List[str]] = None, steps: int = DEFAULT_STEPS, keep_going: bool = False,
          causal_dim: Optional[int] = None, seed: int = 0) -> Dict[str, Any]:
    """Trace a script; return the report (with private `_details`/`_plots` keys; see runner.public)."""
    import torch
    from . import registry
    from .cli import stdout_to_stderr
    from .tensors import preserved_rng

    t0 = time.perf_counter()
    with stdout_to_stderr():
        tracer, ended, error, run_seconds = run_script(script, list(args or []), steps, keep_going)
        n = len(tracer.records)
        why_not = None
        if tracer.primary is None:
            short = error.split(":")[0] + (f" {error[error.rfind('(at '):]}" if "(at " in error else "") \
                if error else ""
            why_not = ("the script never called optimizer.step()"
                       + (f" before it raised {short}" if ended == "raised" else
                          " before it exited" if ended == "exited" else " in its whole run")
                       + ": there is no training step to trace")
        elif tracer.capture_error:
            why_not = f"capturing the first step failed: {tracer.capture_error}"
        with preserved_rng():
            docs, info = doctor_entries(tracer, script, causal_dim, seed, why_not)
            lives = live_entries(tracer, why_not)
    device = str(tracer.capture["device"]) if tracer.capture and tracer.capture.get("device") is not None else "cpu"
    checks = docs + lives
    report: Dict[str, Any] = {
        "target": script,
        "status": registry.worst(c["status"] for c in checks),
        "seed": seed, "device": device, "torch": torch.__version__,
        "seconds": round(time.perf_counter() - t0, 4),
        "script_args": list(args or []),
        "steps_traced": n,
        "script_ended": {"stopped": f"stopped after {n} steps", "finished": "ran to its end",
                         "raised": "raised", "exited": "exited"}[ended],
        "script_seconds": round(run_seconds, 4),
    }
    if error:
        report["script_error"] = error
    report.update(info)
    report["checks"] = checks
    return report


def header(report: Dict[str, Any]) -> str:
    n = report["steps_traced"]
    how = report["script_ended"]
    line = f"traced {n} optimizer step(s) of {report['target']} ({how}"
    if report.get("script_error"):
        line += f": {report['script_error']}"
    line += f", {report['script_seconds']:.1f}s)"
    if report.get("model"):
        line += f"\nmodel {report['model']}, loss from {report.get('loss_from', 'unknown')}"
    for note in report.get("capture_notes", []):
        line += f"\nnote: {note}"
    return line


def main(argv: Optional[List[str]] = None) -> int:
    from .report import text, write_out
    from .runner import public

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-h", "--help") or not argv:
        build_parser().print_help(sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    ours, rest = split_argv(argv)
    parser = build_parser()
    if ours is None:  # no `--`: our flags end at the first argument that is not one of ours
        args = parser.parse_args(argv)
    else:
        if not rest:
            parser.error("no script after `--`")
        args = parser.parse_args(ours + ["--", rest[0]])
        args.args = rest[1:]
    if args.steps < 1:
        parser.error(f"--steps must be >= 1, got {args.steps}")
    if not os.path.isfile(args.script):
        msg = f"script not found: {args.script}"
        print(f"ml-debug trace: error: {msg}", file=sys.stderr)
        if args.json:
            print(json.dumps({"target": args.script, "status": "error", "error": msg, "checks": []}))
        return 2
    report = trace(args.script, args.args, steps=args.steps, keep_going=args.keep_going,
                   causal_dim=args.causal_dim, seed=args.seed)
    if args.out:
        write_out(report, args.out)
    if args.json:
        print(json.dumps(public(report), indent=2))
    else:
        print(header(report))
        print(text(report, verbose=args.verbose))
        if args.out:
            print(f"wrote {args.out}/report.md, report.json and plots")
    return 1 if report["status"] == "fail" else 0


if __name__ == "__main__":
    sys.exit(main())
