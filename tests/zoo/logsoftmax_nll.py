"""Clean: the classic pairing nn.LogSoftmax at the end of the model + nn.NLLLoss."""
import torch
import torch.nn as nn
from _data import teacher_classification


def build_model():
    return nn.Sequential(nn.Linear(20, 64), nn.Tanh(), nn.Linear(64, 10), nn.LogSoftmax(dim=1))  # (N, 10) log-probs


def get_batch():
    return teacher_classification(64, 20, 10, seed=9)


loss_fn = nn.NLLLoss()


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
