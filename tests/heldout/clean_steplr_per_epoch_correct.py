"""CLEAN: classic ImageNet-style schedule written per step: StepLR every 30 epochs x steps-per-epoch, gamma 0.1, for 90 epochs; SGD momentum."""
import torch
import torch.nn as nn
import torch.nn.functional as F

EPOCHS, STEPS_PER_EPOCH = 90, 50
TOTAL_STEPS = EPOCHS * STEPS_PER_EPOCH
N_CLASSES = 6


def textures(n=32, size=16, seed=44):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, N_CLASSES, (n,), generator=g)
    x = torch.randn(n, 1, size, size, generator=g) * 0.5
    k = torch.arange(size).float()
    for i in range(n):
        f = 0.4 + 0.35 * int(y[i])
        x[i, 0] += torch.cos(f * k).unsqueeze(0) if y[i] % 2 else torch.cos(f * k).unsqueeze(1)
    return (x - x.mean()) / x.std(), y


def build_model():
    return nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=2), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
        nn.Flatten(), nn.Linear(128, N_CLASSES))


def get_batch():
    return textures()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=1e-4)


def make_scheduler(opt):
    return torch.optim.lr_scheduler.StepLR(opt, step_size=30 * STEPS_PER_EPOCH, gamma=0.1)
