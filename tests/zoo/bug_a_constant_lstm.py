"""Bug: an LSTM sequence classifier whose weights are all set to one constant by a
blanket init loop: within each gate, every hidden unit stays identical to the others."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from _seqdata import pattern_sequences


class LSTMClassifier(nn.Module):
    def __init__(self, features=6, hidden=32, classes=5):
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)
        for name, p in self.named_parameters():
            if "weight" in name:
                nn.init.constant_(p, 0.1)     # BUG: constant weights everywhere
            else:
                nn.init.zeros_(p)

    def forward(self, x):                     # x: (B, T, F)
        h, _ = self.lstm(x)                   # (B, T, hidden)
        return self.head(h[:, -1])            # (B, classes)


def build_model():
    return LSTMClassifier()


def get_batch():
    return pattern_sequences(32, 20, 6, 5)


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)
