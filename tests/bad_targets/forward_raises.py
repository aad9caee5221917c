"""Bad target: the model's forward fails on a shape mismatch."""
import torch.nn as nn

from _base import get_batch, loss_fn  # noqa: F401


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(10, 4)  # the batch has 8 features

    def forward(self, x):
        return self.fc(x)


def build_model():
    return Net()
