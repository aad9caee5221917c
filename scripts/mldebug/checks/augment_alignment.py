"""augment-alignment: does a paired augmentation move the input and its dense target together?

We fetch the same index of the training Dataset several times, each under its own RNG state (the
global torch, random and numpy states are saved and put back around every fetch), and compare each
fetch with the first. From the two inputs we estimate the geometric transform between them: one of
the flips and 90-degree rotations (the dihedral group of the square; flips and the 180-degree
rotation for non-square images) followed by an integer translation (a crop offset), found by FFT
cross-correlation and confirmed by the per-channel correlation over the overlap (per-channel, so
colour jitter and noise do not hide the geometry). Then we apply that transform to the first
fetch's target and compare with the second fetch's target. A dense target (mask, heatmap, depth
map: it shares the input's two spatial axes) that does not follow its input fails, naming both
transforms ("image flipped horizontally, mask unchanged"). Class labels that change between
fetches of one index are label noise (warn), unless they are soft mixing targets (mixup, cutmix).

The doctor reads `get_dataset()`; `trace` the Dataset behind each DataLoader whose batches trained
the model.
"""
from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch

from ..registry import Result, Skip, check
from ..tensors import preserved_rng, seed_everything

FETCHES = 6            # fetches of one index (the first is the reference): 5 pairs per index
INDICES = 4            # indices spread over the dataset
FETCH_BUDGET_S = 10.0  # seconds of dataset fetches at most; a slow dataset gets fewer indices
INPUT_MATCH = 0.9      # per-channel correlation over the overlap that identifies the input's transform
#                        (ours: colour jitter of +-40% brightness/contrast and noise of 0.1 std keep >= 0.95 on
#                        the test images; a wrong flip or shift of structured images gives < 0.5)
INPUT_FLOOR = 0.6      # ... or at least this, with INPUT_MARGIN over every distinct transform (another flip or
INPUT_MARGIN = 0.2     # rotation, or a shift more than 2 px away): strong noise on a weakly textured image lowers
#                        the best score but not its lead (ours: +-40% jitter and noise at half the texture's std
#                        give 0.84-0.90 for the true transform and <= 0.64 for any other on the test scenes)
AMBIGUOUS = 0.02       # other transforms within this correlation of the best explain the input as well
#                        (a symmetric image); the target may follow any of them
TARGET_AGREE = 0.98    # mean IoU over classes (class masks) or correlation (float maps) under the input's
#                        transform: a paired transform reproduces the target exactly on the overlap (ours: 1.0 on
#                        every consistent pair in the tests, including ignore_index borders and padding)
MAX_SHIFT = 0.5        # translations up to half of each side (a crop offset); larger leaves too little overlap
MIN_OVERLAP = 0.25     # share of the image the two fetches must have in common to be compared
MIN_DIVERGENT = 2      # divergent pairs before failing (ours: one pair alone could be an interpolation artefact;
#                        independent draws diverge in about half the pairs, ~10 of 20)
MIN_PIXELS = 16        # a target smaller than 4x4 is not a dense map

INPUT_KEYS = ("image", "img", "input", "inputs", "x", "pixel_values", "data", "images")
TARGET_KEYS = ("mask", "masks", "label", "labels", "target", "targets", "y", "seg", "segmentation",
               "heatmap", "heatmaps", "depth", "gt")


# ---------------------------------------------------------------------------- reading a sample
def _as_tensor(obj: Any) -> Optional[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        return obj.detach()
    if isinstance(obj, (bool, int, float)):
        return torch.tensor(obj)
    try:
        import numpy as np
        if isinstance(obj, np.ndarray) or hasattr(obj, "__array_interface__") or hasattr(obj, "__array__"):
            arr = np.asarray(obj)
            if arr.dtype == object:
                return None
            return torch.from_numpy(arr.copy())
    except Exception:
        return None
    return None


def split_sample(sample: Any) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor], str, str]:
    """(input, target, input name, target name) of one dataset item."""
    if isinstance(sample, Mapping):
        keys = list(sample.keys())
        ik = next((k for k in keys if str(k).lower() in INPUT_KEYS), keys[0] if keys else None)
        tk = next((k for k in keys if str(k).lower() in TARGET_KEYS and k != ik), None)
        if tk is None:
            tk = next((k for k in keys if k != ik), None)
        x = _as_tensor(sample[ik]) if ik is not None else None
        y = _as_tensor(sample[tk]) if tk is not None else None
        return x, y, f"[{ik!r}]", f"[{tk!r}]"
    if isinstance(sample, (tuple, list)) and len(sample) >= 2:
        x = _as_tensor(sample[0])
        ys = [(i, _as_tensor(s)) for i, s in enumerate(sample[1:], 1)]
        ys = [(i, y) for i, y in ys if y is not None]
        # prefer a target that shares the input's spatial axes (a mask next to a class label)
        if x is not None:
            hw = spatial(x)
            for i, y in ys:
                if hw is not None and canon_target(y, hw) is not None:
                    return x, y, "[0]", f"[{i}]"
        i, y = ys[0] if ys else (1, None)
        return x, y, "[0]", f"[{i}]"
    return _as_tensor(sample), None, "", ""


