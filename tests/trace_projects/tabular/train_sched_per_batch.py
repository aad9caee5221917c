"""Planted bug (lr-trace): StepLR(step_size=2) meant as "decay every 2 epochs" is attached to the
per-step hook, so the LR drops 10x every 2 batches and is ~0 within a dozen steps."""
import torch

import config
from train import build
from trainer import LRScheduler, Trainer


def main():
    cfg = config.parse()
    model, optimizer, train_loader, callbacks = build(cfg)
    sched = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.1)
    callbacks.append(LRScheduler(sched, interval="step"))   # BUG: built per epoch, stepped per batch
    Trainer(model, optimizer, train_loader, callbacks).fit(cfg.epochs)


if __name__ == "__main__":
    main()
