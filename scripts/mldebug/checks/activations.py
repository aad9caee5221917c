"""activations: saturated tanh/sigmoid units, dead ReLUs and activation scale at init.

From the shared probe (one forward of a fresh model in train mode on the batch), every
activation-function call, module or functional (nn.Tanh, torch.tanh, F.relu, x.sigmoid(),
...), attributed to the module it ran in. Per call: the fraction of values saturated
(|tanh| > 0.97, sigmoid outside [0.015, 0.985]), ReLU units never positive over the whole
batch, and the mean/std of input and output. Gates inside fused layers (nn.LSTM, nn.GRU,
nn.MultiheadAttention) are invisible and not judged; a sigmoid that *is* the model's output
is a prediction, not a hidden layer, and is only reported.
"""
from __future__ import annotations

from typing import Any, Dict, List

from ..registry import Plot, Result, check
from ._probe import DEAD_MARGIN, SIG_SAT, TANH_SAT, ActRecord, probe

# Saturation: fraction of a layer's values in the flat tails (|tanh| > 0.97, where the local
# gradient is < 6% of its peak (ours: 1 - 0.97^2); evidence/karpathy-makemore-part3.md's measure).
# The thresholds on the fraction are ours: a healthy Kaiming-gain tanh layer on standardised
# inputs saturates a few % of values (the zoo's healthy tanh MLP: ~2%); at > 10% a visible
# share of every gradient is being blocked; above half, most of the layer passes almost none.
SAT_WARN = 0.10
SAT_FAIL = 0.50
# Dead ReLU: a unit never positive for any observation of the batch gets no gradient and,
# with nothing to revive it, stays dead (evidence/karpathy-makemore-part3.md, evidence/cs231n-setup.md
# on biases that keep ReLUs firing). Judged on units whose largest input is also more than
# DEAD_MARGIN (=1) input stds below zero (see _probe.py); near-zero dormant ones are only reported.
# Default inits leave ~0% dead; >20% of a layer is a loss of capacity worth a look, >50% means
# most of the layer is already gone.
DEAD_WARN = 0.20
DEAD_FAIL = 0.50
# A unit is judged dead only with >= 16 observations (batch rows x positions): a unit that fires
# on half the inputs is silent on 16 in a row with probability 2^-16, so chance is not the reason.
MIN_OBS = 16
# Activation scale: "a good standard deviation for the activations is on the order of 0.5 to 2.0"
# (evidence/slavv-37-reasons.md, quoting Deeplearning4j). We warn a factor 10 (ours: a margin) outside
# that band, on the input of a nonlinearity: GPT-style 0.02-std inits give 0.1-0.6 and are healthy.
SCALE_LOW = 0.05
SCALE_HIGH = 20.0
SCALED_KINDS = ("relu", "relu6", "gelu", "silu", "mish", "elu", "leaky_relu", "selu", "celu", "softplus")


def _judged(a: ActRecord) -> bool:
    return not a.fused and not a.is_output


def _layer_line(a: ActRecord) -> str:
    s = f"{a.name:<34} {a.kind:<8} units {a.units:<5} in {a.in_mean:+.2f}±{a.in_std:.2f} out {a.out_mean:+.2f}±{a.out_std:.2f}"
    if a.saturated is not None:
        s += f"  saturated {100 * a.saturated:.1f}%"
    if a.dead is not None:
        s += f"  dead {a.deep_dead}/{a.units} (never positive {a.dead})" + ("" if a.obs_per_unit >= MIN_OBS else f" (only {a.obs_per_unit} obs: not judged)")
    if a.fused:
        s += "  [inside a fused layer: not judged]"
    if a.is_output:
        s += "  [model output: not judged]"
    return s


