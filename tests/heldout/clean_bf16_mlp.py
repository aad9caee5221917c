"""CLEAN: an MLP kept in bfloat16 (model and inputs), the loss computed in float32 from the bf16 logits; AdamW."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def bf16_batch(n=64, d=32, c=8, seed=91):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    w = torch.randn(d, c, generator=g)
    return x.to(torch.bfloat16), (x @ w).argmax(1)


def build_model():
    net = nn.Sequential(nn.Linear(32, 128), nn.GELU(), nn.Linear(128, 128), nn.GELU(), nn.Linear(128, 8))
    return net.to(torch.bfloat16)


def get_batch():
    return bf16_batch()


def loss_fn(logits, y):
    return F.cross_entropy(logits.float(), y)


def make_optimizer(params):
    return torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01)
