"""The Context: one target, prepared once, shared by every check of a run.

It owns the pristine model (built once, seeded) and the batch, hands out models a check
may change so no check can touch what another sees (an independent deep copy, or the
pristine model itself restored before and after each check: copies.py decides), seeds torch before every call into the
user's code, and caches work that several checks read (the forward at init).
"""
from __future__ import annotations

import copy
import math
import sys
import time
from collections.abc import Mapping
from contextlib import ExitStack, contextmanager
from typing import Any, Callable, Dict, Optional

import torch
import torch.nn as nn

from . import copies
from . import tensors as T
from .losscapture import LossTrace, trace_calls
from .target import Target, TargetError, UserCodeError

DEFAULT_LR = 3e-4  # CONTRACT.md section 1 default optimizer: Adam(lr=3e-4) (evidence/karpathy-recipe-2019.md)
DEFAULT_BUDGET = 120.0  # seconds per check: zoo checks take < 10 s on 2 idle cores; 10x headroom for a loaded machine
REDUCED = (torch.float16, torch.bfloat16)
PROGRESS_EVERY = 2.0   # seconds between progress lines of a long loop (terminal stderr only)

# Recorders a check module adds to init_eval()'s forward + loss, so it needs no forward of its
# own: name -> factory of a context manager (e.g. a TorchFunctionMode) entered around both;
# the objects come back in init_eval()["recorders"][name]. Keep them light and hold no tensors
# strongly (init_eval is cached for the whole run).
INIT_EVAL_RECORDERS: Dict[str, Callable[[], Any]] = {}

DROPOUT_TYPES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout)


def disable_dropout(model: nn.Module) -> int:
    """Set every dropout probability we can reach to 0; return how many were changed."""
    n = 0
    for m in model.modules():
        if isinstance(m, DROPOUT_TYPES) and m.p > 0:
            m.p = 0.0
            n += 1
        elif isinstance(m, nn.MultiheadAttention) and m.dropout > 0:
            m.dropout = 0.0
            n += 1
    return n


def has_dropout(model: nn.Module) -> bool:
    """Whether disable_dropout() would change anything (a dropout module with p > 0)."""
    return any((isinstance(m, DROPOUT_TYPES) and m.p > 0) or (isinstance(m, nn.MultiheadAttention) and m.dropout > 0)
               for m in model.modules())


def default_forward(model: nn.Module, inputs: Any) -> Any:
    if isinstance(inputs, Mapping):
        return model(**inputs)
    if isinstance(inputs, (tuple, list)):
        return model(*inputs)
    return model(inputs)


def prediction_path(outputs: Any) -> Optional[str]:
    """Where the prediction sits in a model's outputs: "outputs", "outputs.logits", "outputs[0]", ...

    A Tensor is itself; a dict or object with a `logits` tensor (Hugging Face `ModelOutput`)
    gives that; otherwise the first tensor with a batch dim in a dict, tuple or list (a 0-d
    tensor in front, such as the loss a Hugging Face model returns first, is passed over).
    """
    if isinstance(outputs, torch.Tensor):
        return "outputs"
    logits = outputs.get("logits") if isinstance(outputs, Mapping) else getattr(outputs, "logits", None)
    if isinstance(logits, torch.Tensor):
        return "outputs.logits"
    named = [(n, t) for n, t in T.named_leaves(outputs, "outputs")]
    for n, t in named:
        if t.dim() > 0:
            return n
    return named[0][0] if named else None


def prediction_of(outputs: Any) -> Optional[torch.Tensor]:
    """The prediction tensor inside a model's outputs (see `prediction_path`)."""
    if isinstance(outputs, torch.Tensor):
        return outputs
    logits = outputs.get("logits") if isinstance(outputs, Mapping) else getattr(outputs, "logits", None)
    if isinstance(logits, torch.Tensor):
        return logits
    named = list(T.named_leaves(outputs, "outputs"))
    for _, t in named:
        if t.dim() > 0:
            return t
    return named[0][1] if named else None


def model_loss(outputs: Any, targets: Any = None) -> Any:
    """A loss_fn for models that compute their own loss: `outputs.loss` (Hugging Face style)."""
    loss = outputs.get("loss") if isinstance(outputs, Mapping) else getattr(outputs, "loss", None)
    if loss is None:
        raise TypeError(f"the model's outputs ({type(outputs).__name__}) carry no .loss: "
                        "pass loss_fn, or give the model its labels so it computes its loss")
    return loss


