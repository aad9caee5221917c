"""Bug: 8-bit images fed as raw 0..255 floats, never scaled or normalised, into a small CNN."""
import torch
import torch.nn as nn


def build_model():
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # (N, 16, 8, 8)
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (N, 32, 4, 4)
        nn.Flatten(), nn.Linear(32 * 4 * 4, 10))


def get_batch():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 10, (32,), generator=g)
    base = torch.randint(0, 256, (10, 3, 16, 16), generator=g)
    noise = torch.randint(-30, 31, (32, 3, 16, 16), generator=g)
    img = (base[y] + noise).clamp(0, 255).to(torch.uint8)   # what a JPEG decoder hands over
    return img.float(), y                                      # BUG: no /255, no mean/std normalisation


loss_fn = nn.CrossEntropyLoss()
