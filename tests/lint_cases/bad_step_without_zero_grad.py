"""zero_grad once per epoch, outside the batch loop: gradients pile up within the epoch."""
import torch
import torch.nn as nn


def train(model, loader, epochs=10):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    criterion = nn.MSELoss()
    for epoch in range(epochs):
        optimizer.zero_grad()
        for x, y in loader:
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()  # expect: step-without-zero-grad
    return model


def train_amp(model, loader, scaler):
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    for x, y in loader:
        with torch.autocast("cuda"):
            loss = nn.functional.cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)  # expect: step-without-zero-grad
        scaler.update()
