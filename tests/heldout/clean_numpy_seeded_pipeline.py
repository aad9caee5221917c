"""CLEAN: a numpy data pipeline with its own seeded RandomState (jitter augmentation), converted to tensors; 1D-CNN on accelerometer windows."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

WIN, N_ACT = 64, 4


class WindowDataset:
    def __init__(self, n=48, seed=0):
        self.rng = np.random.RandomState(seed)
        t = np.arange(WIN) / 16.0
        self.y = self.rng.randint(0, N_ACT, size=n)
        freq = 1.0 + self.y[:, None]
        self.x = np.stack([np.sin(2 * np.pi * freq * t), np.cos(2 * np.pi * freq * t) * (self.y[:, None] % 2),
                           0.3 * self.rng.randn(n, WIN)], 1).astype(np.float32)

    def batch(self, size=32):
        idx = self.rng.choice(len(self.y), size, replace=False)
        x = self.x[idx] + 0.1 * self.rng.randn(size, 3, WIN).astype(np.float32)    # jitter
        return torch.from_numpy(x), torch.from_numpy(self.y[idx]).long()


def build_model():
    return nn.Sequential(nn.Conv1d(3, 16, 7, padding=3), nn.BatchNorm1d(16), nn.ReLU(), nn.MaxPool1d(2),
                         nn.Conv1d(16, 32, 5, padding=2), nn.BatchNorm1d(32), nn.ReLU(),
                         nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(32, N_ACT))


def get_batch():
    return WindowDataset(seed=0).batch()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=2e-3)
