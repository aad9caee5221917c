"""CLEAN: decoder-only LM built from nn.TransformerEncoder with generate_square_subsequent_mask and is_causal=True, learned positions; CAUSAL_DIM=1."""
import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB, T = 32, 20
CAUSAL_DIM = 1


def music_tokens(n=16, seed=81):
    """Repeating motifs: the next note is predictable from the previous two."""
    g = torch.Generator().manual_seed(seed)
    rule = torch.randint(0, VOCAB, (VOCAB, VOCAB), generator=g)
    s = torch.empty(n, T + 2, dtype=torch.long)
    s[:, :2] = torch.randint(0, VOCAB, (n, 2), generator=g)
    for t in range(2, T + 2):
        s[:, t] = rule[s[:, t - 2], s[:, t - 1]]
    return s[:, 1:-1], s[:, 2:]


class TorchLM(nn.Module):
    def __init__(self, d=64, heads=4, layers=2):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, d)
        self.pos = nn.Embedding(T, d)
        layer = nn.TransformerEncoderLayer(d, heads, 4 * d, dropout=0.1, batch_first=True, norm_first=True)
        self.tf = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, VOCAB)

    def forward(self, ids):
        n = ids.size(1)
        mask = nn.Transformer.generate_square_subsequent_mask(n, device=ids.device)
        x = self.tok(ids) + self.pos(torch.arange(n, device=ids.device))
        return self.head(self.norm(self.tf(x, mask=mask, is_causal=True)))


def build_model():
    return TorchLM()


def get_batch():
    return music_tokens()


def loss_fn(logits, y):
    return F.cross_entropy(logits.transpose(1, 2), y)      # (B, V, T) against (B, T)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
