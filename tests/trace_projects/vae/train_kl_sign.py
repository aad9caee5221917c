"""Planted bug (loss-trace): the KL term is subtracted ("maximise the ELBO" half-applied), so the
encoder is rewarded for moving away from the prior and the loss falls below zero without bound."""
import torch

import config
from data import loader
from losses import kl_divergence, reconstruction
from model import VAE


def main():
    cfg = config.parse()
    torch.manual_seed(cfg.seed)
    model = VAE(cfg.side * cfg.side, cfg.hidden, cfg.latent)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    step = 0
    for epoch in range(cfg.epochs):
        for (x,) in loader(cfg):
            recon, mu, logvar = model(x)
            rec, kl = reconstruction(recon, x), kl_divergence(mu, logvar)
            loss = rec - cfg.beta * kl           # BUG: the KL penalty enters with a minus sign
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            if step % cfg.log_every == 0:
                print(f"epoch {epoch} step {step} loss {loss.item():.3f} recon {rec.item():.3f} kl {kl.item():.3f}")


if __name__ == "__main__":
    main()
