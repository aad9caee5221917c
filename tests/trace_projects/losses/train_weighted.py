"""Clean: regression with a hand-written, per-example weighted MSE."""
import torch

import config
from data import regression
from losses import weighted_mse
from models import Regressor


def main():
    cfg = config.parse()
    torch.manual_seed(cfg.seed)
    model = Regressor(cfg.n_features, cfg.hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    step = 0
    for epoch in range(cfg.epochs):
        for x, y, w in regression(cfg):
            loss = weighted_mse(model(x), y, w)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            if step % cfg.log_every == 0:
                print(f"epoch {epoch} step {step} loss {loss.item():.4f}")


if __name__ == "__main__":
    main()
