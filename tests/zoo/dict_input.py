"""Clean: click prediction from a dict of inputs, float features plus integer category ids,
through a custom forward(model, inputs); the model ends in a sigmoid and the loss is
binary_cross_entropy on those probabilities (correct pairing)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

CATEGORIES, NUM = 20, 6


class CTR(nn.Module):
    def __init__(self):
        super().__init__()
        self.cat = nn.Embedding(CATEGORIES, 8)
        self.mlp = nn.Sequential(nn.Linear(NUM + 8, 32), nn.ReLU(), nn.Linear(32, 1), nn.Sigmoid())

    def forward(self, num, cat):                        # num: (N, 6) float, cat: (N,) long
        h = torch.cat([num, self.cat(cat)], dim=1)      # (N, 14)
        return self.mlp(h).squeeze(-1)                  # (N,) probabilities


def build_model():
    return CTR()


def get_batch():
    g = torch.Generator().manual_seed(3)
    num = torch.randn(128, NUM, generator=g)
    cat = torch.randint(0, CATEGORIES, (128,), generator=g)
    bias = torch.randn(CATEGORIES, generator=g)
    y = ((num[:, 0] - num[:, 1] + bias[cat]) > 0).float()
    return {"num": num, "cat": cat}, y


def forward(model, inputs):
    return model(inputs["num"], inputs["cat"])


def loss_fn(p, y):
    return F.binary_cross_entropy(p, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=3e-3)
