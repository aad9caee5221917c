"""BUG lr-schedule: MultiStepLR(milestones=[30, 60, 80]) written in epochs but stepped every batch: the LR is 1e-3 of its start after step 80 of 16,000."""
import torch
import torch.nn as nn
import torch.nn.functional as F

EPOCHS, STEPS_PER_EPOCH = 100, 160
TOTAL_STEPS = EPOCHS * STEPS_PER_EPOCH


def blobs(n=32, seed=153):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 4, (n,), generator=g)
    x = 0.4 * torch.randn(n, 3, 12, 12, generator=g)
    x[torch.arange(n), y % 3] += 0.5 + 0.5 * (y // 3).float().view(n, 1, 1)
    return x, y


def build_model():
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(16, 4))


def get_batch():
    return blobs()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=5e-4)


def make_scheduler(opt):
    return torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[30, 60, 80], gamma=0.1)
