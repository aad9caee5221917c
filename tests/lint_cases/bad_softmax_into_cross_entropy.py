"""Classifier training that feeds probabilities to cross-entropy three different ways."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Head(nn.Module):
    def __init__(self, d, classes):
        super().__init__()
        self.fc = nn.Linear(d, classes)
        self.softmax = nn.Softmax(dim=-1)
        self.criterion = nn.CrossEntropyLoss()

    def forward(self, h):                      # h: (N, d)
        return self.fc(h)                      # (N, classes) logits

    def loss(self, h, y):
        probs = self.softmax(self.forward(h))
        return self.criterion(probs, y)  # expect: softmax-into-cross-entropy


def train_step(model, x, y, opt):
    logits = model(x)
    loss = F.cross_entropy(F.softmax(logits, dim=1), y)  # expect: softmax-into-cross-entropy
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()


def seq_loss(logits, targets):
    # logits: (B, T, V)
    p = logits.softmax(-1)
    p = p.view(-1, p.size(-1))
    return nn.CrossEntropyLoss(ignore_index=-1)(p, targets.view(-1))  # expect: softmax-into-cross-entropy
