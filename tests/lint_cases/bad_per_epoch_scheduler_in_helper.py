"""Epoch-sized schedulers handed to helpers that step them on every batch: a train_one_epoch()
helper, a trainer class whose train_epoch() reads self.scheduler, and a scheduler passed on
through fit() into run_epoch()."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim.lr_scheduler import CosineAnnealingLR, MultiStepLR, StepLR


def train_one_epoch(model, loader, optimizer, scheduler, device="cpu"):
    model.train()
    total = 0.0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        scheduler.step()  # expect: per-epoch-scheduler-in-helper
        total += loss.item()
    return total / len(loader)


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    correct = 0
    for x, y in loader:
        correct += (model(x).argmax(1) == y).sum().item()
    return correct / len(loader.dataset)


def main(model, train_loader, val_loader, epochs=90):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    scheduler = StepLR(optimizer, step_size=30, gamma=0.1)          # 30 epochs
    for epoch in range(epochs):
        loss = train_one_epoch(model, train_loader, optimizer, scheduler)
        acc = evaluate(model, val_loader)
        print(f"epoch {epoch}: loss {loss:.3f} acc {acc:.3f}")


class Trainer:
    def __init__(self, model, loader, epochs=50):
        self.model, self.loader, self.epochs = model, loader, epochs
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        self.scheduler = CosineAnnealingLR(self.optimizer, T_max=epochs)
        self.criterion = nn.MSELoss()

    def train_epoch(self):
        self.model.train()
        for x, y in self.loader:
            self.optimizer.zero_grad()
            loss = self.criterion(self.model(x), y)
            loss.backward()
            self.optimizer.step()
            if self.scheduler is not None:
                self.scheduler.step()  # expect: per-epoch-scheduler-in-helper

    def fit(self):
        for epoch in range(self.epochs):
            self.train_epoch()


def run_epoch(model, loader, opt, sched):
    for batch in loader:
        opt.zero_grad()
        F.mse_loss(model(batch["x"]), batch["y"]).backward()
        opt.step()
        sched.step()  # expect: per-epoch-scheduler-in-helper


def fit(model, loader, opt, sched, epochs):
    for epoch in range(epochs):
        run_epoch(model, loader, opt, sched)


def finetune(model, loader, epochs=100):
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    fit(model, loader, opt, MultiStepLR(opt, milestones=[60, 80], gamma=0.1), epochs)
