"""Clean: a causal 1-D convolutional LM (left padding only, dilated like WaveNet)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from _data import token_sequences

VOCAB = 32
CAUSAL_DIM = 1


class CausalConv1d(nn.Module):
    def __init__(self, cin, cout, k, dilation=1):
        super().__init__()
        self.left = (k - 1) * dilation
        self.conv = nn.Conv1d(cin, cout, k, dilation=dilation)

    def forward(self, x):                          # x: (B, C, T)
        return self.conv(F.pad(x, (self.left, 0)))  # (B, cout, T): pad the past only


class ConvLM(nn.Module):
    def __init__(self, vocab=VOCAB, d=48, k=3, dilations=(1, 2, 4)):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.convs = nn.ModuleList(CausalConv1d(d, d, k, dil) for dil in dilations)
        self.head = nn.Linear(d, vocab)

    def forward(self, idx):                  # idx: (B, T)
        x = self.emb(idx).transpose(1, 2)    # (B, d, T)
        for conv in self.convs:
            x = x + F.relu(conv(x))
        return self.head(x.transpose(1, 2))  # (B, T, vocab)


def build_model():
    return ConvLM()


def get_batch():
    return token_sequences(16, 32, VOCAB)


def loss_fn(logits, targets):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def make_optimizer(params):
    return torch.optim.Adam(params, lr=2e-3)
