"""Wrapped and compiled models: the plain module inside, for checks that work on copies.

Training code hands the optimizer a wrapper more often than not: `DistributedDataParallel`
(`.module`), `DataParallel`, a `torch.compile`d `OptimizedModule` (`._orig_mod`), a model
prepared by Hugging Face Accelerate (the model itself, with its `forward` replaced by an
autocast wrapper), FSDP. The checks must measure the user's model, not the wrapper: a copy
of a DDP wrapper all-reduces in its backward (a hang when one rank runs the checks), a copy
of a compiled module compiles again for every check, and an autocast forward measures
bfloat16 rounding instead of the model. So:

    inner, chain = unwrap(model)      # the innermost module and the wrappers taken off, outermost first
    copy, chain = plain_copy(model)   # a deep copy of `inner`, made runnable on its own

Nothing here changes the caller's objects; `plain_copy` fixes only its own copy:
  - an Accelerate forward wrapper (`_original_forward`) is dropped: the copy runs the class's forward;
  - `SyncBatchNorm` becomes a local batch norm (no collective in a copy run by one process);
  - FSDP2 (`fully_shard`) parameters are gathered into full tensors (a collective: every rank
    must call it at the same point) and the FSDP hooks and classes are taken off.
FSDP1 (`FullyShardedDataParallel`) keeps flattened shards that only `summon_full_params` can
expose; it needs an accelerator in torch 2.x, so it is refused with a line saying so.
"""
from __future__ import annotations

import copy
import sys
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.nn as nn

SYNC_BN = "SyncBatchNorm copied as a local batch norm"
MAX_DEPTH = 8  # wrappers nest a few deep at most (compile(DDP(model)) is 2); a cycle must not loop


class UnsupportedWrapper(Exception):
    """A wrapper whose full parameters can't be copied here; the message says why, in one line."""


def _loaded(module_name: str, attr: str):
    """A class from a module that is already imported (never import torch.distributed/_dynamo for a check)."""
    mod = sys.modules.get(module_name)
    return getattr(mod, attr, None) if mod is not None else None


def _compiled_class():
    return _loaded("torch._dynamo.eval_frame", "OptimizedModule")


def _fsdp1_class():
    return _loaded("torch.distributed.fsdp.fully_sharded_data_parallel", "FullyShardedDataParallel")


def fsdp2_class():
    """torch.distributed.fsdp.FSDPModule (the class `fully_shard` mixes into a module), if loaded."""
    return _loaded("torch.distributed.fsdp._fully_shard._fully_shard", "FSDPModule") or \
        _loaded("torch.distributed.fsdp", "FSDPModule")


