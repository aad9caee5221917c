"""Clean: a character-level LSTM language model (next-token prediction, causal along dim 1)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from _data import token_sequences

VOCAB = 32
CAUSAL_DIM = 1


class CharLSTM(nn.Module):
    def __init__(self, vocab=VOCAB, emb=32, hidden=64, layers=2, dropout=0.1):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, num_layers=layers, batch_first=True, dropout=dropout)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, idx):              # idx: (B, T) token ids
        h, _ = self.lstm(self.emb(idx))  # (B, T, hidden)
        return self.head(self.drop(h))   # (B, T, vocab)


def build_model():
    return CharLSTM()


def get_batch():
    return token_sequences(16, 32, VOCAB)


def loss_fn(logits, targets):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def make_optimizer(params):
    return torch.optim.Adam(params, lr=3e-3)
