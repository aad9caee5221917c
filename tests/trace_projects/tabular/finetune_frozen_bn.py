"""Clean, tricky: fine-tuning with BatchNorm frozen on purpose (eval mode and requires_grad=False,
as detection codebases do); only the remaining parameters go to the optimizer."""
import torch
import torch.nn as nn

import config
from train import build
from trainer import Trainer


def freeze_bn(model):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d):
            m.eval()
            for p in m.parameters():
                p.requires_grad_(False)


class FrozenBNTrainer(Trainer):
    def fit(self, epochs):
        for epoch in range(epochs):
            self.model.train()
            freeze_bn(self.model)      # train() above turned them back on
            for batch in self.loader:
                self.optimizer.zero_grad()
                self.loss(batch).backward()
                self.optimizer.step()
                self.step += 1
                for cb in self.callbacks:
                    cb.on_step_end(self, self.step, 0.0)
        return self


if __name__ == "__main__":
    cfg = config.parse()
    model, _, train_loader, callbacks = build(cfg)
    freeze_bn(model)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.05, momentum=0.9)
    FrozenBNTrainer(model, optimizer, train_loader, callbacks).fit(cfg.epochs)
