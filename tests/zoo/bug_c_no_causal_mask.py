"""Bug: a transformer LM built from nn.TransformerEncoder with no causal mask passed, so every
position attends to the whole sequence, including the tokens it is trained to predict."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from _data import token_sequences

VOCAB = 32
CAUSAL_DIM = 1


class LM(nn.Module):
    def __init__(self, vocab=VOCAB, d=64, heads=4, layers=2, max_len=128):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(max_len, d)
        layer = nn.TransformerEncoderLayer(d, heads, 4 * d, dropout=0.1, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(d, vocab)

    def forward(self, idx):                                   # idx: (B, T)
        pos = torch.arange(idx.shape[1], device=idx.device)
        x = self.tok(idx) + self.pos(pos)                     # (B, T, d)
        x = self.encoder(x)                                   # BUG: no mask=causal mask
        return self.head(x)                                   # (B, T, vocab)


def build_model():
    return LM()


def get_batch():
    return token_sequences(16, 32, VOCAB)


def loss_fn(logits, targets):
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten())
