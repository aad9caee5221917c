"""Bad target: 32 inputs but 16 targets."""
from _base import build_model, loss_fn  # noqa: F401
from _base import get_batch as _pair


def get_batch():
    x, y = _pair()
    return x, y[:16]
