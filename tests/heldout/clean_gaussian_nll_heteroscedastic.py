"""CLEAN: heteroscedastic regression predicting (mean, log-variance) per example, nn.GaussianNLLLoss with var = exp(log_var)."""
import torch
import torch.nn as nn


def noisy_targets(n=96, seed=39):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, generator=g) * 6 - 3
    x = torch.cat([x, torch.randn(n, 3, generator=g)], 1)
    noise_std = 0.1 + 0.4 * (x[:, :1] > 0).float()
    y = torch.sin(x[:, :1]) + x[:, 1:2] * 0.5 + noise_std * torch.randn(n, 1, generator=g)
    return x, y


class MeanVar(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh())
        self.mean = nn.Linear(64, 1)
        self.log_var = nn.Linear(64, 1)

    def forward(self, x):
        h = self.body(x)
        return self.mean(h), self.log_var(h)


def build_model():
    return MeanVar()


def get_batch():
    return noisy_targets()


_gnll = nn.GaussianNLLLoss()


def loss_fn(outputs, y):
    mean, log_var = outputs
    return _gnll(mean, y, log_var.exp())


def make_optimizer(params):
    return torch.optim.Adam(params, lr=2e-3)
