"""Bug (reproducibility): build_model initialises its embedding from a module-level
random.Random() made without a seed (a "custom init" helper), so the initial weights
change from run to run even though torch, random and numpy are all seeded."""
import random

import torch
import torch.nn as nn
import torch.nn.functional as F
from _data import token_sequences

VOCAB = 32
_init_rng = random.Random()      # BUG: unseeded private generator


class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, 32)
        self.rnn = nn.GRU(32, 64, batch_first=True)
        self.head = nn.Linear(64, VOCAB)
        with torch.no_grad():   # "uniform init in [-0.1, 0.1]" written with the private generator
            vals = [_init_rng.uniform(-0.1, 0.1) for _ in range(self.emb.weight.numel())]
            self.emb.weight.copy_(torch.tensor(vals).view_as(self.emb.weight))

    def forward(self, idx):             # idx: (B, T)
        h, _ = self.rnn(self.emb(idx))  # (B, T, 64)
        return self.head(h)             # (B, T, VOCAB)


def build_model():
    return LM()


def get_batch():
    return token_sequences(16, 32, VOCAB)


def loss_fn(logits, targets):
    return F.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1))
