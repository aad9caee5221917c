"""split-consistency: do evaluation batches come from the same pipeline as training batches?

Four measurements, each against a named threshold (refs/diagnostics.md#split-consistency):

1. Input statistics per feature (2-D inputs) or per channel (images, dim 1): the evaluation mean
   in training standard deviations, and the ratio of standard deviations. Normalisation applied
   to one split only moves every channel by many training stds or scales it by ~10x; a sample
   difference moves it by about sqrt(1/n_t + 1/n_v) stds, so the shift threshold grows with
   that standard error for small batches.
2. Label sets: evaluation labels outside what the model can output and that training never uses.
   Frequencies are reported, never judged (an imbalanced validation set is legitimate).
3. Leakage: evaluation examples whose inputs hash equal to a training example's, judged against
   the duplicate rate inside the training batch itself (tabular rows with few distinct values
   repeat by chance; continuous inputs never do).
4. Label ids: after training (doctor: a short fit of a copy on the training batch; trace: the live
   model's predictions at its evaluation passes), the evaluation confusion. When training
   accuracy is high and several evaluation classes are each predicted consistently as one other
   class, closed under the mapping (a permutation), the two splits number the classes differently.

The doctor reads `get_val_batch()`; `trace` the batches that reached the model under no_grad or in
eval mode (pipeline.py records them).
"""
from __future__ import annotations

import hashlib
import math
from typing import Any, Dict, List, Optional, Tuple

import torch

from .. import tensors as T
from ..context import disable_dropout, prediction_of
from ..registry import Option, Result, Skip, check
from ..training import GraphCut, train

# 1. statistics
Z_FAIL = 3.0          # mean shift, in training stds, that counts as "shifted": normalisation to mean 0 / std 1
#                       applied to one split moves data in raw units (pixels 0-255, mean ~120) by tens of stds;
#                       train-only augmentation (jitter, erasing) moves it by < 0.5 (ours: colour-jitter and
#                       imbalanced-val twins in tests/test_split_consistency.py stay below 1.2)
Z_SE = 5.0            # ... and at least 5 standard errors of a difference of means, se = sqrt(1/n_t + 1/n_v)
#                       training stds (examples as the unit: conservative, pixels of one image are correlated)
SCALE_FAIL = 4.0      # std ratio (either way) that counts as "rescaled": a missing /255 or /std is 10x-255x;
#                       4 leaves margin for augmentation, and with >= SCALE_MIN_N examples per split the
#                       99.9% quantile of a sample std ratio is < 2.4 (F(15,15) = 5.5, sqrt = 2.35)
T_FAIL = 8.0          # Welch t of the mean difference (each split's own std): the shift must also be 8 standard
#                       errors when the training std is a poor estimate (ours: 27,000 same-distribution draws of
#                       normal, squared-exponential, Cauchy, 3-level and 10%-sparse binary features, n = 2..256,
#                       1-12 features: no false alarm; normalisation bugs caught from n = 16)
LOG_T_FAIL = 8.0      # the log std ratio must be 8 of its normal-theory standard errors sqrt(1/2(n_t-1) + 1/2(n_v-1))
SCALE_MIN_N = 16      # fewer examples in either split: the scale test is not made (sample stds too noisy)
FEATURE_SHARE = 0.5   # a majority of features/channels must move: normalisation acts on all of them,
#                       while a class-mix difference moves a few class-specific features
MIN_EXAMPLES = 8      # per split, for any statistic at all: below, sample medians and MADs are too noisy (ours:
#                       up to 5% false alarms at n = 3-4 in the draws behind T_FAIL) and no bug was caught anyway
# 3. leakage
DUP_MIN = 2           # evaluation examples equal to a training example before leakage is claimed
HASH_VALUES = 4096    # values per example and input leaf that enter its hash (bounded cost on large images)
DUP_EXCESS = 4.0      # the cross-split duplicate rate must exceed 4x the training batch's own duplicate rate
# 4. label ids
FIT_STEPS = 200       # step cap of the doctor's short fit on the training batch (stops early at FIT_DONE_ACC)
FIT_DONE_ACC = 0.98   # the short fit stops once this share of the training batch is right
TRAIN_ACC_MIN = 0.9   # the confusion is judged only when training accuracy is at least this (the model has
#                       learnt the training ids; below, a messy evaluation confusion says nothing)
DOMINANT = 0.6        # a class counts as "predicted as d" when >= 60% of its evaluation examples go to d
MIN_SUPPORT = 3       # evaluation examples of a class before its row of the confusion is read
MIN_REMAPPED = 2      # classes predicted consistently as another class: one alone is an ordinary confusion


