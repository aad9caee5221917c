"""Clean: train the VAE on the negative ELBO, reconstruction + beta * KL."""
import torch

import config
from data import loader
from losses import kl_divergence, reconstruction
from model import VAE


def train(cfg, sign=1.0):
    torch.manual_seed(cfg.seed)
    model = VAE(cfg.side * cfg.side, cfg.hidden, cfg.latent)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    step = 0
    for epoch in range(cfg.epochs):
        for (x,) in loader(cfg):
            recon, mu, logvar = model(x)
            rec, kl = reconstruction(recon, x), kl_divergence(mu, logvar)
            loss = rec + sign * cfg.beta * kl
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            if step % cfg.log_every == 0:
                print(f"epoch {epoch} step {step} loss {loss.item():.3f} recon {rec.item():.3f} kl {kl.item():.3f}")
    return model


if __name__ == "__main__":
    train(config.parse())
