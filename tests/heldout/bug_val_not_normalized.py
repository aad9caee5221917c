"""BUG split-consistency: the training transform standardises pixel values, the validation transform only converts to float (0-255 range)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN, STD = 120.0, 60.0


def _raw_images(n, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 4, (n,), generator=g)
    img = torch.randint(60, 180, (n, 1, 12, 12), generator=g).float()
    for i in range(n):
        img[i, 0, 3 * int(y[i]):3 * int(y[i]) + 3] = 250.0
    return img, y


def train_transform(img):
    return (img - MEAN) / STD


def val_transform(img):
    return img.float()                    # BUG: missing the normalisation


def build_model():
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                         nn.Linear(64, 4))


def get_batch():
    x, y = _raw_images(48, seed=1)
    return train_transform(x), y


def get_val_batch():
    x, y = _raw_images(48, seed=2)
    return val_transform(x), y


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=2e-3)
