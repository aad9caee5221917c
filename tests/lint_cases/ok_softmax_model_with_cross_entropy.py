"""A model returns logits; a separate predictor adds the softmax for inference only."""
import torch
import torch.nn as nn


class Gate(nn.Module):
    """A part of the model, not the model: its softmax weights are internal."""

    def __init__(self, d):
        super().__init__()
        self.proj = nn.Linear(d, 4)

    def forward(self, h):                        # h: (N, d)
        return torch.softmax(self.proj(h), dim=-1)   # (N, 4) mixture weights


class Mixture(nn.Module):
    def __init__(self, d=16, classes=10):
        super().__init__()
        self.gate = Gate(d)
        self.experts = nn.Linear(d, 4 * classes)

    def forward(self, x):                        # x: (N, d)
        w = self.gate(x).unsqueeze(-1)           # (N, 4, 1)
        e = self.experts(x).view(x.size(0), 4, -1)   # (N, 4, classes)
        return (w * e).sum(1)                    # (N, classes) logits


def build_model():
    return Mixture()


loss_fn = nn.CrossEntropyLoss()


class Classifier(nn.Module):
    def __init__(self, d=16, classes=10):
        super().__init__()
        self.fc = nn.Linear(d, classes)

    def forward(self, x):                        # x: (N, d)
        logits = self.fc(x)                      # (N, classes)
        if self.training:
            return logits                        # what CrossEntropyLoss sees
        return torch.softmax(logits, dim=-1)     # probabilities at inference only


def export(model):
    return nn.Sequential(model, nn.Softmax(dim=-1))    # inference wrapper around the trained model
