"""Gradient accumulation that zeroes inside the micro-batch loop: only the last micro-batch counts."""
import torch
import torch.nn.functional as F


def train(model, stream, steps=1000, micro_batches=4):
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    for step in range(steps):
        for _ in range(micro_batches):
            opt.zero_grad()  # expect: zero-grad-in-accumulation-loop
            x, y = next(stream)
            loss = F.cross_entropy(model(x), y) / micro_batches
            loss.backward()
        opt.step()
