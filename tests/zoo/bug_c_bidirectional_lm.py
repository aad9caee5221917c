"""Bug: a next-token LM built on a bidirectional LSTM: the backward direction carries the
future (including the target token) into every position."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from _data import token_sequences

VOCAB = 32
CAUSAL_DIM = 1


class BiLM(nn.Module):
    def __init__(self, vocab=VOCAB, emb=32, hidden=48):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, batch_first=True, bidirectional=True)   # BUG for an LM
        self.head = nn.Linear(2 * hidden, vocab)

    def forward(self, idx):              # idx: (B, T)
        h, _ = self.lstm(self.emb(idx))  # (B, T, 2*hidden)
        return self.head(h)              # (B, T, vocab)


def build_model():
    return BiLM()


def get_batch():
    return token_sequences(16, 32, VOCAB)


def loss_fn(logits, targets):
    return F.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1))


def make_optimizer(params):
    return torch.optim.Adam(params, lr=3e-3)
