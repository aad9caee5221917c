"""Bug: a custom GaussianNoise regulariser that never checks self.training, so eval
outputs are noisy too (inside a small CNN with BatchNorm)."""
import torch
import torch.nn as nn
from _data import images


class GaussianNoise(nn.Module):
    def __init__(self, std=0.1):
        super().__init__()
        self.std = std

    def forward(self, x):
        return x + self.std * torch.randn_like(x)   # BUG: no `if self.training`


def build_model():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        GaussianNoise(0.1),
        nn.MaxPool2d(2),                        # (N, 16, 8, 8)
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),  # (N, 32)
        nn.Linear(32, 10),
    )


def get_batch():
    return images(32)


loss_fn = nn.CrossEntropyLoss()
