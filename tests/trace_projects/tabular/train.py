"""Train the tabular classifier: python train.py [--accum 4] [--scheduler step|cosine] ..."""
import torch

import config
from data import loaders
from model import TabularNet
from trainer import Evaluator, Logger, LRScheduler, Trainer


def build(cfg):
    torch.manual_seed(cfg.seed)
    train_loader, val_loader = loaders(cfg)
    model = TabularNet(cfg.n_features, cfg.hidden, cfg.n_classes, cfg.dropout)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    callbacks = [Logger(cfg.log_every), Evaluator(val_loader, cfg.val_every)]
    steps_per_epoch = len(train_loader) // cfg.accum
    if cfg.scheduler == "step":      # decay 10x every 2 epochs
        callbacks.append(LRScheduler(torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.1), "epoch"))
    elif cfg.scheduler == "cosine":  # per-step cosine over the whole run
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs * steps_per_epoch)
        callbacks.append(LRScheduler(sched, "step"))
    return model, optimizer, train_loader, callbacks


def main():
    cfg = config.parse()
    model, optimizer, train_loader, callbacks = build(cfg)
    trainer = Trainer(model, optimizer, train_loader, callbacks, accum=cfg.accum)
    trainer.fit(cfg.epochs)
    print("final val acc", callbacks[1].run(model))


if __name__ == "__main__":
    main()
