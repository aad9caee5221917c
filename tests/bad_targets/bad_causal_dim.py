"""Bad target: CAUSAL_DIM given as a string."""
from _base import build_model, get_batch, loss_fn  # noqa: F401

CAUSAL_DIM = "1"
