"""Bad target: get_batch() returns (inputs, targets, weights)."""
import torch

from _base import build_model, loss_fn  # noqa: F401
from _base import get_batch as _pair


def get_batch():
    x, y = _pair()
    return x, y, torch.ones(len(y))
