"""init-symmetry: do units that start identical stay identical? Measured, not guessed.

Two units (rows of a weight matrix: output features, conv out-channels, embedding tokens,
RNN gate units) that start equal and receive equal gradients get equal updates under
any elementwise optimizer, so they stay copies forever. On a fresh copy (train mode,
dropout off, since dropout's random masks are no fix) we run one forward + backward (the
shared probe's, _probe.py, when there is no dropout to turn off) and,
for every trainable weight with >= 2 dims:

- group the rows that are exactly equal at init; within each group, find rows whose
  gradient rows are also equal (sort by a random projection, then verify candidates);
- note all-zero weights whose gradient is all zero too (nothing will ever move them).

Suspects get a second opinion: one small normalised step on every parameter, then a
second backward (the tie or the zero gradient may break once other layers move, e.g. a
zero-gated residual branch). What survives both passes fails. Zero-initialised heads and
residual projections get distinct gradients per row at once, so they pass; biases, norm
weights and other 1-D tensors are never judged.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.nn as nn

from ..context import disable_dropout, has_dropout
from ..registry import Result, Skip, check
from ..training import GraphCut, loss_backward
from ._probe import grad_model, grad_model_loss

# Tolerances (refs/diagnostics.md#init-symmetry; ../evidence/cs231n-setup.md "Pitfall: all zero
# initialization": equal weights give equal gradients and equal updates).
GRAD_TIE_TOL = 1e-4    # two gradient rows are "equal" if they differ by < 1e-4 x the tensor's largest gradient:
                       # tied units differ only by float rounding (~1e-7), distinct ones by O(1)
ZERO_TOL = 0.0         # all-zero means exactly zero: zero init is exact, and a tiny gradient still moves weights
PROBE_STEP = 1e-2      # the probe step moves each tensor by 1% of its own gradient's max-normalised direction
GATES = {nn.LSTM: 4, nn.GRU: 3, nn.RNN: 1, nn.LSTMCell: 4, nn.GRUCell: 3, nn.RNNCell: 1}
MHA_PACKED = ("in_proj_weight",)   # nn.MultiheadAttention packs q, k, v rows into one tensor


def _rows(name: str, p: torch.Tensor, owner: Optional[nn.Module]) -> torch.Tensor:
    """The tensor as (units, fan-in): one row per output unit."""
    t = p.detach()
    if isinstance(owner, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)) and name.endswith("weight"):
        t = t.transpose(0, 1)  # (in, out/groups, k...): output channels are dim 1
    return t.reshape(t.shape[0], -1)


def _blocks(name: str, owner: Optional[nn.Module]) -> int:
    """How many stacked blocks (gates, q/k/v) share the row axis; rows tie only within a block."""
    short = name.rsplit(".", 1)[-1]
    for cls, n in GATES.items():
        if isinstance(owner, cls) and short.startswith(("weight_ih", "weight_hh")):
            return n
    if isinstance(owner, nn.MultiheadAttention) and short in MHA_PACKED:
        return 3
    return 1


def _init_groups(w: torch.Tensor, blocks: int) -> List[torch.Tensor]:
    """Indices of rows that are exactly equal at init (groups of >= 2), within each block."""
    groups = []
    n = w.shape[0]
    size = n // blocks if blocks > 1 and n % blocks == 0 else n
    for start in range(0, n, size):
        part = w[start:start + size]
        if part.shape[0] < 2:
            continue
        _, inverse, counts = torch.unique(part, dim=0, return_inverse=True, return_counts=True)
        for u in torch.nonzero(counts >= 2).flatten().tolist():
            groups.append(torch.nonzero(inverse == u).flatten() + start)
    return groups


def _tied_pairs(g: torch.Tensor, group: torch.Tensor, scale: float, gen: torch.Generator) -> int:
    """Number of rows in `group` whose gradient equals another row's (within GRAD_TIE_TOL)."""
    rows = g[group].double()
    if rows.shape[0] < 2:
        return 0
    tol = GRAD_TIE_TOL * scale
    if scale == 0.0:
        return rows.shape[0]  # every gradient row is zero: all tied
    if float((rows - rows[0]).abs().max()) <= tol:
        return rows.shape[0]  # the whole group is one tied block
    proj = rows @ torch.randn(rows.shape[1], generator=gen, dtype=torch.float64)
    order = torch.argsort(proj)
    r = rows[order]
    close = (r[1:] - r[:-1]).abs().amax(dim=1) <= tol   # verify neighbours in projection order
    tied = torch.zeros(rows.shape[0], dtype=torch.bool)
    tied[1:] |= close
    tied[:-1] |= close
    return int(tied.sum())


