"""grad-flow: does every trainable parameter get a usable gradient from one backward?

One forward + backward of a fresh model on the batch (train mode, shared probe). We name
parameters that get no gradient at all (never called, or cut from the loss by detach /
.data / torch.no_grad / a discarded output), parameters whose gradient is exactly zero
although they are used, non-finite gradients, frozen layers sitting between trainable
ones, and the spread of per-layer gradient norms (relative to each layer's weight norm)
across weight matrices: a spread of many decades is a vanishing or exploding network.
"""
from __future__ import annotations

import math
import statistics
from typing import Any, Dict, List

import torch

from ..registry import Result, check
from ._probe import ParamInfo, fmt_list, probe

# Spread of ||grad|| / ||W|| between weight matrices (embeddings and 1-D tensors excluded).
# With one SGD learning rate, a layer whose relative gradient is 1e4x below the fastest one
# moves 1e-7 of its weights per step when the fastest moves at the healthy 1e-3
# (evidence/cs231n-babysitting.md, evidence/karpathy-makemore-part3.md): below float32's
# relative resolution (6e-8 for a weight of its own size), so its SGD updates round away.
SPREAD_WARN = 1e4
# 1e10: beyond it even Adam cannot help: gradients that small fall under its eps (1e-8) for
# any layer whose healthy neighbours sit near 1e-2..1, so its updates shrink by orders of
# magnitude; the 20-layer default-init sigmoid MLP (tests/zoo/bug_b_vanishing_sigmoid.py)
# measures ~1e13, the healthy zoo at most ~1e2.
SPREAD_FAIL = 1e10
PERTURB_STD = 1e-2     # scale of the values put into zero-initialised tensors to test whether they block the gradient
ZERO_INIT_ROUNDS = 3  # zero-init chains deeper than 3 tensors in a row are not credited (and are rare)
FINE_TUNE_FRAC = 0.5   # >= half the weights frozen: a fine-tuning / adapter setup, not a slip
REBUILD_SEED_OFFSET = 1  # the second build for the frozen-random test uses seed + 1
_TORCH_LAYERS = {n for n in dir(torch.nn) if isinstance(getattr(torch.nn, n), type)
                 and issubclass(getattr(torch.nn, n), torch.nn.Module)}


def _frozen_random(ctx, frozen: List[str]) -> List[str]:
    """Frozen parameters whose values differ between builds under two seeds: freshly initialised
    tensors (never loaded) that will never train. Loaded weights are the same in every build."""
    with ctx.seeded(REBUILD_SEED_OFFSET):   # the same build under another seed
        other = ctx.call("build_model() (second seed)", ctx.target.build_model)
    other = ctx._unwrapped(other)
    mine = dict(ctx.pristine.named_parameters())
    out = []
    for name, p in other.named_parameters():
        q = mine.get(name)
        if name in frozen and q is not None and q.shape == p.shape and p.is_floating_point():
            if not torch.equal(q.detach().float().cpu(), p.detach().float().cpu()):
                out.append(name)
    return out


def _weight_modules(pr, trainable_of) -> List[tuple]:
    """(module path, trainable?) for modules holding a non-embedding weight matrix, in the order they ran."""
    held: Dict[str, List[ParamInfo]] = {}
    for p in pr.params:
        if len(p.shape) >= 2 and not p.embedding:
            held.setdefault(p.owner, []).append(p)
    return [(m, any(trainable_of(p) for p in held[m])) for m in pr.module_order if m in held]


