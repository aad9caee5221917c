"""Bug: (B, T, E) reshaped to (T, B, E) with .view instead of .permute before a seq-first GRU,
so every "sequence" the GRU reads is stitched together from several examples."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from _seqdata import pattern_sequences

FEATURES, CLASSES = 6, 5


class Model(nn.Module):
    def __init__(self, features=FEATURES, hidden=48, classes=CLASSES):
        super().__init__()
        self.proj = nn.Linear(features, hidden)
        self.gru = nn.GRU(hidden, hidden)           # expects (T, B, hidden)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x):                           # x: (B, T, F)
        B, T, _ = x.shape
        h = torch.tanh(self.proj(x))                # (B, T, hidden)
        h = h.view(T, B, -1)                        # BUG: should be h.permute(1, 0, 2)
        out, _ = self.gru(h)                        # (T, B, hidden)
        return self.head(out[-1])                   # (B, classes)


def build_model():
    return Model()


def get_batch():
    return pattern_sequences(32, 20, FEATURES, CLASSES)


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)
