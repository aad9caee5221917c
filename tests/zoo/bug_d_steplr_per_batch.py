"""Bug (lr-schedule): ImageNet-style StepLR(step_size=30 epochs, gamma=0.1) copied into a loop
that calls scheduler.step() after every batch: the LR is divided by 10 every 30 batches."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from _data import images

TOTAL_STEPS = 10000   # 100 epochs x 100 batches


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.head = nn.Linear(8 * 8 * 8, 10)

    def forward(self, x):                                   # x: (B, 1, 16, 16)
        h = F.max_pool2d(F.relu(self.conv(x)), 2)           # (B, 8, 8, 8)
        return self.head(h.flatten(1))                      # (B, 10)


def build_model():
    return SmallCNN()


def get_batch():
    return images(32, 10, 16)


def loss_fn(outputs, targets):
    return F.cross_entropy(outputs, targets)


def make_optimizer(params):
    return torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=1e-4)


def make_scheduler(optimizer):
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=30, gamma=0.1)   # BUG: 30 epochs, stepped per batch
