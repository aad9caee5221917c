"""Multi-label tagger: sigmoid applied before a loss that applies it again."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Tagger(nn.Module):
    def __init__(self, d=64, tags=12):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(d, 128), nn.ReLU())
        self.out = nn.Linear(128, tags)
        self.act = nn.Sigmoid()
        self.loss_fn = nn.BCEWithLogitsLoss()

    def forward(self, x):                        # x: (N, d)
        return self.out(self.body(x))            # (N, tags) logits

    def training_loss(self, x, y):
        p = self.act(self(x))
        return self.loss_fn(p, y)  # expect: sigmoid-into-bce-with-logits


def detector_loss(scores, targets):
    return F.binary_cross_entropy_with_logits(torch.sigmoid(scores), targets)  # expect: sigmoid-into-bce-with-logits


def build_model():
    return nn.Sequential(nn.Linear(64, 1), nn.Sigmoid())  # expect: sigmoid-into-bce-with-logits


loss_fn = nn.BCEWithLogitsLoss()
