"""BUG reproducibility: the train/val split permutes with np.random.default_rng() (no seed), so which examples form the training batch changes every run."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def full_dataset(n=500, seed=156):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 10, generator=g)
    y = ((x[:, 0] > 0).long() + (x[:, 1] > 0.5).long())
    return x, y


class Split:
    def __init__(self, x, y, val_frac=0.2):
        rng = np.random.default_rng()                      # BUG: default_rng(seed)
        idx = rng.permutation(len(y))
        cut = int(len(y) * (1 - val_frac))
        self.train_idx, self.val_idx = idx[:cut], idx[cut:]
        self.x, self.y = x, y

    def train_batch(self, size=64):
        i = torch.from_numpy(self.train_idx[:size])
        return self.x[i], self.y[i]


SPLIT = Split(*full_dataset())


def build_model():
    return nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 3))


def get_batch():
    return SPLIT.train_batch()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
