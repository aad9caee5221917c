"""BUG batch-independence: a seq-first LSTM's (T, B, H) output is flattened per example with .view(B, -1) instead of .transpose(0, 1).reshape(B, -1)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

T, F_IN, N_CLASSES = 10, 4, 3


def gestures(n=24, seed=127):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, N_CLASSES, (n,), generator=g)
    x = 0.3 * torch.randn(n, T, F_IN, generator=g)
    x[torch.arange(n), :, y] += torch.linspace(0, 2, T)
    return x, y


class GestureLSTM(nn.Module):
    def __init__(self, h=16):
        super().__init__()
        self.lstm = nn.LSTM(F_IN, h)                    # batch_first=False
        self.fc = nn.Linear(T * h, N_CLASSES)

    def forward(self, x):                               # (B, T, F)
        B = x.size(0)
        out, _ = self.lstm(x.transpose(0, 1))           # (T, B, h)
        return self.fc(out.contiguous().view(B, -1))    # BUG: mixes time steps of different examples


def build_model():
    return GestureLSTM()


def get_batch():
    return gestures()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=2e-3)
