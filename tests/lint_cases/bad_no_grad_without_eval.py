"""Validation under no_grad, but the model never leaves train mode: dropout and BatchNorm stay in training behaviour."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def build_model():
    return nn.Sequential(nn.Linear(20, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.3), nn.Linear(64, 3))


def validate(model, loader):
    total, n = 0.0, 0
    with torch.no_grad():  # expect: no-grad-without-eval
        for x, y in loader:
            total += F.cross_entropy(model(x), y, reduction="sum").item()
            n += len(y)
    return total / n


def main(train_loader, val_loader, epochs=5):
    model = build_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(epochs):
        for x, y in train_loader:
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
        print(epoch, validate(model, val_loader))
