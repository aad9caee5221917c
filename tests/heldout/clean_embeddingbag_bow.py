"""CLEAN: fastText-style classifier: nn.EmbeddingBag(mode='mean', padding_idx=0) over padded (B, L) token ids, then a linear layer."""
import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB, L, N_CLASSES = 500, 30, 4


def news(n=64, seed=83):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, N_CLASSES, (n,), generator=g)
    x = torch.randint(1, VOCAB, (n, L), generator=g)
    for i in range(n):
        k = int(torch.randint(3, 8, (1,), generator=g))
        x[i, torch.randperm(L, generator=g)[:k]] = 1 + 10 * int(y[i]) + torch.randint(0, 10, (k,), generator=g)
        x[i, int(torch.randint(15, L, (1,), generator=g)):] = 0      # padding
    return x, y


class FastText(nn.Module):
    def __init__(self, vocab=VOCAB, d=32, c=N_CLASSES):
        super().__init__()
        self.bag = nn.EmbeddingBag(vocab, d, mode="mean", padding_idx=0)
        self.fc = nn.Linear(d, c)
        nn.init.uniform_(self.bag.weight, -0.5, 0.5)

    def forward(self, tokens):
        return self.fc(self.bag(tokens))


def build_model():
    return FastText()


def get_batch():
    return news()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.SGD(params, lr=0.5)
