"""BUG causality: nn.TransformerEncoder gets a float mask torch.tril(ones(T, T)); float masks are added to the scores (+1 / +0), so nothing is masked."""
import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB, T = 32, 16
CAUSAL_DIM = 1


def midi(n=16, seed=130):
    g = torch.Generator().manual_seed(seed)
    step = torch.randint(1, 4, (n, 1), generator=g)
    start = torch.randint(0, VOCAB, (n, 1), generator=g)
    s = (start + step * torch.arange(T + 1)) % VOCAB
    return s[:, :-1], s[:, 1:]


class MidiLM(nn.Module):
    def __init__(self, d=48):
        super().__init__()
        self.tok, self.pos = nn.Embedding(VOCAB, d), nn.Embedding(T, d)
        layer = nn.TransformerEncoderLayer(d, 4, 96, dropout=0.1, batch_first=True)
        self.tf = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(d, VOCAB)

    def forward(self, x):
        n = x.size(1)
        causal = torch.tril(torch.ones(n, n))               # BUG: 1 = keep ... but float masks are additive
        h = self.tok(x) + self.pos(torch.arange(n))
        return self.head(self.tf(h, mask=causal))


def build_model():
    return MidiLM()


def get_batch():
    return midi()


def loss_fn(logits, y):
    return F.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
