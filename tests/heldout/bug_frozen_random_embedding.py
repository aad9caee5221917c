"""BUG grad-flow: word vectors 'loaded' with nn.Embedding.from_pretrained(torch.randn(...)) when the GloVe file was missing; freeze=True by default, so random vectors never train."""
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB, DIM, L, N_CLASSES = 120, 32, 16, 4


def load_vectors(path="glove.6B.50d.txt"):
    if os.path.exists(path):
        return torch.load(path)
    return torch.randn(VOCAB, DIM)          # fallback: 'good enough for a smoke test'


def topics(n=48, seed=113):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, N_CLASSES, (n,), generator=g)
    x = torch.randint(0, VOCAB, (n, L), generator=g)
    x[:, :3] = (20 * y.view(n, 1) + torch.arange(3).view(1, 3) * 3).clamp(max=VOCAB - 1)
    return x, y


class CNNText(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding.from_pretrained(load_vectors())
        self.conv = nn.Conv1d(DIM, 48, 3, padding=1)
        self.fc = nn.Linear(48, N_CLASSES)

    def forward(self, x):
        h = F.relu(self.conv(self.embedding(x).transpose(1, 2)))
        return self.fc(h.amax(2))


def build_model():
    return CNNText()


def get_batch():
    return topics()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
