"""Clean: a small CNN with BatchNorm and dropout (BatchNorm mixes the batch in train mode: healthy)."""
import torch
import torch.nn as nn
from _data import images


class SmallCNN(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.MaxPool2d(2),                                   # 16x16 -> 8x8
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2),                                   # 8x8 -> 4x4
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(32 * 4 * 4, classes))

    def forward(self, x):            # x: (N, 1, 16, 16)
        return self.head(self.features(x))  # (N, classes)


def build_model():
    return SmallCNN()


def get_batch():
    return images(32)


loss_fn = nn.CrossEntropyLoss()


def make_optimizer(params):
    return torch.optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=5e-4)