def spatial(x: torch.Tensor) -> Optional[Tuple[int, int]]:
    """(H, W) of an image-like input: (H, W), (C, H, W), (H, W, C) with C <= 4, or (..., H, W)."""
    if x.dim() < 2:
        return None
    if x.dim() == 3 and x.shape[-1] <= 4 < x.shape[0]:
        return int(x.shape[0]), int(x.shape[1])
    return int(x.shape[-2]), int(x.shape[-1])


def canon_input(x: torch.Tensor) -> torch.Tensor:
    """(K, H, W) float."""
    x = x.detach().cpu()
    if x.dim() == 2:
        x = x[None]
    elif x.dim() == 3 and x.shape[-1] <= 4 < x.shape[0]:
        x = x.permute(2, 0, 1)
    return x.reshape(-1, x.shape[-2], x.shape[-1]).double()


def canon_target(y: torch.Tensor, hw: Tuple[int, int]) -> Optional[torch.Tensor]:
    """(K, H, W) when the target shares the input's spatial axes (a dense target), else None."""
    if y is None or y.dim() < 2 or hw[0] * hw[1] < MIN_PIXELS:
        return None
    y = y.detach().cpu()
    if tuple(y.shape[-2:]) == hw:
        return y.reshape(-1, hw[0], hw[1])
    if y.dim() == 3 and tuple(y.shape[:2]) == hw:
        return y.permute(2, 0, 1)
    return None


# ---------------------------------------------------------------------------- transforms
def _group(square: bool) -> List[Tuple[str, Callable[[torch.Tensor], torch.Tensor]]]:
    g = [("unflipped", lambda t: t),
         ("flipped horizontally", lambda t: t.flip(-1)),
         ("flipped vertically", lambda t: t.flip(-2)),
         ("rotated 180 degrees", lambda t: t.flip(-2, -1))]
    if square:
        g += [("rotated 90 degrees", lambda t: torch.rot90(t, 1, (-2, -1))),
              ("rotated 270 degrees", lambda t: torch.rot90(t, 3, (-2, -1))),
              ("transposed", lambda t: t.transpose(-2, -1)),
              ("anti-transposed", lambda t: torch.rot90(t, 1, (-2, -1)).flip(-1))]
    return g


def _overlap(H: int, W: int, dy: int, dx: int):
    """Slices (of a, of b) with b[y, x] = a[y - dy, x - dx] on their overlap."""
    ya, yb = (slice(0, H - dy), slice(dy, H)) if dy >= 0 else (slice(-dy, H), slice(0, H + dy))
    xa, xb = (slice(0, W - dx), slice(dx, W)) if dx >= 0 else (slice(-dx, W), slice(0, W + dx))
    return (ya, xa), (yb, xb)


def _corr(a: torch.Tensor, b: torch.Tensor) -> float:
    """Correlation of (K, h, w) tensors, channel by channel, pooled with weights sqrt(var_a var_b): invariant to
    a per-channel gain and offset (colour jitter), dominated by the channels that carry structure. Channels
    constant in both count as agreeing."""
    a = a.reshape(a.shape[0], -1).double()
    b = b.reshape(b.shape[0], -1).double()
    a = a - a.mean(1, keepdim=True)
    b = b - b.mean(1, keepdim=True)
    na, nb = a.norm(dim=1), b.norm(dim=1)
    flat_a, flat_b = na <= 1e-12, nb <= 1e-12
    if bool((flat_a & flat_b).all()):
        return 1.0
    den = float((na * nb).sum())
    if den <= 0:
        return 0.0
    return float((a * b).sum()) / den


