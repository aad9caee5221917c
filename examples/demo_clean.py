"""Demo target without bugs: examples/demo_buggy.py minus its softmax. The model returns
raw logits and CrossEntropyLoss applies log-softmax itself.
`python scripts/doctor.py examples/demo_clean.py` passes every check.
"""
import torch
import torch.nn as nn


def build_model():
    return nn.Sequential(
        nn.Flatten(),                  # (N, 1, 8, 8) -> (N, 64)
        nn.Linear(64, 128), nn.ReLU(),
        nn.Linear(128, 10),
    )


def get_batch():
    # 64 8x8 "digits": each class lights up its own pixel pattern, plus noise; normalised.
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 10, (64,), generator=g)
    patterns = torch.randn(10, 1, 8, 8, generator=g)
    x = patterns[y] + 0.5 * torch.randn(64, 1, 8, 8, generator=g)
    return (x - x.mean()) / x.std(), y


loss_fn = nn.CrossEntropyLoss()


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