# ---------------------------------------------------------------------------- input statistics
def _feature_view(t: torch.Tensor) -> Optional[torch.Tensor]:
    """(features, values) of a float batch: dim 1 as the feature/channel axis for 2-D and >=4-D
    inputs, the smaller of dims 1 and 2 for 3-D ((B, C, L) audio, (B, T, D) sequences)."""
    if not t.is_floating_point() or t.dim() < 2 or t.shape[0] == 0:
        return None
    x = t.detach().double()
    if x.dim() == 3 and x.shape[2] < x.shape[1]:
        x = x.transpose(1, 2)
    return x.transpose(0, 1).reshape(x.shape[1], -1)


def _robust(f: torch.Tensor):
    """Per-feature location and scale: the median and the MAD (x1.4826, the normal std), falling back to the
    mean and std where the MAD is 0 (sparse or discrete features). Robust: heavy tails (counts, ratios)
    move sample means and stds far more than medians (ours: Cauchy features gave 19-31% false alarms with
    mean/std at n=64 and none with median/MAD)."""
    med = f.median(1).values
    mad = (f - med[:, None]).abs().median(1).values * 1.4826
    mean, std = _classic(f)
    zero = mad <= 1e-12 * (1 + med.abs())
    return torch.where(zero, mean, med), torch.where(zero, std, mad)


def _classic(f: torch.Tensor):
    return f.mean(1), f.std(1) if f.shape[1] > 1 else torch.zeros(f.shape[0], dtype=f.dtype)


def stats_compare(train_inputs: Any, val_inputs: Any) -> Dict[str, Any]:
    """Per-leaf, per-feature shift and scale of the evaluation inputs against the training inputs."""
    out: Dict[str, Any] = {"leaves": {}, "shifted_leaves": []}
    tl = dict(T.named_leaves(train_inputs))
    for name, v in T.named_leaves(val_inputs):
        t = tl.get(name)
        if t is None:
            continue
        ft, fv = _feature_view(t), _feature_view(v)
        if ft is None or fv is None or ft.shape[0] != fv.shape[0]:
            continue
        n_t, n_v = t.shape[0], v.shape[0]
        if min(n_t, n_v) < MIN_EXAMPLES:
            continue
        se = math.sqrt(1.0 / n_t + 1.0 / n_v)
        z_thr = max(Z_FAIL, Z_SE * se)
        # both estimators must agree: medians/MADs (robust to heavy tails) and means/stds (robust to
        # sparse and discrete features); a normalisation bug moves both by the same large factor
        flags, keep = [], None
        for est in (_robust, _classic):
            mt, st = est(ft)
            mv, sv = est(fv)
            ok = st > 1e-8 * (1 + mt.abs())           # constant in training: nothing to measure against
            keep = ok if keep is None else keep & ok
            z = (mv - mt).abs() / st
            ratio = sv / st
            # Welch's statistic guards features whose training scale is itself a poor estimate (few examples)
            welch = (mv - mt).abs() / (st.pow(2) / n_t + sv.pow(2) / n_v).sqrt().clamp_min(1e-300)
            shifted = (z > z_thr) & (welch > T_FAIL)
            if min(n_t, n_v) >= SCALE_MIN_N:
                log_se = math.sqrt(1.0 / (2 * (n_t - 1)) + 1.0 / (2 * (n_v - 1)))
                lr = ratio.clamp_min(1e-300).log().abs()
                scaled = (lr > math.log(SCALE_FAIL)) & (lr > LOG_T_FAIL * log_se) & (sv > 0)
            else:
                scaled = torch.zeros_like(shifted)
            flags.append((shifted, scaled, z, ratio, mt, st, mv, sv))
        ok = keep
        if not bool(ok.any()):
            continue
        (sh_r, sc_r, z, ratio, _, _, _, _), (sh_c, sc_c, _, _, mt, st, mv, sv) = flags
        shifted, scaled = (sh_r & sh_c)[ok], (sc_r & sc_c)[ok]
        z, ratio = z[ok], ratio[ok]
        moved = shifted | scaled
        share = float(moved.double().mean())
        entry = {"features": int(ok.sum()), "median_shift_std": float(z.median()), "max_shift_std": float(z.max()),
                 "median_std_ratio": float(ratio.median()), "shift_threshold_std": z_thr,
                 "moved_share": share, "n_train": n_t, "n_val": n_v,
                 "train_mean": float(mt[ok].mean()), "val_mean": float(mv[ok].mean()),
                 "train_std": float(st[ok].mean()), "val_std": float(sv[ok].mean())}
        out["leaves"][name] = entry
        if share >= FEATURE_SHARE and bool(moved.any()):
            out["shifted_leaves"].append(name)
    return out


