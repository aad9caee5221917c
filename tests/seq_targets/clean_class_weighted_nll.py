"""Clean: a hand-written class-weighted NLL: (N,C) * (C,) weights, an (N,1) mask, one-hot targets."""
import torch, torch.nn.functional as F
from tabular import Classifier, classes
WEIGHTS = torch.tensor([2.0, 1.0, 0.5, 1.0, 2.0])
def build_model(): return Classifier()
def get_batch(): return classes()
def loss_fn(logits, y):
    logp = F.log_softmax(logits, dim=-1)
    keep = (y >= 0).float().unsqueeze(1)                       # (N, 1)
    return -(F.one_hot(y, 5).float() * logp * WEIGHTS * keep).sum(1).mean()
