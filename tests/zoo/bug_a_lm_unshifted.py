"""Bug: a causal LSTM language model trained with targets equal to its inputs (the shift by
one token was forgotten): each position is asked to copy the token it already sees."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from _data import token_sequences

VOCAB = 32
CAUSAL_DIM = 1


class CharLSTM(nn.Module):
    def __init__(self, vocab=VOCAB, d=48):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.lstm = nn.LSTM(d, d, batch_first=True)
        self.head = nn.Linear(d, vocab)

    def forward(self, idx):                  # (B, T) -> (B, T, vocab)
        h, _ = self.lstm(self.emb(idx))
        return self.head(h)


def build_model():
    return CharLSTM()


def get_batch():
    x, _ = token_sequences(16, 32, VOCAB)
    return x, x.clone()                      # BUG: should be the next tokens


def loss_fn(logits, y):
    return F.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))
