"""CLEAN: anchor objectness classifier on imbalanced data (~12% positives): sigmoid focal loss, head bias set to the prior (RetinaNet)."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

PRIOR = 0.12


def anchors(n=128, d=16, seed=19):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    score = x[:, 0] + 0.8 * x[:, 1] - 0.5 * x[:, 2] * x[:, 3]
    thresh = score.quantile(1 - PRIOR)
    return x, (score > thresh).float()


class ObjectnessHead(nn.Module):
    def __init__(self, d=16, h=64):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU())
        self.cls = nn.Linear(h, 1)
        nn.init.normal_(self.cls.weight, std=0.01)
        nn.init.constant_(self.cls.bias, -math.log((1 - PRIOR) / PRIOR))

    def forward(self, x):
        return self.cls(self.trunk(x)).squeeze(-1)       # (N,)


def build_model():
    return ObjectnessHead()


def get_batch():
    return anchors()


def sigmoid_focal_loss(logits, targets, alpha=0.25, gamma=2.0):
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    a_t = alpha * targets + (1 - alpha) * (1 - targets)
    return (a_t * ce * (1 - p_t) ** gamma).mean()


def loss_fn(logits, targets):
    return sigmoid_focal_loss(logits, targets)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
