"""Clean: a shared trunk with a classification head and a regression head; the loss is
cross-entropy plus 0.5 x MSE, and the model returns a dict."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from _data import teacher_classification


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU())
        self.cls = nn.Linear(64, 5)
        self.reg = nn.Linear(64, 1)

    def forward(self, x):                         # (N, 20)
        h = self.trunk(x)
        return {"logits": self.cls(h), "value": self.reg(h).squeeze(-1)}   # (N, 5), (N,)


def build_model():
    return TwoHeads()


def get_batch():
    x, y = teacher_classification(64, 20, 5, seed=11)
    v = torch.tanh(x[:, 0] - x[:, 1])
    return x, {"label": y, "value": v}


def loss_fn(outputs, targets):
    return F.cross_entropy(outputs["logits"], targets["label"]) + 0.5 * F.mse_loss(outputs["value"], targets["value"])
