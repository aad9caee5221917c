"""What each rank of a multi-process run records for `rank-data` and `rank-sync` (trace under torchrun).

A `RankLog` is an observer of the Tracer (recorder.py): at every optimizer step of the primary
optimizer it keeps
  - the hashes of the examples the model trained on since the previous step: one 64-bit hash
    per example (per row of the batch), over at most HASH_VALUES values of the row, so equal
    examples give equal hashes whatever the batch they are in;
  - a few values of the parameters after the update (SYNC_TENSORS tensors spread over the
    model, SYNC_VALUES values each), to find the first step at which replicas part;
and once, before the first update and after the last traced step, a digest of every parameter
(an exact hash of its bytes, its norm, SAMPLE_VALUES values) to name the tensors that differ and
by how much. At each pass over a DataLoader it notes the sampler (type, `epoch`, `shuffle`).
Everything it keeps is plain Python data: it is pickled to a file the gathering process reads
(launch.py). All values are read from this rank's local tensors: no collective, ever.
"""
from __future__ import annotations

import hashlib
import math
from typing import Any, Dict, List, Optional

import torch
import torch.nn as nn

from .tensors import leaves
from .unwrap import is_sharded, local, unwrap

HASH_VALUES = 4096       # values of an example hashed (strided over larger rows): equal rows hash equal, and two
                         # different real examples agreeing on 4096 evenly spread values is not seen in practice
MAX_HASH_EXAMPLES = 4096  # examples hashed per step (a larger batch is hashed on its first 4096 rows)
MAX_HASH_STEPS = 256     # steps whose example hashes are kept (the default trace watches 50)
SYNC_TENSORS = 64        # parameter tensors sampled after every step, spread over the model
SYNC_VALUES = 16         # values sampled from each of them
SAMPLE_VALUES = 1024     # values kept per parameter in the digests (the divergence estimate reads them)
MAX_EXACT_BYTES = 256 * 2**20  # tensors up to this size are hashed whole; larger ones by their sample and norm


def _strided(flat: torch.Tensor, k: int) -> torch.Tensor:
    n = flat.numel()
    if n <= k:
        return flat
    idx = torch.linspace(0, n - 1, k, device=flat.device).round().long()
    return flat.index_select(0, idx)


def _bytes(t: torch.Tensor) -> bytes:
    t = t.detach().contiguous().reshape(-1)
    if t.is_complex():
        t = torch.view_as_real(t).reshape(-1)
    return t.cpu().view(torch.uint8).numpy().tobytes() if t.numel() else b""


def example_hashes(args: Any, kwargs: Any) -> List[int]:
    """One hash per example of a forward's inputs (dim 0 of its batched tensors is the batch)."""
    ts = [t for t in leaves((args, kwargs)) if t.dim() > 0]
    if not ts:
        return []
    B = ts[0].shape[0]
    ts = [t for t in ts if t.shape[0] == B]
    n = min(B, MAX_HASH_EXAMPLES)
    rows = []
    for t in ts:
        flat = local(t).detach()[:n].reshape(n, -1)
        if flat.shape[1] > HASH_VALUES:
            idx = torch.linspace(0, flat.shape[1] - 1, HASH_VALUES, device=flat.device).round().long()
            flat = flat.index_select(1, idx)
        if flat.is_complex():
            flat = torch.view_as_real(flat).reshape(n, -1)
        rows.append(flat.contiguous().cpu().view(torch.uint8).numpy())
    out = []
    for i in range(n):
        h = hashlib.blake2b(digest_size=8)
        for r in rows:
            h.update(r[i].tobytes())
        out.append(int.from_bytes(h.digest(), "little", signed=True))
    return out


def param_digest(model: nn.Module) -> Dict[str, Dict[str, Any]]:
    """name -> {"hash", "norm", "sample", "numel", "sharded"} for every parameter of the plain model."""
    out: Dict[str, Dict[str, Any]] = {}
    with torch.no_grad():
        for name, p in unwrap(model)[0].named_parameters():
            t = local(p).detach()
            flat = t.reshape(-1)
            sample = _strided(flat, SAMPLE_VALUES).double().cpu()
            nbytes = t.numel() * t.element_size()
            exact = hashlib.blake2b(_bytes(t) if nbytes <= MAX_EXACT_BYTES else _bytes(sample), digest_size=16)
            norm = float(flat.double().norm()) if flat.numel() else 0.0
            out[name] = {"hash": exact.hexdigest(), "norm": norm if math.isfinite(norm) else str(norm),
                         "sample": sample.tolist(), "numel": int(p.numel()), "sharded": is_sharded(p),
                         "shape": list(p.shape)}
    return out


