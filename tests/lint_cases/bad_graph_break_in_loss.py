"""Loss terms turned into Python numbers: they are added to the loss but send no gradient."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def loss_fn(outputs, targets):
    ce = F.cross_entropy(outputs, targets)
    entropy = -(outputs.softmax(-1) * outputs.log_softmax(-1)).sum(-1).mean()
    return ce - 0.01 * entropy.item()  # expect: graph-break-in-loss


class ContrastiveLoss(nn.Module):
    def __init__(self, margin=1.0):
        super().__init__()
        self.margin = margin

    def forward(self, a, b, same):
        d = (a - b).pow(2).sum(1)
        pos = (same * d).mean()
        neg = torch.tensor(((1 - same) * F.relu(self.margin - d)).mean().tolist())  # expect: graph-break-in-loss
        return pos + neg