def _grads(ctx, model: nn.Module) -> set:
    """One forward + backward; returns the ids of parameters used only as lookup tables."""
    model.zero_grad(set_to_none=True)
    loss, _ = loss_backward(ctx, model, ctx.inputs, ctx.targets)
    return _lookup_tables(loss)


# autograd nodes that read rows of a tensor by index: each row is its own token's, never a unit
TABLE_READS = ("EmbeddingBackward0", "IndexBackward0", "IndexSelectBackward0", "EmbeddingBagBackward0")
MAX_GRAPH_NODES = 20000   # autograd nodes visited to find how each parameter is read


def _lookup_tables(loss: torch.Tensor) -> set:
    """Ids of parameters the loss reads only by index (`table[idx]`, nn.Embedding): their rows belong
    to tokens, not to units fed the same input, so rows that start equal are not a symmetry to break."""
    readers: Dict[int, set] = {}
    seen, stack = set(), [loss.grad_fn]
    while stack and len(seen) < MAX_GRAPH_NODES:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        for nxt, _ in node.next_functions:
            if nxt is None:
                continue
            var = getattr(nxt, "variable", None)
            if var is not None:
                readers.setdefault(id(var), set()).add(type(node).__name__)
            else:
                stack.append(nxt)
    return {i for i, names in readers.items() if names and all(n in TABLE_READS for n in names)}


def _scan(named, owners, gen, init_rows, tables=frozenset()) -> Dict[str, Dict[str, Any]]:
    """Per weight tensor: rows tied at init and by the gradient, and dead (zero weight, zero gradient).

    Rows are grouped by their values at init (`init_rows`), so a probe step that nudges
    tied rows apart by rounding does not hide the tie."""
    found: Dict[str, Dict[str, Any]] = {}
    for name, p in named:
        if p.dim() < 2 or not p.requires_grad or p.grad is None:
            continue
        owner = owners.get(name)
        w = init_rows[name]
        g = _rows(name, p.grad, owner)
        if not bool(torch.isfinite(g).all()):
            continue  # nan-source's business
        scale = float(g.abs().max())
        table = id(p) in tables
        # a lookup table's rows are its tokens': equal rows get equal gradients only while their tokens meet the
        # same contexts (or are absent from the batch, with no gradient); another batch tells them apart
        groups = _init_groups(w, _blocks(name, owner))
        tied = 0 if table else sum(_tied_pairs(g, grp, scale, gen) for grp in groups)
        zero_w = bool((w.abs() <= ZERO_TOL).all())
        info = {"rows": int(w.shape[0]), "init_tied_rows": int(sum(len(x) for x in groups)),
                "grad_tied_rows": tied, "all_zero": zero_w, "grad_zero": scale == 0.0, "lookup_table": table,
                "embedding": isinstance(owner, (nn.Embedding, nn.EmbeddingBag)),
                "constant": bool(w.numel() > 1 and (w == w.reshape(-1)[0]).all())}
        found[name] = info
    return found


def _probe_step(model: nn.Module) -> None:
    """A small normalised step on every parameter with a gradient (breaks nothing symmetric)."""
    with torch.no_grad():
        for p in model.parameters():
            if p.grad is not None and p.grad.is_floating_point():
                m = float(p.grad.abs().max())
                if m > 0 and torch.isfinite(p.grad).all():
                    p.sub_(PROBE_STEP * p.grad / m)


def _own_copy(ctx) -> Tuple[nn.Module, set]:
    """A fresh copy in train mode with dropout off, its gradients at init, and its lookup tables."""
    model = ctx.fresh_model()
    model.train()
    disable_dropout(model)
    return model, _grads(ctx, model)


