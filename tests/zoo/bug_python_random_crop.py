"""Planted bug: the batch's random crops come from Python's global `random`, which
torch.manual_seed does not seed, so two runs with the same seed train on different crops."""
import random

import torch
import torch.nn as nn
import torch.nn.functional as F


def _images(n=32, size=20, seed=5):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 4, (n,), generator=g)
    x = torch.randn(n, 3, size, size, generator=g) * 0.5 + y.view(-1, 1, 1, 1).float() * 0.25
    return x, y


def random_crop(img, out=16):
    top, left = random.randint(0, img.shape[-2] - out), random.randint(0, img.shape[-1] - out)   # BUG
    return img[..., top:top + out, left:left + out]


def build_model():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(8, 4))


def get_batch():
    x, y = _images()
    return torch.stack([random_crop(im) for im in x]), y


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)
