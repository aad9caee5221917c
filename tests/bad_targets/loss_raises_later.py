"""Bad target: loss_fn works on the full batch but raises on any other batch size
(a hard-coded batch size), so the checks that use a few examples error and the rest run."""
import torch.nn.functional as F

from _base import build_model, get_batch  # noqa: F401


def loss_fn(outputs, targets):
    flat = outputs.view(32, 4)  # hard-coded batch size
    return F.cross_entropy(flat, targets)
