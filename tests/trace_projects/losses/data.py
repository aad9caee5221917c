"""Synthetic data: weighted regression targets, event counts, and pairs of noisy views."""
import torch
from torch.utils.data import DataLoader, TensorDataset


def _features(n, cfg, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, cfg.n_features, generator=g), g


def regression(cfg):
    """(x, y, w): y a noisy linear function of x, w the per-example weight (reliability)."""
    x, g = _features(cfg.n_train, cfg, cfg.seed)
    coef = torch.randn(cfg.n_features, generator=torch.Generator().manual_seed(5))
    y = x @ coef + 0.3 * torch.randn(cfg.n_train, generator=g)
    w = 0.5 + torch.rand(cfg.n_train, generator=g)
    return DataLoader(TensorDataset(x, y, w), batch_size=cfg.batch_size, shuffle=True,
                      generator=torch.Generator().manual_seed(cfg.seed))


def counts(cfg):
    """(x, k): k ~ Poisson(exp(x @ coef / 2)), many zeros."""
    x, g = _features(cfg.n_train, cfg, cfg.seed)
    coef = torch.randn(cfg.n_features, generator=torch.Generator().manual_seed(6))
    k = torch.poisson(torch.exp(x @ coef / 4), generator=g)
    return DataLoader(TensorDataset(x, k), batch_size=cfg.batch_size, shuffle=True,
                      generator=torch.Generator().manual_seed(cfg.seed))


def augment(x, g=None):
    """A view of x: jitter and random feature dropout."""
    keep = (torch.rand(x.shape, generator=g) > 0.1).float()
    return (x + 0.1 * torch.randn(x.shape, generator=g)) * keep


def unlabeled(cfg):
    x, _ = _features(cfg.n_train, cfg, cfg.seed)
    return DataLoader(TensorDataset(x), batch_size=cfg.batch_size, shuffle=True, drop_last=True,
                      generator=torch.Generator().manual_seed(cfg.seed))
