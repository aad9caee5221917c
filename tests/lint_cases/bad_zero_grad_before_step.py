"""zero_grad() between backward() and step(): every update uses zero gradients."""
import torch
import torch.nn.functional as F


def train(model, loader, epochs=3):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(epochs):
        model.train()
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.zero_grad()  # expect: zero-grad-before-step
            optimizer.step()


def train_wrapped(model, loader):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in loader:
        opt.step()                         # steps on what the previous pass left: zeros
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.zero_grad()  # expect: zero-grad-before-step
