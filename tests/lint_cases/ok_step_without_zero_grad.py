"""Ways to zero gradients that count: accumulation, set_to_none, p.grad = None, LBFGS closure, a helper."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def train_accumulate(model, loader, accum=4):
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    for i, (x, y) in enumerate(loader):
        loss = F.cross_entropy(model(x), y) / accum
        loss.backward()
        if (i + 1) % accum == 0:
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)


def train_manual(model, loader):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in loader:
        for p in model.parameters():
            p.grad = None
        F.mse_loss(model(x), y).backward()
        opt.step()


def train_lbfgs(model, x, y, steps=20):
    optimizer = torch.optim.LBFGS(model.parameters())

    def closure():
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        return loss

    for _ in range(steps):
        optimizer.step(closure)


def reset(model):
    model.zero_grad()


def train_helper(model, loader):
    opt = torch.optim.Adam(model.parameters())
    for x, y in loader:
        reset(model)
        F.mse_loss(model(x), y).backward()
        opt.step()


def compare_once(models, x):
    for m in models:  # a fresh optimizer per model: one step each, nothing carries over
        opt = torch.optim.SGD(m.parameters(), lr=0.01)
        m(x).sum().backward()
        opt.step()
