"""Bug: a multi-label model ending in nn.Sigmoid, trained with nn.BCEWithLogitsLoss, which
applies the sigmoid again: predictions can only move within (0.5, 0.73)."""
import torch
import torch.nn as nn


def build_model():
    return nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 5), nn.Sigmoid())  # BUG: sigmoid twice


def get_batch():
    g = torch.Generator().manual_seed(42)
    x = torch.randn(128, 16, generator=g)
    score = x @ torch.randn(16, 5, generator=g)
    return x, (score > score.quantile(0.7, dim=0, keepdim=True)).float()


loss_fn = nn.BCEWithLogitsLoss()
