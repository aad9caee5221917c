"""Planted bug (param-coverage): the classifier head is resized to the dataset's classes after the
optimizer was built, so the new head gets gradients but the optimizer never updates it."""
import torch.nn as nn

import config
from train import build
from trainer import Trainer


def main():
    cfg = config.parse()
    model, optimizer, train_loader, callbacks = build(cfg)
    n_classes = int(train_loader.dataset.y.max()) + 1
    model.head = nn.Linear(cfg.hidden, n_classes)   # BUG: created after the optimizer
    Trainer(model, optimizer, train_loader, callbacks).fit(cfg.epochs)


if __name__ == "__main__":
    main()