@check("activations", "tanh/sigmoid saturation, dead ReLUs and activation scale at init", order=40)
def activations(ctx) -> Result:
    pr = probe(ctx)
    acts = pr.acts
    if not acts:
        from ..registry import Skip
        raise Skip("no activation function (tanh, sigmoid, relu, gelu, ...) runs in forward outside fused layers")
    per_layer: Dict[str, Dict[str, Any]] = {}
    fails, warns = [], []
    for a in acts:
        d = {"kind": a.kind, "units": a.units, "in_mean": a.in_mean, "in_std": a.in_std,
             "out_mean": a.out_mean, "out_std": a.out_std}
        if a.saturated is not None:
            d["saturated"] = a.saturated
        if a.dead is not None:
            d["dead_frac"] = a.deep_dead_frac
            d["never_positive_frac"] = a.dead_frac
        if a.fused or a.is_output:
            d["judged"] = False
        per_layer[a.name] = d
    judged = [a for a in acts if _judged(a)]
    sats = [a for a in judged if a.saturated is not None]
    deads = [a for a in judged if a.dead is not None and a.obs_per_unit >= MIN_OBS and a.units > 0]
    for a in sats:
        lim = f"|tanh|>{TANH_SAT}" if a.kind == "tanh" else f"sigmoid outside [{SIG_SAT:.3f}, {1 - SIG_SAT:.3f}]"
        txt = (f"{a.name} ({a.kind}) is {100 * a.saturated:.0f}% saturated ({lim}; "
               f"{a.always_saturated}/{a.units} units saturated on every example; pre-activation std {a.in_std:.2g})")
        if a.saturated > SAT_FAIL:
            fails.append(txt)
        elif a.saturated > SAT_WARN:
            warns.append(txt)
    for a in deads:
        txt = (f"{a.name} ({a.kind}) has {a.deep_dead}/{a.units} units ({100 * a.deep_dead_frac:.0f}%) dead: never "
               f"positive over {a.obs_per_unit} observations, largest input > {DEAD_MARGIN:g} std below 0 "
               f"(pre-activation mean {a.in_mean:+.2g}, std {a.in_std:.2g})")
        if a.deep_dead_frac > DEAD_FAIL:
            fails.append(txt)
        elif a.deep_dead_frac > DEAD_WARN:
            warns.append(txt)
    # a module called several times in one forward step (a GAN discriminator on a real, then a fake batch) is
    # judged on its scale only when every call is out of range the same way: one healthy call shows the layer
    # itself is fine, and the other call's scale comes from its input (a generator's output at init)
    stds: Dict[str, List[float]] = {}
    for a in judged:
        stds.setdefault(a.name.split("#")[0], []).append(a.in_std)
    for a in judged:
        calls = stds.get(a.name.split("#")[0], [a.in_std])
        if len(calls) > 1 and (max(calls) >= SCALE_LOW and a.in_std < SCALE_LOW
                               or min(calls) <= SCALE_HIGH and a.in_std > SCALE_HIGH):
            continue
        if a.kind in SCALED_KINDS and a.in_std > 0 and not (SCALE_LOW <= a.in_std <= SCALE_HIGH):
            warns.append(f"{a.name} ({a.kind}) input std {a.in_std:.2g} is far outside the healthy 0.5-2 "
                         f"({'vanishing' if a.in_std < SCALE_LOW else 'exploding'} activations)")
    metrics: Dict[str, Any] = {
        "layers": per_layer,
        "judged": len(judged),
        "max_saturated": max((a.saturated for a in sats), default=None),
        "max_dead_frac": max((a.deep_dead_frac for a in deads), default=None),
    }
    details = [_layer_line(a) for a in acts]
    plots = []
    if any(a.samples for a in acts):
        plots.append(Plot("activations", "activation values at init, per layer", "value", "count",
                          {a.name: a.samples for a in acts if a.samples}, kind="hist"))
    if fails:
        return Result("fail", "; ".join(fails + warns), metrics, details, plots)
    if warns:
        return Result("warn", "; ".join(warns), metrics, details, plots)
    parts = []
    if sats:
        parts.append(f"max saturation {100 * metrics['max_saturated']:.1f}%")
    if deads:
        parts.append(f"max dead ReLU {100 * metrics['max_dead_frac']:.0f}%")
    skipped = len(acts) - len(judged)
    return Result("pass", f"{len(judged)} activation layers healthy at init"
                  + (f" ({', '.join(parts)})" if parts else "")
                  + (f"; {skipped} not judged (fused layer or model output)" if skipped else ""),
                  metrics, details, plots)
