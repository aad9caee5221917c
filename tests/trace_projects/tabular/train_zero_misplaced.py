"""Planted bug (grad-accumulation): zero_grad() moved between backward() and step() while
"tidying up" the loop, so every step sees zero gradients and only weight decay acts."""
import torch.nn.functional as F

import config
from train import build

if __name__ == "__main__":
    cfg = config.parse()
    model, optimizer, train_loader, _ = build(cfg)
    model.train()
    for epoch in range(cfg.epochs):
        for batch in train_loader:
            loss = F.cross_entropy(model(batch["features"]), batch["label"])
            loss.backward()
            optimizer.zero_grad()     # BUG: wipes the gradients the next line needs
            optimizer.step()
