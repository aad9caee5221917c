"""Bad target: build_model() returns a function, not an nn.Module."""
from _base import get_batch, loss_fn  # noqa: F401
from _base import build_model as _build


def build_model():
    return _build
