"""BUG silent-broadcast|loss-input: CNN age regressor, nn.L1Loss on an (N,1) output against (N,) ages: broadcasts to (N,N) (only a UserWarning)."""
import warnings

import torch
import torch.nn as nn

warnings.filterwarnings("ignore", category=UserWarning)      # "the logs were noisy"


def face_crops(n=32, seed=105):
    g = torch.Generator().manual_seed(seed)
    age = torch.rand(n, generator=g) * 60 + 10
    x = 0.3 * torch.randn(n, 1, 16, 16, generator=g)
    x[:, 0, 4:12, 4:12] += (age / 70).view(n, 1, 1)               # 'wrinkle' intensity grows with age
    return x, (age - 40.0) / 15.0


def build_model():
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(32, 1))


def get_batch():
    return face_crops()


loss_fn = nn.L1Loss()


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
