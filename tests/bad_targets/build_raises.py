"""Bad target: build_model() raises inside the user's own code."""
from _base import get_batch, loss_fn  # noqa: F401


def build_model():
    sizes = {"hidden": 16}
    return sizes["hiden"]  # typo: KeyError
