"""Clean: a bidirectional transformer encoder that tags every token. Each tag depends on
both neighbours, so seeing the future is correct here (no CAUSAL_DIM)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from _seqdata import bidirectional_tags

VOCAB, TAGS, SEQ = 16, 4, 24


class Tagger(nn.Module):
    def __init__(self, vocab=VOCAB, tags=TAGS, d=48, heads=4, layers=2, max_len=64):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(0.02 * torch.randn(1, max_len, d))
        layer = nn.TransformerEncoderLayer(d, heads, dim_feedforward=2 * d, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers)
        self.head = nn.Linear(d, tags)

    def forward(self, idx):                               # idx: (B, T)
        x = self.tok(idx) + self.pos[:, :idx.shape[1]]    # (B, T, d)
        return self.head(self.encoder(x))                 # (B, T, tags)


def build_model():
    return Tagger()


def get_batch():
    return bidirectional_tags(16, SEQ, VOCAB, TAGS)


def loss_fn(logits, tags):
    return F.cross_entropy(logits.transpose(1, 2), tags)   # (B, tags, T) vs (B, T)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