def _frozen_findings(pr, details: List[str]) -> List[str]:
    frozen = [p for p in pr.params if not p.requires_grad]
    if not frozen:
        return []
    total = sum(p.numel for p in pr.params)
    frac = sum(p.numel for p in frozen) / max(1, total)
    owners = sorted({p.owner or "<model>" for p in frozen}, key=lambda m: pr.module_order.index(m)
                    if m in pr.module_order else 10 ** 9)
    details.append(f"frozen (requires_grad=False): {len(frozen)} tensors, {100 * frac:.0f}% of the weights, in "
                   + fmt_list(owners, 8))
    if frac >= FINE_TUNE_FRAC:
        details.append("most weights are frozen: read as fine-tuning (a frozen backbone with trainable parts)")
        return []
    seq = _weight_modules(pr, lambda p: p.requires_grad)
    warns = []
    i = 0
    while i < len(seq):
        if seq[i][1]:
            i += 1
            continue
        j = i
        while j < len(seq) and not seq[j][1]:
            j += 1
        if i > 0 and j < len(seq):   # trainable layers both before and after this frozen run
            run = [f"{m} ({pr.module_types.get(m, '?')})" for m, _ in seq[i:j]]
            warns.append(f"{fmt_list(run)} {'is' if len(run) == 1 else 'are'} frozen (requires_grad=False) between "
                         f"trainable layers {seq[i - 1][0]!r} and {seq[j][0]!r}: if not meant, it never trains")
        i = j
    if not warns:
        details.append("frozen layers come first (embeddings/backbone) or last: read as intended")
    return warns


def _unblocked_by_perturbing(ctx, blockers: List[str]) -> set:
    """Names of parameters that get a non-zero gradient once the zero-valued `blockers` hold small random values."""
    model = ctx.fresh_model()
    model.train()
    named = dict(model.named_parameters())
    g = torch.Generator(device="cpu").manual_seed(ctx.seed)
    with torch.no_grad():
        for n in blockers:
            p = named[n]
            p.copy_((torch.randn(p.shape, generator=g) * PERTURB_STD).to(p.device, p.dtype))
    loss = ctx.loss(ctx.forward(model, ctx.inputs), ctx.targets)
    if not loss.requires_grad:
        return set()
    ctx.call("loss.backward()", loss.backward)
    return {n for n, p in named.items() if p.grad is not None and bool(p.grad.detach().any())}


SKIP_SEEDS = 3   # extra forwards (no backward) that look for modules skipped at random (ours: a block kept
                # with probability 0.9 is skipped in all 4 passes with probability 1e-4)


def _randomly_skipped(ctx, names: List[str]) -> set:
    """Parameters among `names` whose module runs in a train-mode forward under another seed: a
    block skipped at random (stochastic depth), not one that never runs."""
    model = ctx.fresh_model()
    model.train()
    ran: set = set()
    owner = {}
    for mname, m in model.named_modules():
        for pname, _ in m.named_parameters(recurse=False):
            owner[f"{mname}.{pname}" if mname else pname] = mname
    wanted = {owner[n] for n in names if n in owner}
    hooks = [m.register_forward_hook(lambda mod, i, o, n=mname: ran.add(n))
             for mname, m in model.named_modules() if mname in wanted]
    try:
        with torch.no_grad():
            for k in range(1, SKIP_SEEDS + 1):
                if wanted <= ran:
                    break
                with ctx.seeded(1000 * k):     # another seed for this forward
                    ctx.forward(model, ctx.inputs)
    except Exception:
        return set()
    finally:
        for h in hooks:
            h.remove()
    return {n for n in names if owner.get(n) in ran}


