"""Road-scene segmentation: pad-crop-flip augmentation drawn once for the image and its mask."""
import argparse

import torch
import torch.nn.functional as F

from data import seg_loaders
from models import TinySegNet


def evaluate(model, loader):
    model.eval()
    inter = union = 0
    with torch.no_grad():
        for img, mask in loader:
            pred = model(img).argmax(1)
            inter += ((pred == 1) & (mask == 1)).sum().item()
            union += ((pred == 1) | (mask == 1)).sum().item()
    model.train()
    return inter / max(1, union)


def main(paired=True):
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=3)
    args = p.parse_args()
    random_seed = 0
    torch.manual_seed(random_seed)
    train_loader, val_loader = seg_loaders(paired=paired)
    model = TinySegNet()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for epoch in range(args.epochs):
        for img, mask in train_loader:
            loss = F.cross_entropy(model(img), mask, ignore_index=255)
            opt.zero_grad()
            loss.backward()
            opt.step()
        print(f"epoch {epoch} loss {loss.item():.3f} val IoU(road) {evaluate(model, val_loader):.2f}")


if __name__ == "__main__":
    main()
