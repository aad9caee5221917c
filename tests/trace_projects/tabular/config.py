"""Run configuration: defaults, overridable from the command line."""
import argparse
from dataclasses import dataclass


@dataclass
class Config:
    n_train: int = 512
    n_val: int = 128
    n_features: int = 12
    n_classes: int = 4
    hidden: int = 64
    dropout: float = 0.2
    batch_size: int = 32
    epochs: int = 4
    lr: float = 3e-3
    weight_decay: float = 1e-4
    accum: int = 1                 # micro-batches per optimizer step
    scheduler: str = "none"        # none | step (per epoch) | cosine (per step)
    feature_transform: str = "log1p"  # how the count features are squashed
    val_every: int = 8             # optimizer steps between validation passes
    log_every: int = 5
    seed: int = 0


def parse(argv=None) -> Config:
    cfg = Config()
    p = argparse.ArgumentParser(description="train the tabular classifier")
    for name, default in vars(cfg).items():
        p.add_argument("--" + name.replace("_", "-"), type=type(default), default=default)
    return Config(**vars(p.parse_args(argv)))
