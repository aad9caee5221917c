"""A VAE with MLP encoder and decoder; the decoder outputs pixel probabilities."""
import torch
import torch.nn as nn


class VAE(nn.Module):
    def __init__(self, d_in, hidden, latent):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, 2 * latent))
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, d_in), nn.Sigmoid())

    def forward(self, x):            # (B, d_in) -> reconstruction (B, d_in), mu (B, latent), logvar (B, latent)
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu   # the mean at inference
        return self.decoder(z), mu, logvar
