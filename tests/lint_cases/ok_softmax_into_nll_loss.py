"""NLLLoss on log-probabilities, from LogSoftmax or from log(softmax)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def build_model():
    return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 5), nn.LogSoftmax(dim=-1))


loss_fn = nn.NLLLoss()


def mixture_nll(logits, y):
    probs = F.softmax(logits, dim=-1)
    probs = probs.mean(0, keepdim=True).expand_as(probs)   # averaged ensemble probabilities
    return F.nll_loss(torch.log(probs + 1e-8), y)
