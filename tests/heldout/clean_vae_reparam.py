"""CLEAN: MLP VAE, reparameterisation sampling only in train mode (eval decodes the mean), BCE-with-logits reconstruction + KL per example."""
import torch
import torch.nn as nn
import torch.nn.functional as F

D, LATENT = 64, 8


def binary_patterns(n=48, seed=6):
    g = torch.Generator().manual_seed(seed)
    protos = (torch.rand(6, D, generator=g) < 0.3).float()
    idx = torch.randint(0, 6, (n,), generator=g)
    flip = (torch.rand(n, D, generator=g) < 0.05).float()
    x = (protos[idx] + flip) % 2
    return x, x.clone()


class VAE(nn.Module):
    def __init__(self, d=D, h=64, z=LATENT):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(d, h), nn.ReLU())
        self.mu = nn.Linear(h, z)
        self.logvar = nn.Linear(h, z)
        self.dec = nn.Sequential(nn.Linear(z, h), nn.ReLU(), nn.Linear(h, d))

    def reparameterize(self, mu, logvar):
        if self.training:
            return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return mu

    def forward(self, x):
        h = self.enc(x)
        mu, logvar = self.mu(h), self.logvar(h)
        return self.dec(self.reparameterize(mu, logvar)), mu, logvar


def build_model():
    return VAE()


def get_batch():
    return binary_patterns()


def loss_fn(outputs, target):
    recon_logits, mu, logvar = outputs
    rec = F.binary_cross_entropy_with_logits(recon_logits, target, reduction="none").sum(1)
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)
    return (rec + kl).mean()


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
