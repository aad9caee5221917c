"""What `ml-debug trace` records of the data pipeline, for augment-alignment and split-consistency.

The recorder (recorder.py) tells `PipelineLog.on_batch` about every DataLoader batch together with
the first top-level forward that consumed it: with gradients on in train mode the batch is a
training batch, under `no_grad` or in eval mode an evaluation batch. We keep, bounded:

  - up to KEEP_BATCHES batches of each role (CPU clones, at most KEEP_BYTES each role), for the
    input statistics;
  - hashes of up to HASH_EXAMPLES examples of each role, for leakage between the splits;
  - label counts of each role;
  - for training batches, the accuracy of the model's own predictions on them (the last
    RECENT_TRAIN of them); for evaluation batches, the confusion of the model's predictions,
    one per evaluation pass (a pass over an evaluation loader), with the training accuracy
    just before it.

After the run, `TracePipeline` (put on the captured target as `extras["pipeline"]` by
trace_target.py) answers the two checks from what was kept, and hands the Datasets of the
training loaders to augment-alignment.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any, Dict, List, Optional, Tuple

import torch

from .tensors import leaves, tree_map

KEEP_BATCHES = 8             # batches kept per role for the statistics
KEEP_BYTES = 32 * 2**20      # bytes kept per role
HASH_EXAMPLES = 20_000       # examples hashed per role (leakage)
RECENT_TRAIN = 20            # training batches whose accuracy stands for "training accuracy now"
MAX_PASSES = 64              # evaluation passes remembered
TRAIN_SPLIT_SHARE = 0.9     # an evaluation loader with >= 90% training examples evaluates the training split
#                             (a train-accuracy pass), unless it is the only evaluation loader
LABEL_KEYS = ("label", "labels", "target", "targets", "y", "mask", "masks", "class", "cls")


def split_batch(batch: Any) -> Tuple[Any, Optional[torch.Tensor]]:
    """(inputs, labels) of a loader batch: (x, y, ...) tuples, or dicts with a label key."""
    if isinstance(batch, (tuple, list)) and len(batch) >= 2 and isinstance(batch[1], torch.Tensor):
        return batch[0], batch[1]
    if isinstance(batch, Mapping):
        key = next((k for k in batch if str(k).lower() in LABEL_KEYS and isinstance(batch[k], torch.Tensor)), None)
        if key is None:
            return batch, None
        return {k: v for k, v in batch.items() if k != key}, batch[key]
    return batch, None


def _nbytes(obj) -> int:
    return sum(t.numel() * t.element_size() for t in leaves(obj))


class _Role:
    def __init__(self):
        self.kept: List[Tuple[Any, Optional[torch.Tensor]]] = []
        self.kept_bytes = 0
        self.hashes: List[str] = []
        self.labels: Dict[int, int] = {}
        self.batches = 0


class PipelineLog:
    """Recorded by the tracer while the script runs (never raises into the user's loop)."""

    def __init__(self):
        self.roles: Dict[tuple, _Role] = {}   # ("train" | "eval", loader index) -> what was kept
        self.recent_acc: deque = deque(maxlen=RECENT_TRAIN)
        self.passes: Dict[tuple, Dict[str, Any]] = {}
        self.n_out: Optional[int] = None

    def on_batch(self, rec, batch, output, train: bool, step: int) -> None:
        from .checks.split_consistency import confusion, example_hashes, label_counts, predictions
        from .context import prediction_of
        role = self.roles.setdefault(("train" if train else "eval", rec.index), _Role())
        role.batches += 1
        inputs, labels = split_batch(batch)
        if not leaves(inputs):
            return
        size = _nbytes(inputs) + (_nbytes(labels) if labels is not None else 0)
        keep = len(role.kept) < KEEP_BATCHES and role.kept_bytes + size <= KEEP_BYTES
        if keep:
            clone = lambda t: t.detach().to("cpu", copy=True)  # noqa: E731
            role.kept.append((tree_map(clone, inputs), clone(labels) if labels is not None else None))
            role.kept_bytes += size
        if len(role.hashes) < HASH_EXAMPLES and len(rec.epochs) <= 1:   # later epochs repeat the first
            role.hashes.extend(example_hashes(inputs)[:HASH_EXAMPLES - len(role.hashes)])
        if labels is None or labels.is_floating_point() or labels.dtype == torch.bool:
            return
        if keep:   # label sets and frequencies from the kept batches
            for k, v in label_counts(labels).items():
                role.labels[k] = role.labels.get(k, 0) + v
        pred = prediction_of(output) if output is not None else None
        if not isinstance(pred, torch.Tensor):
            return
        cls = predictions(pred, labels.to(pred.device))
        if cls is None:
            return
        if pred.dim() >= 2:
            self.n_out = int(pred.shape[1]) if tuple(pred.shape[:1]) + tuple(pred.shape[2:]) == tuple(labels.shape) \
                else int(pred.shape[-1])
        lab = labels.to(cls.device)
        if train:
            valid = lab != -100   # kept as a tensor: no device sync on a training step
            self.recent_acc.append(((cls == lab) & valid).sum().double() / valid.sum().clamp_min(1))
            return
        key = (rec.index, len(rec.epochs))
        p = self.passes.get(key)
        if p is None:
            if len(self.passes) >= MAX_PASSES:
                return
            acc = float(torch.stack([a.cpu() for a in self.recent_acc]).mean()) if self.recent_acc else None
            p = self.passes[key] = {"conf": {}, "train_acc": acc, "step": step, "where": rec.where}
        for pair, n in confusion(lab, cls).items():
            p["conf"][pair] = p["conf"].get(pair, 0) + n


def _concat(kept: List[Tuple[Any, Optional[torch.Tensor]]]):
    """The kept batches as one batch (leaves concatenated on dim 0 where their shapes allow), or the first."""
    if not kept:
        return None, None
    xs = [k[0] for k in kept]
    ys = [k[1] for k in kept]
    try:
        first = leaves(xs[0])
        cols = list(zip(*[leaves(x) for x in xs]))
        if len(cols) != len(first):
            raise ValueError
        cat = [torch.cat(c, 0) for c in cols]
        it = iter(cat)
        x = tree_map(lambda _t: next(it), xs[0])
    except Exception:
        x = xs[0]
    try:
        y = torch.cat([v for v in ys if v is not None], 0) if all(v is not None for v in ys) else ys[0]
    except Exception:
        y = ys[0]
    return x, y


class TracePipeline:
    """The two checks' view of a traced run (target.extras["pipeline"])."""

    def __init__(self, tracer):
        self.tracer = tracer
        self.log: PipelineLog = getattr(tracer, "pipeline", None) or PipelineLog()

    # ------------------------------------------------------------------ augment-alignment
    def augment_alignment(self, ctx):
        from .checks.augment_alignment import examine
        from .registry import Result, Skip, worst
        loaders = [r for r in self.tracer.loaders if r.role in ("train", "both")]
        if not loaders:
            seen = len(self.tracer.loaders)
            raise Skip("no DataLoader fed training batches to the model in the traced steps" +
                       (f" ({seen} loader(s) iterated, none for training)" if seen else
                        ": the script iterates no torch DataLoader"))
        results, skips, seen = [], [], set()
        for rec in loaders:
            if id(rec.dataset) in seen:
                continue
            seen.add(id(rec.dataset))
            try:
                res = examine(rec.dataset, seed=ctx.seed, over_budget=ctx.over_budget)
            except Skip as s:
                skips.append(f"{type(rec.dataset).__name__} ({rec.where}): {s}")
                continue
            res.metrics["loader"] = rec.where
            results.append((rec, res))
        if not results:
            raise Skip("; ".join(skips))
        status = worst(r.status for _, r in results)
        rec, res = next((x for x in results if x[1].status == status), results[0])
        summary = f"the Dataset of the training DataLoader {type(rec.dataset).__name__} ({rec.where}): {res.summary}"
        metrics = dict(res.metrics)
        if len(results) > 1:
            metrics["datasets"] = {type(r.dataset).__name__: x.status for r, x in results}
        return Result(status, summary, metrics, details=skips)

    # ------------------------------------------------------------------ split-consistency
    def _merged(self, parts: List[_Role]) -> _Role:
        out = _Role()
        for r in parts:
            out.kept += r.kept
            out.hashes += r.hashes
            out.batches += r.batches
            for k, v in r.labels.items():
                out.labels[k] = out.labels.get(k, 0) + v
        return out

    def split_consistency(self, ctx):
        from .checks import split_consistency as sc
        from .registry import Skip
        log = self.log
        loaders = {r.index: r for r in self.tracer.loaders}
        tr = self._merged([r for (kind, _), r in log.roles.items() if kind == "train"])
        evals = {i: r for (kind, i), r in log.roles.items() if kind == "eval"}
        notes = []
        # an evaluation pass over the training split itself (training accuracy measured in eval mode) is not
        # a validation set: a loader over a training loader's Dataset, or whose examples are nearly all
        # training examples while another evaluation loader is not
        train_ds = {id(loaders[i].dataset) for (kind, i) in log.roles if kind == "train" and i in loaders}
        tset = set(tr.hashes)
        own = {}
        for i, r in evals.items():
            same_ds = i in loaders and id(loaders[i].dataset) in train_ds
            share = sum(h in tset for h in r.hashes) / len(r.hashes) if r.hashes else 0.0
            own[i] = (same_ds, share)
        val_ids = [i for i, (same, share) in own.items() if not same and share < TRAIN_SPLIT_SHARE]
        if not val_ids:   # only passes over training data: judge the ones not on a training Dataset
            val_ids = [i for i, (same, _) in own.items() if not same]
        for i, (same, share) in own.items():
            if i not in val_ids and i in loaders:
                notes.append(f"evaluation loader {loaders[i].where} reads the training split"
                             f" ({'the same Dataset' if same else f'{100 * share:.0f}% of its examples'}): "
                             "left out of the comparison")
        ev = self._merged([evals[i] for i in val_ids])
        if not ev.batches:
            why = ("no DataLoader batch reached the model under no_grad or in eval mode within the traced "
                   f"{self.tracer.steps} steps (evaluation runs later?): trace with --steps all to compare "
                   "the splits") if not evals else "the only evaluation passes read the training Dataset itself"
            raise Skip(why)
        if not tr.kept:
            raise Skip("no training batch from a DataLoader was recorded: nothing to compare evaluation batches with")
        xt, _ = _concat(tr.kept)
        xv, _ = _concat(ev.kept)
        stats = sc.stats_compare(xt, xv) if xv is not None else {"leaves": {}, "shifted_leaves": []}
        leak = sc.leakage(tr.hashes, ev.hashes)
        passes = {k: p for k, p in log.passes.items() if k[0] in val_ids}
        metrics: Dict[str, Any] = {"train_batches": tr.batches, "eval_batches": ev.batches,
                                   "eval_passes": len(passes)}
        perm, train_acc, note = None, None, ""
        judged = [p for p in passes.values() if p["train_acc"] is not None]
        if judged:
            # the latest pass after training had learnt its ids (or the latest pass, to report it)
            good = [p for p in judged if p["train_acc"] >= sc.TRAIN_ACC_MIN]
            p = (good or judged)[-1]
            train_acc = p["train_acc"]
            metrics["pass_step"] = p["step"]
            if train_acc >= sc.TRAIN_ACC_MIN:
                perm = sc.permutation(p["conf"])
            else:
                note = (f"training accuracy {100 * train_acc:.0f}% before the last evaluation pass (step "
                        f"{p['step']}) is below {100 * sc.TRAIN_ACC_MIN:.0f}%: label ids not compared "
                        "(trace more steps, e.g. --steps all)")
        elif passes:
            note = "no training accuracy recorded before the evaluation passes: label ids not compared"
        how = (f"{tr.batches} training vs {ev.batches} evaluation batches from the script's DataLoaders"
               + (f", evaluation pass at step {metrics['pass_step']}" if "pass_step" in metrics else ""))
        res = sc.judge(stats, leak, tr.labels or None, ev.labels or None, log.n_out, perm, train_acc,
                       metrics, how, note)
        res.details.extend(notes)
        return res
