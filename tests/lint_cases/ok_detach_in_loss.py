"""Intended stop-gradients: BYOL targets, focal weights, straight-through estimator, frozen backbone."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def byol_loss(online_pred, target_proj):
    p = F.normalize(online_pred, dim=-1)
    z = F.normalize(target_proj.detach(), dim=-1)  # target branch: stop-gradient on purpose
    return 2 - 2 * (p * z).sum(-1).mean()


def focal_loss(logits, y, gamma=2.0):
    ce = F.cross_entropy(logits, y, reduction="none")
    w = (1 - torch.exp(-ce)).detach() ** gamma     # a weight, not a term
    return (w * ce).mean()


class Quantize(nn.Module):
    def __init__(self, n=64, d=16):
        super().__init__()
        self.codebook = nn.Embedding(n, d)

    def forward(self, z):                          # z: (N, d)
        idx = torch.cdist(z, self.codebook.weight).argmin(-1)   # (N,)
        q = self.codebook(idx)                     # (N, d)
        return z + (q - z).detach()                # straight-through estimator


class FrozenBackbone(nn.Module):
    def __init__(self, backbone, d=512, classes=10):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(d, classes)

    def forward(self, x):
        feats = self.backbone(x).detach()          # only the head trains
        return self.head(feats)


class SinusoidalPositions(nn.Module):
    def __init__(self, n=512, d=64):
        super().__init__()
        self.register_buffer("table", torch.randn(n, d))

    def forward(self, positions):                  # a fixed table: nothing to train
        return self.table.index_select(0, positions.view(-1)).detach()