def _describe_shift(name: str, e: Dict[str, Any]) -> str:
    what = "features" if e["features"] > 16 else "channels"
    return (f"{name}: evaluation mean {e['val_mean']:.3g} / std {e['val_std']:.3g} vs training "
            f"{e['train_mean']:.3g} / {e['train_std']:.3g} ({100 * e['moved_share']:.0f}% of {e['features']} "
            f"{what} off: median shift {e['median_shift_std']:.1f} training stds, threshold "
            f"{e['shift_threshold_std']:.1f}; median std ratio {e['median_std_ratio']:.2g}, threshold "
            f"{SCALE_FAIL:g}x)")


# ---------------------------------------------------------------------------- leakage
def example_hashes(inputs: Any) -> List[str]:
    """One hash per example (row of dim 0) over every input leaf: exact bytes of up to HASH_VALUES values per
    leaf, evenly strided (exact copies match; distinct real examples differ at sampled positions)."""
    ls = [t.detach() for t in T.leaves(inputs) if t.dim() > 0]
    if not ls:
        return []
    n = ls[0].shape[0]
    rows = []
    for t in ls:
        if t.shape[0] != n:
            continue
        flat = t.reshape(n, -1)
        stride = max(1, math.ceil(flat.shape[1] / HASH_VALUES))
        flat = flat[:, ::stride]
        if flat.dtype == torch.bfloat16:
            flat = flat.float()
        rows.append((tuple(t.shape[1:]), flat.contiguous().cpu().numpy()))
    out = []
    for i in range(n):
        h = hashlib.blake2b(digest_size=16)
        for shape, arr in rows:
            h.update(str(shape).encode())
            h.update(arr[i].tobytes())
        out.append(h.hexdigest())
    return out


def leakage(train_hashes: List[str], val_hashes: List[str]) -> Dict[str, Any]:
    n_t, n_v = len(train_hashes), len(val_hashes)
    within = (n_t - len(set(train_hashes))) / n_t if n_t else 0.0
    tset = set(train_hashes)
    dup = sum(1 for h in val_hashes if h in tset)
    rate = dup / n_v if n_v else 0.0
    leak = dup >= DUP_MIN and rate > DUP_EXCESS * within
    return {"val_in_train": dup, "val_examples": n_v, "train_examples": n_t, "cross_rate": rate,
            "train_duplicate_rate": within, "leak": leak}


# ---------------------------------------------------------------------------- labels
def class_labels(targets: Any) -> Optional[torch.Tensor]:
    """The integer class-label tensor among the targets, or None (regression, soft targets)."""
    t = targets if isinstance(targets, torch.Tensor) else None
    if t is None:
        ints = [x for x in T.leaves(targets) if not x.is_floating_point() and x.dim() >= 1
                and x.dtype != torch.bool]
        t = ints[0] if len(ints) == 1 else None
    if t is None or t.is_floating_point() or t.dtype == torch.bool or t.dim() < 1:
        return None
    return t


def label_counts(y: torch.Tensor) -> Dict[int, int]:
    vals, counts = torch.unique(y.detach().cpu().long(), return_counts=True)
    return {int(v): int(c) for v, c in zip(vals, counts)}


def predictions(pred: torch.Tensor, labels: torch.Tensor) -> Optional[torch.Tensor]:
    """Class predictions with the labels' shape: argmax over dim 1 of (B, C, ...) against (B, ...)."""
    if pred is None or not pred.is_floating_point() or pred.dim() < 2:
        return None
    if tuple(pred.shape[:1]) + tuple(pred.shape[2:]) == tuple(labels.shape):
        return pred.detach().argmax(1)
    if pred.dim() == labels.dim() + 1 and tuple(pred.shape[:-1]) == tuple(labels.shape):   # (B, T, C)
        return pred.detach().argmax(-1)
    return None


