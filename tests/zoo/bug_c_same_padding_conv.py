"""Bug: a convolutional LM with symmetric "same" padding (padding=k//2), so each output
position sees k//2 future tokens."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from _data import token_sequences

VOCAB = 32
CAUSAL_DIM = 1


class ConvLM(nn.Module):
    def __init__(self, vocab=VOCAB, d=48, k=3, layers=3):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.convs = nn.ModuleList(nn.Conv1d(d, d, k, padding=k // 2) for _ in range(layers))  # BUG: pads both sides
        self.head = nn.Linear(d, vocab)

    def forward(self, idx):                  # idx: (B, T)
        x = self.emb(idx).transpose(1, 2)    # (B, d, T)
        for conv in self.convs:
            x = x + F.relu(conv(x))          # (B, d, T)
        return self.head(x.transpose(1, 2))  # (B, T, vocab)


def build_model():
    return ConvLM()


def get_batch():
    return token_sequences(16, 32, VOCAB)


def loss_fn(logits, targets):
    return F.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1))


def make_optimizer(params):
    return torch.optim.Adam(params, lr=2e-3)
