"""BUG loss-input: a GRU intent classifier wrapped in a Predictor that returns softmax probabilities, fed to F.cross_entropy (which wants logits)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB, N_INTENTS, L = 60, 7, 12


def utterances(n=32, seed=101):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, N_INTENTS, (n,), generator=g)
    x = torch.randint(10, VOCAB, (n, L), generator=g)
    for i in range(n):
        x[i, int(torch.randint(0, L, (1,), generator=g))] = 1 + int(y[i])     # intent keyword
    return x, y


class GRUEncoder(nn.Module):
    def __init__(self, d=32):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, d)
        self.gru = nn.GRU(d, d, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(2 * d, N_INTENTS)

    def forward(self, x):
        out, _ = self.gru(self.emb(x))
        return self.fc(out.max(1).values)


class Predictor(nn.Module):
    """Serving wrapper reused for training: 'returns class probabilities, ready for the API'."""

    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, x):
        return F.softmax(self.encoder(x), dim=-1)


def build_model():
    return Predictor(GRUEncoder())


def get_batch():
    return utterances()


def loss_fn(probs, y):
    return F.cross_entropy(probs, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=2e-3)
