"""Bad target: the loss is NaN at init (log of a negative number in the model)."""
import torch
import torch.nn as nn

from _base import get_batch, loss_fn  # noqa: F401


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        return torch.log(self.fc(x))  # negative pre-activations give NaN


def build_model():
    return Net()
