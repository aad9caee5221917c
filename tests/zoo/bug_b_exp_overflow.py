"""Bug (nan-source): a hand-written softmax (exp / sum, no max subtraction) on logits
from an output layer initialised 100x too large: exp overflows to inf and inf/inf = NaN."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from _data import teacher_classification


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(20, 64), nn.ReLU())
        self.head = nn.Linear(64, 10)
        nn.init.normal_(self.head.weight, std=10.0)          # BUG: huge init (logits ~ +-100)

    def forward(self, x):                                    # (N, 20)
        logits = self.head(self.body(x))                     # (N, 10)
        e = torch.exp(logits)                                # BUG: no logits - logits.max(); overflows
        return e / e.sum(1, keepdim=True)                    # (N, 10) probabilities


def build_model():
    return Net()


def get_batch():
    return teacher_classification(64, 20, 10, seed=30)


def loss_fn(probs, targets):
    return F.nll_loss(torch.log(probs), targets)
