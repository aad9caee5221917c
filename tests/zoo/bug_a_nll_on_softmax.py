"""Bug: the model ends in nn.Softmax and the loss is nn.NLLLoss: softmax without the log."""
import torch.nn as nn
from _data import teacher_classification


def build_model():
    return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 10), nn.Softmax(dim=1))  # BUG: not LogSoftmax


def get_batch():
    return teacher_classification(64, 20, 10, seed=2)


loss_fn = nn.NLLLoss()
