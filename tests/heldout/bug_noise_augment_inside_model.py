"""BUG eval-mode: a speech model does SpecAugment-style Gaussian noise + time masking inside forward with no `if self.training` guard."""
import torch
import torch.nn as nn
import torch.nn.functional as F

T, N_MELS = 32, 16


def spectrograms(n=24, seed=140):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 4, (n,), generator=g)
    x = 0.5 * torch.randn(n, N_MELS, T, generator=g)
    for i in range(n):
        x[i, 4 * int(y[i]):4 * int(y[i]) + 4] += 1.5
    return x, y


class Augment(nn.Module):
    def __init__(self, noise=0.1, max_mask=4):
        super().__init__()
        self.noise, self.max_mask = noise, max_mask

    def forward(self, spec):
        spec = spec + self.noise * torch.randn_like(spec)
        t0 = int(torch.randint(0, spec.size(-1) - self.max_mask, (1,)))
        spec = spec.clone()
        spec[..., t0:t0 + int(torch.randint(1, self.max_mask + 1, (1,)))] = 0
        return spec


class KWS(nn.Module):
    def __init__(self):
        super().__init__()
        self.aug = Augment()
        self.conv = nn.Sequential(nn.Conv1d(N_MELS, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten())
        self.fc = nn.Linear(32, 4)

    def forward(self, x):
        return self.fc(self.conv(self.aug(x)))


def build_model():
    return KWS()


def get_batch():
    return spectrograms()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
