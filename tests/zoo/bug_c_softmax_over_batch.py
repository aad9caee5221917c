"""Bug: attention pooling over time whose softmax runs over dim 0 (the batch) instead of the
time axis, so each example's pooling weights depend on every other example."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from _seqdata import pattern_sequences

FEATURES, CLASSES = 6, 5


class AttnPool(nn.Module):
    def __init__(self, features=FEATURES, hidden=32, classes=CLASSES):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(features, hidden), nn.ReLU())
        self.score = nn.Linear(hidden, 1)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x):                                 # x: (B, T, F)
        h = self.enc(x)                                   # (B, T, hidden)
        w = F.softmax(self.score(h).squeeze(-1), dim=0)   # BUG: (B, T) normalised over the batch, not time
        pooled = (w.unsqueeze(-1) * h).sum(1)             # (B, hidden)
        return self.head(pooled)                          # (B, classes)


def build_model():
    return AttnPool()


def get_batch():
    return pattern_sequences(32, 20, FEATURES, CLASSES)


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)