def _peaks(a: torch.Tensor, b: torch.Tensor, k: int = 3) -> List[Tuple[int, int]]:
    """Candidate shifts (dy, dx) with b ~ shift(a), from the FFT cross-correlation of zero-mean channels."""
    K, H, W = a.shape
    a0 = a - a.mean((1, 2), keepdim=True)
    b0 = b - b.mean((1, 2), keepdim=True)
    fa = torch.fft.rfft2(a0, s=(2 * H, 2 * W))
    fb = torch.fft.rfft2(b0, s=(2 * H, 2 * W))
    cc = torch.fft.irfft2(fb * fa.conj(), s=(2 * H, 2 * W)).sum(0)  # cc[dy, dx] = sum b(y) a(y - dy)
    my, mx = max(1, int(H * MAX_SHIFT)), max(1, int(W * MAX_SHIFT))
    dys = torch.arange(2 * H)
    dys = torch.where(dys >= H, dys - 2 * H, dys)
    dxs = torch.arange(2 * W)
    dxs = torch.where(dxs >= W, dxs - 2 * W, dxs)
    ok = (dys.abs() <= my)[:, None] & (dxs.abs() <= mx)[None, :]
    # normalise by the overlap area so small overlaps at the edges do not win on size alone
    area = ((H - dys.abs()).clamp_min(1)[:, None] * (W - dxs.abs()).clamp_min(1)[None, :]).double()
    score = torch.where(ok, cc / area.sqrt(), torch.full_like(cc, -math.inf))
    top = torch.topk(score.flatten(), min(k, int(ok.sum()))).indices
    out = [(int(dys[i // (2 * W)]), int(dxs[i % (2 * W)])) for i in top.tolist()]
    return out + [(0, 0)] if (0, 0) not in out else out


def candidates(a: torch.Tensor, b: torch.Tensor) -> List[Tuple[float, str, Callable, int, int]]:
    """Every (score, name, g, dy, dx) tried for b ~ shift(g(a)), best first."""
    K, H, W = a.shape
    out = []
    for name, g in _group(H == W):
        ga = g(a)
        for dy, dx in _peaks(ga, b):
            (ya, xa), (yb, xb) = _overlap(H, W, dy, dx)
            if (ya.stop - ya.start) * (xa.stop - xa.start) < MIN_OVERLAP * H * W:
                continue
            out.append((_corr(ga[:, ya, xa], b[:, yb, xb]), name, g, dy, dx))
    out.sort(key=lambda c: -c[0] if c[0] == c[0] else math.inf)
    return out


def describe(name: str, dy: int, dx: int) -> str:
    parts = [] if name == "unflipped" else [name]
    if dy or dx:
        parts.append(f"shifted ({dy:+d}, {dx:+d})")
    return " and ".join(parts) or "unchanged"


def target_agreement(ta: torch.Tensor, tb: torch.Tensor, g: Callable, dy: int, dx: int) -> float:
    """How well target b equals target a moved by (g, dy, dx), on their overlap."""
    K, H, W = ta.shape
    ga = g(ta)
    (ya, xa), (yb, xb) = _overlap(H, W, dy, dx)
    pa, pb = ga[:, ya, xa], tb[:, yb, xb]
    if not pa.is_floating_point() and not pb.is_floating_point():
        # mean IoU over the classes present: a misplaced small object counts, however large the background
        ious = []
        for c in torch.unique(torch.cat([pa.flatten(), pb.flatten()])).tolist():
            ia, ib = pa == c, pb == c
            ious.append(float((ia & ib).sum()) / max(1, int((ia | ib).sum())))
        return sum(ious) / len(ious) if ious else 1.0
    if torch.equal(pa, pb):
        return 1.0
    return _corr(pa.double(), pb.double())


def _identified(cands) -> bool:
    """Is the best candidate a clear answer: high, or well ahead of every distinct alternative?"""
    best = cands[0]
    if not best[0] == best[0]:
        return False
    if best[0] >= INPUT_MATCH:
        return True
    rival = max((c[0] for c in cands[1:] if c[1] != best[1] or max(abs(c[3] - best[3]), abs(c[4] - best[4])) > 2),
                default=-1.0)
    return best[0] >= INPUT_FLOOR and best[0] - rival >= INPUT_MARGIN


# ---------------------------------------------------------------------------- one pair of fetches
def compare_pair(xa, ta, xb, tb) -> Dict[str, Any]:
    """Classify one pair of fetches: same, input-only, consistent, unidentified, or divergent."""
    if xa.shape != xb.shape or ta.shape != tb.shape:
        return {"kind": "unidentified", "why": "the fetches differ in shape (a resize or a crop of random size)"}
    same_x, same_t = torch.equal(xa, xb), torch.equal(ta, tb)
    if same_x and same_t:
        return {"kind": "same"}
    a, b = canon_input(xa), canon_input(xb)
    H, W = a.shape[-2:]
    ca, cb = canon_target(ta, (H, W)), canon_target(tb, (H, W))
    cands = candidates(a, b)
    if not cands or not _identified(cands):
        return {"kind": "unidentified", "best": cands[0][0] if cands else float("nan"),
                "why": "no flip, rotation or shift explains the input change (scale, arbitrary rotation, cutout)"}
    best = cands[0]
    plausible = [c for c in cands if c[0] >= best[0] - AMBIGUOUS]
    agree = [(target_agreement(ca, cb, c[2], c[3], c[4]), c) for c in plausible]
    top_agree, top = max(agree, key=lambda p: p[0])
    moved = best[1] != "unflipped" or best[3] or best[4]
    if top_agree >= TARGET_AGREE:
        return {"kind": "consistent" if moved or top[1] != "unflipped" or top[3] or top[4] else "input-only",
                "input": describe(best[1], best[3], best[4]), "input_score": best[0], "target_agree": top_agree}
    # the target's own transform, for the message
    tc = candidates(ca.double(), cb.double())
    t_desc = describe(tc[0][1], tc[0][3], tc[0][4]) if tc and _identified(tc) else "changed otherwise"
    return {"kind": "divergent", "input": describe(best[1], best[3], best[4]), "input_score": best[0],
            "target": t_desc, "target_agree": top_agree}


# ---------------------------------------------------------------------------- the dataset
def fetch(dataset, index: int, seed: int):
    """dataset[index] under its own RNG state; the caller's global RNG states are put back."""
    with preserved_rng():
        seed_everything(seed)
        return dataset[index]


def _is_soft(y: torch.Tensor) -> bool:
    """A soft target of a mixing scheme: a float vector of class weights summing to 1, not one-hot."""
    if not y.is_floating_point() or y.dim() != 1 or y.numel() < 2:
        return False
    s = float(y.sum())
    return abs(s - 1) < 1e-3 and bool((y >= -1e-6).all()) and int((y > 1e-6).sum()) > 1


def examine(dataset, seed: int = 0, budget_s: float = FETCH_BUDGET_S,
            over_budget: Callable[[], bool] = lambda: False) -> Result:
    """The check on one Dataset (shared by the doctor and trace)."""
    from torch.utils.data import IterableDataset
    if isinstance(dataset, IterableDataset):
        raise Skip(f"the dataset ({type(dataset).__name__}) is an IterableDataset: an index can't be fetched "
                   "twice, so paired augmentation can't be compared")
    if not hasattr(dataset, "__getitem__"):
        raise Skip(f"the dataset ({type(dataset).__name__}) has no __getitem__: nothing to fetch twice")
    try:
        n = len(dataset)
    except TypeError:
        raise Skip(f"the dataset ({type(dataset).__name__}) has no length: indices can't be chosen") from None
    if n == 0:
        raise Skip("the dataset is empty")
    idxs = sorted({int(i * n / INDICES) for i in range(min(INDICES, n))})
    t0 = time.perf_counter()
    pairs: List[Dict[str, Any]] = []
    labels_changed, soft, fetched = [], False, 0
    x_name = t_name = ""
    dense, target_float = None, False
    for idx in idxs:
        samples = []
        for k in range(FETCHES):
            if fetched and (time.perf_counter() - t0 > budget_s or over_budget()):
                break
            samples.append(fetch(dataset, idx, seed + 1 + 7919 * k + 104729 * idx))
            fetched += 1
        if len(samples) < 2:
            break
        parsed = [split_sample(s) for s in samples]
        x0, y0, x_name, t_name = parsed[0]
        if x0 is None or y0 is None:
            raise Skip(f"dataset items ({type(samples[0]).__name__}) hold no (input, target) pair of tensors "
                       "or arrays: nothing to compare")
        hw = spatial(x0)
        dense = hw is not None and canon_target(y0, hw) is not None
        target_float = y0.is_floating_point()
        if not dense:
            for x, y, _, _ in parsed[1:]:
                if y is not None and (y.shape != y0.shape or not torch.equal(y, y0)):
                    if _is_soft(y) or _is_soft(y0):
                        soft = True
                    elif not y0.is_floating_point() and y0.numel() == 1:   # a class label, not a sequence
                        labels_changed.append(idx)
                    break
            continue
        for x, y, _, _ in parsed[1:]:
            r = compare_pair(x0, y0, x, y)
            r["index"] = idx
            pairs.append(r)
    seconds = time.perf_counter() - t0
    metrics: Dict[str, Any] = {"dataset": type(dataset).__name__, "length": n, "fetches": fetched,
                               "fetch_seconds": round(seconds, 3), "input": x_name, "target": t_name}
    if dense is None:
        raise Skip(f"the dataset ({type(dataset).__name__}) took longer than {budget_s:g}s to fetch two items")
    if not dense:
        metrics["target_kind"] = "per-example"
        if labels_changed:
            metrics["label_changed_indices"] = labels_changed
            return Result("warn", f"the class label of index {labels_changed[0]} changes between fetches under "
                                  f"different RNG states ({len(labels_changed)} of {len(idxs)} indices): random "
                                  "label noise in the dataset; intended only for label smoothing or a mixing scheme",
                          metrics)
        if soft:
            return Result("pass", "soft targets change between fetches of one index: a mixing scheme (mixup, "
                                  "cutmix); no dense target to align", metrics)
        raise Skip(f"no dense target: the target {t_name} does not share the input's spatial axes (a class "
                   "label, a box list): alignment applies to masks, heatmaps and depth maps")
    metrics["target_kind"] = "dense"
    kinds: Dict[str, int] = {}
    for p in pairs:
        kinds[p["kind"]] = kinds.get(p["kind"], 0) + 1
    metrics["pairs"] = kinds
    div = [p for p in pairs if p["kind"] == "divergent"]
    judged = [p for p in pairs if p["kind"] in ("divergent", "consistent", "input-only")]
    metrics["divergent"] = len(div)
    metrics["judged"] = len(judged)
    if div:
        metrics["worst_target_agreement"] = min(p["target_agree"] for p in div)
        metrics["best_divergent_agreement"] = max(p["target_agree"] for p in div)
    metrics["examples"] = [{k: v for k, v in p.items() if k != "why"} for p in (div or judged)[:3]]
    what_x, what_t = _nouns(x_name, t_name, bool(target_float))
    measure = "correlation" if target_float else "mean IoU"
    if len(div) >= MIN_DIVERGENT or (div and len(div) == len(judged)):
        d = div[0]
        return Result("fail", f"the augmentation moves the {what_x} and its {what_t} differently: index {d['index']}: "
                              f"{what_x} {d['input']}, {what_t} {d['target']} (moved like the {what_x}, the first "
                              f"{what_t} matches the second at {measure} {d['target_agree']:.2f}, threshold "
                              f"{TARGET_AGREE:g}); {len(div)} of "
                              f"{len(judged)} fetch pairs diverge. Draw the random parameters once and apply them "
                              f"to both (one transform call on the pair)", metrics)
    if not judged and not [p for p in pairs if p["kind"] == "unidentified"]:
        raise Skip(f"no random augmentation: {fetched} fetches of {len(idxs)} indices under different RNG "
                   "states returned the same sample each time")
    if not judged:
        why = next((p.get("why") for p in pairs if p.get("why")), "")
        return Result("pass", f"the input changes between fetches but no flip, rotation or shift explains it "
                              f"({why}): alignment not measured", metrics)
    moved = kinds.get("consistent", 0)
    detail = (f"{moved} moved the {what_x} geometrically and the {what_t} followed"
              if moved else f"only the {what_x}'s values changed (colour, noise); the {what_t} stayed")
    status = "warn" if div else "pass"
    summary = f"{len(judged)} fetch pairs compared: {detail}"
    if div:
        summary = (f"1 of {len(judged)} fetch pairs diverges ({what_x} {div[0]['input']}, {what_t} "
                   f"{div[0]['target']}); the others agree: check the paired transform")
    return Result(status, summary, metrics)


def _nouns(x_name: str, t_name: str, target_float: bool) -> Tuple[str, str]:
    """What to call the input and the target in messages: dict keys when they say, else image / mask."""
    xk, tk = x_name.strip("[]'\"").lower(), t_name.strip("[]'\"").lower()
    x = xk.rstrip("s") if xk in ("image", "images", "img") else "image"
    t = tk if tk in ("mask", "heatmap", "depth") else ("target map" if target_float else "mask")
    return ("image" if x == "img" else x), t


@check("augment-alignment", "a paired augmentation moves the input and its dense target together", order=93)
def augment_alignment(ctx) -> Result:
    live = ctx.target.extras.get("pipeline")
    if live is not None:
        return live.augment_alignment(ctx)
    ds = ctx.dataset()
    if ds is None:
        raise Skip("no dataset: define get_dataset() in the target (the training Dataset with its "
                   "augmentations) to compare repeated fetches of one index")
    return examine(ds, seed=ctx.seed, over_budget=ctx.over_budget)