@check("init-symmetry", "weights whose units start identical and stay identical", order=10)
def init_symmetry(ctx) -> Result:
    # The shared probe's copy already has the gradients at init (train mode, the user's loss);
    # they are ours too when there is no dropout to turn off. Read only: suspects get their own copy.
    model, loss = grad_model(ctx), grad_model_loss(ctx)
    if model is not None and loss is not None and not has_dropout(model):
        tables = _lookup_tables(loss)
    else:
        try:
            model, tables = _own_copy(ctx)
        except GraphCut as e:
            return Result("error", f"can't measure gradients: {e}")
    named = [(n, p) for n, p in model.named_parameters()]
    owners = {}
    for mname, mod in model.named_modules():
        for pname, _ in mod.named_parameters(recurse=False):
            owners[f"{mname}.{pname}" if mname else pname] = mod
    init_rows = {n: _rows(n, p, owners.get(n)) for n, p in named if p.dim() >= 2}  # this copy is never stepped
    gen = torch.Generator().manual_seed(0)
    first = _scan(named, owners, gen, init_rows, tables)
    nonfinite = [n for n, p in named if p.grad is not None and not bool(torch.isfinite(p.grad).all())]
    if not first and nonfinite:
        raise Skip(f"{len(nonfinite)} gradients are NaN/Inf at init, so rows can't be compared: run nan-source")
    judged = {n: i for n, i in first.items() if i["rows"] >= 1}
    suspects = [n for n, i in first.items()
                if (i["grad_tied_rows"] >= 2) or (i["all_zero"] and i["grad_zero"])]
    second: Dict[str, Dict[str, Any]] = {}
    if suspects:
        model, _ = _own_copy(ctx)   # never step the shared copy
        _probe_step(model)
        tables = _grads(ctx, model)   # ids of this copy's parameters
        second = _scan([(n, p) for n, p in model.named_parameters() if n in suspects], owners, gen, init_rows,
                       tables)
    metrics: Dict[str, Any] = {"weights_checked": len(judged), "per_tensor": {}}
    fails: List[str] = []
    warns: List[str] = []
    notes: List[str] = []
    for n, i in judged.items():
        row = {k: i[k] for k in ("rows", "init_tied_rows", "grad_tied_rows", "all_zero")}
        if n in suspects:
            s = second.get(n)
            still_tied = s is not None and s["grad_tied_rows"] >= 2
            still_dead = s is not None and i["all_zero"] and s["grad_zero"]
            row["after_probe_grad_tied_rows"] = None if s is None else s["grad_tied_rows"]
            if still_dead:
                fails.append(f"{n} is all zero and its gradient stays exactly zero (also after a probe step): "
                             "nothing will ever move it (zero weights into a ReLU/gate with zero slope at 0?)")
            elif still_tied:
                distinct = i["rows"] - s["grad_tied_rows"] + 1
                fails.append(f"{n}: {s['grad_tied_rows']} of {i['rows']} units start identical and get identical "
                             f"gradients (also after a probe step), so they never differ (<= {distinct} distinct "
                             "units): initialise it randomly (e.g. the PyTorch default or kaiming_normal_)")
            else:
                notes.append(f"{n}: tied at the first step, but the tie breaks once other layers move")
        elif i["init_tied_rows"] >= 2 and not i["all_zero"]:
            what = "every entry is the same constant" if i["constant"] else "rows are copies of each other"
            warns.append(f"{n}: {i['init_tied_rows']} of {i['rows']} units start identical ({what}); the gradient "
                         "tells them apart, so it can train, but a random init is usual")
        elif i["all_zero"] and i["embedding"]:
            warns.append(f"{n}: every token's embedding starts at zero; the gradient separates them, but "
                         "nn.Embedding's default N(0,1) (or a small normal) init is usual")
        elif i["all_zero"]:
            notes.append(f"{n}: zero-initialised, gets a distinct gradient per unit (zero-init head/branch: fine)")
        metrics["per_tensor"][n] = row
    # tensors that got no gradient at all because of a dead layer upstream
    no_grad_downstream = [n for n, i in judged.items() if i["grad_zero"] and not i["all_zero"]]
    if fails and no_grad_downstream:
        notes.append("also getting an all-zero gradient: " + ", ".join(no_grad_downstream[:4]))
    metrics["tied"] = [f.split(":")[0].split(" is all zero")[0] for f in fails]
    details = fails + warns + notes
    if fails:
        return Result("fail", fails[0] + (f" (+{len(fails) - 1} more tensors)" if len(fails) > 1 else ""),
                      metrics, details)
    if warns:
        return Result("warn", warns[0] + (f" (+{len(warns) - 1} more)" if len(warns) > 1 else ""), metrics, details)
    zero = [n for n in notes if "zero-initialised" in n]
    return Result("pass", f"no tied units in {len(judged)} weight tensors after one backward"
                  + (f" ({len(zero)} zero-initialised, each with distinct per-unit gradients)" if zero else ""),
                  metrics, details)
