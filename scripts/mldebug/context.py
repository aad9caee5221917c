"""The Context: one target, prepared once, shared by every check of a run.

It owns the pristine model (built once, seeded) and the batch, hands out deep copies
so no check can touch what another sees, seeds torch before every call into the
user's code, and caches work that several checks read (the forward at init).
"""
from __future__ import annotations

import copy
import sys
from typing import Any, Callable, Dict, Optional

import torch
import torch.nn as nn

from . import tensors as T
from .losscapture import LossTrace, trace_calls
from .target import Target, TargetError, UserCodeError

DEFAULT_LR = 3e-4  # CONTRACT.md section 1 default optimizer: Adam(lr=3e-4) (evidence/karpathy-recipe-2019.md)

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


def default_forward(model: nn.Module, inputs: Any) -> Any:
    if isinstance(inputs, dict):
        return model(**inputs)
    if isinstance(inputs, (tuple, list)):
        return model(*inputs)
    return model(inputs)


def prediction_of(outputs: Any) -> Optional[torch.Tensor]:
    """The prediction tensor inside a model's outputs.

    A Tensor is itself; an object or dict with `logits` gives that (Hugging Face style);
    otherwise the first tensor found in a dict, tuple or list.
    """
    if isinstance(outputs, torch.Tensor):
        return outputs
    logits = outputs.get("logits") if isinstance(outputs, dict) else getattr(outputs, "logits", None)
    if isinstance(logits, torch.Tensor):
        return logits
    return T.first_tensor(outputs)


class Context:
    def __init__(self, target: Target, device: str = "cpu", seed: int = 0,
                 options: Optional[Dict[str, Any]] = None, out_dir: Optional[str] = None,
                 log: Optional[Callable[[str], None]] = None):
        self.target = target
        self.device = torch.device(device)
        self.seed = seed
        self.options = dict(options or {})
        self.out_dir = out_dir
        self.log = log or (lambda msg: None)
        self._pristine: Optional[nn.Module] = None
        self._batch = None
        self._cache: Dict[str, Any] = {}

    # ------------------------------------------------------------------ user calls
    def call(self, where: str, fn: Callable, *args, **kwargs):
        """Seed, then call user code; its exceptions become a one-line UserCodeError."""
        T.seed_everything(self.seed)
        try:
            return fn(*args, **kwargs)
        except (TargetError, UserCodeError):
            raise
        except Exception as e:
            raise UserCodeError(where, e) from e

    def option(self, name: str, default: Any = None) -> Any:
        v = self.options.get(name)
        return default if v is None else v

    # ------------------------------------------------------------------ preflight
    def preflight(self) -> None:
        """Build the model and batch once, run one forward and loss; raise TargetError if unusable."""
        name = self.target.name
        try:
            model = self.call("build_model()", self.target.build_model)
        except UserCodeError as e:
            raise TargetError(f"target {name}: {e}") from None
        if not isinstance(model, nn.Module):
            raise TargetError(f"target {name}: build_model() returned {type(model).__name__}, "
                              "not a torch.nn.Module")
        try:
            batch = self.call("get_batch()", self.target.get_batch)
        except UserCodeError as e:
            raise TargetError(f"target {name}: {e}") from None
        self._batch = self._validate_batch(batch)
        try:
            self._pristine = model.to(self.device)
        except Exception as e:
            raise TargetError(f"target {name}: could not move the model to {self.device}: {e}") from None
        self._batch = T.to_device(self._batch, self.device)
        # one forward + loss, so a broken model or loss fails here with one clear line
        m = self.fresh_model()
        try:
            with torch.no_grad():
                out = self.forward(m, self.inputs)
                loss = self.loss(out, self.targets)
        except UserCodeError as e:
            raise TargetError(f"target {name}: {e}") from None
        self._cache["preflight_loss"] = float(loss.detach().float())

    def _validate_batch(self, batch: Any):
        name = self.target.name
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            what = f"a {type(batch).__name__}" + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
            raise TargetError(f"target {name}: get_batch() must return (inputs, targets), got {what}")
        inputs, targets = batch
        if not T.leaves(inputs):
            raise TargetError(f"target {name}: get_batch() inputs hold no tensor (got {type(inputs).__name__}); "
                              "return a Tensor, a tuple/list of Tensors or a dict of Tensors")
        bad = [n for n, t in T.named_leaves(inputs) if t.dim() == 0]
        if bad:
            raise TargetError(f"target {name}: get_batch() input {bad[0]} is 0-d; dim 0 must be the batch")
        sizes = {n: t.shape[0] for n, t in T.named_leaves(inputs)}
        sizes.update({n: t.shape[0] for n, t in T.named_leaves(targets, "targets") if t.dim() > 0})
        if len(set(sizes.values())) > 1:
            desc = ", ".join(f"{n} has {s}" for n, s in sizes.items())
            raise TargetError(f"target {name}: get_batch() tensors disagree on the batch size (dim 0): {desc}")
        return inputs, targets

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

    def fresh_model(self) -> nn.Module:
        """A deep copy of the pristine model (rebuilt from build_model() if it won't copy)."""
        try:
            return copy.deepcopy(self._pristine)
        except Exception:
            return self.call("build_model()", self.target.build_model).to(self.device)

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

    def make_optimizer(self, params) -> torch.optim.Optimizer:
        params = list(params)
        if self.target.make_optimizer is None:
            return torch.optim.Adam(params, lr=DEFAULT_LR)
        return self.call("make_optimizer(params)", self.target.make_optimizer, params)

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
            with torch.no_grad():
                out = self.forward(model, self.inputs)
                loss, trace = self.traced_loss(out, self.targets)
            return {"outputs": out, "prediction": prediction_of(out), "loss": loss, "trace": trace}
        return self.cached("init_eval", run)

    def num_classes_hint(self) -> Optional[int]:
        return self.target.num_classes


def progress(msg: str) -> None:
    """Progress for people at a terminal: stderr only, never stdout."""
    if sys.stderr.isatty():
        print(msg, file=sys.stderr, flush=True)
