"""Shared pieces of the DDP project: process group setup, synthetic sensor data, the model.

Run any script with torchrun (CPU, gloo): torchrun --nproc-per-node 2 train.py --epochs 2
"""
import argparse
import os

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.utils.data import Dataset


def parse(**defaults):
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=defaults.get("epochs", 3))
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--n-train", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log-every", type=int, default=2)
    # planted faults for the robustness tests (off by default)
    p.add_argument("--crash-rank", type=int, default=None, help="this rank raises at --crash-step")
    p.add_argument("--crash-step", type=int, default=3)
    p.add_argument("--eval-rank", type=int, default=None, help="this rank trains in eval mode")
    p.add_argument("--lr-rank", type=int, default=None, help="this rank's LR is 10x the others'")
    return p.parse_args()


def setup():
    """init_process_group from torchrun's environment; returns (rank, world)."""
    dist.init_process_group("gloo")
    return dist.get_rank(), dist.get_world_size()


def cleanup():
    dist.barrier()            # every rank done before the group goes away
    dist.destroy_process_group()


class SensorData(Dataset):
    """Windows of 3 noisy sensor channels; the label is which channel carries a burst (4 classes: none, 0, 1, 2)."""

    def __init__(self, n, length=12, seed=1234):
        g = torch.Generator().manual_seed(seed)
        self.x = 0.5 * torch.randn(n, 3, length, generator=g)
        self.y = torch.randint(0, 4, (n,), generator=g)
        start = torch.randint(0, length - 4, (n,), generator=g)
        for i in range(n):
            if self.y[i] > 0:
                self.x[i, self.y[i] - 1, start[i]:start[i] + 4] += 2.0

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


class SensorNet(nn.Module):
    def __init__(self, channels=3, hidden=32, classes=4):
        super().__init__()
        self.conv = nn.Conv1d(channels, hidden, 3, padding=1, bias=False)  # BatchNorm follows
        self.bn = nn.BatchNorm1d(hidden)
        self.drop = nn.Dropout(0.1)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x):                       # x: (B, 3, T)
        h = torch.relu(self.bn(self.conv(x)))   # (B, hidden, T)
        return self.head(self.drop(h.mean(dim=2)))


def faults(args, rank, model, optimizer, step):
    """The planted faults: crash, eval mode, or a 10x LR on one rank."""
    if args.crash_rank == rank and step == args.crash_step:
        raise ValueError(f"corrupt sample in shard {rank}")
    if args.eval_rank == rank:
        model.eval()
    if args.lr_rank == rank and step == 1:
        for g in optimizer.param_groups:
            g["lr"] = args.lr * 10


def log(rank, step, loss, every):
    if rank == 0 and step % every == 0:
        print(f"step {step} loss {loss:.4f}", flush=True)
