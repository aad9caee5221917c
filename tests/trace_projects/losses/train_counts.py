"""Planted bug (NaN from a log of zero): the rate model's ReLU outputs exact zeros, and the
hand-written Poisson NLL takes their log: the loss is inf/NaN from the first step."""
import torch

import config
from data import counts
from losses import poisson_nll
from models import RateModel


def main():
    cfg = config.parse()
    torch.manual_seed(cfg.seed)
    model = RateModel(cfg.n_features, cfg.hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    step = 0
    for epoch in range(cfg.epochs):
        for x, k in counts(cfg):
            loss = poisson_nll(model(x), k)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            if step % cfg.log_every == 0:
                print(f"epoch {epoch} step {step} loss {loss.item():.4f}")


if __name__ == "__main__":
    main()
