"""CLEAN: multi-label document tagging from log-scaled bag-of-words counts, BCEWithLogitsLoss with per-label pos_weight."""
import torch
import torch.nn as nn

VOCAB, N_LABELS = 200, 12


def documents(n=64, seed=13):
    g = torch.Generator().manual_seed(seed)
    topic_words = torch.randint(0, VOCAB, (N_LABELS, 6), generator=g)
    labels = (torch.rand(n, N_LABELS, generator=g) < 0.2).float()
    counts = torch.poisson(torch.full((n, VOCAB), 0.3), generator=g)
    for i in range(n):
        for j in labels[i].nonzero().flatten().tolist():
            counts[i, topic_words[j]] += 3
    x = torch.log1p(counts)
    x = (x - x.mean(0)) / (x.std(0) + 1e-6)
    return x, labels


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(VOCAB, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 64), nn.ReLU())
        self.head = nn.Linear(64, N_LABELS)

    def forward(self, x):
        return self.head(self.body(x))


def build_model():
    return Tagger()


def get_batch():
    return documents()


_POS_WEIGHT = torch.full((N_LABELS,), 4.0)     # ~20% positives per label
_criterion = nn.BCEWithLogitsLoss(pos_weight=_POS_WEIGHT)


def loss_fn(logits, labels):
    return _criterion(logits, labels)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
