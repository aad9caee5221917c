"""Accumulation zeroing once per step; per-example gradients read inside the inner loop."""
import torch
import torch.nn.functional as F


def train(model, stream, steps=1000, micro_batches=4):
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    for step in range(steps):
        opt.zero_grad(set_to_none=True)
        for _ in range(micro_batches):
            x, y = next(stream)
            (F.cross_entropy(model(x), y) / micro_batches).backward()
        opt.step()


def clipped_per_example(model, xs, ys, clip=1.0):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    params = [p for p in model.parameters()]
    for epoch in range(3):
        total = [torch.zeros_like(p) for p in params]
        for x, y in zip(xs, ys):                   # DP-SGD style: one example at a time
            opt.zero_grad()
            F.mse_loss(model(x[None]), y[None]).backward()
            norm = torch.sqrt(sum((p.grad ** 2).sum() for p in params))
            for t, p in zip(total, params):
                t += p.grad * min(1.0, clip / (norm.item() + 1e-6))
        for t, p in zip(total, params):
            p.grad = t / len(xs)
        opt.step()
