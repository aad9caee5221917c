"""Synthetic multichannel signals: sines of a few frequencies and shapes, with noise."""
import math

import torch
from torch.utils.data import DataLoader, Dataset


class Signals(Dataset):
    """x: (channels, length) float; y: the waveform id (pre-training) or the frequency band (fine-tuning)."""

    def __init__(self, n, cfg, task, seed):
        g = torch.Generator().manual_seed(seed)
        t = torch.linspace(0, 1, cfg.length)
        shape = torch.randint(0, cfg.pretrain_classes, (n,), generator=g)
        freq = 1.0 + (shape % cfg.finetune_classes).float() * 2.0 + 0.3 * torch.rand(n, generator=g)
        phase = 2 * math.pi * torch.rand(n, cfg.channels, 1, generator=g)
        wave = torch.sin(2 * math.pi * freq[:, None, None] * t + phase)
        square = (shape >= cfg.finetune_classes).float()[:, None, None]
        self.x = (1 - square) * wave + square * torch.sign(wave) + 0.1 * torch.randn(n, cfg.channels, cfg.length,
                                                                                      generator=g)
        self.y = shape if task == "pretrain" else shape % cfg.finetune_classes

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


def loader(cfg, task, train=True):
    n = cfg.n_train if train else cfg.n_val
    ds = Signals(n, cfg, task, seed=cfg.seed + (0 if train else 1) + (10 if task == "finetune" else 0))
    return DataLoader(ds, batch_size=cfg.batch_size, shuffle=train, drop_last=train,
                      generator=torch.Generator().manual_seed(cfg.seed))
