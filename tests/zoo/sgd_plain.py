"""Clean: a plain-SGD MLP (no momentum, lr 0.1), the textbook setup."""
import torch
import torch.nn as nn
from _data import teacher_classification


def build_model():
    return nn.Sequential(nn.Linear(20, 100), nn.Tanh(), nn.Linear(100, 10))


def get_batch():
    return teacher_classification(100, 20, 10, seed=21)


loss_fn = nn.CrossEntropyLoss()


def make_optimizer(params):
    return torch.optim.SGD(params, lr=0.1)
