"""Run configuration for the ratings regressor, overridable from the command line."""
import argparse
from dataclasses import dataclass


@dataclass
class Config:
    n_train: int = 640
    n_val: int = 128
    n_users: int = 50
    n_items: int = 40
    dim: int = 8
    hidden: int = 32
    batch_size: int = 16           # 640 / 16 = 40 optimizer steps per epoch
    epochs: int = 3
    lr: float = 3e-3
    scheduler: str = "none"        # none | step | multistep | exponential | cosine | onecycle | warmup
    interval: str = "epoch"        # epoch | step: when the scheduler is stepped
    warmup_steps: int = 10
    log_every: int = 10
    seed: int = 0


def parse(argv=None) -> Config:
    cfg = Config()
    p = argparse.ArgumentParser(description="train the ratings regressor")
    for name, default in vars(cfg).items():
        p.add_argument("--" + name.replace("_", "-"), type=type(default), default=default)
    return Config(**vars(p.parse_args(argv)))
