"""Validation inside the epoch loop switches to eval(); train() is only called once, before the loop."""
import torch
import torch.nn.functional as F


def evaluate(net, loader):
    net.eval()  # expect: eval-without-train
    with torch.no_grad():
        return sum(F.cross_entropy(net(x), y).item() for x, y in loader) / len(loader)


def fit(model, train_loader, val_loader, epochs=10):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for epoch in range(epochs):
        for x, y in train_loader:
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
        val = evaluate(model, val_loader)
        print(epoch, val)


class Trainer:
    def __init__(self, model, loader):
        self.model, self.loader = model, loader
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01)

    def run(self, epochs):
        for epoch in range(epochs):
            for x, y in self.loader:
                self.opt.zero_grad()
                F.mse_loss(self.model(x), y).backward()
                self.opt.step()
            self.model.eval()  # expect: eval-without-train
            with torch.no_grad():
                print(F.mse_loss(self.model(x), y).item())
