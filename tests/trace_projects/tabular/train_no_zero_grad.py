"""Planted bug (grad-accumulation): a hand-written loop that never calls zero_grad(), so every
step applies the sum of all gradients since the start."""
import torch
import torch.nn.functional as F

import config
from data import loaders
from model import TabularNet


def main():
    cfg = config.parse()
    torch.manual_seed(cfg.seed)
    train_loader, _ = loaders(cfg)
    model = TabularNet(cfg.n_features, cfg.hidden, cfg.n_classes, cfg.dropout)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    step = 0
    for epoch in range(cfg.epochs):
        for batch in train_loader:
            logits = model(batch["features"])
            loss = F.cross_entropy(logits, batch["label"])
            loss.backward()
            optimizer.step()          # BUG: no optimizer.zero_grad() anywhere
            step += 1
            if step % cfg.log_every == 0:
                print(f"step {step} loss {loss.item():.4f}")


if __name__ == "__main__":
    main()
