"""Loading a target: the file (or module) in which a user hands over their model.

CONTRACT.md section 1 fixes the names. Anything wrong with the target itself raises
`TargetError`, whose message is one line that names what is missing or broken; the
CLI prints it and exits with status 2.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

REQUIRED = ("build_model", "get_batch", "loss_fn")
OPTIONAL_CALLABLES = ("make_optimizer", "make_scheduler", "forward", "get_val_batch", "get_dataset")
OPTIONAL_INTS = ("CAUSAL_DIM", "NUM_CLASSES", "TOTAL_STEPS")

HINTS = {
    "build_model": "def build_model(): return MyModel()",
    "get_batch": "def get_batch(): return inputs, targets",
    "loss_fn": "def loss_fn(outputs, targets): return F.cross_entropy(outputs, targets)",
}

OPTIONAL_HINTS = {
    "get_val_batch": "def get_val_batch(): return val_inputs, val_targets",
    "get_dataset": "def get_dataset(): return MyDataset(train=True)",
}

_PKG_DIR = os.path.dirname(os.path.abspath(__file__))


class TargetError(Exception):
    """The target can't be used as given. The message is one actionable line."""


class UserCodeError(Exception):
    """The user's own code raised. `str()` is one line: where, and what."""

    def __init__(self, where: str, exc: BaseException):
        self.where = where
        self.exc = exc
        super().__init__(f"{where} raised {describe_exception(exc)}")


def describe_exception(exc: BaseException) -> str:
    """'ValueError: bad shape (at model.py:12)', naming the innermost frame of user code."""
    msg = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {msg[0] if msg else ''}".rstrip(": ")
    frame = _user_frame(exc.__traceback__)
    return f"{text} (at {frame})" if frame else text


def _user_frame(tb) -> Optional[str]:
    """The innermost traceback frame that is neither ours, nor torch's, nor the stdlib's."""
    best = None
    stdlib = os.path.dirname(os.__file__)
    for fs in traceback.extract_tb(tb):
        f = os.path.abspath(fs.filename)
        if f.startswith(_PKG_DIR) or f.startswith(stdlib) or f"{os.sep}torch{os.sep}" in f \
                or "site-packages" in f or f.startswith("<"):
            continue
        best = f"{os.path.basename(f)}:{fs.lineno}"
    return best


@dataclass
class Target:
    """What the checks need from a user: callables and a few optional constants."""

    name: str
    build_model: Callable[[], Any]
    get_batch: Callable[[], Any]
    loss_fn: Callable[[Any, Any], Any]
    make_optimizer: Optional[Callable] = None
    make_scheduler: Optional[Callable] = None
    forward: Optional[Callable] = None
    get_val_batch: Optional[Callable] = None   # one evaluation batch (split-consistency)
    get_dataset: Optional[Callable] = None     # the training Dataset with its augmentations (augment-alignment)
    causal_dim: Optional[int] = None
    num_classes: Optional[int] = None
    total_steps: Optional[int] = None
    source: Optional[str] = None  # file the target came from, for messages
    extras: dict = field(default_factory=dict)

    @classmethod
    def from_namespace(cls, name: str, ns: Any, source: Optional[str] = None) -> "Target":
        get = (lambda k: ns.get(k)) if isinstance(ns, dict) else (lambda k: getattr(ns, k, None))
        for req in REQUIRED:
            fn = get(req)
            if fn is None:
                raise TargetError(f"target {name} defines no {req}(); add `{HINTS[req]}`")
            if not callable(fn):
                raise TargetError(f"target {name}: {req} must be a function, got {type(fn).__name__}")
        for opt in OPTIONAL_CALLABLES:
            fn = get(opt)
            if fn is not None and not callable(fn):
                hint = OPTIONAL_HINTS.get(opt)
                raise TargetError(f"target {name}: {opt} must be a function, got {type(fn).__name__}"
                                  + (f"; define `{hint}`" if hint else ""))
        ints = {}
        for k in OPTIONAL_INTS:
            v = get(k)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
                raise TargetError(f"target {name}: {k} must be an int, got {v!r}")
            if k in ("NUM_CLASSES", "TOTAL_STEPS") and v is not None and v < 1:
                raise TargetError(f"target {name}: {k} must be a positive int, got {v!r}")
            ints[k] = v
        return cls(
            name=name,
            build_model=get("build_model"),
            get_batch=get("get_batch"),
            loss_fn=get("loss_fn"),
            make_optimizer=get("make_optimizer"),
            make_scheduler=get("make_scheduler"),
            forward=get("forward"),
            get_val_batch=get("get_val_batch"),
            get_dataset=get("get_dataset"),
            causal_dim=ints["CAUSAL_DIM"],
            num_classes=ints["NUM_CLASSES"],
            total_steps=ints["TOTAL_STEPS"],
            source=source,
        )


def load_target(spec: str) -> Target:
    """Import a target from a .py path or a dotted module name."""
    if not isinstance(spec, str) or not spec:
        raise TargetError("no target given: pass a .py file or a module name")
    is_path = spec.endswith(".py") or os.sep in spec or os.path.exists(spec)
    if is_path:
        path = os.path.abspath(spec)
        if not os.path.isfile(path):
            raise TargetError(f"target file not found: {spec}")
        mod_name = "_mldebug_target_" + os.path.splitext(os.path.basename(path))[0].replace("-", "_")
        folder = os.path.dirname(path)
        added = folder not in sys.path
        if added:
            sys.path.insert(0, folder)  # let the target import its sibling modules
        try:
            mspec = importlib.util.spec_from_file_location(mod_name, path)
            module = importlib.util.module_from_spec(mspec)
            sys.modules[mod_name] = module
            mspec.loader.exec_module(module)
        except SyntaxError as e:
            raise TargetError(f"could not import target {spec}: SyntaxError at "
                              f"{os.path.basename(e.filename or spec)}:{e.lineno}: {e.msg}") from None
        except Exception as e:
            raise TargetError(f"could not import target {spec}: {describe_exception(e)}") from None
        finally:
            if added and folder in sys.path:
                sys.path.remove(folder)
        return Target.from_namespace(spec, module, source=path)
    try:
        module = importlib.import_module(spec)
    except ModuleNotFoundError as e:
        raise TargetError(f"could not import target module {spec}: {e}; "
                          "pass a path to a .py file or put the module on PYTHONPATH") from None
    except Exception as e:
        raise TargetError(f"could not import target module {spec}: {describe_exception(e)}") from None
    return Target.from_namespace(spec, module, source=getattr(module, "__file__", None))
