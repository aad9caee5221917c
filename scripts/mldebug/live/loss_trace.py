"""loss-trace: a non-finite loss (with the first non-finite module), a loss that does not move, spikes.

refs/diagnostics.md#loss-trace explains it."""
from __future__ import annotations

import math
import statistics

from ..registry import Plot, Result, Skip, live_check

# loss-trace thresholds (refs/diagnostics.md#loss-trace; evidence/karpathy-recipe-2019.md,
# evidence/google-tuning-playbook.md on loss spikes and instability).
FLAT_REL = 1e-7          # max-min of the loss below this fraction of its size: bit-for-bit stuck
FLAT_MIN_STEPS = 5
SPIKE_FACTOR = 5.0       # a step's loss > 5x the median of the 10 before it, and above the first loss
SPIKE_WINDOW = 10
RISE_FACTOR = 2.0        # mean of the last quarter > 2x the first quarter's: the loss went up
RISE_MIN_STEPS = 12
# Floor rule (ours): CE, BCE, MSE, L1/Huber and KL terms are >= 0 (lossterms.FLOOR_ZERO). A total
# built from them with plus signs never goes below 0; one that stays below -5% of its starting size
# over the last quarter of the steps and is still falling there has a term with a flipped sign.
FLOOR_MARGIN = 0.05      # below the floor by more than this fraction of |loss at step 1|
FLOOR_MIN_STEPS = 8      # steps with a finite loss needed before judging the floor
_SYMBOLS = {"mul": "*", "rmul": "*", "sub": "-", "rsub": "-", "add": "+", "radd": "+", "truediv": "/",
            "rtruediv": "/", "div": "/", "neg": "unary -"}


def _term_name(t) -> str:
    if t.kind != "scalar":
        return t.name
    for k, sym in _SYMBOLS.items():
        if t.name.startswith(f"the scalar made by {k} ") or t.name == f"the scalar made by {k}":
            return t.name.replace(f"made by {k}", f"made by `{sym}`", 1)
    return t.name


def through_floor(tracer, steps, losses):
    """(summary, metrics) when the loss keeps falling below the floor its recognised terms set, else None."""
    terms = getattr(tracer, "loss_terms", None) or []
    floored = [t for t in terms if t.floor is not None]
    fin = [(st, x) for st, x in zip(steps, losses) if math.isfinite(x)]
    if not floored or len(fin) < FLOOR_MIN_STEPS:
        return None
    scale = max(abs(fin[0][1]), 1e-8)
    q = max(2, len(fin) // 4)
    last, prev = [x for _, x in fin[-q:]], [x for _, x in fin[-2 * q:-q]]
    if not all(x < -FLOOR_MARGIN * scale for x in last) or not statistics.mean(last) < statistics.mean(prev):
        return None
    first_neg = next(st for st, x in fin if x < 0)
    known = ", ".join(f"{t.name} (weight {t.weight:+.3g})" for t in floored[:3])
    neg = [t for t in floored if t.weight < 0]
    if neg:
        who = f"{neg[0].name} enters the total with weight {neg[0].weight:+.3g}, so the more it grows the lower the loss"
    else:
        cands = [t for t in terms if t.kind == "scalar" and t.weight * t.value < 0]
        who = ("a term outside them enters with a flipped sign" +
               (f", probably {_term_name(cands[0])} (value {cands[0].value:.3g} at step 1, weight "
                f"{cands[0].weight:+.3g} in the total)" if cands else ""))
    text = (f"the loss fell through its floor: its recognised terms {known} are >= 0, yet the loss went below 0 at "
            f"step {first_neg} and kept falling (to {fin[-1][1]:.4g} at step {fin[-1][0]}): {who}. A KL, "
            "reconstruction or penalty term belongs in the loss with a plus sign")
    return text, {"first_negative_step": first_neg, "loss_min": min(x for _, x in fin),
                  "floor_terms": [t.name for t in floored]}




@live_check("loss-trace", "non-finite, flat or spiking loss", order=140)
def check(tracer) -> Result:
    recs = tracer.records
    losses = [r.loss for r in recs if r.loss is not None]
    steps = [r.step for r in recs if r.loss is not None]
    nf = tracer.nonfinite
    plot = Plot("loss-trace", "loss at each optimizer step", "step", "loss", {"loss": losses}, x=steps)
    metrics: dict = {"steps": len(losses)}
    if losses:
        metrics.update({"loss_first": losses[0], "loss_last": losses[-1]})
    floor = through_floor(tracer, steps, losses)
    if floor is not None:
        metrics.update(floor[1])
        text = floor[0]
        if nf is not None:
            text += f"; it became {nf['value']} at step {nf['step']}"
        return Result("fail", text, metrics, plots=[plot])
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
        return Result("fail", f"the loss was {nf['value']} at step {nf['step']}{tracer.struct.where_phase(nf['step'])}"
                                   + (f"; {'; '.join(where)}" if where else ""), metrics, plots=[plot])
    if not losses:
        raise Skip("no scalar loss was backpropagated before the optimizer steps")
    bad = [st for st, x in zip(steps, losses) if not math.isfinite(x)]
    if bad:
        return Result("fail", f"the loss was non-finite at {len(bad)} of {len(losses)} steps (first at step "
                                   f"{bad[0]}{tracer.struct.where_phase(bad[0])}); run nan-source on the model", metrics, plots=[plot])
    if len(losses) >= FLAT_MIN_STEPS:
        spread = max(losses) - min(losses)
        if spread <= FLAT_REL * max(abs(x) for x in losses):
            return Result("fail", f"the loss was {losses[0]:.6g} at all {len(losses)} steps: the model is "
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
        return Result("warn", f"{len(spikes)} loss spike(s) above {SPIKE_FACTOR:g}x the recent median and above "
                                   f"the starting loss (first at step {spikes[0]}): too high an LR, a bad batch, or "
                                   "missing warm-up/clipping", metrics, plots=[plot])
    if len(losses) >= RISE_MIN_STEPS:
        q = len(losses) // 4
        a, b = statistics.mean(losses[:q]), statistics.mean(losses[-q:])
        if a > 0 and b > RISE_FACTOR * a:
            return Result("warn", f"the loss rose from {a:.4g} (first {q} steps) to {b:.4g} (last {q}): "
                                       "the LR may be too high, or the loss's sign is flipped", metrics, plots=[plot])
    return Result("pass", f"loss {losses[0]:.4g} at step {steps[0]}, {losses[-1]:.4g} at step {steps[-1]}; "
                               "finite, moving, no spikes", metrics, plots=[plot])
