"""Schedulers sized in epochs, stepped every batch: the LR collapses within the first epoch."""
import torch
import torch.nn.functional as F


def train(model, loader, epochs=90):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(epochs):
        for x, y in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
            scheduler.step()  # expect: per-epoch-scheduler-in-batch-loop


def train_cosine(model, loader, num_epochs=50):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=num_epochs)
    for epoch in range(num_epochs):
        for x, y in loader:
            opt.zero_grad()
            F.mse_loss(model(x), y).backward()
            opt.step()
            sched.step()  # expect: per-epoch-scheduler-in-batch-loop


def train_step(model, opt, x, y):
    opt.zero_grad()
    F.cross_entropy(model(x), y).backward()
    opt.step()


def fit(model, loader, epochs=100):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[50, 75], gamma=0.1)
    for epoch in range(epochs):
        for x, y in loader:
            train_step(model, opt, x, y)
            sched.step()  # expect: per-epoch-scheduler-in-batch-loop