def model_dtype(model: nn.Module) -> Optional[torch.dtype]:
    """The dtype of the model's first floating-point parameter (or buffer)."""
    for t in list(model.parameters()) + list(model.buffers()):
        if t.is_floating_point():
            return t.dtype
    return None


class Context:
    def __init__(self, target: Target, device: str = "cpu", seed: int = 0,
                 options: Optional[Dict[str, Any]] = None, out_dir: Optional[str] = None,
                 log: Optional[Callable[[str], None]] = None, budget: Optional[float] = DEFAULT_BUDGET,
                 native_dtype: bool = False):
        self.target = target
        self.device = torch.device(device)
        self.seed = seed
        self.options = dict(options or {})
        self.out_dir = out_dir
        self.log = log or (lambda msg: None)
        self._pristine: Optional[nn.Module] = None
        self._batch = None
        self._cache: Dict[str, Any] = {}
        self.budget = budget if budget is None or budget > 0 else None  # seconds per check; None: no limit
        self.native_dtype = native_dtype      # False: check a float16/bfloat16 model as a float32 copy
        self._upcast = False
        self.check_id: Optional[str] = None   # the check now running (set by the runner)
        self._deadline: Optional[float] = None
        self._last_progress = 0.0
        self._in_place: Optional[copies.State] = None   # set when checks must use the pristine model itself
        # Shared work: checks reuse one copy's forward + backward at init (checks/_probe.py) and
        # update-ratio's first training steps (reproducibility) instead of redoing them. Off: every
        # check builds its own copy; always off when checks use the pristine model in place.
        self._share_models = True
        self.copies_made = 0    # fresh_model() calls, for the sharing test and the bench

    @property
    def share_models(self) -> bool:
        """Whether checks may keep a model between them (the probe's copy, the eval-mode copy): not
        when fresh_model() hands out the pristine model itself, which holds one at a time."""
        return self._share_models and self._in_place is None

    @share_models.setter
    def share_models(self, on: bool) -> None:
        self._share_models = bool(on)

    # ------------------------------------------------------------------ time budget
    def start_check(self, check_id: Optional[str]) -> None:
        """Called by the runner before each check: name it and start its time budget."""
        self.check_id = check_id
        if check_id is None and self._in_place is not None:   # a check ended: undo what it did in place
            self._in_place.restore(grads=False)
        self._deadline = None if self.budget is None else time.perf_counter() + self.budget
        self._last_progress = time.perf_counter()

    def time_left(self) -> float:
        """Seconds left in the running check's budget (inf without one). Cheap: call it in loops."""
        if self._deadline is None:
            return math.inf
        return self._deadline - time.perf_counter()

    def over_budget(self) -> bool:
        """True once the running check has used up its time budget: stop and report what you have."""
        return self._deadline is not None and time.perf_counter() >= self._deadline

    def progress(self, msg: str) -> None:
        """A progress line for a long loop, at most every PROGRESS_EVERY s, on a terminal's stderr only."""
        now = time.perf_counter()
        if now - self._last_progress >= PROGRESS_EVERY:
            self._last_progress = now
            progress(f"[ml-debug] {self.check_id or ''} {msg}".replace("  ", " "))

    py_entropy: Optional[int] = None   # when set, Python's and NumPy's RNGs get this instead of the seed
    seed_offset: int = 0               # added to the seed: a multi-step check draws anew at each step
    watch_py_draws: bool = False       # when set, calls that draw from Python's/NumPy's RNG set py_draws
    py_draws: bool = False

    @contextmanager
    def seeded(self, offset: int = 0, py_entropy: Optional[int] = None):
        """Calls into the target inside the block seed torch with seed + offset (a step, a second
        build), and Python/NumPy with py_entropy when given (a process that seeds only torch)."""
        self.seed_offset, self.py_entropy = offset, py_entropy
        try:
            yield
        finally:
            self.seed_offset, self.py_entropy = 0, None

    # ------------------------------------------------------------------ user calls
    def call(self, where: str, fn: Callable, *args, **kwargs):
        """Seed, then call user code; its exceptions become a one-line UserCodeError."""
        T.seed_everything(self.seed + self.seed_offset)
        if self.py_entropy is not None:   # as a process that seeds only torch (reproducibility)
            T.seed_python_and_numpy(self.py_entropy)
        before = T.python_and_numpy_state() if self.watch_py_draws else None
        try:
            return fn(*args, **kwargs)
        except (TargetError, UserCodeError):
            raise
        except Exception as e:
            raise UserCodeError(where, e) from e
        finally:
            if before is not None and T.python_and_numpy_state() != before:
                self.py_draws = True

    def call_loader(self, where: str, fn: Callable):
        """`call` for the target's loaders (build_model, get_batch, get_val_batch, get_dataset): a
        failure there means the target is unusable, so it becomes a one-line TargetError."""
        try:
            return self.call(where, fn)
        except UserCodeError as e:
            raise TargetError(f"target {self.target.name}: {e}") from None

    def option(self, name: str, default: Any = None) -> Any:
        v = self.options.get(name)
        return default if v is None else v

    # ------------------------------------------------------------------ preflight
    preflight_error: Optional[str] = None

    def preflight(self, keep_going: bool = False) -> None:
        """Build the model and batch once, run one forward and loss; raise TargetError if unusable."""
        name = self.target.name
        model = self.call_loader("build_model()", self.target.build_model)
        if not isinstance(model, nn.Module):
            raise TargetError(f"target {name}: build_model() returned {type(model).__name__}, "
                              "not a torch.nn.Module")
        model = self._unwrapped(model)
        params = list(model.parameters())
        if not params:
            raise TargetError(f"target {name}: build_model() returned a {type(model).__name__} with no "
                              "parameters: nothing to train (register layers as attributes or in nn.ModuleList)")
        if not any(p.requires_grad for p in params):
            raise TargetError(f"target {name}: every parameter of the {type(model).__name__} has "
                              "requires_grad=False: nothing to train")
        batch = self.call_loader("get_batch()", self.target.get_batch)
        self._batch = self._validate_batch(batch)
        try:
            self._pristine = model.to(self.device)
        except Exception as e:
            raise TargetError(f"target {name}: could not move the model to {self.device}: {e}") from None
        self._batch = T.to_device(self._batch, self.device)
        how, why = copies.choose(self._pristine, run=lambda m: self.forward(m, self.inputs))
        if how == "in-place":
            self._in_place = copies.State(self._pristine, grads=False)
            self._cache["checked_in_place"] = why
        # one forward + loss, so a broken model or loss fails here with one clear line
        m = self.fresh_model()
        try:
            with torch.no_grad():
                out = self.forward(m, self.inputs)
                loss = self.loss(out, self.targets)
        except UserCodeError as e:
            if not keep_going:
                raise TargetError(f"target {name}: {e}") from None
            # e.g. labels out of range make cross_entropy raise: checks that read only the batch
            # (batch-sanity) can still say why; the caller decides between exit 1 and exit 2
            self.preflight_error = f"target {name}: {e}"
            return
        self._cache["preflight_loss"] = float(loss.detach().float())
        self._cache["prediction_from"] = prediction_path(out)
        self._cache["loss_from"] = getattr(self.target.loss_fn, "_mldebug_source", "loss_fn")
        dt = model_dtype(self._pristine)
        self._cache["dtype"] = str(dt).replace("torch.", "") if dt is not None else None
        if dt in REDUCED and not self.native_dtype and self._in_place is None:
            self._try_float32()

    def _unwrapped(self, model: nn.Module) -> nn.Module:
        """The plain model inside a DDP / compiled / FSDP2 / Accelerate-prepared one (unwrap.py), copied."""
        from .unwrap import UnsupportedWrapper, describe, plain_copy, unwrap
        chain = unwrap(model)[1]
        if not chain:
            self._cache.setdefault("unwrapped_from", getattr(self.target.build_model, "_mldebug_unwrapped", None))
            return model
        try:
            plain, chain = plain_copy(model)
        except UnsupportedWrapper as e:
            raise TargetError(f"target {self.target.name}: build_model() returned a wrapped model: {e}") from None
        self._cache["unwrapped_from"] = describe(chain, plain)
        return plain

    def _try_float32(self) -> None:
        """Check a float16/bfloat16 model as a float32 copy, when its code runs in float32.

        The checks measure the model's logic (wiring, init, masks, optimizer settings); in half
        precision their thresholds would trip on rounding instead (a 3e-4 Adam step is lost in a
        bfloat16 weight; Adam's eps underflows in float16). Mixed-precision training keeps float32
        master weights anyway. A forward that insists on its own dtype keeps the native one.
        """
        up = lambda t: t.float() if t.dtype in REDUCED else t  # noqa: E731
        try:
            m32 = copy.deepcopy(self._pristine).float()
            b32 = T.tree_map(up, self._batch)
            with torch.no_grad():
                loss32 = self.loss(self.forward(m32, b32[0]), b32[1])
            value = float(loss32.detach())
        except Exception:
            self._cache["checked_in"] = self._cache["dtype"]
            return
        if math.isfinite(value) or not math.isfinite(self._cache["preflight_loss"]):
            self._pristine, self._batch = m32, b32
            self._upcast = True
            self._cache["preflight_loss"] = value
            self._cache["checked_in"] = "float32"
        else:
            self._cache["checked_in"] = self._cache["dtype"]

    def describe(self) -> Dict[str, Any]:
        """What the run used, for the report: prediction and loss source, the model's dtype."""
        return {k: self._cache.get(k)
                for k in ("prediction_from", "loss_from", "dtype", "checked_in", "unwrapped_from", "checked_in_place")
                if self._cache.get(k) is not None}

    def _validate_batch(self, batch: Any, fn: str = "get_batch()"):
        name = self.target.name
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            what = f"a {type(batch).__name__}" + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
            raise TargetError(f"target {name}: {fn} must return (inputs, targets), got {what}")
        inputs, targets = batch
        if not T.leaves(inputs):
            raise TargetError(f"target {name}: {fn} inputs hold no tensor (got {type(inputs).__name__}); "
                              "return a Tensor, a tuple/list of Tensors or a dict of Tensors")
        bad = [n for n, t in T.named_leaves(inputs) if t.dim() == 0]
        if bad:
            raise TargetError(f"target {name}: {fn} input {bad[0]} is 0-d; dim 0 must be the batch")
        sizes = {n: t.shape[0] for n, t in T.named_leaves(inputs)}
        sizes.update({n: t.shape[0] for n, t in T.named_leaves(targets, "targets") if t.dim() > 0})
        if len(set(sizes.values())) > 1:
            desc = ", ".join(f"{n} has {s}" for n, s in sizes.items())
            raise TargetError(f"target {name}: {fn} tensors disagree on the batch size (dim 0): {desc}")
        return inputs, targets

    # ------------------------------------------------------------------ optional data sources
    def val_batch(self):
        """The target's evaluation batch from get_val_batch(), validated, on the device; None without one.

        A bad value raises TargetError with one line naming the fix (the check reports it as its error)."""
        if self.target.get_val_batch is None:
            return None

        def load():
            batch = self.call_loader("get_val_batch()", self.target.get_val_batch)
            batch = self._validate_batch(batch, "get_val_batch()")
            up = (lambda t: t.float() if t.dtype in REDUCED else t) if self._upcast else (lambda t: t)
            return T.tree_map(up, T.to_device(batch, self.device))
        return self.cached("val_batch", load)

    def dataset(self):
        """The training Dataset from get_dataset() (indexable: __getitem__ and __len__); None without one."""
        if self.target.get_dataset is None:
            return None

        def load():
            ds = self.call_loader("get_dataset()", self.target.get_dataset)
            from torch.utils.data import DataLoader
            if isinstance(ds, DataLoader):   # a loader given for its dataset: take the dataset it reads
                ds = ds.dataset
            if ds is None or not hasattr(ds, "__getitem__") and not hasattr(ds, "__iter__"):
                raise TargetError(f"target {self.target.name}: get_dataset() returned {type(ds).__name__}, "
                                  "not a Dataset; return the training torch.utils.data.Dataset "
                                  "(indexable, with its augmentations)")
            return ds
        return self.cached("dataset", load)

    # ------------------------------------------------------------------ objects
    @property
    def inputs(self):
        return self._batch[0]

    @property
    def targets(self):
        return self._batch[1]

    @property
    def batch_size(self) -> int:
        return T.batch_size(self.inputs) or 1

    @property
    def in_place(self) -> bool:
        """True when fresh_model() hands out the pristine model itself (copies.py): one model at a time."""
        return self._in_place is not None

    def fresh_model(self) -> nn.Module:
        """A model the check may change: a deep copy of the pristine model, or, where copies.choose
        said a copy is not independent or not possible, the pristine model itself with its state put
        back (and put back again when the check ends). Hold one at a time in that case.

        Every copy a check makes comes from here (one place to change how copies are made)."""
        self.copies_made += 1
        if self._in_place is not None:
            return self._in_place.restore(grads=False)
        try:
            return copy.deepcopy(self._pristine)
        except Exception:
            model = self._unwrapped(self.call("build_model()", self.target.build_model)).to(self.device)
            return model.float() if self._upcast else model

    @property
    def pristine(self) -> nn.Module:
        """The model as built. Read it; never train or mutate it (use fresh_model())."""
        return self._pristine

    def forward(self, model: nn.Module, inputs: Any = None) -> Any:
        inputs = self.inputs if inputs is None else inputs
        fwd = self.target.forward
        if fwd is not None:
            return self.call("forward(model, inputs)", fwd, model, inputs)
        return self.call("model forward", default_forward, model, inputs)

    def loss(self, outputs: Any, targets: Any = None) -> torch.Tensor:
        targets = self.targets if targets is None else targets
        loss = self.call("loss_fn(outputs, targets)", self.target.loss_fn, outputs, targets)
        return self._validate_loss(loss)

    def traced_loss(self, outputs: Any, targets: Any = None) -> tuple:
        """(loss, LossTrace): the user's loss with the torch loss calls it made."""
        targets = self.targets if targets is None else targets
        loss, trace = self.call("loss_fn(outputs, targets)", trace_calls, self.target.loss_fn, outputs, targets)
        return self._validate_loss(loss), trace

    def _validate_loss(self, loss: Any) -> torch.Tensor:
        if not isinstance(loss, torch.Tensor):
            raise TargetError(f"target {self.target.name}: loss_fn returned {type(loss).__name__}, "
                              "not a scalar Tensor")
        if loss.numel() != 1:
            raise TargetError(f"target {self.target.name}: loss_fn returned a tensor of shape "
                              f"{tuple(loss.shape)}; reduce it to a scalar (e.g. .mean())")
        return loss.reshape(())

    def make_optimizer(self, params, as_list: bool = False) -> torch.optim.Optimizer:
        """The target's optimizer over `params`, handed over as training usually does it: an
        iterator like `model.parameters()`, which can be read once (`as_list=True`: a list)."""
        params = list(params)
        if self.target.make_optimizer is None:
            return torch.optim.Adam(params, lr=DEFAULT_LR)
        return self.call("make_optimizer(params)", self.target.make_optimizer,
                         list(params) if as_list else iter(params))

    def make_scheduler(self, optimizer):
        if self.target.make_scheduler is None:
            return None
        return self.call("make_scheduler(optimizer)", self.target.make_scheduler, optimizer)

    # ------------------------------------------------------------------ shared work
    def cached(self, key: str, fn: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    def init_eval(self) -> Dict[str, Any]:
        """Forward and loss of a fresh model at init, no grad, dropout off, loss calls traced.

        Train mode on purpose: a fresh BatchNorm in eval mode uses its initial running
        stats (mean 0, var 1) and would misreport the loss training actually starts from.
        """
        def run():
            model = self.fresh_model()
            model.train()
            disable_dropout(model)
            recorders = {n: f() for n, f in INIT_EVAL_RECORDERS.items()}
            with torch.no_grad(), ExitStack() as stack:
                for r in recorders.values():
                    stack.enter_context(r)
                out, inner = trace_calls(self.forward, model, self.inputs)
                loss, trace = self.traced_loss(out, self.targets)
            loss_fn_trace = trace   # the loss calls loss_fn made (what loss-input judges)
            if not trace.calls and inner.calls:
                # the model computed its own loss (a Hugging Face model given labels, `logits, loss = model(x, y)`):
                # the torch loss call inside forward that made the returned loss is the loss to judge
                made = [c for c in inner.calls if c.output is not None and c.output.reshape(()) is not None
                        and c.output.numel() == 1 and float(c.output) == float(loss)]
                if made:
                    trace = LossTrace(calls=made[-1:], producers=inner.producers)
                    self._cache["loss_inside_forward"] = True
            return {"outputs": out, "prediction": prediction_of(out), "loss": loss, "trace": trace,
                    "loss_fn_trace": loss_fn_trace, "recorders": recorders}
        return self.cached("init_eval", run)

    def num_classes_hint(self) -> Optional[int]:
        return self.target.num_classes


def progress(msg: str) -> None:
    """Progress for people at a terminal: stderr only, never stdout."""
    if sys.stderr.isatty():
        print(msg, file=sys.stderr, flush=True)
