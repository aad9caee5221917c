"""CLEAN: sequence-first LSTM (batch_first=False) for time-series classification; the model transposes (B,T,F) -> (T,B,F) itself."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

T, FEATS, N_CLASSES = 20, 3, 4


def sine_bank(n=32, seed=5):
    """Class sets the dominant frequency of the 3-channel signal."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, N_CLASSES, (n,), generator=g)
    t = torch.arange(T).float()
    phase = 2 * math.pi * torch.rand(n, FEATS, 1, generator=g)
    freq = (0.15 + 0.12 * y.float()).view(n, 1, 1)
    x = torch.sin(freq * t + phase) + 0.2 * torch.randn(n, FEATS, T, generator=g)
    return x.transpose(1, 2).contiguous(), y          # (B, T, F)


class SeqFirstLSTM(nn.Module):
    def __init__(self, feats=FEATS, hidden=32, n_classes=N_CLASSES):
        super().__init__()
        self.lstm = nn.LSTM(feats, hidden, num_layers=2, dropout=0.1)   # batch_first=False
        self.head = nn.Linear(hidden, n_classes)

    def forward(self, x):                 # x: (B, T, F)
        x = x.transpose(0, 1)             # (T, B, F), what a seq-first LSTM expects
        out, _ = self.lstm(x)             # (T, B, hidden)
        return self.head(out[-1])         # last time step, (B, n_classes)


def build_model():
    return SeqFirstLSTM()


def get_batch():
    return sine_bank()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=3e-3)
