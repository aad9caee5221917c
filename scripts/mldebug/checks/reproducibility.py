"""reproducibility: do two runs with the same seed build the same model, batch and training?

The tool seeds torch, random and numpy before every call into the target, so what can
still differ between two runs is randomness those global seeds don't govern: a
module-level np.random.default_rng() or random.Random() created without a seed, seeds
from the clock or os.urandom, or nondeterministic kernels. Two runs are two processes,
so module-level state must start afresh: we execute the target file twice more as new
modules (torch seeded alike, Python's and NumPy's global RNGs seeded differently, as
separate processes would be) and compare what each builds. A seeded generator that
advances from call to call (a data stream) restarts in each copy and is not flagged.
Then forward+loss and two training steps run twice on identical copies and must agree; in a
doctor run one of each is the preflight's forward and update-ratio's first two steps.
Karpathy: "fix random seed ... when you run the code twice you will get the same
outcome" (evidence/karpathy-recipe-2019.md).
"""
from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any, Dict, List, Optional, Tuple

import torch

from .. import tensors as T
from ..context import has_dropout
from ..registry import Result, check
from ..target import Target, describe_exception
from ..training import RECORD_STEPS, RUN_RECORD, GraphCut, loss_backward

TRAIN_STEPS = RECORD_STEPS  # 2 optimizer steps taken twice (the lead's spec: 1-2 steps catch training nondeterminism)
TINY_REL = 1e-4        # a relative difference below this is float-order noise (nondeterministic kernels,
                       # evidence/pytorch-docs.md "Reproducibility"): warn, not fail. Unseeded draws differ by O(1).
IMPORT_ENTROPY = (101, 202)  # stand-ins for the OS entropy each new process seeds random/numpy with


def _fresh_copy(target: Target, seed: int, entropy: int, tag: str) -> Target:
    """Execute the target's file again as a new module, as a new process would."""
    path = target.source
    if not path or not os.path.isfile(path):
        raise RuntimeError("the target has no source file to run again")
    stem = os.path.splitext(os.path.basename(path))[0].replace("-", "_")
    name = f"_mldebug_repro_{tag}_{stem}"
    if not target.name.endswith(".py") and "." in target.name and os.path.sep not in target.name:
        name = target.name.rsplit(".", 1)[0] + "." + name  # keep relative imports of a package module working
    folder = os.path.dirname(path)
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    torch.manual_seed(seed)               # a new process starts torch at a fixed default seed
    T.seed_python_and_numpy(entropy)      # ... and random/numpy from fresh OS entropy
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return Target.from_namespace(target.name, module, source=path)
    finally:
        sys.modules.pop(name, None)
        if added and folder in sys.path:
            sys.path.remove(folder)


def _diff(a: List[Tuple[str, Any]], b: List[Tuple[str, Any]]) -> Optional[Tuple[str, str, float]]:
    """First difference between two named tensor lists: (name, description, relative size)."""
    if [n for n, _ in a] != [n for n, _ in b]:
        only = sorted(set(n for n, _ in a) ^ set(n for n, _ in b))
        return (only[0] if only else a[0][0], "different tensor names" + (f" ({', '.join(only[:3])})" if only else
                                                                      " (different order)"), float("inf"))
    for (n, x), (_, y) in zip(a, b):
        if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
            if x != y:
                return n, f"{x!r} vs {y!r}", float("inf")
            continue
        x, y = x.detach().cpu(), y.detach().cpu()
        if x.shape != y.shape or x.dtype != y.dtype:
            return n, f"shape/dtype {tuple(x.shape)} {x.dtype} vs {tuple(y.shape)} {y.dtype}", float("inf")
        if torch.equal(x, y) or (x.is_floating_point() and torch.equal(torch.isnan(x), torch.isnan(y))
                                 and torch.equal(torch.nan_to_num(x), torch.nan_to_num(y))):
            continue
        if not (x.is_floating_point() or x.is_complex()):
            k = int((x != y).sum())
            return n, f"{k} of {x.numel()} values differ", float("inf")
        d = float((x.double() - y.double()).abs().max())
        scale = float(torch.maximum(x.double().abs().max(), y.double().abs().max()))
        rel = d / scale if scale > 0 else float("inf")
        frac = float(((x - y) != 0).float().mean())
        return n, f"max |diff| {d:.3g} ({100 * frac:.0f}% of values differ)", rel
    return None


