"""Bug: raw logits passed to F.nll_loss, which expects log-probabilities: the loss is just
-logit[target] and can be driven to -infinity by growing that logit."""
import torch.nn as nn
import torch.nn.functional as F
from _data import teacher_classification


def build_model():
    return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 10))   # (N, 10) logits


def get_batch():
    return teacher_classification(64, 20, 10)


def loss_fn(logits, y):
    return F.nll_loss(logits, y)        # BUG: log_softmax missing
