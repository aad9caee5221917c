"""Clean: a BERT-style masked LM (bidirectional encoder): 15% of positions are targets, most of them
replaced by [MASK] in the input. Not next-token; must not fail."""
import torch, torch.nn as nn, torch.nn.functional as F
from corpus import PAD, VOCAB, stories
MASK = VOCAB - 1
class Encoder(nn.Module):
    def __init__(self, d=48):
        super().__init__()
        self.tok, self.pos = nn.Embedding(VOCAB, d), nn.Embedding(64, d)
        self.enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(d, 4, 4 * d, dropout=0.1, batch_first=True), 2)
        self.head = nn.Linear(d, VOCAB)
    def forward(self, x):
        return self.head(self.enc(self.tok(x) + self.pos(torch.arange(x.shape[1])), src_key_padding_mask=x == PAD))
def build_model(): return Encoder()
def get_batch():
    g = torch.Generator().manual_seed(1)
    s = stories(n=32); chosen = (torch.rand(s.shape, generator=g) < 0.15) & (s != PAD)
    y = torch.where(chosen, s, torch.full_like(s, -100)); x = s.clone()
    x[chosen & (torch.rand(s.shape, generator=g) < 0.8)] = MASK
    return x, y
def loss_fn(logits, y): return F.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1), ignore_index=-100)
