"""A healthy target that prints from import, build_model, forward and loss_fn (stdout must stay clean under --json)."""
import os
import sys

import torch.nn as nn

from _base import get_batch, loss_fn as _loss  # noqa: F401

print("target imported")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))

    def forward(self, x):
        print("forward", tuple(x.shape))
        return self.body(x)


def build_model():
    print("building the model")
    os.write(1, b"raw write to fd 1\n")  # below Python's sys.stdout
    sys.stdout.flush()
    return Net()


def loss_fn(outputs, targets):
    print("loss")
    return _loss(outputs, targets)
