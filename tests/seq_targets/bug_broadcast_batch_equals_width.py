"""Bug (silent-broadcast): an (N,8) multi-output head against an (N,) target with N == 8: (N,8) - (N,)
broadcasts without an error only because the batch size equals the width."""
import torch.nn as nn
from tabular import houses
def build_model(): return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 8))
def get_batch(): return houses(n=8)
def loss_fn(pred, price): return ((pred - price) ** 2).mean()
