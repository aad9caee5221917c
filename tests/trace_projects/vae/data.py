"""Synthetic images: one Gaussian blob at a random place, pixel values in [0, 1], flattened."""
import torch
from torch.utils.data import DataLoader, TensorDataset


def blobs(n, side, seed):
    g = torch.Generator().manual_seed(seed)
    centre = torch.rand(n, 2, generator=g) * (side - 1)
    width = 0.8 + 1.2 * torch.rand(n, 1, 1, generator=g)
    ys, xs = torch.meshgrid(torch.arange(side).float(), torch.arange(side).float(), indexing="ij")
    d2 = (ys - centre[:, 0, None, None]) ** 2 + (xs - centre[:, 1, None, None]) ** 2
    return torch.exp(-d2 / (2 * width ** 2)).reshape(n, side * side)


def loader(cfg):
    x = blobs(cfg.n_train, cfg.side, cfg.seed)
    return DataLoader(TensorDataset(x), batch_size=cfg.batch_size, shuffle=True, drop_last=True,
                      generator=torch.Generator().manual_seed(cfg.seed))
