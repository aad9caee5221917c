"""Synthetic, learnable sequence data for the sequence-model zoo (tagging and classification).

Language-model data comes from _data.token_sequences (a random Markov chain)."""
import torch


def bidirectional_tags(n=16, t=24, vocab=16, tags=4, seed=1234):
    """Token ids (n, t) and tags (n, t) where tag[s] = (x[s-1] + 2 x[s+1]) mod tags.

    Each tag needs both neighbours, so only a model that sees the future can learn it."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, vocab, (n, t), generator=g)
    padded = torch.nn.functional.pad(x, (1, 1))          # (n, t+2), zero at both ends
    y = (padded[:, :-2] + 2 * padded[:, 2:]) % tags       # (n, t)
    return x, y


def pattern_sequences(n=32, t=20, features=6, classes=5, seed=1234):
    """Float sequences (n, t, features): class c adds its own fixed temporal pattern to noise."""
    g = torch.Generator().manual_seed(seed)
    protos = torch.randn(classes, t, features, generator=g)
    y = torch.randint(0, classes, (n,), generator=g)
    x = protos[y] + 0.5 * torch.randn(n, t, features, generator=g)
    return (x - x.mean()) / x.std(), y
