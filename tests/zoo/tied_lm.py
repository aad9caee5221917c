"""Clean: a small LSTM language model with tied input/output embeddings (one shared
parameter), small-std embedding init, gradient clipping-free Adam."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from _data import token_sequences

VOCAB = 48
CAUSAL_DIM = 1


class TiedLM(nn.Module):
    def __init__(self, vocab=VOCAB, d=64):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        nn.init.normal_(self.emb.weight, std=0.05)
        self.rnn = nn.LSTM(d, d, batch_first=True)
        self.out = nn.Linear(d, vocab, bias=False)
        self.out.weight = self.emb.weight            # tied

    def forward(self, idx):                          # (B, T) -> (B, T, vocab)
        h, _ = self.rnn(self.emb(idx))
        return self.out(h)


def build_model():
    return TiedLM()


def get_batch():
    return token_sequences(16, 32, VOCAB, seed=5)


def loss_fn(outputs, targets):
    return F.cross_entropy(outputs.reshape(-1, VOCAB), targets.reshape(-1))


def make_optimizer(params):
    return torch.optim.Adam(params, lr=2e-3)
