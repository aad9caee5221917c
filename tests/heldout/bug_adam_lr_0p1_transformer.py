"""BUG update-ratio: a small transformer classifier trained with Adam at lr=0.1 (the SGD learning rate copied over): every step rewrites the weights."""
import torch
import torch.nn as nn
import torch.nn.functional as F

T, D_IN = 12, 8
HPARAMS = {"optimizer": "adam", "lr": 0.1, "betas": (0.9, 0.98)}    # from the SGD baseline's config


def windows(n=32, seed=146):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    x = torch.randn(n, T, D_IN, generator=g)
    x[torch.arange(n), :, y] += 1.0
    return x, y


class Net(nn.Module):
    def __init__(self, d=32):
        super().__init__()
        self.inp = nn.Linear(D_IN, d)
        self.enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(d, 4, 64, dropout=0.1, batch_first=True), 2,
                                         enable_nested_tensor=False)
        self.out = nn.Linear(d, 3)

    def forward(self, x):
        return self.out(self.enc(self.inp(x)).mean(1))


def build_model():
    return Net()


def get_batch():
    return windows()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=HPARAMS["lr"], betas=HPARAMS["betas"])
