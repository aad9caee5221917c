"""Demo target with a planted bug: the model ends in a softmax, and CrossEntropyLoss
applies its own log-softmax on top. Training still "works" (the loss falls a little),
which is what makes the bug silent. `python scripts/doctor.py examples/demo_buggy.py`
names it; examples/demo_clean.py is the same model without the bug.
"""
import torch
import torch.nn as nn


def build_model():
    return nn.Sequential(
        nn.Flatten(),                  # (N, 1, 8, 8) -> (N, 64)
        nn.Linear(64, 128), nn.ReLU(),
        nn.Linear(128, 10),
        nn.Softmax(dim=1),             # BUG: CrossEntropyLoss expects raw logits
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
