"""BUG lr-schedule: a hand-written linear warm-up/decay schedule is given num_training_steps=EPOCHS (10) instead of EPOCHS * len(loader): the LR hits 0 after 10 steps."""
import torch
import torch.nn as nn
import torch.nn.functional as F

EPOCHS, STEPS_PER_EPOCH = 10, 500
TOTAL_STEPS = EPOCHS * STEPS_PER_EPOCH


def linear_schedule(optimizer, num_warmup_steps, num_training_steps):
    def f(step):
        if step < num_warmup_steps:
            return step / max(1, num_warmup_steps)
        return max(0.0, (num_training_steps - step) / max(1, num_training_steps - num_warmup_steps))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, f)


def reviews(n=32, seed=152):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 24, generator=g)
    return x, (x[:, 0] + x[:, 1] > 0).long()


def build_model():
    return nn.Sequential(nn.Linear(24, 64), nn.GELU(), nn.Linear(64, 2))


def get_batch():
    return reviews()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.AdamW(params, lr=5e-4)


def make_scheduler(opt):
    return linear_schedule(opt, num_warmup_steps=0, num_training_steps=EPOCHS)   # BUG: EPOCHS * STEPS_PER_EPOCH
