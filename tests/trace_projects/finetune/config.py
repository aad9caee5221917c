"""Run configuration for the pre-train / fine-tune project, overridable from the command line."""
import argparse
from dataclasses import dataclass


@dataclass
class Config:
    n_train: int = 256
    n_val: int = 64
    length: int = 32               # samples per signal
    channels: int = 2
    pretrain_classes: int = 6      # pre-training task: which of 6 waveforms
    finetune_classes: int = 3      # fine-tuning task: which of 3 frequency bands
    width: int = 16
    batch_size: int = 32
    pretrain_epochs: int = 3
    finetune_epochs: int = 3
    lr: float = 3e-3
    finetune_lr: float = 1e-3
    log_every: int = 8
    seed: int = 0


def parse(argv=None) -> Config:
    cfg = Config()
    p = argparse.ArgumentParser(description="pre-train an encoder, then fine-tune a new head")
    for name, default in vars(cfg).items():
        p.add_argument("--" + name.replace("_", "-"), type=type(default), default=default)
    return Config(**vars(p.parse_args(argv)))