def confusion(true: torch.Tensor, pred: torch.Tensor, ignore=(-100,)) -> Dict[Tuple[int, int], int]:
    t, p = true.detach().cpu().long().flatten(), pred.detach().cpu().long().flatten()
    keep = torch.ones_like(t, dtype=torch.bool)
    for v in ignore:
        keep &= t != v
    t, p = t[keep], p[keep]
    if t.numel() == 0:
        return {}
    pairs, counts = torch.unique(torch.stack([t, p], 1), dim=0, return_counts=True)
    return {(int(a), int(b)): int(c) for (a, b), c in zip(pairs.tolist(), counts.tolist())}


def permutation(conf: Dict[Tuple[int, int], int]) -> Dict[str, Any]:
    """The remapping pattern in an evaluation confusion {(true, predicted): count}."""
    rows: Dict[int, Dict[int, int]] = {}
    for (a, b), c in conf.items():
        rows.setdefault(a, {})[b] = rows.get(a, {}).get(b, 0) + c
    dominant: Dict[int, Tuple[int, float, int]] = {}
    for a, row in rows.items():
        n = sum(row.values())
        if n < MIN_SUPPORT:
            continue
        b, c = max(row.items(), key=lambda kv: kv[1])
        dominant[a] = (b, c / n, n)
    remapped = {a: b for a, (b, share, _) in dominant.items() if b != a and share >= DOMINANT}
    correct = [a for a, (b, share, _) in dominant.items() if b == a]
    injective = len(set(remapped.values())) == len(remapped)
    # in a permutation, a class that took another's id has lost its own: every image that has
    # its own evaluation examples is itself remapped (closed under the mapping)
    closed = all(b in remapped or b not in dominant for b in remapped.values())
    hit = len(remapped) >= MIN_REMAPPED and injective and closed
    total = sum(conf.values())
    acc = sum(c for (a, b), c in conf.items() if a == b) / total if total else float("nan")
    return {"remapped": remapped, "classes_read": len(dominant), "classes_correct": len(correct),
            "injective": injective, "closed": closed, "permutation": hit, "val_accuracy": acc,
            "shares": {a: round(s, 3) for a, (b, s, _) in dominant.items()}}


def _mapping_text(remapped: Dict[int, int]) -> str:
    return ", ".join(f"{a}->{b}" for a, b in sorted(remapped.items()))


# ---------------------------------------------------------------------------- doctor: the short fit
def _short_fit(ctx, labels: torch.Tensor, val_inputs: Any, cap: int) -> Dict[str, Any]:
    """Train a copy on the training batch until it gets FIT_DONE_ACC right (cap FIT_STEPS); return its
    accuracy on that batch and its evaluation-batch predictions, both in eval mode."""
    model = ctx.fresh_model()
    model.train()
    disable_dropout(model)
    opt = ctx.make_optimizer(model.parameters())
    state = {"acc": None}

    def done(step, loss, trace):
        from .overfit_batch import _accuracy
        acc = _accuracy(trace)
        state["acc"] = acc
        return acc is not None and acc >= FIT_DONE_ACC

    run = train(ctx, model, opt, ctx.inputs, ctx.targets, cap, done=done, trace=True, patience=cap)
    model.eval()
    with torch.no_grad():
        pt = prediction_of(ctx.forward(model, ctx.inputs))
        pv = prediction_of(ctx.forward(model, val_inputs))
    yt = predictions(pt, labels)
    return {"steps": run.steps, "stopped": run.stopped, "train_pred": yt, "val_pred_raw": pv}


