"""Small helpers over nested structures of tensors (tuples, lists, dicts).

Inputs and targets in a target file may be a Tensor, a tuple/list of Tensors or a
dict of Tensors (see CONTRACT.md section 1); every helper here walks all three.
"""
from __future__ import annotations

import math
import random
from collections.abc import Mapping
from contextlib import contextmanager
from typing import Any, Callable, Iterator, List, Optional

import torch


def tree_map(fn: Callable[[torch.Tensor], Any], obj: Any) -> Any:
    """Apply `fn` to every tensor leaf of `obj`, keeping the container shape."""
    if isinstance(obj, torch.Tensor):
        return fn(obj)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # namedtuple
        return type(obj)(*(tree_map(fn, o) for o in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(tree_map(fn, o) for o in obj)
    if isinstance(obj, Mapping):  # dict, Hugging Face ModelOutput / BatchEncoding, UserDict
        items = {k: tree_map(fn, v) for k, v in obj.items()}
        return items if type(obj) is dict else _rebuild_mapping(obj, items)
    return obj


def _rebuild_mapping(obj, items):
    for make in (lambda: type(obj)(**items), lambda: type(obj)(items)):
        try:
            return make()
        except Exception:
            pass
    return dict(items)  # a mapping we can't rebuild: a plain dict with the same keys


def leaves(obj: Any) -> List[torch.Tensor]:
    """All tensor leaves of `obj`, in order."""
    out: List[torch.Tensor] = []
    tree_map(lambda t: out.append(t), obj)
    return out


def named_leaves(obj: Any, prefix: str = "inputs") -> Iterator[tuple]:
    """(name, tensor) pairs such as ('inputs[0]', t) or ("inputs['ids']", t)."""
    if isinstance(obj, torch.Tensor):
        yield prefix, obj
    elif isinstance(obj, (list, tuple)):
        for i, o in enumerate(obj):
            yield from named_leaves(o, f"{prefix}[{i}]")
    elif isinstance(obj, Mapping):
        for k, v in obj.items():
            yield from named_leaves(v, f"{prefix}[{k!r}]")


def to_device(obj: Any, device: torch.device) -> Any:
    return tree_map(lambda t: t.to(device), obj)


def clone(obj: Any) -> Any:
    return tree_map(lambda t: t.detach().clone(), obj)


def batch_size(obj: Any) -> int | None:
    sizes = {t.shape[0] for t in leaves(obj) if t.dim() > 0}
    return sizes.pop() if len(sizes) == 1 else None


def take(obj: Any, index: torch.Tensor | slice) -> Any:
    """Select rows (dim 0) of every tensor leaf; 0-d tensors are kept whole."""
    return tree_map(lambda t: t[index] if t.dim() > 0 else t, obj)


def first_tensor(obj: Any) -> torch.Tensor | None:
    ls = leaves(obj)
    return ls[0] if ls else None


def is_float(t: torch.Tensor) -> bool:
    return t.is_floating_point() or t.is_complex()


def finite_float(x: Any) -> Any:
    """JSON-safe number: NaN/Inf become strings, tensors become Python numbers."""
    if isinstance(x, torch.Tensor):
        x = x.item() if x.numel() == 1 else x.tolist()
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return x


# --------------------------------------------------------------------------- RNG

def rng_state() -> dict:
    """Snapshot of every global RNG a check could touch (torch, CUDA, random, numpy)."""
    state = {"torch": torch.get_rng_state(), "random": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    try:
        import numpy as np  # optional
        state["numpy"] = np.random.get_state()
    except ImportError:
        pass
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["random"])
    if "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])
    if "numpy" in state:
        import numpy as np
        np.random.set_state(state["numpy"])


_ACCELERATOR: Optional[bool] = None


def _has_accelerator() -> bool:
    """Whether any accelerator (CUDA, MPS, XPU, ...) is available; asked once (it never appears later)."""
    global _ACCELERATOR
    if _ACCELERATOR is None:
        acc = getattr(torch, "accelerator", None)
        try:
            _ACCELERATOR = bool(acc.is_available()) if acc is not None else True
        except Exception:
            _ACCELERATOR = True
    return _ACCELERATOR


def seed_everything(seed: int) -> None:
    if _has_accelerator():
        torch.manual_seed(seed)  # also seeds every CUDA device
    else:
        # no device to seed: the CPU generator is all torch.manual_seed would set, and it skips
        # queueing lazy device seeds (~0.4 ms each, with a stack capture: the seed is set before
        # every call into the target, so this adds up on small models)
        torch.default_generator.manual_seed(seed)
    seed_python_and_numpy(seed)


def seed_python_and_numpy(seed: int) -> None:
    random.seed(seed)
    try:
        import numpy as np
        np.random.seed(seed % (2 ** 32))
    except ImportError:
        pass


def python_and_numpy_state():
    """Comparable snapshot of Python's and NumPy's global RNG states (did a call draw from them?)."""
    try:
        import numpy as np
        st = np.random.get_state()
        npst = (st[0], st[1].tobytes(), st[2], st[3], st[4])
    except ImportError:
        npst = None
    return random.getstate(), npst


@contextmanager
def preserved_rng():
    """Run a block and put every global RNG back as it was, whatever the block did."""
    state = rng_state()
    try:
        yield
    finally:
        set_rng_state(state)
