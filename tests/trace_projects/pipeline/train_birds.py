"""Bird-species classifier: train, evaluate every epoch. --val-map picks how the val split numbers classes."""
import argparse

import torch
import torch.nn.functional as F

from data import bird_loaders
from models import BirdNet


def evaluate(model, loader):
    model.eval()
    right = total = 0
    with torch.no_grad():
        for x, y in loader:
            right += (model(x).argmax(1) == y).sum().item()
            total += len(y)
    model.train()
    return right / total


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--val-map", default="shared", choices=["shared", "own_sorted", "first_seen"])
    p.add_argument("--eval-train", action="store_true", help="also report accuracy on the training split")
    args = p.parse_args()
    torch.manual_seed(0)
    train_loader, val_loader = bird_loaders(args.val_map)
    model = BirdNet()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for epoch in range(args.epochs):
        for x, y in train_loader:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if args.eval_train:
            print(f"epoch {epoch} train acc {evaluate(model, train_loader):.2f}")
        print(f"epoch {epoch} loss {loss.item():.3f} val acc {evaluate(model, val_loader):.2f}")
