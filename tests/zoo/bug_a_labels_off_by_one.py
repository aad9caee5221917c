"""Bug: class labels read as 1..10 (1-based ids from a CSV) for a 10-way classifier.
On CPU F.cross_entropy raises on label 10, so the doctor stops at loading (exit 2); on
CUDA it is a device-side assert. batch-sanity reads the class count from the prediction."""
import torch.nn as nn
import torch.nn.functional as F
from _data import teacher_classification


def build_model():
    return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 10))


def get_batch():
    x, y = teacher_classification(64, 20, 10)
    return x, y + 1                          # BUG: labels 1..10, the model has outputs 0..9


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)
