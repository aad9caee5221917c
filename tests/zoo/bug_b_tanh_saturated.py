"""Bug (activations): makemore-style character MLP (embedding -> tanh hidden layer) whose
hidden weights start at std 1 instead of gain/sqrt(fan_in): pre-activations have std ~5
and most tanh units sit at +-1, passing almost no gradient."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from _data import token_sequences

VOCAB, CONTEXT, EMB, HIDDEN = 27, 3, 10, 200


class CharMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, EMB)                       # N(0, 1), as makemore's C
        self.hidden = nn.Linear(CONTEXT * EMB, HIDDEN)
        nn.init.normal_(self.hidden.weight, std=1.0)             # BUG: should be (5/3)/sqrt(30) ~ 0.3
        self.out = nn.Linear(HIDDEN, VOCAB)

    def forward(self, idx):                                       # idx: (N, 3)
        h = torch.tanh(self.hidden(self.emb(idx).flatten(1)))     # (N, 200)
        return self.out(h)                                        # (N, 27)


def build_model():
    return CharMLP()


def get_batch():
    x, y = token_sequences(64, CONTEXT, VOCAB, seed=24)
    return x, y[:, -1]                                            # next char after 3


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)
