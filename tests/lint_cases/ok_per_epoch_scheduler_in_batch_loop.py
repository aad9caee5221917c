"""Per-batch schedulers built in steps, and an epoch scheduler stepped per epoch."""
import math
import torch
import torch.nn.functional as F
from torch.optim.lr_scheduler import CosineAnnealingLR, LambdaLR, OneCycleLR, StepLR


def train_onecycle(model, loader, epochs=10):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = OneCycleLR(opt, max_lr=0.1, total_steps=epochs * len(loader))
    for epoch in range(epochs):
        for x, y in loader:
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
            sched.step()


def train_cosine_steps(model, loader, epochs=10):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sched = CosineAnnealingLR(opt, T_max=epochs * len(loader))
    warm = LambdaLR(opt, lambda s: min(1.0, (s + 1) / 500))
    for epoch in range(epochs):
        for x, y in loader:
            opt.zero_grad()
            F.mse_loss(model(x), y).backward()
            opt.step()
            sched.step()
            warm.step()


def train_step_lr(model, loader, epochs=90):
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = StepLR(opt, step_size=30, gamma=0.1)
    for epoch in range(epochs):
        for x, y in loader:
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
        sched.step()


def train_epoch(model, loader, opt):
    for x, y in loader:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()


def sweep(make_model, loader, runs=3, epochs=90):
    for run in range(runs):
        model = make_model()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        sched = StepLR(opt, step_size=30)
        for epoch in range(epochs):               # nested loops, but this one is the epoch loop
            train_epoch(model, loader, opt)
            sched.step()
