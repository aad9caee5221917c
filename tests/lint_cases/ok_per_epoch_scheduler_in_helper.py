"""Schedulers handed to per-epoch helpers that are right: per-step schedules (OneCycleLR, a cosine
counted in steps, a LambdaLR warm-up, transformers' linear warm-up) stepped every batch, an epoch
schedule the helper steps once after its batch loop, and ReduceLROnPlateau stepped on a metric."""
import math

import torch
import torch.nn.functional as F
from torch.optim.lr_scheduler import CosineAnnealingLR, LambdaLR, OneCycleLR, ReduceLROnPlateau, StepLR
from transformers import get_linear_schedule_with_warmup


def train_one_epoch(model, loader, optimizer, scheduler, device="cpu"):
    model.train()
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()


def train_onecycle(model, loader, epochs=10):
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = OneCycleLR(opt, max_lr=0.1, epochs=epochs, steps_per_epoch=len(loader))
    for epoch in range(epochs):
        train_one_epoch(model, loader, opt, sched)


def train_cosine_steps(model, loader, epochs=30):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    total_steps = epochs * len(loader)
    sched = CosineAnnealingLR(opt, T_max=total_steps)
    for epoch in range(epochs):
        train_one_epoch(model, loader, opt, sched)


def train_warmup(model, loader, epochs=5, warmup=500):
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4)
    warm = LambdaLR(opt, lambda step: min(1.0, (step + 1) / warmup))
    decay = StepLR(opt, step_size=2, gamma=0.5)               # epochs, stepped per epoch below
    for epoch in range(epochs):
        train_one_epoch(model, loader, opt, warm)
        decay.step()


def finetune(model, loader, epochs=3):
    opt = torch.optim.AdamW(model.parameters(), lr=2e-5)
    sched = get_linear_schedule_with_warmup(opt, num_warmup_steps=100,
                                            num_training_steps=epochs * len(loader))
    for epoch in range(epochs):
        train_one_epoch(model, loader, opt, sched)


def train_epoch_then_step(model, loader, optimizer, scheduler):
    model.train()
    for x, y in loader:
        optimizer.zero_grad()
        F.mse_loss(model(x), y).backward()
        optimizer.step()
    scheduler.step()                                         # once per call: once per epoch


def train_steplr(model, loader, epochs=90):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = StepLR(opt, step_size=30, gamma=0.1)
    for epoch in range(epochs):
        train_epoch_then_step(model, loader, opt, sched)


@torch.no_grad()
def validate(model, loader):
    model.eval()
    return sum(F.mse_loss(model(x), y).item() for x, y in loader) / len(loader)


def train_plateau(model, loader, val_loader, epochs=40):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = ReduceLROnPlateau(opt, factor=0.5, patience=3)
    for epoch in range(epochs):
        train_one_epoch(model, loader, opt, None)
        sched.step(validate(model, val_loader))


def cosine_lambda(total, warmup):
    def f(step):
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))
    return f


def train_lambda_cosine(model, loader, epochs=20):
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    sched = LambdaLR(opt, cosine_lambda(epochs * len(loader), 200))
    for epoch in range(epochs):
        train_one_epoch(model, loader, opt, sched)