def _named_state(model) -> List[Tuple[str, torch.Tensor]]:
    return list(model.state_dict(keep_vars=False).items())


def _named_batch(batch) -> List[Tuple[str, Any]]:
    inputs, targets = batch
    return list(T.named_leaves(inputs, "inputs")) + list(T.named_leaves(targets, "targets"))


def _train_twice(ctx, entropies=(None, None)) -> Tuple[List[List[float]], Optional[Tuple[str, str, float]],
                                                       Optional[str], bool]:
    """Two identical short trainings from the same copy and batch: losses, the first param difference,
    why training could not be compared (or None), and whether the first run was update-ratio's.
    `entropies`: per run, Python's and NumPy's seed for every call into the target (None: the seed)."""
    runs, finals = [], []
    rec = ctx._cache.get(RUN_RECORD) if getattr(ctx, "share_models", False) and entropies[0] is None else None
    shared = rec is not None and rec["steps"] == TRAIN_STEPS and len(rec["losses"]) == TRAIN_STEPS + 1
    if shared:  # update-ratio took these same steps from the same init: one run is already done
        runs.append(list(rec["losses"]))
        finals.append(list(rec["state"]))
    for entropy in entropies[len(runs):]:
        losses, final, cut = _train_once(ctx, entropy)
        if cut:
            return [], None, cut, shared
        runs.append(losses)
        finals.append(final)
    return runs, _diff(finals[0], finals[1]), None, shared


def _train_once(ctx, entropy: Optional[int] = None):
    """One short training of a fresh copy: (losses, final state, why it could not train).
    `entropy`: Python's and NumPy's seed for every call into the target (None: the seed)."""
    model = ctx.fresh_model()
    model.train()
    opt = ctx.make_optimizer(model.parameters())
    sched = ctx.make_scheduler(opt)
    losses = []
    try:
        for step in range(TRAIN_STEPS):
            opt.zero_grad(set_to_none=True)
            # each step draws anew, as in update-ratio (whose run may be the first)
            with ctx.seeded(step, entropy):
                loss, _ = loss_backward(ctx, model, ctx.inputs, ctx.targets)
            losses.append(float(loss.detach().float()))
            opt.step()
            if sched is not None:
                with ctx.seeded(0, entropy):
                    ctx.call("scheduler.step()", sched.step)
    except GraphCut as e:
        return [], None, str(e)
    # one more forward after the last update, so a difference in the last step shows in a loss too
    # (grad mode on and the next step's seed, as update-ratio's next step, which a shared run recorded)
    with ctx.seeded(TRAIN_STEPS, entropy):
        losses.append(float(ctx.loss(ctx.forward(model, ctx.inputs), ctx.targets).detach().float()))
    return losses, _named_state(model), None


def _disagreement(runs: List[List[float]], pd) -> Optional[Tuple[str, float]]:
    """Where two training runs first differ (a loss, else the weights) and by how much; None if they agree."""
    ld = _loss_diff(runs[0], runs[1])
    if ld is None and pd is None:
        return None
    where = f"loss after step {ld[0]}: {runs[0][ld[0]]:.8g} vs {runs[1][ld[0]]:.8g}" if ld else \
        f"weights after {TRAIN_STEPS} steps: first at {pd[0]}, {pd[1]}"
    return where, max(ld[1] if ld else 0.0, pd[2] if pd else 0.0)


