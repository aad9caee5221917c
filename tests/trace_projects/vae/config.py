"""Run configuration for the VAE, overridable from the command line."""
import argparse
from dataclasses import dataclass


@dataclass
class Config:
    n_train: int = 512
    side: int = 8                  # images are side x side
    latent: int = 4
    hidden: int = 64
    batch_size: int = 32
    epochs: int = 4
    lr: float = 2e-3
    beta: float = 1.0
    log_every: int = 8
    seed: int = 0


def parse(argv=None) -> Config:
    cfg = Config()
    p = argparse.ArgumentParser(description="train a small VAE on synthetic blob images")
    for name, default in vars(cfg).items():
        p.add_argument("--" + name.replace("_", "-"), type=type(default), default=default)
    return Config(**vars(p.parse_args(argv)))