# ---------------------------------------------------------------------------- the verdict
def judge(stats: Dict[str, Any], leak: Dict[str, Any], labels_t: Optional[Dict[int, int]],
          labels_v: Optional[Dict[int, int]], n_out: Optional[int], perm: Optional[Dict[str, Any]],
          train_acc: Optional[float], metrics: Dict[str, Any], how: str, fit_note: str = "") -> Result:
    fails, warns, passes = [], [], []
    metrics["statistics"] = stats["leaves"]
    if stats["shifted_leaves"]:
        fails.append("evaluation inputs are preprocessed differently from training inputs (normalisation "
                     "applied to one split only?): " + "; ".join(_describe_shift(n, stats["leaves"][n])
                                                                 for n in stats["shifted_leaves"]))
    elif stats["leaves"]:
        worst = max(stats["leaves"].values(), key=lambda e: e["median_shift_std"])
        passes.append(f"input statistics agree (median shift {worst['median_shift_std']:.2f} training stds, "
                      f"std ratio {worst['median_std_ratio']:.2f})")
    metrics["leakage"] = leak
    if leak["leak"]:
        fails.append(f"{leak['val_in_train']} of {leak['val_examples']} evaluation examples are exact copies "
                     f"of training examples (the training batch repeats its own examples at "
                     f"{100 * leak['train_duplicate_rate']:.0f}%): the splits overlap, evaluation measures "
                     "memorisation")
    elif leak["val_examples"]:
        passes.append(f"{leak['val_in_train']} of {leak['val_examples']} evaluation examples seen in training")
    if labels_t is not None and labels_v is not None:
        metrics["train_labels"], metrics["val_labels"] = labels_t, labels_v
        extra = sorted(set(labels_v) - set(labels_t))
        out_of_range = [c for c in extra if n_out is not None and (c >= n_out or c < 0) and c not in (-100, 255)]
        if out_of_range:
            warns.append(f"evaluation labels {out_of_range} never occur in training and lie outside the "
                         f"model's {n_out} outputs (a 1-based label file, another class list?)")
    if perm is not None:
        metrics["confusion"] = {k: v for k, v in perm.items() if k != "shares"}
        metrics["train_accuracy"] = train_acc
        if perm["permutation"]:
            fails.append(f"label ids differ between training and evaluation: with {100 * train_acc:.0f}% training "
                         f"accuracy, evaluation classes are predicted consistently as other classes, a "
                         f"permutation (evaluation id -> predicted training id: {_mapping_text(perm['remapped'])}); "
                         "build one label->id mapping and share it between the splits")
        else:
            passes.append(f"evaluation confusion shows no label permutation (evaluation accuracy "
                          f"{100 * perm['val_accuracy']:.0f}%, training {100 * train_acc:.0f}%)")
    elif fit_note:
        passes.append(fit_note)
    if fails:
        return Result("fail", f"{how}: " + "; ".join(fails), metrics, details=warns + passes)
    if warns:
        return Result("warn", f"{how}: " + "; ".join(warns), metrics, details=passes)
    return Result("pass", f"{how}: " + "; ".join(passes or ["nothing to compare"]), metrics)


@check("split-consistency", "evaluation batches match training batches (statistics, labels, ids, leakage)",
       order=94, options=[Option("--split-fit-steps", int, FIT_STEPS,
                                 "step cap of split-consistency's short fit on the training batch")])
def split_consistency(ctx) -> Result:
    live = ctx.target.extras.get("pipeline")
    if live is not None:
        return live.split_consistency(ctx)
    val = ctx.val_batch()
    if val is None:
        raise Skip("no evaluation batch: define get_val_batch() in the target (one batch from your "
                   "validation pipeline) to compare the splits")
    vx, vy = val
    stats = stats_compare(ctx.inputs, vx)
    leak = leakage(example_hashes(ctx.inputs), example_hashes(vx))
    yt, yv = class_labels(ctx.targets), class_labels(vy)
    metrics: Dict[str, Any] = {"train_examples": ctx.batch_size, "val_examples": T.batch_size(vx)}
    perm, train_acc, note, n_out = None, None, "", None
    if yt is not None and yv is not None:
        cap = max(1, int(ctx.option("split_fit_steps", FIT_STEPS)))
        try:
            fit = _short_fit(ctx, yt, vx, cap)
        except GraphCut as e:
            fit = None
            note = f"no fit for the label-id comparison: {e}"
        if fit is not None:
            metrics["fit_steps"] = fit["steps"]
            pv = predictions(fit["val_pred_raw"], yv) if fit["val_pred_raw"] is not None else None
            if fit["val_pred_raw"] is not None and fit["val_pred_raw"].dim() >= 2:
                n_out = int(fit["val_pred_raw"].shape[1])
            if fit["train_pred"] is None or pv is None:
                note = "predictions are not class scores over the labels: no label-id comparison"
            else:
                valid = yt != -100
                train_acc = float((fit["train_pred"][valid] == yt[valid]).double().mean())
                metrics["train_accuracy"] = train_acc
                if train_acc >= TRAIN_ACC_MIN:
                    perm = permutation(confusion(yv, pv))
                else:
                    note = (f"training accuracy {100 * train_acc:.0f}% after a {fit['steps']}-step fit is below "
                            f"{100 * TRAIN_ACC_MIN:.0f}%: label ids not compared")
    how = (f"training batch ({ctx.batch_size}) vs get_val_batch() ({T.batch_size(vx)})"
           + (f", after a {metrics['fit_steps']}-step fit" if "fit_steps" in metrics else ""))
    return judge(stats, leak, label_counts(yt) if yt is not None else None,
                 label_counts(yv) if yv is not None else None, n_out, perm, train_acc, metrics, how, note)
