"""BUG split-consistency: train and val are sliced from the same un-shuffled array with overlapping ranges ([0:400] and [350:450]): half the val batch is in training."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def dataset(n=450, seed=157):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 20, generator=g)
    y = (x @ torch.randn(20, 4, generator=g)).argmax(1)
    return x, y


X, Y = dataset()
TRAIN = slice(0, 400)
VAL = slice(350, 450)                    # BUG: should start at 400


def build_model():
    return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 4))


def get_batch():
    idx = torch.arange(400)[TRAIN][-64:]          # the last training batch of the epoch
    return X[idx], Y[idx]


def get_val_batch():
    return X[VAL][:64], Y[VAL][:64]


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