def _inner(m: nn.Module) -> Optional[Tuple[nn.Module, str]]:
    """The module one wrapper level down, and the wrapper's name; None for a plain module."""
    compiled = _compiled_class()
    if compiled is not None and isinstance(m, compiled):
        return m._orig_mod, "torch.compile"
    if isinstance(m, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
        return m.module, type(m).__name__
    fsdp1 = _fsdp1_class()
    if fsdp1 is not None and isinstance(m, fsdp1):
        return m.module, "FullyShardedDataParallel"
    # DeepSpeed's engine holds the model as .module (not imported here: matched by name)
    if type(m).__name__ == "DeepSpeedEngine" and isinstance(getattr(m, "module", None), nn.Module):
        return m.module, "DeepSpeedEngine"
    return None


def unwrap(model: nn.Module) -> Tuple[nn.Module, List[str]]:
    """The plain module inside any DDP / DataParallel / compile / FSDP1 / DeepSpeed wrappers.

    Returns (inner, chain): `chain` names the wrappers taken off, outermost first ([] when
    `model` is plain). An FSDP2 module is its own model (fully_shard works in place): it comes
    back as is, with "fully_shard" in the chain. The model is not changed.
    """
    chain: List[str] = []
    m = model
    for _ in range(MAX_DEPTH):
        nxt = _inner(m)
        if nxt is None:
            break
        m, name = nxt
        chain.append(name)
    if is_fsdp2(m):
        chain.append("fully_shard")
    if _accelerate_forward(m):
        chain.append("accelerate forward wrapper")
    if any(isinstance(x, nn.SyncBatchNorm) for x in m.modules()):
        chain.append(SYNC_BN)
    return m, chain


def describe(chain: List[str], inner: nn.Module) -> str:
    """'DistributedDataParallel > torch.compile > Net' for a report."""
    return " > ".join([c for c in chain if c != SYNC_BN] + [type(inner).__name__]) + \
        (f" ({SYNC_BN})" if SYNC_BN in chain else "")


def is_fsdp2(m: nn.Module) -> bool:
    cls = fsdp2_class()
    return cls is not None and any(isinstance(x, cls) for x in m.modules())


def is_fsdp1(m: nn.Module) -> bool:
    cls = _fsdp1_class()
    return cls is not None and any(isinstance(x, cls) for x in m.modules())


def _accelerate_forward(m: nn.Module) -> bool:
    """Accelerate's mixed precision replaces forward on the instance and keeps `_original_forward`."""
    return "_original_forward" in m.__dict__


def _drop_accelerate_forward(m: nn.Module) -> None:
    """On our own copy: run the class's forward, not the autocast wrapper around it."""
    orig = m.__dict__.get("_original_forward")
    if getattr(orig, "__func__", None) is type(m).forward or orig is None or \
            getattr(orig, "__self__", m) is m:
        m.__dict__.pop("forward", None)
        m.__dict__.pop("_original_forward", None)


class LocalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """What a copied SyncBatchNorm becomes: the same statistics over this process's batch only."""

    def _check_input_dim(self, input):
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")


def _localize(m: nn.Module) -> int:
    """SyncBatchNorm -> LocalBatchNorm in our copy (same parameters and buffers). Returns how many."""
    n = 0
    for sub in m.modules():
        if isinstance(sub, nn.SyncBatchNorm):
            sub.__class__ = LocalBatchNorm
            n += 1
    return n


def plain_copy(model: nn.Module) -> Tuple[nn.Module, List[str]]:
    """A deep copy of the plain model inside `model`, runnable without its wrappers or process group.

    Raises UnsupportedWrapper (one line) for FSDP1, and for an FSDP2 model in a process group of
    more than one rank (its gather is a collective; `trace` gathers on every rank at once).
    """
    inner, chain = unwrap(model)
    if "FullyShardedDataParallel" in chain or is_fsdp1(inner):
        raise UnsupportedWrapper(
            "a FullyShardedDataParallel (FSDP1) model keeps its parameters as flattened shards; pass the "
            "model before wrapping it (build_model= returning the plain model), or shard it with fully_shard")
    if is_fsdp2(inner):
        if _world_size() > 1:
            raise UnsupportedWrapper(
                "an FSDP2 (fully_shard) model in a process group of several ranks: gathering its full "
                "parameters is a collective every rank must join; pass the unsharded model (build_model=), "
                "or trace the script (`trace --nproc-per-node N`), which gathers on every rank")
        out = fsdp2_plain_copy(inner, gather_full(inner))
    else:
        out = copy.deepcopy(inner)
    for sub in out.modules():
        if _accelerate_forward(sub):
            _drop_accelerate_forward(sub)
    _localize(out)
    return out, chain


def _world_size() -> int:
    dist = sys.modules.get("torch.distributed")
    try:
        return dist.get_world_size() if dist is not None and dist.is_available() and dist.is_initialized() else 1
    except Exception:
        return 1


# ---------------------------------------------------------------------------- FSDP2
def gather_full(model: nn.Module) -> Dict[int, torch.Tensor]:
    """id(param) -> its full tensor (detached), for every DTensor parameter. A collective with several ranks."""
    out: Dict[int, torch.Tensor] = {}
    for p in model.parameters():
        if hasattr(p, "full_tensor") and hasattr(p, "placements"):
            out[id(p)] = p.full_tensor().detach().clone()
    return out


# the FSDP2 hooks live in torch.distributed; a user's own hooks on the model are kept
_HOOK_DICTS = ("_forward_pre_hooks", "_forward_hooks", "_backward_pre_hooks", "_backward_hooks",
               "_state_dict_hooks", "_state_dict_pre_hooks", "_load_state_dict_pre_hooks",
               "_load_state_dict_post_hooks")
_FSDP_ATTRS = ("_is_fsdp_managed_module", "_fsdp_use_orig_params")


def _is_torch_distributed_hook(fn: Any) -> bool:
    target = getattr(fn, "__self__", None)
    owner = type(target).__module__ if target is not None else getattr(fn, "__module__", "") or ""
    return owner.startswith("torch.distributed")


def _plain_class(cls: type) -> type:
    fsdp = fsdp2_class()
    if fsdp is None or not issubclass(cls, fsdp):
        return cls
    for base in cls.__mro__[1:]:
        if not issubclass(base, fsdp):
            return base
    return nn.Module


def fsdp2_plain_copy(model: nn.Module, full: Dict[int, torch.Tensor]) -> nn.Module:
    """A plain copy of an FSDP2 module: original classes, full parameters, no FSDP hooks.

    `full` maps id(param) to the full tensor (gather_full, called on every rank). FSDP2 forbids
    deepcopy of its modules, so the module tree is rebuilt here, everything else deep-copied.
    """
    memo: Dict[int, Any] = {}
    for p in model.parameters():
        t = full.get(id(p))
        if t is None:
            t = p.detach().clone()
        memo[id(p)] = nn.Parameter(t, requires_grad=p.requires_grad)
    return _rebuild(model, memo)


def _rebuild(m: nn.Module, memo: Dict[int, Any]) -> nn.Module:
    if id(m) in memo:
        return memo[id(m)]
    cls = _plain_class(type(m))
    new = cls.__new__(cls)
    memo[id(m)] = new
    d: Dict[str, Any] = {}
    for k, v in m.__dict__.items():
        if k in _FSDP_ATTRS or k.startswith("__composable_api_state_key"):
            continue  # FSDP's own state (process group, mesh, shards): not part of the model
        if k == "_modules":
            d[k] = {n: (_rebuild(c, memo) if c is not None else None) for n, c in v.items()}
        elif k == "_parameters":
            d[k] = {n: (memo[id(p)] if p is not None else None) for n, p in v.items()}
        elif k in _HOOK_DICTS:
            kept = type(v)((h, fn) for h, fn in v.items() if not _is_torch_distributed_hook(fn))
            d[k] = kept
        else:
            d[k] = copy.deepcopy(v, memo)
    new.__dict__.update(d)
    # hook bookkeeping sets keyed by handle id: keep only the handles still present
    for k in ("_forward_hooks_with_kwargs", "_forward_hooks_always_called", "_forward_pre_hooks_with_kwargs"):
        if k in new.__dict__:
            live = set(new.__dict__.get("_forward_hooks", {})) | set(new.__dict__.get("_forward_pre_hooks", {}))
            new.__dict__[k] = type(new.__dict__[k])((h, x) for h, x in new.__dict__[k].items() if h in live)
    return new


# ---------------------------------------------------------------------------- trace: snapshot and compare
def local(t: torch.Tensor) -> torch.Tensor:
    """This rank's part of a tensor: the local shard of a DTensor (FSDP2), the tensor itself otherwise.
    Recorder probes read local values only, so no hook of ours ever issues a collective."""
    to_local = getattr(t, "to_local", None)
    return to_local() if callable(to_local) and hasattr(t, "placements") else t


def is_sharded(p: torch.Tensor) -> bool:
    """A DTensor parameter split across ranks (FSDP2's Shard placement), not a replica."""
    return any(type(pl).__name__.startswith("Shard") for pl in getattr(p, "placements", ()) or ())


def snapshot(model: nn.Module) -> Tuple[nn.Module, Dict[str, Any]]:
    """The plain copy of a wrapped model taken at the first step (trace), and what the live checks need.

    Called in the step hook of every rank at the same step, so FSDP2's full-parameter gather (a
    collective) is joined by all ranks. Returns (snapshot, info): info["chain"] names the wrappers;
    for FSDP2 info["local"] holds each parameter's local shard (name -> clone), to tell later which
    shards an update changed without another collective.
    """
    inner, chain = unwrap(model)
    info: Dict[str, Any] = {"chain": chain, "inner": inner}
    if is_fsdp2(inner):
        snap = fsdp2_plain_copy(inner, gather_full(inner))
        info["local"] = {n: local(p).detach().clone() for n, p in inner.named_parameters()}
    elif chain or any(isinstance(x, nn.SyncBatchNorm) for x in inner.modules()):
        snap, chain = plain_copy(inner)
        info["chain"] = info["chain"] or chain
    else:
        snap = copy.deepcopy(inner)
    return snap, info


def changed_since(model: nn.Module, snap: nn.Module, local_snap: Optional[Dict[str, torch.Tensor]] = None):
    """([(name, param)] unchanged, [(name, param)] changed) between the model now and its snapshot.

    Names are the plain model's (no "module." of DDP). An FSDP2 parameter is compared on this rank's
    shard; a parameter whose shard is empty here is in neither list.
    """
    inner = unwrap(model)[0]
    snap_params = dict(snap.named_parameters())
    unchanged, changed = [], []
    with torch.no_grad():
        for n, p in inner.named_parameters():
            if local_snap is not None and n in local_snap:
                now, before = local(p), local_snap[n]
            else:
                now, before = p, snap_params.get(n)
            if before is None or before.shape != now.shape or now.numel() == 0:
                continue
            (changed if not torch.equal(before.to(now.device), now) else unchanged).append((n, p))
    return unchanged, changed
