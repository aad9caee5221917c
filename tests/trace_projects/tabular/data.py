"""Synthetic tabular data: Poisson counts plus Gaussian measurements, labels from a hidden rule."""
import torch
from torch.utils.data import DataLoader, Dataset


def _make(n, n_features, n_classes, seed):
    g = torch.Generator().manual_seed(seed)
    half = n_features // 2
    counts = torch.poisson(torch.full((n, half), 1.5), generator=g)   # many zeros
    measures = torch.randn(n, n_features - half, generator=g)
    w = torch.randn(n_features, n_classes, generator=torch.Generator().manual_seed(99))
    raw = torch.cat([torch.log1p(counts), measures], 1)
    y = (raw @ w + 0.3 * torch.randn(n, n_classes, generator=g)).argmax(1)
    return counts, measures, y


class TabularDataset(Dataset):
    def __init__(self, n, cfg, seed, transform="log1p"):
        counts, measures, self.y = _make(n, cfg.n_features, cfg.n_classes, seed)
        squash = {"log1p": torch.log1p, "log": torch.log, "none": lambda t: t}[transform]
        self.x = torch.cat([squash(counts), measures], 1)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return {"features": self.x[i], "label": self.y[i]}


def loaders(cfg):
    train = TabularDataset(cfg.n_train, cfg, seed=cfg.seed, transform=cfg.feature_transform)
    val = TabularDataset(cfg.n_val, cfg, seed=cfg.seed + 1, transform=cfg.feature_transform)
    g = torch.Generator().manual_seed(cfg.seed)
    return (DataLoader(train, batch_size=cfg.batch_size, shuffle=True, generator=g, drop_last=True),
            DataLoader(val, batch_size=64))
