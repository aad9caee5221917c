"""Clean single-process training of a torch.compile'd model (no process group): python train_compile.py.
--backend eager keeps it quick (the default, inductor, needs a C compiler and minutes on a small CPU)."""
import argparse

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from common import SensorData, SensorNet


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--backend", default="eager")
    args = p.parse_args()
    torch.manual_seed(0)
    loader = DataLoader(SensorData(64), batch_size=8, shuffle=True, drop_last=True)
    model = torch.compile(SensorNet(), backend=args.backend)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for epoch in range(args.epochs):
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(f"epoch {epoch} loss {loss.item():.4f}")


if __name__ == "__main__":
    main()
