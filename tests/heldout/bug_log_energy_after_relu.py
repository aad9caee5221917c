"""BUG nan-source: audio front-end takes torch.log of a ReLU'd learned filterbank (no epsilon): log(0) = -inf for every dead filter output."""
import torch
import torch.nn as nn
import torch.nn.functional as F

T = 64


def clips(n=24, seed=119):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    t = torch.arange(T).float()
    x = torch.sin((0.2 + 0.4 * y.float()).view(n, 1) * t) + 0.3 * torch.randn(n, T, generator=g)
    return x.unsqueeze(1), y


class LogFilterbank(nn.Module):
    def __init__(self, n_filters=16):
        super().__init__()
        self.filters = nn.Conv1d(1, n_filters, 9, stride=4, padding=4)

    def forward(self, wav):
        return torch.log(F.relu(self.filters(wav)))          # 'log-energy'


class AudioNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.front = LogFilterbank()
        self.body = nn.Sequential(nn.Conv1d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten())
        self.fc = nn.Linear(32, 3)

    def forward(self, wav):
        return self.fc(self.body(self.front(wav)))


def build_model():
    return AudioNet()


def get_batch():
    return clips()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
