"""Bad target: get_batch() returns the inputs only."""
from _base import build_model, loss_fn  # noqa: F401
from _base import get_batch as _pair


def get_batch():
    return _pair()[0]
