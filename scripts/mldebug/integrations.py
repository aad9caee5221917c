"""Run chosen checks once, on the first batch, at the start of training in PyTorch Lightning or the
Hugging Face `Trainer`, and log the report. Each library is optional: nothing here imports it
until you ask for its callback.

    from mldebug.integrations import lightning_callback, hf_callback
    trainer = pl.Trainer(callbacks=[lightning_callback(loss_fn=F.cross_entropy)])
    trainer = transformers.Trainer(..., callbacks=[hf_callback()])   # the model's own .loss

The checks run on deep copies of the model with the optimizer's own class and settings;
the training run itself is not touched (RNG states are put back, the batch is copied).
The report is logged to the `mldebug` logger and kept on the callback as `.report`.
"""
from __future__ import annotations

import copy
import inspect
import logging
from typing import Any, Callable, Iterable, Optional

import torch

from .api import Report, doctor
from .context import DEFAULT_BUDGET
from .report import total_line
from .tensors import preserved_rng
from .unwrap import unwrap

log = logging.getLogger("mldebug")

DEFAULT_CHECKS = ("batch-sanity", "init-loss", "loss-input", "grad-flow", "nan-source", "batch-independence",
                  "causality", "update-ratio")  # the quick ones: a few forward/backward passes each


def optimizer_factory(optimizer: Optional[torch.optim.Optimizer]) -> Optional[Callable]:
    """A make_optimizer(params) that builds the same optimizer class with the first group's settings."""
    if optimizer is None:
        return None
    opt = getattr(optimizer, "optimizer", optimizer)  # accelerate / Lightning wrappers
    cls, group = type(opt), opt.param_groups[0]
    try:
        accepted = set(inspect.signature(cls.__init__).parameters)
    except (TypeError, ValueError):
        return None
    kwargs = {k: v for k, v in group.items() if k != "params" and k in accepted}
    if "lr" in kwargs and "initial_lr" in group:
        kwargs["lr"] = group["initial_lr"]  # before a warmup scheduler scaled it

    def make(params):
        return cls(params, **kwargs)
    return make


def _copy_without(module: torch.nn.Module, *skip: Any) -> torch.nn.Module:
    """Deep copy of a module, with references to `skip` objects (a trainer) left as None."""
    memo = {id(s): None for s in skip if s is not None}
    return copy.deepcopy(module, memo)


def _labels_of(batch: Any) -> Any:
    if isinstance(batch, dict) or hasattr(batch, "keys"):
        return batch.get("labels")
    return None


def _split(batch: Any):
    """(inputs, targets) from a training batch: a pair as is; a dict with labels keeps them in the inputs."""
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return tuple(batch)
    labels = _labels_of(batch)
    if labels is not None:
        return dict(batch), labels
    raise ValueError(f"can't split a {type(batch).__name__} batch into (inputs, targets); pass split_batch=")


class _Runner:
    """What both callbacks share: run the doctor once on the first batch, log, keep the report."""

    def __init__(self, checks: Optional[Iterable[str]] = DEFAULT_CHECKS, loss_fn: Optional[Callable] = None,
                 forward: Optional[Callable] = None, causal_dim: Optional[int] = None,
                 split_batch: Optional[Callable] = None, budget: Optional[float] = DEFAULT_BUDGET,
                 stop_on_fail: bool = False, **doctor_kwargs):
        self.checks = list(checks) if checks else None
        self.loss_fn, self.forward, self.causal_dim = loss_fn, forward, causal_dim
        self.split_batch = split_batch or _split
        self.budget, self.stop_on_fail = budget, stop_on_fail
        self.doctor_kwargs = doctor_kwargs
        self.report: Optional[Report] = None
        self.done = False

    def run(self, model: torch.nn.Module, batch: Any, optimizer=None, skip=()) -> Optional[Report]:
        if self.done:
            return self.report
        self.done = True
        from . import registry
        known = set(registry.load_all())
        checks = [c for c in self.checks if c in known] if self.checks else None
        with preserved_rng():
            inputs, targets = self.split_batch(batch)
            frozen = _copy_without(unwrap(model)[0], *skip)  # DDP/compile wrappers off: the checks run alone
            try:
                self.report = doctor(build_model=lambda: copy.deepcopy(frozen), batch=(inputs, targets),
                                     loss_fn=self.loss_fn, forward=self.forward, causal_dim=self.causal_dim,
                                     make_optimizer=optimizer_factory(optimizer), checks=checks,
                                     budget=self.budget, **self.doctor_kwargs)
            except Exception as e:  # never take the user's training down
                log.warning("ml-debug could not run: %s", e)
                return None
        level = logging.WARNING if self.report["status"] != "pass" else logging.INFO
        log.log(level, "ml-debug: %s", total_line(self.report))
        for c in self.report["checks"]:
            if c["status"] in ("fail", "warn", "error"):
                log.log(level, "ml-debug %s %s: %s", c["status"].upper(), c["id"], c["summary"])
        return self.report

    @property
    def failed(self) -> bool:
        return self.report is not None and self.report["status"] == "fail"


def lightning_callback(**kwargs):
    """A PyTorch Lightning `Callback` running ml-debug checks on the first training batch.

    kwargs: checks=, loss_fn=(outputs, targets) (default: outputs.loss), forward=(model, inputs),
    causal_dim=, split_batch=(batch) -> (inputs, targets), budget=, stop_on_fail= (stop training
    when a check fails), and any doctor() option.
    """
    try:
        import lightning.pytorch as pl
    except ImportError:
        import pytorch_lightning as pl  # the older package name

    class MLDebugLightningCallback(pl.Callback, _Runner):
        def __init__(self):
            _Runner.__init__(self, **kwargs)

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if self.done:
                return
            opts = trainer.optimizers
            self.run(pl_module, batch, opts[0] if opts else None, skip=(trainer,))
            if self.stop_on_fail and self.failed:
                trainer.should_stop = True

    return MLDebugLightningCallback()


def hf_callback(**kwargs):
    """A Hugging Face `TrainerCallback` running ml-debug checks on the first training batch.

    By default the batch is the collated dict with `labels`, and the loss is the model's own
    `outputs.loss`. Same kwargs as `lightning_callback`.
    """
    from transformers import TrainerCallback

    class MLDebugHFCallback(TrainerCallback, _Runner):
        def __init__(self):
            _Runner.__init__(self, **kwargs)

        def on_train_begin(self, args, state, control, model=None, optimizer=None, train_dataloader=None, **kw):
            if self.done or model is None or train_dataloader is None:
                return control
            with preserved_rng():  # drawing a batch must not move the run's shuffling
                batch = next(iter(train_dataloader))
            self.run(model, batch, optimizer)
            if self.stop_on_fail and self.failed:
                control.should_training_stop = True
            return control

    return MLDebugHFCallback()