class RankLog:
    """The per-rank records behind rank-data and rank-sync (see the module docstring)."""

    def __init__(self, rank: int, world: int):
        self.rank, self.world = rank, world
        self.step_hashes: List[List[int]] = []     # per step: hashes of the examples trained on in that step
        self.step_samples: List[List[float]] = []  # per step, after the update: the sampled parameter values
        self.sync_names: List[str] = []            # the parameter tensors those values come from
        self.init_digest: Optional[Dict[str, Any]] = None
        self.final_digest: Optional[Dict[str, Any]] = None
        self.passes: List[Dict[str, Any]] = []     # one per pass over a DataLoader (its sampler's state)
        self._last_seq = 0
        self._sync: List[tuple] = []

    # ---------------------------------------------------------------- Tracer observer
    def before_update(self, tracer, opt) -> None:
        cap = tracer.capture or {}
        model = cap.get("model")
        calls = [c for c in tracer.calls if c.seq > self._last_seq and c.grad_enabled
                 and (model is None or c.module is model)]
        self._last_seq = tracer.seq
        if len(self.step_hashes) < MAX_HASH_STEPS:
            hashes: List[int] = []
            for c in calls:
                try:
                    hashes += example_hashes(c.args, c.kwargs)
                except Exception:  # an input we can't read as bytes: this step has no hashes
                    pass
            self.step_hashes.append(hashes)
        if self.init_digest is None and model is not None:
            self.init_digest = param_digest(model)  # before the first update: the pre-hook of step 1
            named = [(n, p) for n, p in unwrap(model)[0].named_parameters() if p.numel()]
            if len(named) > SYNC_TENSORS:
                idx = sorted({round(i * (len(named) - 1) / (SYNC_TENSORS - 1)) for i in range(SYNC_TENSORS)})
                named = [named[i] for i in idx]
            self._sync = named
            self.sync_names = [n for n, _ in named]

    def after_step(self, tracer) -> None:
        if not self._sync:
            return
        with torch.no_grad():
            vals = [_strided(local(p).detach().reshape(-1), SYNC_VALUES) for _, p in self._sync]
            self.step_samples.append(torch.cat([v.double().cpu() for v in vals]).tolist())

    def loader_pass(self, tracer, rec, loader) -> None:
        s = getattr(loader, "sampler", None)
        bs = getattr(loader, "batch_sampler", None)
        inner = getattr(bs, "sampler", None)
        if type(s).__name__ not in ("DistributedSampler",) and type(inner).__name__ == "DistributedSampler":
            s = inner
        try:
            dlen = len(loader.dataset)
        except Exception:
            dlen = None
        self.passes.append({"loader": rec.index, "start_step": tracer.steps, "sampler": type(s).__name__,
                            "distributed": _is_distributed_sampler(s) or _is_sharded_batches(bs),
                            "epoch": _int_or_none(getattr(s, "epoch", None)),
                            "shuffle": getattr(s, "shuffle", None) if isinstance(getattr(s, "shuffle", None), bool)
                            else None,
                            "num_replicas": _int_or_none(getattr(s, "num_replicas", None)),
                            "dataset_len": dlen, "length": rec.length, "where": rec.where})

    # ---------------------------------------------------------------- after the run
    def finish(self, tracer) -> None:
        cap = tracer.capture or {}
        if cap.get("model") is not None:
            try:
                self.final_digest = param_digest(cap["model"])
            except Exception:
                self.final_digest = None

    def data(self, tracer) -> Dict[str, Any]:
        """Plain data for the record file."""
        roles = {}
        for rec in tracer.loaders:
            roles[rec.index] = {"role": rec.role, "length": rec.length, "batch_size": rec.batch_size,
                                "sampler": rec.sampler, "where": rec.where,
                                "epochs": [{"start_step": e.start_step, "batches": e.batches} for e in rec.epochs]}
        return {"step_hashes": self.step_hashes, "step_samples": self.step_samples, "sync_names": self.sync_names,
                "init_digest": self.init_digest, "final_digest": self.final_digest, "passes": self.passes,
                "loaders": roles}


def _is_distributed_sampler(s) -> bool:
    """torch's DistributedSampler or a subclass, or a sampler that shards by rank (num_replicas and rank)."""
    for cls in type(s).__mro__:
        if cls.__name__ == "DistributedSampler":
            return True
    return isinstance(getattr(s, "num_replicas", None), int) and isinstance(getattr(s, "rank", None), int)


def _is_sharded_batches(bs) -> bool:
    """A batch sampler that hands each process its own batches (Accelerate's BatchSamplerShard)."""
    return bs is not None and (type(bs).__name__ == "BatchSamplerShard" or (
        isinstance(getattr(bs, "num_processes", None), int) and isinstance(getattr(bs, "process_index", None), int)))


def _int_or_none(v) -> Optional[int]:
    return v if isinstance(v, int) and not isinstance(v, bool) else None