def _loss_diff(a: List[float], b: List[float]) -> Optional[Tuple[int, float]]:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y and not (x != x and y != y):
            return i, abs(x - y) / max(abs(x), abs(y), 1e-12)
    return None


@check("reproducibility", "same seed, same model, batch, loss and training", order=90)
def reproducibility(ctx) -> Result:
    metrics: Dict[str, Any] = {}
    details: List[str] = []
    how = "two fresh imports of the target"
    builds = []
    ctx.watch_py_draws, ctx.py_draws = True, False   # did the builds draw from random / np.random?
    try:
        for tag, entropy in zip("ab", IMPORT_ENTROPY):
            t = _fresh_copy(ctx.target, ctx.seed, entropy, tag)
            builds.append((ctx.call("build_model()", t.build_model), ctx.call("get_batch()", t.get_batch)))
    except Exception as e:
        # no file (a traced script, objects passed in) or it won't import twice: two calls in this process
        how = "two calls in this process (could not import the target again: " + describe_exception(e) + ")"
        builds = [(ctx.call("build_model()", ctx.target.build_model), ctx.call("get_batch()", ctx.target.get_batch))
                  for _ in range(2)]
    finally:
        ctx.watch_py_draws = False
    builds_drew = ctx.py_draws
    in_process = how.startswith("two calls")
    metrics["compared"] = how
    findings: List[Tuple[str, str, float]] = []   # (part, message, relative size)

    # The same two imports again, called with torch seeded alike but Python's and NumPy's global
    # RNGs left at each process's own entropy: what a script that calls only torch.manual_seed gets.
    torch_only = None
    if not in_process and builds_drew:  # nothing drawn: seeding them can't matter
        try:
            torch_only = []
            for tag, entropy in zip("cd", IMPORT_ENTROPY):
                t = _fresh_copy(ctx.target, ctx.seed, entropy, tag)
                with ctx.seeded(0, entropy):   # torch at the seed, random/numpy at entropy
                    torch_only.append((ctx.call("build_model()", t.build_model),
                                       ctx.call("get_batch()", t.get_batch)))
        except Exception:
            torch_only = None

    (m1, b1), (m2, b2) = builds
    if torch_only is not None:
        for part, idx, named, what in (("model", 0, _named_state, "build_model() gives different weights"),
                                       ("data", 1, _named_batch, "get_batch() gives a different batch")):
            try:
                same_all = _diff(named(builds[0][idx]), named(builds[1][idx])) is None
                d = _diff(named(torch_only[0][idx]), named(torch_only[1][idx]))
            except Exception:
                continue
            if same_all and d is not None:
                findings.append((part, f"{what} when only torch is seeded: first at {d[0]}, {d[1]}; it draws from "
                                       "NumPy's or Python's global RNG (np.random.*, random.*), which "
                                       "torch.manual_seed does not seed; seed them too (np.random.seed, random.seed) "
                                       "or draw from a generator seeded from torch", d[2]))
        del torch_only
    d = _diff(_named_state(m1), _named_state(m2))
    if d is not None:
        findings.append(("model", f"build_model() gives different weights with the same seed: first at {d[0]}, "
                                  f"{d[1]} (an unseeded generator, e.g. random.Random() or np.random.default_rng() "
                                  "without a seed, or a clock-based seed)", d[2]))
    try:
        d = _diff(_named_batch(b1), _named_batch(b2))
    except Exception as e:  # a batch that isn't (inputs, targets): preflight reports it
        d = ("batch", f"could not compare: {describe_exception(e)}", 0.0)
    if d is not None:
        findings.append(("data", f"get_batch() gives a different batch with the same seed: first at {d[0]}, {d[1]} "
                                 "(an unseeded generator in the data pipeline, e.g. np.random.default_rng() "
                                 "without a seed, or a shuffle seeded from the clock)", d[2]))
    del builds, m1, m2, b1, b2

    # forward + loss twice on identical copies and the same batch, no grad: randomness inside
    # forward/loss_fn. Without dropout modules, init_eval() (batch-sanity, init-loss) ran one the same
    # way: a fresh copy, model.train(), no dropout to turn off. (Not the preflight's forward: that
    # one runs the copy as built, and a train() override, such as one keeping a frozen backbone's
    # BatchNorm in eval, makes it a different forward.)
    init = []
    ie = ctx._cache.get("init_eval") if getattr(ctx, "share_models", False) else None
    if ie is not None and not has_dropout(ctx.pristine):
        init.append(float(ie["loss"].detach().float()))
    with torch.no_grad():
        while len(init) < 2:
            model = ctx.fresh_model()
            model.train()
            init.append(float(ctx.loss(ctx.forward(model, ctx.inputs), ctx.targets).detach().float()))
    metrics["init_loss"] = init
    ld = _loss_diff(init[:1], init[1:])
    if ld is not None:
        findings.append(("forward", f"the same model on the same batch gives loss {init[0]:.8g} then {init[1]:.8g} "
                                    "(randomness in forward or loss_fn that the global seeds don't govern, or a "
                                    "nondeterministic kernel)", ld[1]))

    ctx.watch_py_draws, ctx.py_draws = True, False   # did a training step draw from random / np.random?
    try:
        runs, pd, cut, shared = _train_twice(ctx)
    finally:
        ctx.watch_py_draws = False
    train_drew = ctx.py_draws
    if cut:
        details.append(f"training not compared: {cut}")
    else:
        metrics["train_losses"] = runs
        if shared:
            details.append(f"the first training run is update-ratio's first {TRAIN_STEPS} steps (same copy, "
                           "optimizer, scheduler and seeds); the second ran here")
        differ = _disagreement(runs, pd)
        if differ is not None:
            where, rel = differ
            findings.append(("training", f"two identical {TRAIN_STEPS}-step trainings disagree ({where}): "
                                         "nondeterministic kernels (scatter/index_add on GPU, cuDNN autotuning) or "
                                         "unseeded randomness in the training step", rel))
        elif not in_process and train_drew:
            # the same two trainings as two processes that seed only torch would run them
            runs2, pd2, cut2, _ = _train_twice(ctx, IMPORT_ENTROPY)
            differ = None if cut2 else _disagreement(runs2, pd2)
            if differ is not None:
                where, rel = differ
                findings.append(("training", f"two {TRAIN_STEPS}-step trainings with torch seeded alike disagree "
                                             f"({where}): the forward, loss or training step draws from Python's or "
                                             "NumPy's global RNG (random.random(), np.random.*), which "
                                             "torch.manual_seed does not seed; draw from torch instead, or seed "
                                             "them too", rel))
    metrics["differs"] = [p for p, _, _ in findings]
    for p, msg, rel in findings:
        metrics[f"{p}_relative_diff"] = rel
    big = [(p, m) for p, m, rel in findings if not rel <= TINY_REL]
    small = [(p, m) for p, m, rel in findings if rel <= TINY_REL]
    if big and not in_process:
        return Result("fail", "not reproducible: " + "; ".join(m for _, m in big), metrics, details)
    if big:  # two calls in one process can differ by design (a data stream that advances)
        return Result("warn", "two calls with the same seed differ (" + "; ".join(m for _, m in big) +
                      "); if get_batch/build_model advance a seeded stream on purpose this is fine", metrics, details)
    if small:
        return Result("warn", "tiny run-to-run differences (relative <= "
                              f"{TINY_REL:g}): " + "; ".join(m for _, m in small) +
                      "; set torch.use_deterministic_algorithms(True) if you need bit-identical runs",
                      metrics, details)
    return Result("pass", f"same seed, same results: model weights, batch, init loss {init[0]:.6g} and "
                          f"{TRAIN_STEPS} training steps match exactly ({how})", metrics, details)
