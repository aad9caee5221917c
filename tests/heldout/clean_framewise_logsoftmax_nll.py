"""CLEAN: frame-wise phone classifier on MFCC-like (B, T, 13) features: Conv1d + bidirectional GRU, LogSoftmax output, NLLLoss over frames."""
import torch
import torch.nn as nn

T, N_MFCC, N_PHONES = 24, 13, 8


def utterances(n=16, seed=53):
    g = torch.Generator().manual_seed(seed)
    protos = torch.randn(N_PHONES, N_MFCC, generator=torch.Generator().manual_seed(5)) * 1.5
    labels = torch.empty(n, T, dtype=torch.long)
    for i in range(n):
        t = 0
        while t < T:
            dur = int(torch.randint(3, 8, (1,), generator=g))
            labels[i, t:t + dur] = int(torch.randint(0, N_PHONES, (1,), generator=g))
            t += dur
    feats = protos[labels] + 0.7 * torch.randn(n, T, N_MFCC, generator=g)
    return feats, labels


class PhoneTagger(nn.Module):
    def __init__(self, h=32):
        super().__init__()
        self.conv = nn.Conv1d(N_MFCC, h, 5, padding=2)
        self.gru = nn.GRU(h, h, batch_first=True, bidirectional=True)
        self.out = nn.Sequential(nn.Linear(2 * h, N_PHONES), nn.LogSoftmax(dim=-1))

    def forward(self, x):                                   # (B, T, 13)
        h = torch.relu(self.conv(x.transpose(1, 2))).transpose(1, 2)
        h, _ = self.gru(h)
        return self.out(h)                                  # (B, T, P) log-probabilities


def build_model():
    return PhoneTagger()


def get_batch():
    return utterances()


_nll = nn.NLLLoss()


def loss_fn(log_probs, labels):
    return _nll(log_probs.reshape(-1, N_PHONES), labels.reshape(-1))


def make_optimizer(params):
    return torch.optim.Adam(params, lr=2e-3)
