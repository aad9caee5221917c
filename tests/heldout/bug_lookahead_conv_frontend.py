"""BUG causality: a causal GRU LM gets a 'local context' Conv1d front-end with kernel 3 and symmetric padding 1, which lets position t see token t+1."""
import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB, T = 40, 24
CAUSAL_DIM = 1


def dna(n=16, seed=131):
    g = torch.Generator().manual_seed(seed)
    trans = torch.softmax(3 * torch.randn(VOCAB, VOCAB, generator=g), -1)
    s = torch.empty(n, T + 1, dtype=torch.long)
    s[:, 0] = torch.randint(0, VOCAB, (n,), generator=g)
    for t in range(1, T + 1):
        s[:, t] = torch.multinomial(trans[s[:, t - 1]], 1, generator=g).squeeze(1)
    return s[:, :-1], s[:, 1:]


class ConvGRULM(nn.Module):
    def __init__(self, d=48):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, d)
        self.local = nn.Conv1d(d, d, kernel_size=3, padding=1)
        self.gru = nn.GRU(d, d, batch_first=True)
        self.head = nn.Linear(d, VOCAB)

    def forward(self, x):
        e = self.emb(x)
        e = e + F.gelu(self.local(e.transpose(1, 2))).transpose(1, 2)
        h, _ = self.gru(e)
        return self.head(h)


def build_model():
    return ConvGRULM()


def get_batch():
    return dna()


def loss_fn(logits, y):
    return F.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))


def make_optimizer(params):
    return torch.optim.Adam(params, lr=2e-3)
