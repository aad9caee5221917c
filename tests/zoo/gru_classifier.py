"""Clean: sequence classification with a sequence-first nn.GRU inside; the model permutes
(B, T, F) to (T, B, F) correctly and returns batch-first logits."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from _seqdata import pattern_sequences

FEATURES, CLASSES = 6, 5


class GRUClassifier(nn.Module):
    def __init__(self, features=FEATURES, hidden=48, classes=CLASSES):
        super().__init__()
        self.gru = nn.GRU(features, hidden, num_layers=2, dropout=0.2)   # batch_first=False
        self.drop = nn.Dropout(0.2)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x):                  # x: (B, T, F)
        h, _ = self.gru(x.permute(1, 0, 2))  # (T, B, hidden)
        return self.head(self.drop(h[-1]))   # (B, classes) from the last step


def build_model():
    return GRUClassifier()


def get_batch():
    return pattern_sequences(32, 20, FEATURES, CLASSES)


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=3e-3)
