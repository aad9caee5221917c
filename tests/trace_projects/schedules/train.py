"""Train the ratings regressor: python train.py [--scheduler NAME] [--interval epoch|step]."""
import torch

import config
import schedules
from data import loaders
from model import Recommender
from trainer import Trainer


def build(cfg):
    torch.manual_seed(cfg.seed)
    train_loader, val_loader = loaders(cfg)
    model = Recommender(cfg.n_users, cfg.n_items, cfg.dim, cfg.hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    scheduler = schedules.build(cfg.scheduler, optimizer, cfg, len(train_loader))
    return model, optimizer, scheduler, train_loader, val_loader


def main():
    cfg = config.parse()
    model, optimizer, scheduler, train_loader, val_loader = build(cfg)
    trainer = Trainer(model, optimizer, scheduler, cfg.interval, log_every=cfg.log_every)
    trainer.fit(train_loader, cfg.epochs)
    print("val mse", trainer.evaluate(val_loader))


if __name__ == "__main__":
    main()
