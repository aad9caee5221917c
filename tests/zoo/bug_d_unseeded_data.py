"""Bug (reproducibility): get_batch draws its batch from a module-level NumPy Generator
created without a seed, so every run trains on different data whatever seed the tool sets."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

rng = np.random.default_rng()    # BUG: no seed; np.random.seed()/torch.manual_seed() don't reach it
W = np.random.default_rng(7).standard_normal((16, 4))   # the labelling rule itself is fixed


def build_model():
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))


def get_batch():
    x = rng.standard_normal((64, 16)).astype(np.float32)     # (64, 16)
    y = (x @ W).argmax(1)                                      # (64,)
    return torch.from_numpy(x), torch.from_numpy(y).long()


def loss_fn(outputs, targets):
    return F.cross_entropy(outputs, targets)
