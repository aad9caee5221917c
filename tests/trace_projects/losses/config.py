"""Run configuration shared by the hand-written-loss scripts, overridable from the command line."""
import argparse
from dataclasses import dataclass


@dataclass
class Config:
    n_train: int = 512
    n_features: int = 10
    hidden: int = 32
    embed_dim: int = 16
    batch_size: int = 32
    epochs: int = 2
    lr: float = 1e-2
    temperature: float = 0.2
    log_every: int = 8
    seed: int = 0


def parse(argv=None) -> Config:
    cfg = Config()
    p = argparse.ArgumentParser(description="train with a hand-written loss")
    for name, default in vars(cfg).items():
        p.add_argument("--" + name.replace("_", "-"), type=type(default), default=default)
    return Config(**vars(p.parse_args(argv)))
