"""BUG input-dependence|grad-flow: x = self.pos_emb(positions) where x = x + ... was meant: the token embeddings are thrown away, the classifier sees only positions."""
import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB, L, N_CLASSES = 50, 16, 4


def tickets(n=48, seed=144):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, N_CLASSES, (n,), generator=g)
    x = torch.randint(N_CLASSES + 1, VOCAB, (n, L), generator=g)
    x[torch.arange(n), torch.randint(0, L, (n,), generator=g)] = 1 + y
    return x, y


class TicketRouter(nn.Module):
    def __init__(self, d=32):
        super().__init__()
        self.tok_emb = nn.Embedding(VOCAB, d)
        self.pos_emb = nn.Embedding(L, d)
        layer = nn.TransformerEncoderLayer(d, 4, 64, dropout=0.1, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
        self.fc = nn.Linear(d, N_CLASSES)

    def forward(self, ids):
        x = self.tok_emb(ids)
        positions = torch.arange(ids.size(1), device=ids.device).unsqueeze(0).expand_as(ids)
        x = self.pos_emb(positions)                     # BUG: x = x + self.pos_emb(positions)
        return self.fc(self.enc(x).mean(1))


def build_model():
    return TicketRouter()


def get_batch():
    return tickets()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
