"""Bug: a token tagger whose padding mask is inverted, so every label is set to the
ignore index -100; the mean loss is 0/0 = NaN and nothing learns."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from _seqdata import bidirectional_tags


class Tagger(nn.Module):
    def __init__(self, vocab=16, d=32, tags=4):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.rnn = nn.GRU(d, d, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * d, tags)

    def forward(self, idx):                   # (B, T) -> (B, T, tags)
        h, _ = self.rnn(self.emb(idx))
        return self.head(h)


def build_model():
    return Tagger()


def get_batch():
    x, y = bidirectional_tags(16, 24, 16, 4)
    lengths = torch.randint(12, 25, (16,), generator=torch.Generator().manual_seed(1))
    pad = torch.arange(24)[None, :] >= lengths[:, None]      # True on padding
    y = y.masked_fill(~pad, -100)     # BUG: the mask is inverted (real tokens dropped) ...
    y = y.masked_fill(pad, -100)      # ... and the padding is dropped as well: no label is left
    return x, y


def loss_fn(logits, y):
    return F.cross_entropy(logits.transpose(1, 2), y)        # (B, tags, T) vs (B, T)