@check("grad-flow", "every trainable parameter gets a finite, non-zero gradient of sane relative size", order=30)
def grad_flow(ctx) -> Result:
    pr = probe(ctx)
    metrics: Dict[str, Any] = {"loss": pr.loss}
    if not pr.loss_requires_grad:
        return Result("fail", "the loss does not require grad: nothing upstream can learn. The graph from the "
                              "parameters to the loss is cut (detach(), .data, .item(), torch.no_grad, numpy, or "
                              "every parameter frozen); check the model's output and the loss_fn", metrics)
    if pr.backward_error:
        raise RuntimeError(f"backward raised: {pr.backward_error}")
    trainable = [p for p in pr.params if p.requires_grad]
    details: List[str] = []
    problems, warns = [], []

    # 1. no gradient at all
    no_grad = [p for p in trainable if not p.has_grad]
    never_ran = [p.name for p in no_grad if not p.ran]
    cut = [p.name for p in no_grad if p.ran]
    skipped = _randomly_skipped(ctx, never_ran) if never_ran else set()
    if skipped:
        metrics["randomly_skipped"] = sorted(skipped)
        details.append(f"skipped in this forward but run in another with a different seed (stochastic depth, "
                       f"LayerDrop): {fmt_list(sorted(skipped))}")
        never_ran = [n for n in never_ran if n not in skipped]
    if never_ran:
        problems.append(f"{len(never_ran)} parameter tensors get no gradient because their module never runs in "
                        f"forward: {fmt_list(never_ran)}")
    if cut:
        problems.append(f"{len(cut)} parameter tensors get no gradient although their module runs: its output "
                        f"never reaches the loss (discarded, or cut by detach()/.data/torch.no_grad): {fmt_list(cut)}")

    # 2. non-finite gradients
    bad = [p.name for p in trainable if p.has_grad and not p.grad_finite]
    if bad:
        problems.append(f"{len(bad)} gradients are NaN/Inf ({fmt_list(bad)}): run nan-source to find where")

    # 3. exactly zero gradients on used parameters
    zero = [p for p in trainable if p.has_grad and p.grad_finite and p.grad_zero]
    if zero:
        # zero-valued tensors that do get a gradient move on the first step; once they hold values,
        # the gradient may reach what sits behind them (zero-init residual branches, a zero head).
        # Replay that a few rounds: what stays at zero after them is really blocked.
        zero_names = {p.name for p in zero}
        blockers = [p.name for p in trainable if p.param_zero and p.has_grad and p.grad_finite and not p.grad_zero]
        explained, movers = set(), list(blockers)
        for _ in range(ZERO_INIT_ROUNDS if blockers else 0):
            got = _unblocked_by_perturbing(ctx, movers)
            new = (got & zero_names) - explained
            if not new:
                break
            explained |= new
            movers += [p.name for p in zero if p.name in new and p.param_zero]
        if explained:
            details.append(f"{len(explained)} tensors get an exactly zero gradient at init only because "
                           f"{fmt_list(blockers)} start at zero and have a gradient themselves: intended zero-init, "
                           "the gradient flows after the first step")
        rest = [p for p in zero if p.name not in explained]
        mats = [p.name for p in rest if len(p.shape) >= 2]
        vecs = [p.name for p in rest if len(p.shape) < 2]
        if mats:
            problems.append(f"{len(rest)} used parameter tensors get an exactly zero gradient ({fmt_list(mats + vecs)}): "
                            "something between them and the loss passes no gradient (dead ReLUs, a zero "
                            "multiplier, round/argmax/sign, a stuck zero-init)")
        elif vecs:
            warns.append(f"{len(vecs)} 1-D parameters get an exactly zero gradient ({fmt_list(vecs)}): usually a bias "
                         "cancelled by a following normalisation (harmless but useless), else a blocked path")
        metrics["zero_grad"] = [p.name for p in rest]
        metrics["zero_grad_explained_by_zero_init"] = sorted(explained)

    # 4. frozen layers
    metrics["frozen"] = [p.name for p in pr.params if not p.requires_grad]
    random_all = _frozen_random(ctx, metrics["frozen"]) if metrics["frozen"] else []
    # A frozen random tensor of a torch layer (Embedding, Linear, Conv, RNN weights) is a layer that
    # never trains; a bare nn.Parameter of a custom module is often a fixed random feature on purpose
    # (Gaussian Fourier features, random projections): warn for those.
    owners = {p.name: p.owner_type for p in pr.params}
    random_frozen = [n for n in random_all if owners.get(n, "") in _TORCH_LAYERS]
    random_custom = [n for n in random_all if n not in random_frozen]
    metrics["frozen_random"] = random_all
    if random_custom:
        warns.append(f"{len(random_custom)} frozen parameters of custom modules are freshly initialised (their values "
                     f"change with the seed): {fmt_list(random_custom)}; fine for fixed random features (Fourier "
                     "features, random projections), else they were meant to be loaded or trained")
    if random_frozen:
        problems.append(f"{len(random_frozen)} frozen tensors (requires_grad=False) are freshly initialised: their "
                        f"values change with the seed of build_model(), so nothing was loaded into them, and they will "
                        f"never train: {fmt_list(random_frozen)} (e.g. nn.Embedding.from_pretrained(torch.randn(...)), "
                        "whose freeze defaults to True; or a freezing loop that matches too much)")
    elif not random_custom:
        warns += _frozen_findings(pr, details)

    # 5. per-layer gradient norms
    metrics["grad_norm"] = {p.name: p.grad_norm for p in trainable if p.has_grad and p.grad_finite}
    layers = [p for p in trainable if p.has_grad and p.grad_finite and not p.grad_zero and len(p.shape) >= 2
              and not p.embedding and p.param_norm > 0]
    rel = {p.name: p.grad_norm / p.param_norm for p in layers}
    metrics["rel_grad_norm"] = rel
    metrics["weight_matrices"] = len(rel)
    if len(rel) >= 2:
        hi, lo = max(rel, key=rel.get), min(rel, key=rel.get)
        spread = rel[hi] / rel[lo]
        med = statistics.median(rel.values())
        metrics["spread"] = spread
        metrics["spread_log10"] = math.log10(spread)
        metrics["median_rel_grad_norm"] = med
        # direction: which end runs first in forward (closer to the input)
        order = {m: i for i, m in enumerate(pr.module_order)}
        owner = {p.name: p.owner for p in layers}
        lo_first = order.get(owner[lo], 0) < order.get(owner[hi], 0)
        if abs(math.log10(med / rel[lo]) - math.log10(rel[hi] / med)) > 2:   # one layer far out on its own
            odd = lo if math.log10(med / rel[lo]) > math.log10(rel[hi] / med) else hi
            what = f"{odd} is the outlier ({'vanishing' if odd == lo else 'exploding'})"
        else:
            what = ("vanishing gradients: they shrink toward the input" if lo_first else
                    "exploding gradients: they grow toward the input")
        desc = (f"per-layer gradient norms (||grad||/||W||) span {spread:.1e}x: {lo} gets {rel[lo]:.2e}, "
                f"{hi} gets {rel[hi]:.2e}; {what}")
        # The warning needs a depth trend, not one odd pair: attention query/key weights get
        # tiny gradients at init by design (near-uniform attention), in every block alike.
        # Trend = median over the third of weight matrices closest to the output over the
        # median of the third closest to the input (forward order).
        ranked = sorted(layers, key=lambda p: order.get(p.owner, 0))
        third = len(ranked) // 3
        trend = None
        if third >= 1:
            first = statistics.median(rel[p.name] for p in ranked[:third])
            last = statistics.median(rel[p.name] for p in ranked[-third:])
            trend = max(first / last, last / first)
            metrics["depth_trend"] = trend
        if spread >= SPREAD_FAIL:
            problems.append(desc + ": no single learning rate can train both")
        elif trend is not None and trend >= SPREAD_WARN:
            warns.append(desc + f"; the input-side and output-side thirds differ {trend:.1e}x: plain SGD will "
                                "barely move the slow layers (Adam compensates in part)")
        details.append("||grad||/||W|| per weight matrix, in parameter order:")
        details += [f"  {n:<40} {v:.3e}" for n, v in rel.items()]

    n_ok = sum(1 for p in trainable if p.has_grad and p.grad_finite and not p.grad_zero)
    metrics["trainable"] = len(trainable)
    metrics["with_gradient"] = n_ok
    if problems:
        return Result("fail", "; ".join(problems + warns), metrics, details)
    if warns:
        return Result("warn", "; ".join(warns), metrics, details)
    spread_txt = f"; relative grad norms span {metrics['spread']:.1f}x over {len(rel)} weight matrices" \
        if "spread" in metrics else ""
    frozen_txt = f"; {len(metrics['frozen'])} frozen tensors (read as intended)" if metrics["frozen"] else ""
    zi = metrics.get("zero_grad_explained_by_zero_init")
    zi_txt = f"; {len(zi)} tensors wait on a zero-initialised layer for one step" if zi else ""
    return Result("pass", f"all {len(trainable)} trainable tensors get a finite gradient{spread_txt}{frozen_txt}{zi_txt}",
                  metrics, details)
