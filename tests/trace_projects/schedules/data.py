"""Synthetic user-item ratings: a low-rank preference plus a per-item bias and noise."""
import torch
from torch.utils.data import DataLoader, TensorDataset


def ratings(n, cfg, seed):
    g = torch.Generator().manual_seed(seed)
    u_f = torch.randn(cfg.n_users, 4, generator=torch.Generator().manual_seed(7))
    i_f = torch.randn(cfg.n_items, 4, generator=torch.Generator().manual_seed(8))
    users = torch.randint(0, cfg.n_users, (n,), generator=g)
    items = torch.randint(0, cfg.n_items, (n,), generator=g)
    r = (u_f[users] * i_f[items]).sum(1) / 2 + 0.1 * torch.randn(n, generator=g)
    return TensorDataset(users, items, r)


def loaders(cfg):
    train = ratings(cfg.n_train, cfg, cfg.seed)
    val = ratings(cfg.n_val, cfg, cfg.seed + 1)
    return (DataLoader(train, batch_size=cfg.batch_size, shuffle=True,
                       generator=torch.Generator().manual_seed(cfg.seed)),
            DataLoader(val, batch_size=64))
