"""Synthetic but learnable data for the zoo: every label is a function of its input,
so a healthy model learns it and an input-independent one cannot."""
import torch


def teacher_classification(n=64, d=20, classes=10, seed=1234):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    w = torch.randn(d, classes, generator=g)
    y = (x @ w).argmax(1)
    return x, y


def teacher_regression(n=64, d=8, seed=1234):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    w = torch.randn(d, 1, generator=g) / d ** 0.5
    y = torch.tanh(x @ w).squeeze(1) * 2 + 0.1 * torch.randn(n, generator=g)
    return x, (y - y.mean()) / y.std()


def images(n=32, classes=10, size=16, seed=1234):
    """Normalised 1-channel images whose class sets which quadrant carries a bright blob."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    x = 0.3 * torch.randn(n, 1, size, size, generator=g)
    for i in range(n):
        r, c = divmod(int(y[i]), 4)
        x[i, 0, r * 4:(r + 1) * 4, c * 4:(c + 1) * 4] += 2.0
    return (x - x.mean()) / x.std(), y


def token_sequences(n=16, t=32, vocab=32, seed=1234):
    """Sequences from a fixed random Markov chain: next token is predictable from the last."""
    g = torch.Generator().manual_seed(seed)
    nxt = torch.randint(0, vocab, (vocab, 2), generator=g)
    seq = torch.empty(n, t + 1, dtype=torch.long)
    seq[:, 0] = torch.randint(0, vocab, (n,), generator=g)
    for s in range(1, t + 1):
        pick = torch.randint(0, 2, (n,), generator=g)
        seq[:, s] = nxt[seq[:, s - 1], pick]
    return seq[:, :-1].contiguous(), seq[:, 1:].contiguous()
